// The measured side of bench_nvgate: the program that makes the timed calls.
// bench_nvgate runs it three ways, natively, under nvgate's filter with a
// trivial responder, and under `nvgate run`, so that the calls and the loop
// around them are the same in every arm and only what lies between the
// workload and the driver differs.
//
// It reads one request per line on stdin and answers each with one line on
// stdout, until end of file:
//
//   run OP CALLS THREADS  -> "NS ERRNO STATUS": THREADS threads, started together,
//                            make CALLS calls each; NS is the wall time from the
//                            start to the last thread's end
//   latency OP CALLS      -> "ERRNO STATUS NS NS ...": each call's own time
//   rm-setup              -> "ok": a client, device and subdevice for the RM calls
//   alloc-objects N       -> "ok": N more RM memory objects
//   anything failing      -> "error WHAT"
//
// ERRNO and STATUS are the last call's (0 when it succeeded; STATUS is the RM
// status, 0 for calls without one), so that the benchmark can check every arm
// took the path it claims to measure. Ops: getpid, pipe, fionread (untrapped);
// version, version-badsize, card-info-4k, list-10k, list-1m (NVIDIA escapes).
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "abi/abi.h"
#include "abi/nv_structs.h"

namespace {

using namespace nvgate;
using namespace nvgate::nv;

struct Outcome {
  int error = 0;      // errno of a failed call
  NvV32 status = 0;   // RM status of a call that has one
};

using Caller = std::function<Outcome()>;

unsigned long Escape(std::uint32_t nr, std::uint32_t size) {
  return _IOC(_IOC_READ | _IOC_WRITE, kIoctlMagic, nr, size);
}

Outcome FromRc(int rc) { return {rc == 0 ? 0 : errno, 0}; }

// The RM objects the nested-list controls run on. Set up once, on request,
// because only the `nvgate run` arm has a driver to set them up with.
struct Rm {
  int ctl = -1;
  int gpu = -1;
  NvHandle client = 0;
  NvHandle device = 0x5b000001;
  NvHandle subdevice = 0x5b000002;
  NvHandle next_object = 0x5b100000;
};
Rm g_rm;
// Where the NVIDIA device nodes are.
std::string g_nvidia_dir;

class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      read_end = fds[0];
      write_end = fds[1];
    }
  }
  ~Pipe() {
    close(read_end);
    close(write_end);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end = -1;
  int write_end = -1;
};

// NV2080_CTRL_CMD_BUS_GET_INFO with `entries` list elements. Its shape (key,
// struct size, where the list pointer and count sit, element size) comes from
// the ABI table row, so this is the call nvgate's proxy deep-copies.
Caller NestedListControl(std::uint32_t entries) {
  const abi::Table* table = abi::TableForVersion("580.159.04");
  const abi::Entry* row = nullptr;
  for (const abi::Entry& e : table->entries()) {
    if (e.level == abi::Level::kControl && e.name == "NV2080_CTRL_CMD_BUS_GET_INFO") row = &e;
  }
  if (row == nullptr || row->layout.size() != 1) return {};
  const abi::LayoutItem list = row->layout.front();
  auto params = std::make_shared<std::vector<std::byte>>(row->param_size);
  auto elements = std::make_shared<std::vector<std::byte>>(std::size_t{entries} * list.elem_size);
  const NvV32 cmd = row->key;
  return [params, elements, list, entries, cmd]() {
    std::memcpy(params->data() + list.count_offset, &entries, sizeof entries);
    auto address = reinterpret_cast<std::uintptr_t>(elements->data());
    std::memcpy(params->data() + list.offset, &address, sizeof address);
    NVOS54_PARAMETERS p{g_rm.client, g_rm.subdevice, cmd, 0, reinterpret_cast<std::uintptr_t>(params->data()),
                        static_cast<NvU32>(params->size()), 0};
    int rc = ioctl(g_rm.ctl, Escape(kEscRmControl, sizeof p), &p);
    return Outcome{rc == 0 ? 0 : errno, p.status};
  };
}

// A caller for `op` with state of its own, one per thread.
Caller MakeCaller(const std::string& op) {
  if (op == "getpid") {
    // The raw syscall: the C library's getpid must not answer from a cache.
    return [] { return Outcome{syscall(SYS_getpid) > 0 ? 0 : errno, 0}; };
  }
  if (op == "pipe") {
    auto pipe = std::make_shared<Pipe>();
    return [pipe] {
      char byte = 'x';
      if (write(pipe->write_end, &byte, 1) != 1) return Outcome{errno, 0};
      return Outcome{read(pipe->read_end, &byte, 1) == 1 ? 0 : errno, 0};
    };
  }
  if (op == "fionread") {
    auto pipe = std::make_shared<Pipe>();
    return [pipe] {
      int queued = 0;
      return FromRc(ioctl(pipe->read_end, FIONREAD, &queued));
    };
  }
  if (op == "version") {
    return [] {
      nv_ioctl_rm_api_version_t v{};
      v.cmd = kRmApiVersionCmdQuery;
      return FromRc(ioctl(g_rm.ctl, Escape(kEscCheckVersionStr, sizeof v), &v));
    };
  }
  if (op == "version-badsize") {
    // A size the driver does not take: nvgate answers EINVAL after the trap,
    // before copying anything.
    return [] {
      std::byte v[sizeof(nv_ioctl_rm_api_version_t) + 8] = {};
      return FromRc(ioctl(g_rm.ctl, Escape(kEscCheckVersionStr, sizeof v), v));
    };
  }
  if (op == "card-info-4k") {
    // The card table in a 4 KiB buffer: 4 KiB copied in and out. (Attaching
    // GPUs, the other variable-size escape, works once per file.)
    auto cards = std::make_shared<std::vector<std::byte>>(4096);
    return [cards] {
      return FromRc(ioctl(g_rm.ctl, Escape(kEscCardInfo, static_cast<std::uint32_t>(cards->size())), cards->data()));
    };
  }
  if (op == "pin-4m") {
    // Host-memory pinning as CUDA's copies from pageable memory make it: a
    // 4 MiB page-aligned stretch of malloc'd memory pinned, then freed. The
    // pin runs in the workload's own memory with its other threads stopped
    // (docs/security.md, "Host-memory pinning").
    constexpr std::size_t kBytes = 4u << 20;
    auto owner = std::make_shared<std::vector<std::byte>>(kBytes + 4096);
    auto start = (reinterpret_cast<std::uintptr_t>(owner->data()) + 4095) & ~std::uintptr_t{4095};
    return [owner, start] {
      nv_ioctl_nvos02_parameters_with_fd pin{};
      pin.params.hRoot = g_rm.client;
      pin.params.hObjectParent = g_rm.device;
      pin.params.hObjectNew = g_rm.next_object;
      pin.params.hClass = kNv01MemorySystemOsDescriptor;
      pin.params.flags = (kNvos02FlagsCoherencyCached << kNvos02FlagsCoherencyShift) | kNvos02FlagsMappingNoMap;
      pin.params.pMemory = start;
      pin.params.limit = kBytes - 1;
      pin.fd = -1;
      if (ioctl(g_rm.gpu, Escape(kEscRmAllocMemory, sizeof pin), &pin) != 0) return Outcome{errno, 0};
      if (pin.params.status != kNvOk) return Outcome{0, pin.params.status};
      NVOS00_PARAMETERS unpin{g_rm.client, g_rm.device, g_rm.next_object, 0};
      if (ioctl(g_rm.ctl, Escape(kEscRmFree, sizeof unpin), &unpin) != 0) return Outcome{errno, 0};
      return Outcome{0, unpin.status};
    };
  }
  if (op == "list-10k") return NestedListControl(10'000);
  if (op == "list-1m") return NestedListControl(kMaxParamCopySize / 8);
  return {};
}

std::string Run(const std::string& op, long calls, int threads) {
  std::vector<Caller> callers;
  for (int t = 0; t < threads; ++t) {
    callers.push_back(MakeCaller(op));
    if (!callers.back()) return "error unknown op " + op;
  }
  std::vector<Outcome> last(static_cast<std::size_t>(threads));
  auto loop = [&](std::size_t t) {
    for (long i = 0; i < calls; ++i) last[t] = callers[t]();
  };
  std::chrono::steady_clock::duration elapsed{};
  if (threads == 1) {
    // No thread to start: the single-call figures carry no hand-off.
    auto start = std::chrono::steady_clock::now();
    loop(0);
    elapsed = std::chrono::steady_clock::now() - start;
  } else {
    std::latch ready(threads);
    std::latch go(1);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        ready.count_down();
        go.wait();
        loop(static_cast<std::size_t>(t));
      });
    }
    ready.wait();
    auto start = std::chrono::steady_clock::now();
    go.count_down();
    for (std::thread& w : workers) w.join();
    elapsed = std::chrono::steady_clock::now() - start;
  }
  std::ostringstream out;
  out << std::chrono::nanoseconds(elapsed).count() << ' ' << last[0].error << ' ' << last[0].status;
  return out.str();
}

std::string Latency(const std::string& op, long calls) {
  Caller call = MakeCaller(op);
  if (!call) return "error unknown op " + op;
  std::vector<std::int64_t> samples(static_cast<std::size_t>(calls));
  Outcome last;
  for (auto& sample : samples) {
    // clock_gettime is answered in the vDSO: no syscall, nothing trapped.
    auto start = std::chrono::steady_clock::now();
    last = call();
    sample = std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count();
  }
  std::ostringstream out;
  out << last.error << ' ' << last.status;
  for (std::int64_t s : samples) out << ' ' << s;
  return out.str();
}

int Alloc(NvHandle parent, NvHandle handle, NvV32 cls, void* params, NvU32 size, NvV32& status) {
  NVOS21_PARAMETERS p{g_rm.client, parent, handle, cls, reinterpret_cast<std::uintptr_t>(params), size, 0};
  int rc = ioctl(g_rm.ctl, Escape(kEscRmAlloc, sizeof p), &p);
  status = p.status;
  return rc == 0 ? 0 : errno;
}

std::string Failure(const char* what, int error, NvV32 status) {
  std::ostringstream out;
  out << "error " << what << ": errno " << error << ", status 0x" << std::hex << status;
  return out.str();
}

std::string RmSetup() {
  g_rm.gpu = open((g_nvidia_dir + "/nvidia0").c_str(), O_RDWR | O_CLOEXEC);
  if (g_rm.gpu < 0) return Failure("open nvidia0", errno, 0);
  NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
  int rc = ioctl(g_rm.ctl, Escape(kEscRmAlloc, sizeof root), &root);
  if (rc != 0 || root.status != kNvOk) return Failure("root client", rc == 0 ? 0 : errno, root.status);
  g_rm.client = root.hObjectNew;
  // As CUDA: the GPU file acts for the control file and its client.
  nv_ioctl_register_fd_t link{g_rm.ctl};
  if (ioctl(g_rm.gpu, Escape(kEscRegisterFd, sizeof link), &link) != 0) return Failure("REGISTER_FD", errno, 0);
  NvV32 status = 0;
  std::uint32_t device_params[14] = {};  // NV0080_ALLOC_PARAMETERS: deviceId 0
  if (int e = Alloc(g_rm.client, g_rm.device, kNv01Device0, device_params, sizeof device_params, status);
      e != 0 || status != kNvOk) {
    return Failure("device", e, status);
  }
  std::uint32_t subdevice_params = 0;  // NV2080_ALLOC_PARAMETERS: subDeviceId 0
  if (int e = Alloc(g_rm.device, g_rm.subdevice, kNv20Subdevice0, &subdevice_params, sizeof subdevice_params, status);
      e != 0 || status != kNvOk) {
    return Failure("subdevice", e, status);
  }
  return "ok";
}

// System memory objects, as CUDA's host allocations make them: each one an
// object the driver (here the supervisor's simulated driver) tracks.
std::string AllocObjects(long count) {
  for (long i = 0; i < count; ++i) {
    nv_ioctl_nvos02_parameters_with_fd mem{};
    mem.params.hRoot = g_rm.client;
    mem.params.hObjectParent = g_rm.device;
    mem.params.hObjectNew = g_rm.next_object++;
    mem.params.hClass = kNv01MemorySystem;
    mem.params.limit = 4096 - 1;
    // No mmap context now (it would need an nvidiactl fd): never mapped.
    mem.params.flags = kNvos02FlagsMappingNoMap;
    mem.fd = -1;
    int rc = ioctl(g_rm.gpu, Escape(kEscRmAllocMemory, sizeof mem), &mem);
    if (rc != 0 || mem.params.status != kNvOk) return Failure("RM_ALLOC_MEMORY", rc == 0 ? 0 : errno, mem.params.status);
  }
  return "ok";
}

std::string Answer(const std::string& line) {
  std::istringstream in(line);
  std::string verb, op;
  in >> verb;
  if (verb == "run") {
    long calls = 0;
    int threads = 0;
    if (in >> op >> calls >> threads && calls > 0 && threads > 0) return Run(op, calls, threads);
  } else if (verb == "latency") {
    long calls = 0;
    if (in >> op >> calls && calls > 0) return Latency(op, calls);
  } else if (verb == "rm-setup") {
    return RmSetup();
  } else if (verb == "alloc-objects") {
    long count = 0;
    if (in >> count && count > 0) return AllocObjects(count);
  }
  return "error bad request: " + line;
}

}  // namespace

// Workloads under nvgate turn LeakSanitizer off in sanitizer builds: it needs ptrace.
extern "C" int __lsan_is_turned_off() { return 1; }

int main() {
  // Under `nvgate run` the simulated driver's nodes are in /dev; a workload
  // handed to `nvgate agent` opens them where BENCH_NVIDIA_DIR says. Elsewhere
  // the NVIDIA ops only ever meet the trivial responder, which answers any file.
  const char* dir = std::getenv("BENCH_NVIDIA_DIR");
  g_nvidia_dir = dir != nullptr && *dir != '\0' ? dir : "/dev";
  g_rm.ctl = open((g_nvidia_dir + "/nvidiactl").c_str(), O_RDWR | O_CLOEXEC);
  if (g_rm.ctl < 0) g_rm.ctl = open("/dev/null", O_RDWR | O_CLOEXEC);
  std::ios::sync_with_stdio(false);
  for (std::string line; std::getline(std::cin, line);) {
    std::cout << Answer(line) << std::endl;
  }
  return 0;
}
