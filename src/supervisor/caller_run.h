// Running one call in the workload's own memory context (issue 17).
//
// Host-memory pinning (RM_ALLOC_MEMORY of NV01_MEMORY_SYSTEM_OS_DESCRIPTOR)
// pins pages of the *calling* process's memory: os_lock_user_pages takes
// current->mm (kernel-open/nvidia/os-mlock.c:224 at 580.142), so the
// supervisor cannot run it for the workload as it runs every other call. The
// workload's own call runs instead, after the proxy decided it on its copy,
// under these protections (docs/security.md, "Host-memory pinning"):
//
//   1. no other call of this workload is executing, and none starts
//      (CallerRuns::Exclusive): the supervisor itself writes nothing into the
//      workload meanwhile;
//   2. every other task of the workload is stopped (ptrace SEIZE + INTERRUPT,
//      on a thread of its own whose exit detaches whatever is left), or is
//      parked where it cannot run its own code: in a call the supervisor
//      holds, or in vfork waiting for a child that is itself stopped;
//   3. the parameters still read the bytes the proxy decided on, and lie in
//      private anonymous memory (no other process, file or device mapping can
//      change them);
//   4. the host's driver then runs the workload's own ioctl (CONTINUE), and
//      the caller is stopped again on its way out of it (an interrupt armed
//      before the CONTINUE) so that the result is read before anything of the
//      workload runs again; the sim runs it as that thread instead
//      (Backend::IoctlAsCaller).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "backend/backend.h"
#include "proxy/proxy.h"
#include "supervisor/notifier.h"

namespace nvgate::supervisor {

// The PID namespace whose tasks (and those of namespaces below it) are the
// workload: what must be stopped while one of its calls runs in its memory.
struct WorkloadNamespace {
  dev_t dev = 0;
  ino_t ino = 0;
  // nvgate run's own pid 1 there (launch.cc), which runs no code of the
  // workload and is never stopped; 0 where the namespace's init is the
  // workload's (a container).
  pid_t nvgate_init = 0;
  bool known() const { return ino != 0; }
  // The namespace `pid` creates its children in (/proc/PID/ns/pid_for_children:
  // the workload's, for nvgate run's launcher after its unshare), or of `pid`
  // itself (/proc/PID/ns/pid: a container's init). nullopt when unreadable.
  static std::optional<WorkloadNamespace> ForChildrenOf(pid_t pid);
  static std::optional<WorkloadNamespace> Of(pid_t pid);
};

// Per supervisor: which workload threads wait in a call the supervisor holds,
// and the gate that lets one call run in the caller's memory with no other
// call of the workload executing. Thread-safe.
class CallerRuns {
 public:
  explicit CallerRuns(WorkloadNamespace workload) : workload_(workload) {}

  const WorkloadNamespace& workload() const { return workload_; }

  // Around every notification the supervisor handles: `tid` is parked in the
  // supervisor from Receive to Send. Enter waits while a call runs in its
  // caller's memory.
  void Enter(pid_t tid);
  void Leave(pid_t tid);
  bool Holds(pid_t tid);

  // Taken by the call that runs in its caller's memory, from inside its own
  // Enter..Leave: waits until no other call executes, and keeps new ones out
  // until destroyed. One at a time.
  class Exclusive {
   public:
    explicit Exclusive(CallerRuns& runs);
    ~Exclusive();
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    CallerRuns& runs_;
    std::unique_lock<std::mutex> one_at_a_time_;
  };

 private:
  const WorkloadNamespace workload_;
  std::mutex run_mu_;  // one run in a caller's memory at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::multiset<pid_t> parked_;
  int executing_ = 0;
  bool exclusive_ = false;
};

// What RunInCaller needs of the call.
struct CallerCall {
  std::uint64_t id;   // the notification
  pid_t tid;          // the calling thread
  pid_t thread_group; // its process
  int fd;             // the supervisor's duplicate of the file (for the sim)
  abi::DeviceKind device;
  std::uint32_t request;
  std::uint64_t arg;  // the parameters, in the caller's memory
};

// Runs `call` in its caller's memory under the protections above, provided
// its parameters still read `checked`; `result` receives them as the driver
// left them. Blocks until the call is done.
proxy::CallerRun RunInCaller(CallerRuns& runs, Notifier& notifier, backend::Backend& backend,
                             const CallerCall& call, std::span<const std::byte> checked,
                             std::span<std::byte> result);

// The workload's tasks, as tids: those of every process whose PID namespace
// is `workload` or below it. Exposed for tests.
std::set<pid_t> WorkloadTasks(const WorkloadNamespace& workload);

}  // namespace nvgate::supervisor
