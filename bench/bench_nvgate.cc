// nvgate's benchmark suite (docs/performance.md). Every figure is measured
// next to its reference in the same run: each benchmark alternates batches of
// its subject and of its reference, reports the subject's time per call as its
// time, and the reference's next to it as counters:
//
//   ref_ns     the reference's time per call
//   x_ref      subject / reference
//   extra_ns   subject - reference, per call
//   calls_per_s, ref_calls_per_s   throughput of either (all threads together)
//
// The calls are made by bench_workload, started three ways and kept for the
// whole run:
//   native             no filter, no nvgate;
//   allow-all filter   a one-instruction seccomp filter that allows everything:
//                      what any filter costs an untrapped syscall, nvgate's
//                      floor for those;
//   trivial responder  nvgate's own seccomp filter, with a responder here that
//                      answers every trapped call at once with ENOTTY: the
//                      mechanism's floor;
//   hand-off responder the same, but each call is answered by a second thread,
//                      as nvgate's supervisor did before it executed calls on
//                      the receiving thread: what that design would cost;
//   nvgate             `nvgate run --backend sim`: the real filter, supervisor,
//                      proxy and simulated driver, in nvgate's sandbox;
//   nvgate (host)      `nvgate run --backend host`: the same over the real
//                      NVIDIA driver, with --backend=host only.
// In-process references (the simulated driver called directly, the proxy on
// our own memory) run here.
//
// Own flags: --latency_out=FILE writes the per-call samples of the latency
// benchmarks as JSON; --latency_samples=N sets how many (default 20000);
// --backend=host adds the host/ benchmarks and latency/host: an executed call
// on the real driver (/dev/nvidiactl must exist) natively, under nvgate and
// against the mechanism's floor.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/ioctl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "fd/owned_fd.h"
#include "proxy/memory_fakes.h"
#include "proxy/proxy.h"
#include "supervisor/fd_passing.h"
#include "supervisor/filter.h"
#include "supervisor/sys.h"  // seccomp constants newer than the installed headers

extern char** environ;

namespace {

// The GPU check kit (scripts/gpu-kit.sh) carries the binaries elsewhere than
// the build tree and names them in these variables.
std::string BinaryPath(const char* variable, const char* built) {
  const char* set = std::getenv(variable);
  return set != nullptr && *set != '\0' ? set : built;
}
const std::string kNvgateBinary = BinaryPath("NVGATE_BENCH_NVGATE", NVGATE_BINARY);
const std::string kWorkloadBinary = BinaryPath("NVGATE_BENCH_WORKLOAD", BENCH_WORKLOAD_BINARY);

}  // namespace

namespace {

using namespace nvgate;

constexpr char kDriverVersion[] = "580.159.04";

std::string g_latency_out;
long g_latency_samples = 20'000;
std::string g_backend = "sim";
// Every latency benchmark's samples, by series name, for --latency_out.
nlohmann::json g_latency_series = nlohmann::json::object();
int g_failures = 0;

void Fail(benchmark::State& state, const std::string& why) {
  ++g_failures;
  state.SkipWithError(why.c_str());
}

// ---- the workload processes ----

enum class Setting { kNative, kAllowAllFilter, kTrivialResponder, kHandOffResponder, kNvgate, kNvgateHost, kAgent };

const char* SettingName(Setting s) {
  switch (s) {
    case Setting::kNative: return "native";
    case Setting::kAllowAllFilter: return "allow-all filter";
    case Setting::kTrivialResponder: return "trivial responder";
    case Setting::kHandOffResponder: return "hand-off responder";
    case Setting::kNvgate: return "nvgate";
    case Setting::kNvgateHost: return "nvgate (host)";
    case Setting::kAgent: return "nvgate agent";
  }
  return "?";
}

// The mechanism's floor: receive each notification and answer it at once,
// looking at nothing. The loop has the shape of nvgate's own receiver (poll,
// then RECV, then SEND, with SYNC_WAKE_UP), so that the difference to nvgate is
// what nvgate does with a call, not how it waits for one. With `hand_off`, the
// receiving thread queues each call for a second thread that answers it, as
// nvgate's supervisor once queued every call for a worker: that difference is
// the cost of the hand-off alone, which the supervisor no longer pays.
class TrivialResponder {
 public:
  TrivialResponder(int listener, bool hand_off) : listener_(listener) {
    if (hand_off) answerer_ = std::thread([this] { AnswerQueued(); });
    receiver_ = std::thread([this] { Receive(); });
  }
  // Returns once the workload is gone.
  ~TrivialResponder() {
    receiver_.join();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (answerer_.joinable()) answerer_.join();
    close(listener_);
  }
  TrivialResponder(const TrivialResponder&) = delete;
  TrivialResponder& operator=(const TrivialResponder&) = delete;

 private:
  void Receive() {
    // Same as nvgate: cheaper wake-ups where the kernel has them (6.6+).
    (void)ioctl(listener_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    seccomp_notif_sizes sizes{};
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return;
    // The kernel's structure may be larger than our headers' one.
    std::vector<std::uint64_t> words((std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)) + 7) / 8);
    // Sized before the first call is queued; only one thread answers.
    resp_words_.resize((std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)) + 7) / 8);
    auto* notif = reinterpret_cast<seccomp_notif*>(words.data());
    for (;;) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      // POLLHUP without POLLIN: the workload is gone.
      if (!(p.revents & POLLIN)) return;
      std::fill(words.begin(), words.end(), 0);
      if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
        if (errno == ENOENT || errno == EINTR) continue;  // withdrawn by a signal
        return;
      }
      if (!answerer_.joinable()) {
        Answer(notif->id);
        continue;
      }
      std::lock_guard lock(mu_);
      queue_.push_back(notif->id);
      cv_.notify_one();
    }
  }

  void AnswerQueued() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::uint64_t id = queue_.front();
      queue_.pop_front();
      lock.unlock();
      Answer(id);
      lock.lock();
    }
  }

  void Answer(std::uint64_t id) {
    std::fill(resp_words_.begin(), resp_words_.end(), 0);
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_words_.data());
    resp->id = id;
    resp->error = -ENOTTY;
    (void)ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, resp);
  }

  const int listener_;
  std::vector<std::uint64_t> resp_words_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::uint64_t> queue_;
  bool stopping_ = false;
  std::thread answerer_;
  std::thread receiver_;
};

// bench_workload in one setting, answering requests over a pipe pair.
class Workload {
 public:
  static tl::expected<std::unique_ptr<Workload>, std::string> Start(Setting setting) {
    std::vector<std::string> args;
    if (setting == Setting::kNvgate || setting == Setting::kNvgateHost) {
      args = {kNvgateBinary, "run", "--backend", setting == Setting::kNvgate ? "sim" : "host", "--caps",
              "compute,utility", "--"};
    }
    args.push_back(kWorkloadBinary);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // Built before fork: the child of a threaded process must not allocate.
    const bool responder = setting == Setting::kTrivialResponder || setting == Setting::kHandOffResponder;
    supervisor::Program filter;
    if (responder) {
      auto program = supervisor::BuildFilter(supervisor::TrapRules::FromTable(*abi::TableForVersion(kDriverVersion)));
      if (!program) return tl::unexpected(program.error().message);
      filter = *program;
    }
    const sock_filter allow_all = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    const sock_fprog allow_all_program = {1, const_cast<sock_filter*>(&allow_all)};
    int requests[2], replies[2], sock[2] = {-1, -1};
    if (pipe2(requests, O_CLOEXEC) != 0 || pipe2(replies, O_CLOEXEC) != 0 ||
        (responder && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) != 0)) {
      return tl::unexpected(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) return tl::unexpected(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      dup2(requests[0], STDIN_FILENO);
      dup2(replies[1], STDOUT_FILENO);
      if (setting == Setting::kAllowAllFilter &&
          (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
           syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &allow_all_program) != 0)) {
        _exit(126);
      }
      if (responder) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
        int listener = supervisor::InstallFilter(filter);
        if (listener < 0 || !supervisor::SendFd(sock[1], listener)) _exit(126);
        close(listener);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(requests[0]);
    close(replies[1]);
    auto w = std::unique_ptr<Workload>(new Workload(setting, pid, requests[1], fdopen(replies[0], "r")));
    if (responder) {
      close(sock[1]);
      fd::OwnedFd listener = supervisor::ReceiveFd(sock[0]);
      close(sock[0]);
      if (!listener) return tl::unexpected(std::string("the workload sent no seccomp listener"));
      // The responder owns and closes it.
      w->responder_ = std::make_unique<TrivialResponder>(listener.release(), setting == Setting::kHandOffResponder);
    }
    if (setting == Setting::kNvgate) {
      auto setup = w->Ask("rm-setup");
      if (!setup) return tl::unexpected(setup.error());
      if (*setup != "ok") return tl::unexpected("rm-setup: " + *setup);
    }
    return w;
  }

  // The workload ends at end of file; the responder when the workload has.
  ~Workload() {
    close(requests_);
    std::fclose(replies_);
    int status;
    waitpid(pid_, &status, 0);
    responder_.reset();
  }
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // One request, one line of answer.
  tl::expected<std::string, std::string> Ask(const std::string& request) {
    std::string line = request + "\n";
    for (std::size_t done = 0; done < line.size();) {
      ssize_t n = write(requests_, line.data() + done, line.size() - done);
      if (n <= 0) return tl::unexpected(std::string(SettingName(setting_)) + " workload: write failed");
      done += static_cast<std::size_t>(n);
    }
    char* reply = nullptr;
    std::size_t capacity = 0;
    ssize_t n = getline(&reply, &capacity, replies_);
    std::string answer = n > 0 ? std::string(reply, static_cast<std::size_t>(n - 1)) : "";
    std::free(reply);
    if (n <= 0) return tl::unexpected(std::string(SettingName(setting_)) + " workload ended");
    if (answer.rfind("error", 0) == 0) return tl::unexpected(std::string(SettingName(setting_)) + ": " + answer);
    return answer;
  }

  // bench_workload as a container handed to the `nvgate agent` on `socket`,
  // the way runc hands one over: the workload-to-be installs nvgate's filter
  // with a listener and passes it up (here, to us, as runc's init passes it to
  // runc), and we send it to the agent with a container state naming `bundle`.
  // Returns once its RM client, device and subdevice are set up: once the
  // agent supervises it.
  static tl::expected<std::unique_ptr<Workload>, std::string> StartInAgent(const std::string& socket,
                                                                         const std::string& nodes,
                                                                         const std::string& bundle,
                                                                         const std::string& id) {
    // Built before fork: the child of a threaded process must not allocate.
    auto filter = supervisor::BuildFilter(supervisor::TrapRules::FromTable(*abi::TableForVersion(kDriverVersion)));
    if (!filter) return tl::unexpected(filter.error().message);
    std::vector<std::string> env = {"BENCH_NVIDIA_DIR=" + nodes};
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string workload = kWorkloadBinary;
    char* argv[] = {workload.data(), nullptr};
    int requests[2], replies[2], sock[2];
    if (pipe2(requests, O_CLOEXEC) != 0 || pipe2(replies, O_CLOEXEC) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) != 0) {
      return tl::unexpected(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) return tl::unexpected(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      dup2(requests[0], STDIN_FILENO);
      dup2(replies[1], STDOUT_FILENO);
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
      int listener = supervisor::InstallFilter(*filter);
      if (listener < 0 || !supervisor::SendFd(sock[1], listener)) _exit(126);
      close(listener);
      execve(argv[0], argv, envp.data());
      _exit(127);
    }
    close(requests[0]);
    close(replies[1]);
    close(sock[1]);
    auto w = std::unique_ptr<Workload>(new Workload(Setting::kAgent, pid, requests[1], fdopen(replies[0], "r")));
    fd::OwnedFd listener = supervisor::ReceiveFd(sock[0]);
    close(sock[0]);
    if (!listener) return tl::unexpected(std::string("the workload sent no seccomp listener"));
    nlohmann::json state = {{"ociVersion", "1.0.2"},
                            {"id", id},
                            {"status", "creating"},
                            {"pid", pid},
                            {"bundle", bundle},
                            {"annotations", nlohmann::json::object()}};
    std::string message = nlohmann::json{{"ociVersion", "1.0.2"},
                                         {"fds", {"seccompFd"}},
                                         {"pid", pid},
                                         {"metadata", ""},
                                         {"state", state}}
                              .dump();
    bool sent = SendToAgent(socket, message, listener.get());
    listener.reset();
    if (!sent) return tl::unexpected("cannot hand the listener to the agent on " + socket);
    auto setup = w->Ask("rm-setup");
    if (!setup) return tl::unexpected(setup.error());
    if (*setup != "ok") return tl::unexpected("rm-setup: " + *setup);
    return w;
  }

  // The process started: the workload itself, or nvgate (the supervisor).
  pid_t pid() const { return pid_; }

 private:
  Workload(Setting setting, pid_t pid, int requests, FILE* replies)
      : setting_(setting), pid_(pid), requests_(requests), replies_(replies) {}

  // One message with the listener attached, as runc sends it to the listenerPath.
  static bool SendToAgent(const std::string& socket, const std::string& message, int listener) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
    fd::OwnedFd connection(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!connection) return false;
    return connect(connection.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
           supervisor::SendFdWith(connection.get(), listener, message);
  }

  Setting setting_;
  pid_t pid_;
  int requests_;
  FILE* replies_;
  std::unique_ptr<TrivialResponder> responder_;
};

// One workload per setting, started on first use and kept for the whole run:
// the figures are for a warm sandbox.
std::map<Setting, std::unique_ptr<Workload>>& SharedWorkloads() {
  static std::map<Setting, std::unique_ptr<Workload>> workloads;
  return workloads;
}

tl::expected<Workload*, std::string> Shared(Setting setting) {
  auto& workloads = SharedWorkloads();
  auto it = workloads.find(setting);
  if (it == workloads.end()) {
    auto w = Workload::Start(setting);
    if (!w) return tl::unexpected(w.error());
    it = workloads.emplace(setting, std::move(*w)).first;
  }
  return it->second.get();
}

// ---- arms: what one side of a comparison runs ----

// Makes `calls` calls on each of `threads` threads; returns the seconds taken.
using Arm = std::function<tl::expected<double, std::string>(long calls, int threads)>;

// `op` in bench_workload under `setting`. Every arm checks the last call's
// outcome, so that a figure never silently measures a different path.
Arm WorkloadArm(Setting setting, std::string op, int expect_errno, nv::NvV32 expect_status = nv::kNvOk) {
  return [=](long calls, int threads) -> tl::expected<double, std::string> {
    auto w = Shared(setting);
    if (!w) return tl::unexpected(w.error());
    auto reply = (*w)->Ask("run " + op + " " + std::to_string(calls) + " " + std::to_string(threads));
    if (!reply) return tl::unexpected(reply.error());
    std::istringstream in(*reply);
    long long ns = 0;
    int error = 0;
    nv::NvV32 status = 0;
    in >> ns >> error >> status;
    if (error != expect_errno || status != expect_status) {
      return tl::unexpected(std::string(SettingName(setting)) + " " + op + ": errno " + std::to_string(error) +
                            ", status " + std::to_string(status) + ", expected errno " +
                            std::to_string(expect_errno) + ", status " + std::to_string(expect_status));
    }
    return static_cast<double>(ns) * 1e-9;
  };
}

// A call made here, in this process, on one thread.
Arm LocalArm(std::function<void()> call) {
  return [call = std::move(call)](long calls, int) -> tl::expected<double, std::string> {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) call();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
}

// A program run to completion, `calls` times in a row, its output discarded.
Arm ProgramArm(std::vector<std::string> args) {
  return [args](long calls, int) -> tl::expected<double, std::string> {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    auto run_all = [&]() -> tl::expected<double, std::string> {
      auto start = std::chrono::steady_clock::now();
      for (long i = 0; i < calls; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, argv[0], &quiet, nullptr, argv.data(), environ) != 0) {
          return tl::unexpected("cannot run " + args[0]);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          return tl::unexpected(args[0] + " exited with status " + std::to_string(status));
        }
      }
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    auto seconds = run_all();
    posix_spawn_file_actions_destroy(&quiet);
    return seconds;
  };
}

// Alternates batches of `subject` and `reference`; the subject's time per call
// is the benchmark's time, the reference goes into the counters.
void Compare(benchmark::State& state, const Arm& subject, const Arm& reference, long calls_per_thread,
             int threads) {
  double subject_s = 0, reference_s = 0;
  long long calls = 0;
  while (state.KeepRunningBatch(calls_per_thread * threads)) {
    auto s = subject(calls_per_thread, threads);
    auto r = reference(calls_per_thread, threads);
    if (!s || !r) {
      Fail(state, !s ? s.error() : r.error());
      break;
    }
    state.SetIterationTime(*s);
    subject_s += *s;
    reference_s += *r;
    calls += calls_per_thread * threads;
  }
  if (calls == 0) return;
  const auto n = static_cast<double>(calls);
  state.counters["ref_ns"] = reference_s / n * 1e9;
  state.counters["x_ref"] = subject_s / reference_s;
  state.counters["extra_ns"] = (subject_s - reference_s) / n * 1e9;
  state.counters["calls_per_s"] = n / subject_s;
  state.counters["ref_calls_per_s"] = n / reference_s;
}

void Register(const std::string& name, const std::string& label, Arm subject, Arm reference,
              long calls_per_thread, int threads = 1) {
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    state.SetLabel(label);
    Compare(state, subject, reference, calls_per_thread, threads);
  })->UseManualTime();
}

// ---- in-process references ----

std::uint32_t VersionRequest() {
  return _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nv::kEscCheckVersionStr, sizeof(nv::nv_ioctl_rm_api_version_t));
}

// The proxy's view of the files of a workload that is this very process.
class SelfFiles : public proxy::TargetFiles {
 public:
  // This process holds its own files: nothing to add for the driver to see.
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return 0; }
  int Duplicate(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
  int Install(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
};

// The simulated driver and a proxy over it, in this process.
struct InProcessDriver {
  InProcessDriver() {
    sim = backend::MakeSimBackend({}).value();
    for (const backend::DeviceNode& n : sim->Nodes()) {
      if (n.kind == abi::DeviceKind::kCtl) ctl = ::open(n.source_path.c_str(), O_RDWR | O_CLOEXEC);
    }
    proxy = std::make_unique<proxy::Proxy>(*abi::TableForVersion(kDriverVersion), caps::CapSet::Default(), *sim,
                                           denials);
  }
  std::unique_ptr<backend::Backend> sim;
  int ctl = -1;
  policy::DenialLog denials{[](const policy::Denial&) {}};
  std::unique_ptr<proxy::Proxy> proxy;
  proxy::SelfMemory memory;
  SelfFiles files;
};

InProcessDriver& Driver() {
  static InProcessDriver driver;
  return driver;
}

void SimVersionQuery() {
  nv::nv_ioctl_rm_api_version_t v{};
  v.cmd = nv::kRmApiVersionCmdQuery;
  benchmark::DoNotOptimize(Driver().sim->Ioctl(Driver().ctl, abi::DeviceKind::kCtl, VersionRequest(), &v, 0));
}

void ProxyVersionQuery() {
  nv::nv_ioctl_rm_api_version_t v{};
  v.cmd = nv::kRmApiVersionCmdQuery;
  proxy::Call call{.fd = Driver().ctl, .device = abi::DeviceKind::kCtl, .request = VersionRequest(),
                   .arg = reinterpret_cast<std::uintptr_t>(&v), .pid = 1};
  benchmark::DoNotOptimize(Driver().proxy->Execute(call, Driver().memory, Driver().files));
}

// ---- supervisor memory ----

struct Rss {
  long total_kib = -1;  // VmRSS
  long anon_kib = -1;   // RssAnon: what the process itself allocated
};

Rss ReadRss(pid_t pid) {
  Rss rss;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss.total_kib = std::stol(line.substr(6));
    if (line.rfind("RssAnon:", 0) == 0) rss.anon_kib = std::stol(line.substr(8));
  }
  return rss;
}

// A fresh sandbox of its own, so that the other benchmarks' history does not
// count: the nvgate process's RSS idle (one RM client, device and subdevice),
// after the workload allocated 1,000 RM objects, and after 64 threads called at once.
void SupervisorMemory(benchmark::State& state) {
  for (auto _ : state) {
    auto w = Workload::Start(Setting::kNvgate);
    if (!w) return Fail(state, w.error());
    Rss idle = ReadRss((*w)->pid());
    auto start = std::chrono::steady_clock::now();
    auto allocated = (*w)->Ask("alloc-objects 1000");
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!allocated) return Fail(state, allocated.error());
    Rss objects = ReadRss((*w)->pid());
    auto called = (*w)->Ask("run version 100 64");
    if (!called) return Fail(state, called.error());
    Rss threads = ReadRss((*w)->pid());
    if (idle.total_kib < 0 || objects.total_kib < 0 || threads.total_kib < 0) {
      return Fail(state, "cannot read the supervisor's /proc/<pid>/status");
    }
    state.counters["rss_kib"] = static_cast<double>(idle.total_kib);
    state.counters["rss_anon_kib"] = static_cast<double>(idle.anon_kib);
    state.counters["per_1000_objects_kib"] = static_cast<double>(objects.total_kib - idle.total_kib);
    state.counters["after_64_threads_kib"] = static_cast<double>(threads.total_kib);
  }
}

// ---- containers under `nvgate agent` ----

// An `nvgate agent --backend sim` of our own, on a socket in a directory of its
// own, with one bundle whose config.json requests compute,utility and every GPU
// (as `docker run --gpus all` writes it: its workload opens the sim's nodes
// where they are, not through a device list).
class AgentProcess {
 public:
  static tl::expected<std::unique_ptr<AgentProcess>, std::string> Start() {
    char tmpl[] = "/tmp/nvgate-bench-agent-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return tl::unexpected(std::string("mkdtemp: ") + std::strerror(errno));
    auto agent = std::unique_ptr<AgentProcess>(new AgentProcess(tmpl));
    std::filesystem::create_directories(agent->nodes());
    std::filesystem::create_directories(agent->bundle());
    std::ofstream(agent->bundle() + "/config.json")
        << R"({"ociVersion":"1.0.2","process":{"env":["NVIDIA_DRIVER_CAPABILITIES=compute,utility",)"
           R"("NVIDIA_VISIBLE_DEVICES=all"]}})";
    std::vector<std::string> args = {kNvgateBinary, "agent", "--socket", agent->socket(), "--backend", "sim",
                                     "--sim-node-dir", agent->nodes(), "--allowed-caps", "compute,utility"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t log;
    posix_spawn_file_actions_init(&log);
    posix_spawn_file_actions_addopen(&log, STDERR_FILENO, (agent->dir_ + "/agent.log").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int spawned = posix_spawn(&agent->pid_, argv[0], &log, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&log);
    if (spawned != 0) return tl::unexpected("cannot run " + kNvgateBinary + " agent");
    // The socket listens once its file exists; the sim's nodes exist before it.
    for (int i = 0; i < 1000 && !std::filesystem::exists(agent->socket()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!std::filesystem::exists(agent->socket())) return tl::unexpected(std::string("the agent did not start"));
    return agent;
  }

  ~AgentProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  tl::expected<std::unique_ptr<Workload>, std::string> Hand(const std::string& id) {
    return Workload::StartInAgent(socket(), nodes(), bundle(), id);
  }

  // The agent and every process it started.
  std::vector<pid_t> Processes() const {
    std::vector<pid_t> out = {pid_};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      std::getline(stat, line);
      // pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
      std::size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 1));
      std::string state;
      pid_t parent = 0;
      rest >> state >> parent;
      if (parent == pid_) out.push_back(std::stoi(name));
    }
    return out;
  }

 private:
  explicit AgentProcess(std::string dir) : dir_(std::move(dir)) {}
  std::string socket() const { return dir_ + "/agent.sock"; }
  std::string nodes() const { return dir_ + "/nodes"; }
  std::string bundle() const { return dir_ + "/bundle"; }

  std::string dir_;
  pid_t pid_ = -1;
};

AgentProcess* SharedAgent(std::string& error) {
  static tl::expected<std::unique_ptr<AgentProcess>, std::string> agent = AgentProcess::Start();
  if (!agent) {
    error = agent.error();
    return nullptr;
  }
  return agent->get();
}

// Each call: one workload handed to a warm agent, its RM client, device and
// subdevice set up through it, and ended.
tl::expected<double, std::string> AgentContainerStarts(long calls, int) {
  std::string error;
  AgentProcess* agent = SharedAgent(error);
  if (agent == nullptr) return tl::unexpected(error);
  static long started = 0;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    auto w = agent->Hand("start-" + std::to_string(++started));
    if (!w) return tl::unexpected(w.error());
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The same workload under a fresh `nvgate run --backend sim` each time.
tl::expected<double, std::string> NvgateRunStarts(long calls, int) {
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i) {
    auto w = Workload::Start(Setting::kNvgate);
    if (!w) return tl::unexpected(w.error());
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Proportional set size: shared pages divided among the processes that map them.
long ReadPssKib(pid_t pid) {
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(rollup, line);) {
    if (line.rfind("Pss:", 0) == 0) return std::stol(line.substr(4));
  }
  return -1;
}

struct AgentMemoryUse {
  long rss_kib = 0;
  long pss_kib = 0;
  std::size_t processes = 0;
};

tl::expected<AgentMemoryUse, std::string> ReadAgentMemory(const AgentProcess& agent) {
  AgentMemoryUse use;
  for (pid_t pid : agent.Processes()) {
    Rss rss = ReadRss(pid);
    long pss = ReadPssKib(pid);
    if (rss.total_kib < 0 || pss < 0) return tl::unexpected("cannot read the memory of process " + std::to_string(pid));
    use.rss_kib += rss.total_kib;
    use.pss_kib += pss;
    ++use.processes;
  }
  return use;
}

// A fresh agent idle, then with kAgentContainers workloads supervised (each
// with an RM client, device and subdevice): the agent's processes' memory, all
// of them together, and what each container added.
constexpr int kAgentContainers = 8;

void AgentMemory(benchmark::State& state) {
  for (auto _ : state) {
    auto agent = AgentProcess::Start();
    if (!agent) return Fail(state, agent.error());
    auto idle = ReadAgentMemory(**agent);
    if (!idle) return Fail(state, idle.error());
    std::vector<std::unique_ptr<Workload>> workloads;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kAgentContainers; ++i) {
      auto w = (*agent)->Hand("memory-" + std::to_string(i));
      if (!w) return Fail(state, w.error());
      workloads.push_back(std::move(*w));
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    auto busy = ReadAgentMemory(**agent);
    if (!busy) return Fail(state, busy.error());
    state.counters["idle_rss_kib"] = static_cast<double>(idle->rss_kib);
    state.counters["rss_kib"] = static_cast<double>(busy->rss_kib);
    state.counters["pss_kib"] = static_cast<double>(busy->pss_kib);
    state.counters["processes"] = static_cast<double>(busy->processes);
    state.counters["per_container_rss_kib"] = static_cast<double>(busy->rss_kib - idle->rss_kib) / kAgentContainers;
    state.counters["per_container_pss_kib"] = static_cast<double>(busy->pss_kib - idle->pss_kib) / kAgentContainers;
  }
}

// ---- latency distributions ----

struct LatencySeries {
  std::string name;
  Setting setting;
  std::string op;
  std::string key;  // the counters' prefix: KEY_p50_ns, KEY_p99_ns
};

double Percentile(std::vector<long long> sorted, double p) {
  return static_cast<double>(sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))]);
}

// Per-call times of the trapped calls, for percentiles and the distribution
// plot. The series keyed `headline` also gets p90 and p99.9 and is the
// benchmark's time.
void LatencyDistribution(benchmark::State& state, const std::vector<LatencySeries>& series,
                         const std::string& headline) {
  for (auto _ : state) {
    for (const LatencySeries& s : series) {
      auto w = Shared(s.setting);
      if (!w) return Fail(state, w.error());
      auto reply = (*w)->Ask("latency " + s.op + " " + std::to_string(g_latency_samples));
      if (!reply) return Fail(state, reply.error());
      std::istringstream in(*reply);
      int error = 0;
      long status = 0;
      in >> error >> status;
      std::vector<long long> samples;
      for (long long ns; in >> ns;) samples.push_back(ns);
      if (samples.empty()) return Fail(state, s.name + ": no samples");
      g_latency_series[s.name] = samples;
      std::sort(samples.begin(), samples.end());
      state.counters[s.key + "_p50_ns"] = Percentile(samples, 0.50);
      state.counters[s.key + "_p99_ns"] = Percentile(samples, 0.99);
      if (s.key == headline) {
        state.counters[s.key + "_p90_ns"] = Percentile(samples, 0.90);
        state.counters[s.key + "_p999_ns"] = Percentile(samples, 0.999);
        state.SetIterationTime(Percentile(samples, 0.50) * 1e-9);
      }
    }
  }
}

// An executed call on the real driver: the version query, answered by the
// driver itself without reaching the GPU, natively and under `nvgate run
// --backend host`, each next to the trivial responder's floor.
void RegisterHost() {
  const Arm host_version = WorkloadArm(Setting::kNvgateHost, "version", 0);
  const Arm native_version = WorkloadArm(Setting::kNative, "version", 0);
  const Arm floor = WorkloadArm(Setting::kTrivialResponder, "version", ENOTTY);
  Register("host/version_query:vs_native", "nvgate --backend host vs the real driver called natively", host_version,
           native_version, 1'000);
  Register("host/version_query:vs_mechanism_floor", "nvgate --backend host executed vs trivial responder",
           host_version, floor, 1'000);
  Register("host/native_version_query:vs_mechanism_floor", "the real driver called natively vs trivial responder",
           native_version, floor, 1'000);
  benchmark::RegisterBenchmark("latency/host", [](benchmark::State& state) {
    LatencyDistribution(state,
                        {{"host: version query natively", Setting::kNative, "version", "native"},
                         {"host: version query under nvgate (executed)", Setting::kNvgateHost, "version", "nvgate"},
                         {"trivial responder (mechanism floor)", Setting::kTrivialResponder, "version", "floor"}},
                        "nvgate");
  })->Iterations(1)->UseManualTime();
}

void RegisterAll() {
  const Arm native_getpid = WorkloadArm(Setting::kNative, "getpid", 0);
  Register("untrapped/getpid", "nvgate vs native", WorkloadArm(Setting::kNvgate, "getpid", 0), native_getpid, 20'000);
  Register("untrapped/pipe_write_read_1B", "nvgate vs native", WorkloadArm(Setting::kNvgate, "pipe", 0),
           WorkloadArm(Setting::kNative, "pipe", 0), 20'000);
  Register("untrapped/ioctl_FIONREAD_pipe", "nvgate vs native", WorkloadArm(Setting::kNvgate, "fionread", 0),
           WorkloadArm(Setting::kNative, "fionread", 0), 20'000);
  // What of the above any seccomp filter costs: the kernel's part, not nvgate's.
  Register("untrapped/getpid:vs_allow_all_filter", "nvgate vs a one-instruction allow-all filter",
           WorkloadArm(Setting::kNvgate, "getpid", 0), WorkloadArm(Setting::kAllowAllFilter, "getpid", 0), 20'000);
  Register("untrapped/ioctl_FIONREAD_pipe:vs_allow_all_filter", "nvgate vs a one-instruction allow-all filter",
           WorkloadArm(Setting::kNvgate, "fionread", 0), WorkloadArm(Setting::kAllowAllFilter, "fionread", 0),
           20'000);

  const Arm version = WorkloadArm(Setting::kNvgate, "version", 0);
  const Arm floor = WorkloadArm(Setting::kTrivialResponder, "version", ENOTTY);
  const Arm refused = WorkloadArm(Setting::kNvgate, "version-badsize", EINVAL);
  Register("trapped/version_query:vs_mechanism_floor", "nvgate executed vs trivial responder", version, floor, 1'000);
  Register("trapped/version_query:vs_refused_at_once", "nvgate executed vs nvgate refusal (bad size)", version,
           refused, 1'000);
  Register("trapped/refused_at_once:vs_mechanism_floor", "nvgate refusal (bad size) vs trivial responder", refused,
           floor, 1'000);
  Register("trapped/hand_off_responder:vs_mechanism_floor", "trivial responder with a worker hand-off vs without",
           WorkloadArm(Setting::kHandOffResponder, "version", ENOTTY), floor, 1'000);
  Register("trapped/version_query:vs_no_nvgate", "nvgate executed vs simulated driver called in-process", version,
           LocalArm(SimVersionQuery), 1'000);
  Register("inprocess/proxy_version_query:vs_sim", "proxy in-process vs simulated driver called in-process",
           LocalArm(ProxyVersionQuery), LocalArm(SimVersionQuery), 100'000);

  // The simulated driver has no model of BUS_GET_INFO: it answers
  // NV_ERR_NOT_SUPPORTED after the proxy copied the list in, and the proxy
  // copies it back out all the same, as the driver does.
  Register("copy/card_info_4KiB:vs_version_query", "nvgate 4 KiB escape vs nvgate 72 B escape",
           WorkloadArm(Setting::kNvgate, "card-info-4k", 0), version, 1'000);
  Register("copy/list_10000x8B:vs_version_query", "nvgate control with a 10,000-entry list vs 72 B escape",
           WorkloadArm(Setting::kNvgate, "list-10k", 0, nv::kNvErrNotSupported), version, 200);
  Register("copy/list_1MiB:vs_version_query", "nvgate control with a 1 MiB list vs 72 B escape",
           WorkloadArm(Setting::kNvgate, "list-1m", 0, nv::kNvErrNotSupported), version, 20);

  Register("copy/pin_4MiB_and_free:vs_version_query",
           "nvgate pin of 4 MiB in the workload's memory and its free vs 72 B escape",
           WorkloadArm(Setting::kNvgate, "pin-4m", 0), version, 200);

  for (int threads : {1, 2, 8, 64}) {
    long per_thread = std::max(50L, 4'000L / threads);
    Register("threads/version_query/" + std::to_string(threads), "nvgate vs trivial responder, same threads",
             WorkloadArm(Setting::kNvgate, "version", 0), WorkloadArm(Setting::kTrivialResponder, "version", ENOTTY),
             per_thread, threads);
  }

  Register("startup/bin_true", "nvgate run --backend sim -- /bin/true vs /bin/true",
           ProgramArm({kNvgateBinary, "run", "--backend", "sim", "--", "/bin/true"}), ProgramArm({"/bin/true"}), 1);
  // nvgate's own process start (loading its libraries, initialising): the part
  // of the above that is not the sandbox.
  Register("startup/nvgate_version", "nvgate --version vs /bin/true", ProgramArm({kNvgateBinary, "--version"}),
           ProgramArm({"/bin/true"}), 1);

  benchmark::RegisterBenchmark("memory/supervisor_rss", SupervisorMemory)->Iterations(1)->UseManualTime();
  Register("startup/agent_container:vs_nvgate_run",
           "a workload handed to a running nvgate agent vs under its own nvgate run, until its RM device is set up",
           AgentContainerStarts, NvgateRunStarts, 1);
  benchmark::RegisterBenchmark("memory/agent_rss", AgentMemory)->Iterations(1)->UseManualTime();
  benchmark::RegisterBenchmark("latency/trapped", [](benchmark::State& state) {
    LatencyDistribution(state,
                        {{"nvgate: version query (executed)", Setting::kNvgate, "version", "version"},
                         {"nvgate: refused at once (bad size)", Setting::kNvgate, "version-badsize", "refused"},
                         {"trivial responder (mechanism floor)", Setting::kTrivialResponder, "version", "floor"}},
                        "version");
  })->Iterations(1)->UseManualTime();
  if (g_backend == "host") RegisterHost();
}

bool TakeFlag(std::string_view arg, std::string_view name, std::string& value) {
  if (arg.rfind(name, 0) != 0 || arg.size() <= name.size() || arg[name.size()] != '=') return false;
  value = std::string(arg.substr(name.size() + 1));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (TakeFlag(argv[i], "--latency_out", value)) {
      g_latency_out = value;
    } else if (TakeFlag(argv[i], "--latency_samples", value)) {
      g_latency_samples = std::max(1L, std::stol(value));
    } else if (TakeFlag(argv[i], "--backend", value)) {
      if (value != "host" && value != "sim") {
        std::fprintf(stderr, "bench_nvgate: --backend is host or sim\n");
        return 1;
      }
      g_backend = value;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // A workload that dies must not kill us through a write to its pipe.
  signal(SIGPIPE, SIG_IGN);
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!g_latency_out.empty()) std::ofstream(g_latency_out) << g_latency_series.dump() << '\n';
  SharedWorkloads().clear();
  return g_failures == 0 ? 0 : 1;
}
