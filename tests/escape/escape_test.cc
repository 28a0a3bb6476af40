// The escape suite (docs/security.md, "Invariants and their tests"): each
// route around nvgate, tried by a hostile workload under
// `nvgate run --backend sim --caps compute`, and judged three ways:
//
//   - the workload's own "violation:" lines (what it got that nvgate never allows);
//   - the simulated driver's call log: a refused class, another tenant's client,
//     a call run twice or a size the table does not give must never appear there;
//   - the kernel witness: no ioctl request that nvgate traps may ever be run by
//     the kernel itself.
//
// Every route is also run against nvgate_weakened with the defence it tests
// turned off (defences/defences.h), and must then be caught: a test that cannot
// fail proves nothing.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/device.h"
#include "abi/nv_structs.h"
#include "kernel_witness.h"
#include "supervisor/filter.h"
#include "testing/run_program.h"

namespace nvgate::escape {
namespace {

struct Route {
  std::string name;
  std::string scenario;
  int iterations;
  // The weakenings this route must catch, by their NVGATE_TEST_WEAKEN names.
  std::vector<std::string> catches;
  // The capabilities the workload is granted (within --allowed-caps all,rdma).
  std::string caps = "compute";
  // A second `nvgate run` (another tenant) runs beside it; the route is given
  // "PID:ADDRESS" of that tenant's workload and its marker.
  bool with_neighbour = false;
  // nvgate run --keep-caps, when not empty.
  std::string keep_caps = "";
  // nvgate run --gpus, when not empty (the sim has two GPUs).
  std::string gpus = "";
};

const std::vector<Route>& Routes() {
  static const std::vector<Route> routes = {
      {"RefusedClass", "refused-class", 1, {"no-capability-check"}},
      // SYS_NICE: the flipper raises its priority, so that it runs while
      // calls are in flight on a loaded machine.
      {"FlipClassDuringTheCall", "flip-class", 5000, {"double-fetch"}, "compute", false, "SYS_NICE"},
      {"SwapTheFdDuringTheCall", "swap-fd", 5000, {"continue-other-files"}},
      // Host-memory pinning runs in the workload's own memory (issue 17): a
      // thread, or a process sharing the memory, rewrites the pin's client;
      // parameters in pinned or shared memory.
      {"FlipThePinsClientFromAThread", "flip-pin", 1000, {"pin-without-freeze"}, "compute", false, "SYS_NICE"},
      {"FlipThePinsClientFromAProcessSharingTheMemory", "flip-pin-process", 1000, {"pin-without-freeze"},
       "compute", false, "SYS_NICE"},
      {"FlipThePinsClientFromNewThreads", "flip-pin-new-threads", 500, {"pin-without-freeze"}},
      {"FlipThePinsClientFromAVforkChild", "flip-pin-vfork", 1000, {"pin-without-freeze"}, "compute", false,
       "SYS_NICE"},
      {"PinParametersInADeviceMapping", "pin-in-device-mapping", 1, {"pin-anywhere"}},
      {"SignalsAtThePinningThread", "pin-signal-storm", 1000, {"no-killable-recv"}},
      {"PinParametersInPinnedMemory", "pin-in-pinned", 1, {"pin-anywhere"}},
      {"PinParametersInSharedMemory", "pin-in-shared", 1, {"pin-anywhere"}},
      {"OtherTypeDirectionAndUpperBits", "request-bits", 1, {"exact-type", "full-request-match"}},
      {"OtherAbis", "other-abis", 1, {"no-arch-check"}},
      {"SyscallsThatReachTheSupervisor", "supervisor-reach", 1, {"no-syscall-denials", "reachable-init"}},
      {"SignalStorm", "signal-storm", 3000, {"no-killable-recv"}},
      {"AnotherTenantsClient", "foreign-client", 1, {"no-client-ownership"}},
      {"ShareBeyondTheWorkload", "share-outside", 1, {"no-share-policy-check"}},
      // dma-buf export needs the privileged rdma capability; granted here so
      // that only the client check stands in the way.
      {"DmabufOfAnotherTenant", "dmabuf-other-tenant", 1, {"no-client-ownership"}, "compute,rdma"},
      {"MalformedParameters", "malformed", 1, {"no-size-checks"}},
      {"AGpuTheWorkloadNeverOpened", "gpu-not-opened", 1, {"every-gpu-file"}},
      // Selected GPU 1 only, the workload names GPU 0 where the driver does
      // not ask for its node.
      {"AGpuOutsideTheSelection", "gpu-outside-selection", 1, {"no-gpu-selection"}, "compute", false, "", "1"},
      {"ShareClientOfAnotherTenant", "embedded-client:hClientShare", 1, {"no-client-ownership"}},
      {"TargetClientOfAnotherTenant", "embedded-client:hTargetClient", 1, {"no-client-ownership"}},
      {"EventParentClientOfAnotherTenant", "embedded-client:hParentClient", 1, {"no-client-ownership"}},
      {"UvmRegisterGpuClientOfAnotherTenant", "embedded-client:UVM_REGISTER_GPU.hClient", 1, {"no-client-ownership"}},
      {"UvmVaspaceClientOfAnotherTenant", "embedded-client:UVM_REGISTER_GPU_VASPACE.hClient", 1,
       {"no-client-ownership"}},
      {"UvmChannelClientOfAnotherTenant", "embedded-client:UVM_REGISTER_CHANNEL.hClient", 1, {"no-client-ownership"}},
      {"UvmExternalAllocationClientOfAnotherTenant", "embedded-client:UVM_MAP_EXTERNAL_ALLOCATION.hClient", 1,
       {"no-client-ownership"}},
      // A root workload around the driver (issue #25): what its capabilities
      // and the masked and read-only paths keep it from.
      {"AnotherTenantsWorkloadMemory", "tenant-memory", 1, {"host-capabilities"}, "compute", true},
      {"UserfaultfdStallsTheSupervisor", "userfaultfd", 1, {"host-capabilities"}},
      {"DeviceNodeOfItsOwn", "device-node", 1, {"host-capabilities"}},
      {"PrivilegedBpfProgram", "bpf", 1, {"host-capabilities"}},
      {"ModuleLoad", "module-load", 1, {"host-capabilities"}},
      {"RawIo", "raw-io", 1, {"host-capabilities"}},
      {"PciFilesForWriting", "pci-for-writing", 1, {"unmasked-paths"}},
      {"ReadKcore", "kcore", 1, {"host-capabilities"}},
  };
  return routes;
}

std::string NewTag() {
  std::random_device rd;
  return fmt::format("esc{:08x}", rd());
}

const abi::Table& Table() { return *abi::TableForVersion("580.159.04"); }

const supervisor::TrapRules& Traps() {
  static const supervisor::TrapRules rules = supervisor::TrapRules::FromTable(Table());
  return rules;
}

// The number after `key=` in a call log line, if the line has one.
std::optional<std::uint64_t> Field(const std::string& line, const std::string& key) {
  std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(line.substr(at + key.size() + 2), nullptr, 0);
}

// What is wrong with the sizes of a call the driver was handed, or "": nvgate
// refuses every request size, RM_CONTROL paramsSize and size/pointer pair
// other than the table's, so none of them may reach the driver (the driver
// would check them itself, but against a copy nvgate made of the table's size).
std::string MalformedSizes(const std::string& line) {
  std::istringstream fields(line);
  std::string node;
  std::string request_text;
  fields >> node >> request_text;
  if (node != abi::DeviceKindName(abi::DeviceKind::kCtl) && node != abi::DeviceKindName(abi::DeviceKind::kGpu)) {
    return "";
  }
  auto request = static_cast<std::uint32_t>(std::stoul(request_text, nullptr, 16));
  const std::uint32_t size = _IOC_SIZE(request);
  if (const abi::Entry* escape = Table().Find(abi::Level::kFrontend, _IOC_NR(request))) {
    bool fits = escape->handler == abi::Handler::kBytes ||
                (escape->handler == abi::Handler::kRmAlloc
                     ? size == sizeof(nv::NVOS21_PARAMETERS) || size == sizeof(nv::NVOS64_PARAMETERS)
                     : size == escape->param_size);
    if (!fits) return fmt::format("{} with a {}-byte struct", escape->name, size);
  }
  auto cmd = Field(line, "control cmd");
  auto params_size = Field(line, "params_size");
  if (!cmd || !params_size) return "";
  bool pointer = line.find(" params=set ") != std::string::npos;
  if ((*params_size != 0) != pointer) {
    return fmt::format("control {:#x} with paramsSize {:#x} and {} pointer", *cmd, *params_size,
                       pointer ? "a" : "no");
  }
  const abi::Entry* control = Table().Find(abi::Level::kControl, static_cast<std::uint32_t>(*cmd));
  if (control != nullptr && control->param_size != 0 && *params_size != control->param_size) {
    return fmt::format("control {} with paramsSize {:#x}, not {:#x}", control->name, *params_size,
                       control->param_size);
  }
  return "";
}

// Without CONFIG_X86_X32_ABI the x32 route does not exist: the kernel's entry
// tracepoint still fires for the number, but nothing runs.
bool KernelRunsX32() {
  static const bool runs = ::syscall(0x40000000 | SYS_getpid) == ::getpid();
  return runs;
}

// Some kernels and hypervisors have no int $0x80 entry: the caller gets
// SIGSEGV and nothing runs.
bool KernelRunsInt80() {
  static const bool runs = [] {
    pid_t child = ::fork();
    if (child == 0) {
      ::signal(SIGSEGV, SIG_DFL);  // the kernel's own SIGSEGV, not a sanitizer's report of it
      long rc;
      asm volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");  // i386 getpid
      ::_exit(rc > 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return runs;
}

struct Outcome {
  testing::ProgramResult result;
  std::vector<std::string> violations;
};

// Another tenant: `nvgate run` of the neighbour scenario, until killed.
class Neighbour {
 public:
  // Starts it and waits for its workload's marker; the workload's host pid
  // is the process named `tag`.
  static std::optional<Neighbour> Start() {
    Neighbour n;
    std::string tag = NewTag();
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
    n.nvgate_ = ::fork();
    if (n.nvgate_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::execl(NVGATE_BINARY, NVGATE_BINARY, "run", "--backend", "sim", "--caps", "compute", "--",
              ESCAPE_WORKLOAD_BINARY, tag.c_str(), "neighbour", nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    std::string output;
    bool ready = testing::ReadUntil(out[0], output, "waiting");
    ::close(out[0]);
    std::size_t marker = output.find("marker=");
    if (!ready || marker == std::string::npos) return std::nullopt;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      std::ifstream comm(entry.path() / "comm");
      std::string name;
      if (std::getline(comm, name) && name == tag) {
        n.target_ = entry.path().filename().string() + ":" +
                    output.substr(marker + 7, output.find('\n', marker) - marker - 7);
      }
    }
    if (n.target_.empty()) return std::nullopt;
    return n;
  }
  Neighbour(Neighbour&& other) noexcept : nvgate_(std::exchange(other.nvgate_, -1)), target_(other.target_) {}
  ~Neighbour() {
    if (nvgate_ <= 0) return;
    ::kill(nvgate_, SIGKILL);
    ::waitpid(nvgate_, nullptr, 0);
  }
  const std::string& target() const { return target_; }

 private:
  Neighbour() = default;
  pid_t nvgate_ = -1;
  std::string target_;
};

// Runs one route and lists everything that got past nvgate.
Outcome Attempt(const Route& route, const std::string& weakening) {
  std::string tag = NewTag();
  auto witness = KernelWitness::Start(tag);
  if (!witness) {
    ADD_FAILURE() << "kernel witness: " << witness.error();
    return {};
  }
  std::string call_log = std::filesystem::temp_directory_path() / ("nvgate-calls-" + tag);
  std::vector<std::string> argv = {weakening.empty() ? NVGATE_BINARY : NVGATE_WEAKENED_BINARY,
                                   "run", "--backend", "sim", "--sim-gpus", "2", "--caps", route.caps,
                                   "--allowed-caps", "all,rdma", "--sim-call-log", call_log};
  if (!route.keep_caps.empty()) argv.insert(argv.end(), {"--keep-caps", route.keep_caps});
  if (!route.gpus.empty()) argv.insert(argv.end(), {"--gpus", route.gpus});
  argv.insert(argv.end(), {"--", ESCAPE_WORKLOAD_BINARY, tag, route.scenario, std::to_string(route.iterations)});
  std::optional<Neighbour> neighbour = route.with_neighbour ? Neighbour::Start() : std::optional<Neighbour>{};
  if (route.with_neighbour) {
    if (!neighbour) {
      ADD_FAILURE() << "the neighbouring tenant did not start";
      return {};
    }
    argv.push_back(neighbour->target());
  }
  std::vector<std::string> env;
  if (!weakening.empty()) env.push_back("NVGATE_TEST_WEAKEN=" + weakening);
  Outcome o{testing::RunProgram(argv, env), {}};
  neighbour.reset();
  auto kernel = (*witness)->Stop();

  std::istringstream out(o.result.out);
  for (std::string line; std::getline(out, line);) {
    if (line.rfind("violation: ", 0) == 0) o.violations.push_back("workload: " + line.substr(11));
  }
  if (o.result.status != 0) o.violations.push_back(fmt::format("workload exit status {}", o.result.status));

  std::ifstream calls(call_log);
  std::map<std::string, int> client_allocs;
  for (std::string line; std::getline(calls, line);) {
    if (line.find("alloc class=0xb8b0 ") != std::string::npos) {
      o.violations.push_back("driver ran a refused class: " + line);
    }
    if (line.find("client=0xc1000001") != std::string::npos) {
      o.violations.push_back("driver ran a call on another tenant's client: " + line);
    }
    if (line.find(" share type=") != std::string::npos &&
        line.find(" share type=3 target=0xc1d") == std::string::npos) {
      o.violations.push_back("driver ran a share reaching past the workload: " + line);
    }
    if (line.find("alloc_memory class=0x71 ") != std::string::npos && line.find("status=0x19") != std::string::npos) {
      o.violations.push_back("driver ran a pin twice: " + line);
    }
    if (line.find("alloc class=0x41 ") != std::string::npos && line.find("status=0x19") != std::string::npos) {
      o.violations.push_back("driver ran a client allocation twice: " + line);
    }
    if (std::string wrong = MalformedSizes(line); !wrong.empty()) {
      o.violations.push_back("driver was handed " + wrong + ": " + line);
    }
  }
  std::filesystem::remove(call_log);

  if (!kernel) {
    o.violations.push_back("kernel witness: " + kernel.error());
  } else {
    for (const KernelIoctl& k : *kernel) {
      if (k.syscall == (0x40000000 | SYS_ioctl) && !KernelRunsX32()) continue;
      if (Traps().Traps(static_cast<std::uint32_t>(k.request))) {
        o.violations.push_back(fmt::format("the kernel itself ran ioctl request {:#x} on fd {} (syscall {:#x})",
                                           k.request, k.fd, k.syscall));
      }
    }
  }
  return o;
}

std::string Describe(const Outcome& o) {
  std::string s = "violations:\n";
  for (const std::string& v : o.violations) s += "  " + v + "\n";
  return s + "stdout:\n" + o.result.out + "stderr:\n" + o.result.err;
}

bool NeedsRoot() { return ::geteuid() != 0; }

class Escape : public ::testing::TestWithParam<Route> {};

TEST_P(Escape, NvgateHoldsTheLine) {
  if (NeedsRoot()) GTEST_SKIP() << "the kernel witness needs root (tracefs)";
  const Route& route = GetParam();
  Outcome o = Attempt(route, "");
  EXPECT_TRUE(o.violations.empty()) << Describe(o);
  EXPECT_THAT(o.result.out, ::testing::HasSubstr("violations=0")) << "the scenario ran to its end";
}

INSTANTIATE_TEST_SUITE_P(Routes, Escape, ::testing::ValuesIn(Routes()),
                         [](const auto& route) { return route.param.name; });

struct WeakenedRoute {
  Route route;
  std::string weakening;
};

std::vector<WeakenedRoute> WeakenedRoutes() {
  std::vector<WeakenedRoute> out;
  for (const Route& r : Routes()) {
    for (const std::string& w : r.catches) out.push_back({r, w});
  }
  return out;
}

class EscapeWeakened : public ::testing::TestWithParam<WeakenedRoute> {};

// Races may need a few tries to land; a route that never catches its weakening
// fails.
TEST_P(EscapeWeakened, RouteCatchesTheMissingDefence) {
  if (NeedsRoot()) GTEST_SKIP() << "the kernel witness needs root (tracefs)";
  const WeakenedRoute& p = GetParam();
  if (p.weakening == "no-arch-check" && !KernelRunsInt80() && !KernelRunsX32()) {
    GTEST_SKIP() << "this kernel runs neither int $0x80 nor x32 system calls: without the arch check there is "
                    "still no other ABI to reach the driver through";
  }
  Outcome o;
  for (int attempt = 0; attempt < 5 && o.violations.empty(); ++attempt) {
    o = Attempt(p.route, p.weakening);
  }
  ASSERT_FALSE(o.violations.empty()) << "with " << p.weakening << " off, nothing was caught\n" << Describe(o);
  for (const std::string& v : o.violations) std::cout << "caught " << p.weakening << ": " << v << "\n";
}

INSTANTIATE_TEST_SUITE_P(Routes, EscapeWeakened, ::testing::ValuesIn(WeakenedRoutes()), [](const auto& weakened) {
  std::string name = weakened.param.route.name + "_without_" + weakened.param.weakening;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// docs/security.md, invariant 6: when the supervisor dies, trapped calls
// fail; none runs in the kernel instead.
TEST(EscapeSupervisorKilled, CallsFailClosed) {
  if (NeedsRoot()) GTEST_SKIP() << "the kernel witness needs root (tracefs)";
  std::string tag = NewTag();
  auto witness = KernelWitness::Start(tag);
  ASSERT_TRUE(witness) << witness.error();
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t nvgate = ::fork();
  if (nvgate == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execl(NVGATE_BINARY, NVGATE_BINARY, "run", "--backend", "sim", "--caps", "compute", "--",
            ESCAPE_WORKLOAD_BINARY, tag.c_str(), "call-until-killed", nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  std::string output;
  ASSERT_TRUE(testing::ReadUntil(out[0], output, "calling")) << output;
  ::kill(nvgate, SIGKILL);
  int status = 0;
  ::waitpid(nvgate, &status, 0);
  // The workload dies with its supervisor; its last calls meanwhile fail.
  while (testing::ReadSome(out[0], output)) {
  }
  ::close(out[0]);
  auto kernel = (*witness)->Stop();
  ASSERT_TRUE(kernel) << kernel.error();
  for (const KernelIoctl& k : *kernel) {
    EXPECT_FALSE(Traps().Traps(static_cast<std::uint32_t>(k.request)))
        << fmt::format("the kernel ran trapped request {:#x} after the supervisor died", k.request);
  }
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("violation:"))) << output;
}

// Issue 17: a workload killed while its pins run in its own memory ends, and
// nvgate with it, reporting the kill: no task stays stopped, the supervisor
// does not wait for a caller that is gone, and no trapped request reached the
// kernel.
TEST(EscapePinKilled, TheWorkloadEndsAndNvgateReportsIt) {
  if (NeedsRoot()) GTEST_SKIP() << "the kernel witness needs root (tracefs)";
  std::string tag = NewTag();
  auto witness = KernelWitness::Start(tag);
  ASSERT_TRUE(witness) << witness.error();
  testing::ProgramResult r = testing::RunProgram({NVGATE_BINARY, "run", "--backend", "sim", "--caps", "compute", "--",
                                                  ESCAPE_WORKLOAD_BINARY, tag, "pin-until-killed"});
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("killing"));
  auto kernel = (*witness)->Stop();
  ASSERT_TRUE(kernel) << kernel.error();
  for (const KernelIoctl& k : *kernel) {
    EXPECT_FALSE(Traps().Traps(static_cast<std::uint32_t>(k.request)))
        << fmt::format("the kernel itself ran trapped request {:#x}", k.request);
  }
}

}  // namespace
}  // namespace nvgate::escape
