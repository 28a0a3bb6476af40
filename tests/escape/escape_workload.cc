// Hostile workloads for the escape suite: each scenario tries one route around
// nvgate. Run as `escape_workload TAG SCENARIO [ITERATIONS]` under `nvgate run`.
//
// TAG becomes the process name (the kernel witness in escape_test.cc records
// only ioctls from tasks with that name). The workload prints "violation: ..."
// for anything it saw that a sound nvgate never allows, and "key=value" lines
// for the test to read; the exit status is 0 when the scenario ran to its end.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <dirent.h>
#include <poll.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <fstream>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "abi/nv_structs.h"
#include "testing/nv_calls.h"

namespace {

using namespace nvgate::nv;
using nvgate::testing::Alloc;
using nvgate::testing::AllocClient;
using nvgate::testing::Control;
using nvgate::testing::Frontend;
using nvgate::testing::OpenNode;
using nvgate::testing::QueryVersion;

// What the escape suite tries to reach under `compute`: a video decoder.
constexpr NvV32 kRefusedClass = kNvb8b0VideoDecoder;
// What it may allocate instead, with no parameters the sim insists on.
constexpr NvV32 kAllowedClass = kNv01RootClient;

int violations = 0;

void Violation(const std::string& what) {
  std::printf("violation: %s\n", what.c_str());
  ++violations;
}

struct Rm {
  int ctl;
  NvHandle client;
  NvHandle device = 0x5e000001;
  NvHandle subdevice = 0x5e000002;
};

// The driver allocates a device only for a process that holds the GPU's file.
Rm OpenRm() {
  Rm rm{OpenNode("/dev/nvidiactl"), 0};
  OpenNode("/dev/nvidia0");
  rm.client = AllocClient(rm.ctl);
  std::uint32_t device_params[14] = {};
  std::uint32_t subdevice_params = 0;
  if (Alloc(rm.ctl, rm.client, rm.client, rm.device, kNv01Device0, device_params, sizeof device_params) != kNvOk ||
      Alloc(rm.ctl, rm.client, rm.device, rm.subdevice, kNv20Subdevice0, &subdevice_params,
            sizeof subdevice_params) != kNvOk) {
    std::printf("device=failed\n");
    std::exit(3);
  }
  return rm;
}

int RefusedClass() {
  Rm rm = OpenRm();
  std::uint8_t params[512] = {};
  std::uint32_t status = Alloc(rm.ctl, rm.client, rm.subdevice, 0x5e0000aa, kRefusedClass, params, sizeof params);
  std::printf("refused_class_status=0x%x\n", status);
  if (status == kNvOk) Violation("the refused class was allocated");
  return 0;
}

// A second thread flips the class of one RM_ALLOC between an allowed and the
// refused value while the call is in flight: nvgate must decide and execute on
// one copy.
int FlipClass(int iterations) {
  Rm rm = OpenRm();
  NvHandle requested = 0;
  NVOS21_PARAMETERS p{};
  std::atomic<bool> stop{false};
  // Each value holds for a couple of microseconds, about the time between
  // two reads of the parameters, so that a second read would often see the
  // other one, whatever the build's speed.
  std::thread flipper([&] {
    // On a busy machine the flipper must still run while calls are in flight:
    // a higher priority where the workload may take one (CAP_SYS_NICE: the
    // escape suite keeps it for this route), else as is.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
    auto* cls = reinterpret_cast<volatile NvV32*>(&p.hClass);
    bool refused = false;
    auto next = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      auto now = std::chrono::steady_clock::now();
      if (now < next) continue;
      *cls = refused ? kRefusedClass : kAllowedClass;
      refused = !refused;
      next = now + std::chrono::microseconds(2);
    }
  });
  std::map<std::uint32_t, int> statuses;
  for (int i = 0; i < iterations; ++i) {
    requested = 0;
    p = NVOS21_PARAMETERS{.hRoot = rm.client, .hObjectParent = rm.subdevice, .hObjectNew = 0,
                          .hClass = kAllowedClass, .pAllocParms = reinterpret_cast<std::uintptr_t>(&requested),
                          .paramsSize = sizeof requested, .status = 0};
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmAlloc, sizeof p), &p);
    ++statuses[rc == 0 ? p.status : 0xffffffff];
  }
  stop = true;
  flipper.join();
  for (auto [status, count] : statuses) std::printf("status_0x%x=%d\n", status, count);
  return 0;
}

// Host-memory pinning (issue 17) runs the workload's own call in its own
// memory, after nvgate checked a copy of its parameters.
constexpr std::size_t kPage = 4096;
constexpr NvHandle kOtherTenantClient = 0xc1000001;  // the sim's other tenant (SimDriver::kOtherTenantClient)

// A file of GPU 0 linked to the workload's nvidiactl (REGISTER_FD), as CUDA
// makes its pins: the client is named through it.
int LinkedGpu(const Rm& rm) {
  int gpu = OpenNode("/dev/nvidia0");
  nv_ioctl_register_fd_t link{rm.ctl};
  if (::ioctl(gpu, Frontend(kEscRegisterFd, sizeof link), &link) != 0) {
    std::printf("register_fd=failed\n");
    std::exit(3);
  }
  return gpu;
}

void* Pages(std::size_t count) {
  void* p = std::aligned_alloc(kPage, count * kPage);
  std::memset(p, 0x33, count * kPage);
  return p;
}

void SetPin(nv_ioctl_nvos02_parameters_with_fd& pin, const Rm& rm, NvHandle handle, void* pages,
            std::size_t bytes) {
  std::memset(&pin, 0, sizeof pin);
  pin.params.hRoot = rm.client;
  pin.params.hObjectParent = rm.device;
  pin.params.hObjectNew = handle;
  pin.params.hClass = kNv01MemorySystemOsDescriptor;
  pin.params.flags = (kNvos02FlagsCoherencyCached << kNvos02FlagsCoherencyShift) | kNvos02FlagsMappingNoMap;
  pin.params.pMemory = reinterpret_cast<std::uintptr_t>(pages);
  pin.params.limit = bytes - 1;
  pin.fd = -1;
}

NvV32 RunPin(int gpu, nv_ioctl_nvos02_parameters_with_fd& pin) {
  int rc = ::ioctl(gpu, Frontend(kEscRmAllocMemory, sizeof pin), &pin);
  return rc == 0 ? pin.params.status : 0xffffffff;
}

void Unpin(const Rm& rm, NvHandle handle) {
  NVOS00_PARAMETERS p{rm.client, rm.device, handle, 0};
  ::ioctl(rm.ctl, Frontend(kEscRmFree, sizeof p), &p);
}

// The flipper's loop: the pin's client between the workload's own and another
// tenant's, each held a couple of microseconds.
void FlipClient(volatile NvHandle* client, NvHandle own, const std::atomic<bool>& stop) {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -10);
  bool foreign = false;
  auto next = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    auto now = std::chrono::steady_clock::now();
    if (now < next) continue;
    *client = foreign ? kOtherTenantClient : own;
    foreign = !foreign;
    next = now + std::chrono::microseconds(2);
  }
}

// Who flips the pin's client while the call is in flight: another thread, a
// process sharing the memory (clone(CLONE_VM) without CLONE_THREAD), or a
// vfork child (CLONE_VM | CLONE_VFORK: its parent thread waits in the kernel
// until it exits). The driver must run the pin exactly as nvgate checked it,
// never on another tenant's client.
enum class Flipper { kThread, kProcess, kVforkChild };

int FlipPin(int iterations, Flipper who) {
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* pages = Pages(1);
  auto* pin = new nv_ioctl_nvos02_parameters_with_fd;  // on the heap: private anonymous memory
  SetPin(*pin, rm, 0x5e001000, pages, kPage);
  std::atomic<bool> stop{false};
  auto* client = reinterpret_cast<volatile NvHandle*>(&pin->params.hRoot);
  std::thread flipper;
  pid_t sharer = -1;
  std::vector<std::uint8_t> stack(1 << 16);
  struct Flip {
    volatile NvHandle* client;
    NvHandle own;
    std::atomic<bool>* stop;
  } flip{client, rm.client, &stop};
  auto flip_in_child = [](void* arg) {
    auto* f = static_cast<Flip*>(arg);
    FlipClient(f->client, f->own, *f->stop);
    return 0;
  };
  if (who == Flipper::kProcess) {
    sharer = ::clone(flip_in_child, stack.data() + stack.size(), CLONE_VM | SIGCHLD, &flip);
  } else if (who == Flipper::kVforkChild) {
    // The thread that vforks waits until the child exits, at the end.
    flipper = std::thread([&] {
      pid_t child = ::clone(flip_in_child, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &flip);
      if (child > 0) ::waitpid(child, nullptr, 0);
    });
  } else {
    flipper = std::thread([&] { FlipClient(client, rm.client, stop); });
  }
  std::map<std::uint32_t, int> statuses;
  for (int i = 0; i < iterations; ++i) {
    SetPin(*pin, rm, 0x5e001000, pages, kPage);
    NvV32 status = RunPin(gpu, *pin);
    ++statuses[status];
    if (status == kNvOk) Unpin(rm, 0x5e001000);
  }
  stop = true;
  if (flipper.joinable()) flipper.join();
  if (sharer > 0) ::waitpid(sharer, nullptr, 0);
  for (auto [status, count] : statuses) std::printf("status_0x%x=%d\n", status, count);
  if (statuses[kNvOk] == 0) {
    std::printf("no pin ran at all\n");
    return 3;
  }
  return 0;
}

// A pin whose parameters lie in a mapping of a GPU node (here the sim's
// nvidiactl, mapped as a workload maps the driver's memory): what a device can
// write is no place for parameters nvgate checked.
int PinWithParametersInDeviceMapping() {
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* target = Pages(1);
  void* mapped = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, rm.ctl, 0);
  if (mapped == MAP_FAILED) {
    std::printf("mmap_nvidiactl=failed\n");
    return 3;
  }
  auto* pin = new (mapped) nv_ioctl_nvos02_parameters_with_fd;
  SetPin(*pin, rm, 0x5e002002, target, kPage);
  NvV32 status = RunPin(gpu, *pin);
  std::printf("pin_status=0x%x\n", status);
  if (status == kNvOk) Violation("a pin ran with its parameters in a device mapping");
  return 0;
}

// Threads created while pins are in flight, each flipping the pin's client
// for a while: a task that appears during the stop of the others must be
// stopped too.
int FlipPinFromNewThreads(int iterations) {
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* pages = Pages(1);
  auto* pin = new nv_ioctl_nvos02_parameters_with_fd;
  SetPin(*pin, rm, 0x5e003000, pages, kPage);
  auto* client = reinterpret_cast<volatile NvHandle*>(&pin->params.hRoot);
  std::atomic<bool> stop{false};
  // Each thread flips for about 300 us, a pin's length, so that some thread
  // is always flipping, and each is a new one.
  std::thread spawner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      std::thread([&] {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
        bool foreign = false;
        auto next = std::chrono::steady_clock::now();
        for (auto now = next; now < until; now = std::chrono::steady_clock::now()) {
          if (now < next) continue;
          *client = foreign ? kOtherTenantClient : rm.client;
          foreign = !foreign;
          next = now + std::chrono::microseconds(2);
        }
      }).join();
    }
  });
  std::map<std::uint32_t, int> statuses;
  for (int i = 0; i < iterations; ++i) {
    SetPin(*pin, rm, 0x5e003000, pages, kPage);
    NvV32 status = RunPin(gpu, *pin);
    ++statuses[status];
    if (status == kNvOk) Unpin(rm, 0x5e003000);
  }
  stop = true;
  spawner.join();
  for (auto [status, count] : statuses) std::printf("status_0x%x=%d\n", status, count);
  return 0;
}

// Signals at the pinning thread without pause: each pin must run once. A pin
// run again after its caller left the wait makes the same handle twice
// (NV_ERR_INSERT_DUPLICATE_NAME, 0x19).
int PinSignalStorm(int iterations) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &sa, nullptr);
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* pages = Pages(1);
  pthread_t caller = ::pthread_self();
  std::atomic<bool> stop{false};
  // A signal about every pin's length apart, 2,000 of them: without
  // WAIT_KILLABLE_RECV a signal that lands in a pin makes it run again, and
  // again while the storm lasts, so the storm must end for the route to.
  std::thread storm([&] {
    for (int sent = 0; sent < 2000 && !stop.load(std::memory_order_relaxed); ++sent) {
      ::pthread_kill(caller, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  std::map<std::uint32_t, int> statuses;
  for (int i = 0; i < iterations; ++i) {
    auto* pin = new nv_ioctl_nvos02_parameters_with_fd;
    NvHandle handle = 0x5e100000 + static_cast<NvHandle>(i);
    SetPin(*pin, rm, handle, pages, kPage);
    ++statuses[RunPin(gpu, *pin)];
    delete pin;
  }
  stop = true;
  storm.join();
  for (auto [status, count] : statuses) {
    std::printf("status_0x%x=%d\n", status, count);
    if (status != kNvOk) {
      char what[96];
      std::snprintf(what, sizeof what, "%d pins answered 0x%x (0x19: a pin ran twice)", count, status);
      Violation(what);
    }
  }
  return 0;
}

// Pins without pause from one thread while another kills the process: the
// supervisor must see the end of the workload, whatever it was doing.
int PinUntilKilled() {
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* pages = Pages(16);
  std::thread pinner([&] {
    auto* pin = new nv_ioctl_nvos02_parameters_with_fd;
    for (NvHandle h = 0x5e200000;; ++h) {
      SetPin(*pin, rm, h, pages, 16 * kPage);
      RunPin(gpu, *pin);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::printf("killing\n");
  std::fflush(stdout);
  ::kill(::getpid(), SIGKILL);
  pinner.join();
  return 0;
}

// A pin whose parameters lie in memory an earlier pin handed to the GPU (which
// may rewrite them at any time), or in shared memory another process can
// rewrite: refused, whatever it asks.
int PinWithParametersIn(bool pinned) {
  Rm rm = OpenRm();
  int gpu = LinkedGpu(rm);
  void* target = Pages(1);
  nv_ioctl_nvos02_parameters_with_fd* pin = nullptr;
  if (pinned) {
    void* first = Pages(4);
    nv_ioctl_nvos02_parameters_with_fd held;
    SetPin(held, rm, 0x5e002000, first, 4 * kPage);
    NvV32 status = RunPin(gpu, held);
    std::printf("first_pin_status=0x%x\n", status);
    if (status != kNvOk) return 3;
    pin = new (static_cast<std::uint8_t*>(first) + kPage + 64) nv_ioctl_nvos02_parameters_with_fd;
  } else {
    void* shared = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pin = new (shared) nv_ioctl_nvos02_parameters_with_fd;
  }
  SetPin(*pin, rm, 0x5e002001, target, kPage);
  NvV32 status = RunPin(gpu, *pin);
  std::printf("pin_status=0x%x\n", status);
  if (status == kNvOk) {
    Violation(pinned ? "a pin ran with its parameters in memory pinned for the GPU"
                     : "a pin ran with its parameters in shared memory");
  }
  return 0;
}

// A second thread dup2()s /dev/null and nvidiactl in turn onto the number the
// calls use: a CONTINUE decided on the fd would let the kernel run the call on
// whatever file is there when it looks again.
int SwapFd(int iterations) {
  int ctl = OpenNode("/dev/nvidiactl");
  int null_fd = OpenNode("/dev/null");
  int target = ::dup(null_fd);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      ::dup2(ctl, target);
      ::dup2(null_fd, target);
    }
  });
  std::map<std::string, int> results;
  for (int i = 0; i < iterations; ++i) {
    std::string r = QueryVersion(target, Frontend(kEscCheckVersionStr, sizeof(nv_ioctl_rm_api_version_t)));
    ++results[r];
  }
  stop = true;
  swapper.join();
  for (const auto& [result, count] : results) std::printf("%s=%d\n", result.c_str(), count);
  return 0;
}

// The frontend decodes only nr and size: every other spelling of a request
// must still be answered by nvgate, never by the kernel.
int RequestBits() {
  int ctl = OpenNode("/dev/nvidiactl");
  constexpr std::uint32_t size = sizeof(nv_ioctl_rm_api_version_t);
  const std::map<std::string, unsigned long> spellings = {
      {"type_Z_none", _IOC(_IOC_NONE, 'Z', kEscCheckVersionStr, size)},
      {"type_F_read", _IOC(_IOC_READ, 'F', kEscCheckVersionStr, size)},
      {"type_F_write", _IOC(_IOC_WRITE, 'F', kEscCheckVersionStr, size)},
      {"type_0_readwrite", _IOC(_IOC_READ | _IOC_WRITE, 0, kEscCheckVersionStr, size)},
      {"upper_bits", 0xdead000000000000ul | Frontend(kEscCheckVersionStr, size)},
      {"upper_bit_63", 0x8000000000000000ul | Frontend(kEscCheckVersionStr, size)},
  };
  for (const auto& [name, request] : spellings) {
    std::string r = QueryVersion(ctl, request);
    std::printf("%s=%s\n", name.c_str(), r.c_str());
    if (r.rfind("ok:", 0) != 0) Violation(name + " was not answered by nvgate: " + r);
  }
  return 0;
}

// ioctl through the i386 entry point (`int $0x80`, ioctl = 54) and the x32
// one: other syscall numbers, other argument registers.
int OtherAbis() {
  int ctl = OpenNode("/dev/nvidiactl");
  // int $0x80 passes 32-bit registers: the parameters must sit below 4 GiB.
  void* low = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return 3;
  auto* v = static_cast<nv_ioctl_rm_api_version_t*>(low);
  v->cmd = kRmApiVersionCmdQuery;
  auto request = static_cast<std::uint32_t>(Frontend(kEscCheckVersionStr, sizeof *v));
  // In a child: some kernels (and hypervisors) have no int $0x80 entry at all
  // and kill the caller with SIGSEGV, which is no route to the driver.
  pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGSEGV, SIG_DFL);  // the kernel's own SIGSEGV, not a sanitizer's report of it
    long rc;
    asm volatile("int $0x80"
                 : "=a"(rc)
                 : "a"(54L), "b"(static_cast<long>(ctl)), "c"(static_cast<long>(request)),
                   "d"(reinterpret_cast<long>(low))
                 : "memory");
    std::printf("int80_ioctl=%ld\n", rc);
    if (rc != -ENOSYS) Violation("int $0x80 ioctl was not refused with ENOSYS: " + std::to_string(rc));
    std::fflush(stdout);
    ::_exit(violations);
  }
  int child_status = 0;
  ::waitpid(child, &child_status, 0);
  if (WIFSIGNALED(child_status)) {
    std::printf("int80_ioctl=absent (signal %d: this kernel has no int $0x80 entry)\n", WTERMSIG(child_status));
  } else {
    violations += WEXITSTATUS(child_status);
  }
  constexpr long kX32Bit = 0x40000000;
  long x32 = ::syscall(kX32Bit | SYS_ioctl, ctl, request, low);
  int x32_errno = errno;
  std::printf("x32_ioctl=%s\n", x32 == 0 ? "ok" : strerrorname_np(x32_errno));
  if (x32 == 0 || x32_errno != ENOSYS) Violation("x32 ioctl was not refused with ENOSYS");
  return 0;
}

void ExpectRefused(const char* what, long rc, int err, int expected) {
  std::printf("%s=%s\n", what, rc >= 0 ? "ok" : strerrorname_np(err));
  if (rc >= 0 || err != expected) {
    Violation(std::string(what) + " was not refused with " + strerrorname_np(expected));
  }
}

// Every syscall that could reach into the supervisor or around the filter,
// aimed where it would succeed without nvgate's filter: at the workload itself.
int SupervisorReach() {
  pid_t self = ::getpid();
  char buf[16] = {};
  char other[16] = {};
  iovec local{buf, sizeof buf};
  iovec remote{other, sizeof other};
  long rc = ::process_vm_readv(self, &local, 1, &remote, 1, 0);
  ExpectRefused("process_vm_readv", rc, errno, EPERM);
  rc = ::process_vm_writev(self, &local, 1, &remote, 1, 0);
  ExpectRefused("process_vm_writev", rc, errno, EPERM);

  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  rc = ::ptrace(PTRACE_SEIZE, child, nullptr, nullptr);
  ExpectRefused("ptrace", rc, errno, EPERM);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0));
  rc = ::syscall(SYS_pidfd_getfd, pidfd, 0, 0);
  ExpectRefused("pidfd_getfd", rc, errno, EPERM);
  rc = ::syscall(SYS_kcmp, self, self, KCMP_FILE, 0, 0);
  ExpectRefused("kcmp", rc, errno, EPERM);
  rc = ::syscall(SYS_userfaultfd, O_CLOEXEC);
  ExpectRefused("userfaultfd", rc, errno, EPERM);
  io_uring_params params{};
  rc = ::syscall(SYS_io_uring_setup, 4, &params);
  ExpectRefused("io_uring_setup", rc, errno, ENOSYS);
  // The sandbox's pid 1 (nvgate's init) runs without the filter: writing its
  // memory would be a way out, root or not. (In a container the workload may
  // be pid 1 itself.)
  if (self != 1) {
    int init_mem = ::open("/proc/1/mem", O_RDWR | O_CLOEXEC);
    ExpectRefused("open_proc_1_mem", init_mem, errno, EACCES);
  }
  sock_filter allow{BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW};
  sock_fprog prog{1, &allow};
  rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  ExpectRefused("seccomp_new_listener", rc, errno, EPERM);
  return 0;
}

// A signal storm on the calling thread: without WAIT_KILLABLE_RECV a signal
// after nvgate received the call restarts it, and nvgate runs it again. Each
// call creates a client with a handle of its own, so a second run shows as a
// duplicate handle.
int SignalStorm(int iterations) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGUSR1, &sa, nullptr);
  int ctl = OpenNode("/dev/nvidiactl");
  pthread_t caller = ::pthread_self();
  std::atomic<bool> stop{false};
  std::atomic<long> signals{0};
  std::thread storm([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      ::pthread_kill(caller, SIGUSR1);
      signals.fetch_add(1, std::memory_order_relaxed);
    }
  });
  int ok = 0;
  std::map<std::uint32_t, int> failures;
  // A double run needs a signal to land while the supervisor executes the
  // call; on a loaded machine that can take more than `iterations` calls, so
  // keep going, up to four times as many, until one is seen.
  int calls = 0;
  for (int i = 0; i < iterations || (failures.empty() && i < 4 * iterations); ++i, ++calls) {
    NvHandle handle = 0xc2000000 + static_cast<NvHandle>(i);
    NvHandle requested = handle;
    std::uint32_t status = Alloc(ctl, 0, 0, handle, kNv01RootClient, &requested, sizeof requested);
    status == kNvOk ? ++ok : ++failures[status];
  }
  stop = true;
  storm.join();
  std::printf("calls=%d ok=%d signals=%ld\n", calls, ok, signals.load());
  for (auto [status, count] : failures) {
    char what[96];
    std::snprintf(what, sizeof what, "%d calls answered 0x%x (0x19: a call ran twice)", count, status);
    Violation(what);
  }
  return 0;
}

// RM clients are the driver's only notion of who is calling, and RM sees only
// nvgate: a workload must not name a client it did not create.
int ForeignClient() {
  int ctl = OpenNode("/dev/nvidiactl");
  AllocClient(ctl);
  constexpr NvHandle kOther = 0xc1000001;  // the sim's other tenant (SimDriver::kOtherTenantClient)
  std::uint32_t device_params[14] = {};
  std::uint32_t status = Alloc(ctl, kOther, kOther, 0x5e0000bb, kNv01Device0, device_params, sizeof device_params);
  std::printf("alloc_under_foreign_client=0x%x\n", status);
  if (status == kNvOk) Violation("allocated under another tenant's client");
  std::uint32_t ids[32] = {};
  status = Control(ctl, kOther, kOther, kNv0000CtrlCmdGpuGetAttachedIds, ids, sizeof ids);
  std::printf("control_on_foreign_client=0x%x\n", status);
  if (status == kNvOk) Violation("control ran on another tenant's client");
  NVOS00_PARAMETERS free_other{kOther, 0, kOther, 0};
  int rc = ::ioctl(ctl, Frontend(kEscRmFree, sizeof free_other), &free_other);
  std::printf("free_foreign_client=%s/0x%x\n", rc == 0 ? "ok" : strerrorname_np(errno), free_other.status);
  if (rc == 0 && free_other.status == kNvOk) Violation("freed another tenant's client");
  return 0;
}

// RM_SHARE opens an object to others; RM sees every sandbox as nvgate's own
// process, so sharing with everyone, by pid, by security token or with another
// tenant's client would reach past the sandbox.
int ShareOutside() {
  Rm rm = OpenRm();
  struct Case {
    const char* what;
    NvU16 type;
    NvU32 target;
  };
  for (const Case& c : {Case{"share_all", kRsShareTypeAll, 0}, Case{"share_security_token", 2, 0},
                        Case{"share_pid", 4, 1}, Case{"share_other_tenants_client", kRsShareTypeClient, 0xc1000001}}) {
    NVOS57_PARAMETERS p{rm.client, rm.device, {c.target, 0xffffffff, c.type, 0}, 0};
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmShare, sizeof p), &p);
    std::printf("%s=%s/0x%x\n", c.what, rc == 0 ? "ok" : strerrorname_np(errno), p.status);
    if (rc == 0 && p.status == kNvOk) Violation(std::string(c.what) + " was accepted");
  }
  return 0;
}

// NV_ESC_EXPORT_TO_DMABUF_FD names a client and objects under it: exporting
// another tenant's memory as a dma-buf would hand it to this workload.
int DmabufOfAnotherTenant() {
  int ctl = OpenNode("/dev/nvidiactl");
  AllocClient(ctl);
  // nv_ioctl_export_to_dma_buf_fd_t (2608 bytes): fd at 0, hClient at 4, status at 2600.
  std::uint8_t params[2608] = {};
  std::int32_t fd = -1;
  NvHandle other = 0xc1000001;  // the sim's other tenant
  std::memcpy(params, &fd, sizeof fd);
  std::memcpy(params + 4, &other, sizeof other);
  int rc = ::ioctl(ctl, Frontend(kEscExportToDmabufFd, sizeof params), params);
  std::uint32_t status;
  std::memcpy(&status, params + 2600, sizeof status);
  std::printf("export_other_tenants_memory=%s/0x%x\n", rc == 0 ? "ok" : strerrorname_np(errno), status);
  if (rc == 0 && status == kNvOk) Violation("exported another tenant's memory");
  return 0;
}

// Sizes at and past every bound, null, wild and kernel pointers, huge counts:
// each must get an error, and nvgate must still answer afterwards.
int Malformed() {
  Rm rm = OpenRm();
  auto expect_failure = [](const char* what, int rc, std::uint32_t status) {
    std::printf("%s=%s/0x%x\n", what, rc == 0 ? "ok" : strerrorname_np(errno), status);
    if (rc == 0 && status == kNvOk) Violation(std::string(what) + " succeeded");
  };
  // An allocation the driver would accept in a struct of the right size: only
  // the size may stand in the way.
  std::uint8_t big[16383] = {};
  NVOS21_PARAMETERS root_client{0, 0, 0x5e0000dd, kAllowedClass, 0, 0, 0};
  std::memcpy(big, &root_client, sizeof root_client);
  for (std::uint32_t size : {0u, 1u, 31u, 33u, 4095u, 16383u}) {
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmAlloc, size), big);
    std::string what = "alloc_size_" + std::to_string(size);
    expect_failure(what.c_str(), rc, 0);
  }
  for (unsigned long arg : {0ul, 0x10ul, 0xdead0000ul, 0xffff800000000000ul, ~0ul}) {
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmControl, sizeof(NVOS54_PARAMETERS)), arg);
    std::printf("control_arg_%#lx=%s\n", arg, rc == 0 ? "ok" : strerrorname_np(errno));
    if (rc == 0) Violation("control with a bad argument pointer succeeded");
  }
  std::uint32_t ids[32] = {};
  // A sound control in a request that says its struct is larger.
  std::uint8_t padded[sizeof(NVOS54_PARAMETERS) + 8] = {};
  NVOS54_PARAMETERS sound{rm.client, rm.client, kNv0000CtrlCmdGpuGetAttachedIds, 0,
                          reinterpret_cast<std::uintptr_t>(ids), sizeof ids, 0};
  std::memcpy(padded, &sound, sizeof sound);
  int padded_rc = ::ioctl(rm.ctl, Frontend(kEscRmControl, sizeof padded), padded);
  std::memcpy(&sound, padded, sizeof sound);
  expect_failure("control_request_size_long", padded_rc, sound.status);
  struct Case {
    const char* what;
    std::uint64_t params;
    std::uint32_t size;
  };
  for (const Case& c : {Case{"control_null_params", 0, sizeof ids},
                        Case{"control_wild_params", 0xdead0000, sizeof ids},
                        Case{"control_kernel_params", 0xffff800000000000, sizeof ids},
                        Case{"control_size_short", reinterpret_cast<std::uintptr_t>(ids), sizeof ids - 4},
                        Case{"control_size_huge", reinterpret_cast<std::uintptr_t>(ids), 0xffffffff},
                        Case{"control_size_negative", reinterpret_cast<std::uintptr_t>(ids), 0x80000000}}) {
    NVOS54_PARAMETERS p{rm.client, rm.client, kNv0000CtrlCmdGpuGetAttachedIds, 0, c.params, c.size, 0};
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmControl, sizeof p), &p);
    expect_failure(c.what, rc, p.status);
  }
  for (std::uint32_t params_size : {0u, 1u, 0xffffffffu, 0x80000000u}) {
    std::uint8_t params[64] = {};
    NVOS21_PARAMETERS p{rm.client, rm.device, 0, 0x90f1, reinterpret_cast<std::uintptr_t>(params), params_size, 0};
    int rc = ::ioctl(rm.ctl, Frontend(kEscRmAlloc, sizeof p), &p);
    std::printf("alloc_params_size_%#x=%s/0x%x\n", params_size, rc == 0 ? "ok" : strerrorname_np(errno), p.status);
  }
  NVOS21_PARAMETERS wild{rm.client, rm.device, 0, 0x90f1, 0xdead0000, 64, 0};
  int rc = ::ioctl(rm.ctl, Frontend(kEscRmAlloc, sizeof wild), &wild);
  expect_failure("alloc_wild_params", rc, wild.status);
  // NV_ESC_IOCTL_XFER_CMD wraps another escape behind a pointer: refused outright.
  NVOS21_PARAMETERS inner{rm.client, rm.subdevice, 0x5e0000cc, kRefusedClass, 0, 0, 0};
  nv_ioctl_xfer_t xfer{kEscRmAlloc, sizeof inner, reinterpret_cast<std::uintptr_t>(&inner)};
  rc = ::ioctl(rm.ctl, Frontend(kEscIoctlXferCmd, sizeof xfer), &xfer);
  expect_failure("xfer_wrapped_alloc", rc, inner.status);
  std::string after = QueryVersion(rm.ctl, Frontend(kEscCheckVersionStr, sizeof(nv_ioctl_rm_api_version_t)));
  std::printf("version_after=%s\n", after.c_str());
  if (after.rfind("ok:", 0) != 0) Violation("nvgate stopped answering after malformed calls");
  return 0;
}

// Calls until killed: the test kills nvgate meanwhile. Says "failing: ENOSYS"
// once, at the first call that failed so (its supervisor is gone).
int CallUntilKilled() {
  int ctl = OpenNode("/dev/nvidiactl");
  bool failing = false;
  for (long i = 0;; ++i) {
    std::string r = QueryVersion(ctl, Frontend(kEscCheckVersionStr, sizeof(nv_ioctl_rm_api_version_t)));
    if (i == 100) {
      std::printf("calling\n");
      std::fflush(stdout);
    }
    if (r == "errno:ENOSYS" && !failing) {
      failing = true;
      std::printf("failing: ENOSYS\n");
      std::fflush(stdout);
    }
    if (r.rfind("ok:", 0) != 0 && r != "errno:ENOSYS") Violation("after the supervisor died: " + r);
  }
}

// RefusedClass's four calls (three allowed, one denied), then waits to be
// killed: the container tests read a live container's metrics.
int RefusedClassThenWait() {
  RefusedClass();
  std::printf("waiting\n");
  for (;;) ::pause();
}

// The driver gives a device, and UVM a GPU, only to a process that holds that
// GPU's file; the supervisor makes the calls, so it must hold exactly this
// workload's GPU files while it does. Run with two simulated GPUs: this
// workload opens only nvidia0 and asks for GPU 1.
int GpuNotOpened() {
  int ctl = OpenNode("/dev/nvidiactl");
  OpenNode("/dev/nvidia0");
  NvHandle client = AllocClient(ctl);
  NV0080_ALLOC_PARAMETERS device{};
  device.deviceId = 1;
  std::uint32_t status = Alloc(ctl, client, client, 0x5e0000d1, kNv01Device0, &device, sizeof device);
  std::printf("device_on_unopened_gpu=0x%x\n", status);
  if (status == kNvOk) Violation("allocated a device on a GPU this workload never opened");

  int uvm = OpenNode("/dev/nvidia-uvm");
  UVM_INITIALIZE_PARAMS init{0, 0};
  ::ioctl(uvm, kUvmInitialize, &init);
  UVM_REGISTER_GPU_PARAMS reg{};
  // The simulated GPU 1's UUID (SimDriver::GpuUuid): "nvgate-sim", then the index.
  const char sim_uuid[] = "nvgate-sim";
  std::memcpy(reg.gpu_uuid, sim_uuid, 10);
  reg.gpu_uuid[15] = 1;
  reg.rmCtrlFd = ctl;
  reg.hClient = client;
  int rc = ::ioctl(uvm, kUvmRegisterGpu, &reg);
  std::printf("uvm_register_unopened_gpu=%s/0x%x\n", rc == 0 ? "ok" : strerrorname_np(errno), reg.rmStatus);
  if (rc == 0 && reg.rmStatus == kNvOk) Violation("UVM registered a GPU this workload never opened");
  return 0;
}

// Under --gpus 1 on two simulated GPUs: GPU 0 (gpuId 0x100) named where the
// driver asks for no node of it (its id info, attaching it to a file), and
// where it does (a device, a UVM registration).
int GpuOutsideSelection() {
  if (::open("/dev/nvidia0", O_RDWR | O_CLOEXEC) >= 0) Violation("/dev/nvidia0 is in the workload's /dev");
  int ctl = OpenNode("/dev/nvidiactl");
  NvHandle client = AllocClient(ctl);
  NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS info{};
  info.gpuId = 0x100;
  std::uint32_t status = Control(ctl, client, client, kNv0000CtrlCmdGpuGetIdInfoV2, &info, sizeof info);
  std::printf("id_info_gpu0=0x%x\n", status);
  if (status == kNvOk) Violation("RM answered GET_ID_INFO_V2 on GPU 0, outside the selection");
  NvU32 ids[4] = {0x100, 0, 0, 0};
  int attach_ctl = OpenNode("/dev/nvidiactl");
  int rc = ::ioctl(attach_ctl, Frontend(kEscAttachGpusToFd, sizeof ids), ids);
  std::printf("attach_gpu0=%s\n", rc == 0 ? "ok" : strerrorname_np(errno));
  if (rc == 0) Violation("attached GPU 0, outside the selection, to a file");
  NV0080_ALLOC_PARAMETERS device{};
  device.deviceId = 0;
  status = Alloc(ctl, client, client, 0x5e0000d0, kNv01Device0, &device, sizeof device);
  std::printf("device_gpu0=0x%x\n", status);
  if (status == kNvOk) Violation("allocated a device on GPU 0, outside the selection");
  return 0;
}

// Fields inside parameters that name a client RM follows, whoever owns it
// (RM sees only the supervisor): each set to another tenant's client.
int EmbeddedClient(const std::string& field) {
  constexpr NvHandle kOther = 0xc1000001;  // the sim's other tenant (SimDriver::kOtherTenantClient)
  int ctl = OpenNode("/dev/nvidiactl");
  OpenNode("/dev/nvidia0");
  NvHandle client = AllocClient(ctl);
  std::uint32_t status = 0;
  int rc = 0;
  if (field == "hClientShare" || field == "hTargetClient") {
    NV0080_ALLOC_PARAMETERS device{};
    (field == "hClientShare" ? device.hClientShare : device.hTargetClient) = kOther;
    status = Alloc(ctl, client, client, 0x5e0000d0, kNv01Device0, &device, sizeof device);
  } else if (field == "hParentClient") {
    NV0005_ALLOC_PARAMETERS event{};
    event.hParentClient = kOther;
    event.hSrcResource = kOther;
    event.hClass = kNv01EventOsEvent;
    status = Alloc(ctl, client, client, 0x5e0000e0, kNv01EventOsEvent, &event, sizeof event);
  } else {
    int uvm = OpenNode("/dev/nvidia-uvm");
    UVM_INITIALIZE_PARAMS init{0, 0};
    ::ioctl(uvm, kUvmInitialize, &init);
    // Each UVM struct with an RM client: the request, its size, and where
    // rmCtrlFd, hClient and rmStatus sit (src/abi/data/r580.tsv).
    struct UvmCall {
      const char* field;
      unsigned long request;
      std::size_t size, fd_at, client_at, status_at;
    };
    for (const UvmCall& c : {UvmCall{"UVM_REGISTER_GPU.hClient", kUvmRegisterGpu, 40, 24, 28, 36},
                             UvmCall{"UVM_REGISTER_GPU_VASPACE.hClient", 0x19, 32, 16, 20, 28},
                             UvmCall{"UVM_REGISTER_CHANNEL.hClient", 0x1b, 56, 16, 20, 48},
                             UvmCall{"UVM_MAP_EXTERNAL_ALLOCATION.hClient", 0x21, 9264, 9248, 9252, 9260}}) {
      if (field != c.field) continue;
      std::vector<std::uint8_t> params(c.size);
      std::memcpy(params.data(), "nvgate-sim", 10);  // GPU 0's UUID where the struct starts with one
      std::memcpy(params.data() + c.fd_at, &ctl, sizeof ctl);
      std::memcpy(params.data() + c.client_at, &kOther, sizeof kOther);
      rc = ::ioctl(uvm, c.request, params.data());
      std::memcpy(&status, params.data() + c.status_at, sizeof status);
    }
  }
  std::printf("%s_of_another_tenant=%s/0x%x\n", field.c_str(), rc == 0 ? "ok" : strerrorname_np(errno), status);
  if (rc == 0 && status == kNvOk) Violation(field + " naming another tenant's client was accepted");
  return 0;
}

// Routes of a root workload around the driver (issue #25). Each names what a
// sound nvgate leaves it: EPERM from the kernel, a masked or read-only file.
// Where this kernel lacks the facility altogether (no module loader, no
// iopl, no /proc/kcore), the capability it would check is the signal.

bool HoldsCapability(int cap) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> cap) & 1;
  }
  return false;
}

std::string ErrnoName(int e) { return strerrorname_np(e) ? strerrorname_np(e) : std::to_string(e); }

// Another tenant's workload, a second `nvgate run` beside this one: its
// memory through /proc, after unmounting the sandbox's /proc to find the
// host's. TARGET is "PID:ADDRESS" (host pid, an address of its marker).
int TenantMemory(const std::string& target) {
  std::size_t colon = target.find(':');
  if (colon == std::string::npos) return 2;
  std::string pid = target.substr(0, colon);
  std::uint64_t address = std::stoull(target.substr(colon + 1), nullptr, 0);
  int rc = ::umount2("/proc", MNT_DETACH);
  std::printf("umount_proc=%s\n", rc == 0 ? "ok" : ErrnoName(errno).c_str());
  std::string path = "/proc/" + pid + "/mem";
  int mem = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  std::printf("open_tenant_mem=%s\n", mem >= 0 ? "ok" : ErrnoName(errno).c_str());
  if (mem < 0) return 0;
  const char overwrite[] = "owned";
  ssize_t n = ::pwrite(mem, overwrite, sizeof overwrite, static_cast<off_t>(address));
  std::printf("write_tenant_mem=%s\n", n > 0 ? "ok" : ErrnoName(errno).c_str());
  Violation(n > 0 ? "wrote another tenant's workload memory through /proc" : "opened another tenant's /proc/PID/mem");
  ::close(mem);
  return 0;
}

// The other tenant of TenantMemory: prints its marker's address and waits.
int Neighbour() {
  static volatile char marker[16] = "untouched";
  std::printf("marker=%p\nwaiting\n", static_cast<void*>(const_cast<char*>(marker)));
  for (;;) ::pause();
}

// The userfaultfd syscall is denied by the filter; the device node is not a
// syscall: /dev/userfaultfd made with mknod, or found in a devtmpfs of its own.
int ObtainUserfaultfd(const std::string& tag, std::string& how) {
  unsigned major_number = 10;
  unsigned minor_number = 0;
  if (std::FILE* dev = std::fopen("/sys/class/misc/userfaultfd/dev", "r")) {
    if (std::fscanf(dev, "%u:%u", &major_number, &minor_number) != 2) minor_number = 0;
    std::fclose(dev);
  }
  std::string node = "/tmp/" + tag + "-userfaultfd";
  int rc = minor_number == 0 ? -1 : ::mknod(node.c_str(), S_IFCHR | 0600, makedev(major_number, minor_number));
  std::printf("mknod_userfaultfd=%s\n", rc == 0 ? "ok" : ErrnoName(errno).c_str());
  if (rc == 0) {
    int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
    ::unlink(node.c_str());
    std::printf("open_made_userfaultfd=%s\n", fd >= 0 ? "ok" : ErrnoName(errno).c_str());
    if (fd >= 0) {
      how = "mknod";
      return fd;
    }
  }
  std::string dir = "/tmp/" + tag + "-devtmpfs";
  ::mkdir(dir.c_str(), 0700);
  rc = ::mount("devtmpfs", dir.c_str(), "devtmpfs", 0, nullptr);
  std::printf("mount_devtmpfs=%s\n", rc == 0 ? "ok" : ErrnoName(errno).c_str());
  int fd = -1;
  if (rc == 0) {
    fd = ::open((dir + "/userfaultfd").c_str(), O_RDWR | O_CLOEXEC);
    std::printf("open_devtmpfs_userfaultfd=%s\n", fd >= 0 ? "ok" : ErrnoName(errno).c_str());
    ::umount2(dir.c_str(), MNT_DETACH);
    if (fd >= 0) how = "devtmpfs";
  }
  ::rmdir(dir.c_str());
  return fd;
}

// With a userfaultfd, an NVIDIA call whose parameters sit on a registered,
// never-filled page holds the supervisor's read of them until the page is
// filled: the fault it reports here is the supervisor's, stalled.
int UserfaultfdStall(const std::string& tag) {
  std::string how;
  int device = ObtainUserfaultfd(tag, how);
  if (device < 0) return 0;
  Violation("obtained a userfaultfd through " + how);
  int uffd = ::ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC);
  ::close(device);
  uffdio_api api{.api = UFFD_API, .features = 0, .ioctls = 0};
  if (uffd < 0 || ::ioctl(uffd, UFFDIO_API, &api) != 0) {
    std::printf("userfaultfd_api=%s\n", ErrnoName(errno).c_str());
    return 0;
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  void* region = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uffdio_register reg{.range = {reinterpret_cast<std::uintptr_t>(region), static_cast<std::uint64_t>(page)},
                      .mode = UFFDIO_REGISTER_MODE_MISSING, .ioctls = 0};
  if (region == MAP_FAILED || ::ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) return 3;
  int ctl = OpenNode("/dev/nvidiactl");
  std::thread caller([&] {
    ::ioctl(ctl, Frontend(kEscCheckVersionStr, sizeof(nv_ioctl_rm_api_version_t)), region);
  });
  // Bounds only a kernel that never reports the fault; a stall is reported
  // as soon as it happens.
  pollfd event_ready{uffd, POLLIN, 0};
  uffd_msg msg{};
  if (::poll(&event_ready, 1, 20000) == 1 && ::read(uffd, &msg, sizeof msg) == sizeof msg &&
      msg.event == UFFD_EVENT_PAGEFAULT) {
    Violation("the supervisor stalled reading parameters on a userfaultfd page");
  }
  // Filled either way, so that the call (and the supervisor) can go on.
  uffdio_zeropage zero{.range = {reinterpret_cast<std::uintptr_t>(region), static_cast<std::uint64_t>(page)},
                       .mode = 0, .zeropage = 0};
  ::ioctl(uffd, UFFDIO_ZEROPAGE, &zero);
  caller.join();
  return 0;
}

// A device node of its own, opened: any device the sandbox's /dev leaves out
// (the null device here, harmless to open).
int DeviceNode(const std::string& tag) {
  std::string node = "/tmp/" + tag + "-node";
  int rc = ::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 3));
  std::printf("mknod=%s\n", rc == 0 ? "ok" : ErrnoName(errno).c_str());
  if (rc != 0) return 0;
  int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
  ::unlink(node.c_str());
  std::printf("open_made_node=%s\n", fd >= 0 ? "ok" : ErrnoName(errno).c_str());
  Violation(fd >= 0 ? "made a device node and opened it" : "made a device node");
  if (fd >= 0) ::close(fd);
  return 0;
}

// A tracing BPF program: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) only.
int PrivilegedBpf() {
  bpf_insn program[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  char license[] = "GPL";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_TRACEPOINT;
  attr.insn_cnt = 2;
  attr.insns = reinterpret_cast<std::uintptr_t>(program);
  attr.license = reinterpret_cast<std::uintptr_t>(license);
  long fd = ::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  std::printf("bpf_tracepoint_prog=%s\n", fd >= 0 ? "ok" : ErrnoName(errno).c_str());
  if (fd >= 0) {
    Violation("loaded a tracing BPF program");
    ::close(static_cast<int>(fd));
  } else if (errno != EPERM) {
    Violation("the BPF loader checked the program (" + ErrnoName(errno) + "), not the caller");
  }
  return 0;
}

// init_module with garbage: EPERM is the capability check; anything else is
// the loader's own answer, reached.
int ModuleLoad() {
  char garbage[64] = "not an ELF module";
  long rc = ::syscall(SYS_init_module, garbage, sizeof garbage, "");
  int init_errno = errno;
  std::printf("init_module=%s\n", rc == 0 ? "ok" : ErrnoName(init_errno).c_str());
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  rc = ::syscall(SYS_finit_module, null_fd, "", 0);
  int finit_errno = errno;
  ::close(null_fd);
  std::printf("finit_module=%s\n", rc == 0 ? "ok" : ErrnoName(finit_errno).c_str());
  for (int e : {init_errno, finit_errno}) {
    if (e == ENOSYS) {
      if (HoldsCapability(CAP_SYS_MODULE)) Violation("holds CAP_SYS_MODULE (this kernel has no module loader)");
    } else if (e != EPERM) {
      Violation("reached the module loader (" + ErrnoName(e) + ")");
    }
  }
  return 0;
}

// Raw port I/O: iopl and ioperm.
int RawIo() {
  int rc = ::iopl(3);
  int iopl_errno = errno;
  std::printf("iopl=%s\n", rc == 0 ? "ok" : ErrnoName(iopl_errno).c_str());
  if (rc == 0) {
    ::iopl(0);
    Violation("raised its I/O privilege level");
  }
  rc = ::ioperm(0x80, 1, 1);
  int ioperm_errno = errno;
  std::printf("ioperm=%s\n", rc == 0 ? "ok" : ErrnoName(ioperm_errno).c_str());
  if (rc == 0) {
    ::ioperm(0x80, 1, 0);
    Violation("got I/O port access");
  }
  if ((iopl_errno == ENOSYS || ioperm_errno == ENOSYS) && HoldsCapability(CAP_SYS_RAWIO)) {
    Violation("holds CAP_SYS_RAWIO (this kernel has no iopl/ioperm)");
  }
  return 0;
}

// Every PCI device's BAR, config and ROM file, opened for writing (never
// written): read-only, masked (the null device) or refused.
int PciForWriting() {
  int checked = 0;
  // The host's own PCI functions, under /sys/devices/pci*: under the sim,
  // /sys/bus/pci/devices shows the simulated GPUs instead.
  std::vector<std::string> functions;
  std::error_code ec;
  for (const auto& root : std::filesystem::directory_iterator("/sys/devices", ec)) {
    if (root.path().filename().string().rfind("pci", 0) != 0) continue;
    for (auto it = std::filesystem::recursive_directory_iterator(root.path(), ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec || it.depth() > 3) {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_symlink(ec) && it->is_directory(ec) && std::filesystem::exists(it->path() / "config", ec)) {
        functions.push_back(it->path().string());
      }
    }
  }
  for (const std::string& function : functions) {
    std::string dir = function + "/";
    for (const char* name : {"config", "rom", "resource0", "resource1", "resource2", "resource3", "resource4",
                             "resource5"}) {
      std::string path = dir + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) continue;
      ++checked;
      int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) continue;  // EROFS, EACCES, EPERM: held
      struct stat opened {};
      bool masked = ::fstat(fd, &opened) == 0 && S_ISCHR(opened.st_mode);
      ::close(fd);
      if (!masked) Violation("opened " + path + " for writing");
    }
  }
  std::printf("pci_files_checked=%d\n", checked);
  return 0;
}

// /proc/kcore: the kernel's memory, CAP_SYS_RAWIO only.
int ReadKcore() {
  int fd = ::open("/proc/kcore", O_RDONLY | O_CLOEXEC);
  int e = errno;
  std::printf("open_kcore=%s\n", fd >= 0 ? "ok" : ErrnoName(e).c_str());
  if (fd >= 0) {
    char buf[64];
    struct stat st {};
    bool masked = ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode);
    if (!masked && ::read(fd, buf, sizeof buf) > 0) Violation("read /proc/kcore");
    ::close(fd);
  } else if (e == ENOENT && HoldsCapability(CAP_SYS_RAWIO)) {
    Violation("holds CAP_SYS_RAWIO (this kernel has no /proc/kcore)");
  }
  return 0;
}

}  // namespace

// LeakSanitizer stops the world with ptrace, which nvgate's filter denies.
extern "C" int __lsan_is_turned_off() { return 1; }

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: escape_workload TAG SCENARIO [ITERATIONS [TARGET]]\n");
    return 2;
  }
  ::prctl(PR_SET_NAME, argv[1]);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string scenario = argv[2];
  int iterations = argc > 3 ? std::atoi(argv[3]) : 1000;
  int status = 2;
  if (scenario == "refused-class") status = RefusedClass();
  if (scenario == "flip-class") status = FlipClass(iterations);
  if (scenario == "swap-fd") status = SwapFd(iterations);
  if (scenario == "flip-pin") status = FlipPin(iterations, Flipper::kThread);
  if (scenario == "flip-pin-process") status = FlipPin(iterations, Flipper::kProcess);
  if (scenario == "flip-pin-vfork") status = FlipPin(iterations, Flipper::kVforkChild);
  if (scenario == "pin-in-device-mapping") status = PinWithParametersInDeviceMapping();
  if (scenario == "flip-pin-new-threads") status = FlipPinFromNewThreads(iterations);
  if (scenario == "pin-signal-storm") status = PinSignalStorm(iterations);
  if (scenario == "pin-until-killed") status = PinUntilKilled();
  if (scenario == "pin-in-pinned") status = PinWithParametersIn(true);
  if (scenario == "pin-in-shared") status = PinWithParametersIn(false);
  if (scenario == "request-bits") status = RequestBits();
  if (scenario == "other-abis") status = OtherAbis();
  if (scenario == "supervisor-reach") status = SupervisorReach();
  if (scenario == "signal-storm") status = SignalStorm(iterations);
  if (scenario == "foreign-client") status = ForeignClient();
  if (scenario == "malformed") status = Malformed();
  if (scenario == "share-outside") status = ShareOutside();
  if (scenario == "dmabuf-other-tenant") status = DmabufOfAnotherTenant();
  if (scenario == "call-until-killed") status = CallUntilKilled();
  if (scenario == "refused-class-then-wait") status = RefusedClassThenWait();
  if (scenario == "gpu-not-opened") status = GpuNotOpened();
  if (scenario == "gpu-outside-selection") status = GpuOutsideSelection();
  if (scenario.rfind("embedded-client:", 0) == 0) status = EmbeddedClient(scenario.substr(16));
  if (scenario == "tenant-memory") status = TenantMemory(argc > 4 ? argv[4] : "");
  if (scenario == "neighbour") status = Neighbour();
  if (scenario == "userfaultfd") status = UserfaultfdStall(argv[1]);
  if (scenario == "device-node") status = DeviceNode(argv[1]);
  if (scenario == "bpf") status = PrivilegedBpf();
  if (scenario == "module-load") status = ModuleLoad();
  if (scenario == "raw-io") status = RawIo();
  if (scenario == "pci-for-writing") status = PciForWriting();
  if (scenario == "kcore") status = ReadKcore();
  std::printf("violations=%d\n", violations);
  return status;
}
