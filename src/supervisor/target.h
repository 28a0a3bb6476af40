// The trapped thread's memory and file table, for the proxy, while the call is
// pending.
//
//   supervisor::CallerPidfds pidfds;                  // one per supervisor
//   auto target = supervisor::CallTarget::Open(notifier, pidfds, notification);
//   if (!target) reply(-target.error().errno_value);  // gone before we looked
//   int dup = target->Duplicate(fd);                  // pidfd_getfd
//   target->Read(addr, &params, sizeof(params));      // then ID_VALID
//
// Every read is followed by NOTIF_ID_VALID (bytes read from a thread that has
// since died or been replaced are not reported as read), and every write is
// preceded by it. With WAIT_KILLABLE_RECV the thread can only die while the call
// is pending, never abandon it, so a valid id means the memory is still the
// caller's.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "backend/backend.h"
#include "error/error.h"
#include "fd/owned_fd.h"
#include "proxy/gpu_file_gate.h"
#include "proxy/proxy.h"
#include "supervisor/caller_run.h"
#include "supervisor/notifier.h"

namespace nvgate::supervisor {

// The most one Read or Write moves: the proxy bounds nested buffers at 1 MiB;
// anything far larger is a bug or an attack on the supervisor's memory.
inline constexpr std::size_t kMaxTransfer = 16u << 20;

// A thread's pidfd, closed with the last reference to it, and the thread
// group (process) the thread belongs to, read when the pidfd was opened.
class Pidfd {
 public:
  Pidfd(int fd, pid_t thread_group) : fd_(fd), thread_group_(thread_group) {}
  int fd() const { return fd_.get(); }
  pid_t thread_group() const { return thread_group_; }

 private:
  fd::OwnedFd fd_;
  pid_t thread_group_;
};

// The workload's threads' pidfds, kept from one call of a thread to the next:
// pidfd_open and close for every call cost about a tenth of an executed call
// (docs/performance.md). Thread-safe.
//
// A tid is reused once its thread is gone, so a cached pidfd may name a dead
// thread whose tid now belongs to the caller. Find() returns one only while its
// thread is alive (the pidfd not readable), checked after the notification was
// received. Two live threads never share a tid, so the pidfd names the caller
// with no ID_VALID of its own (a new pidfd needs one; CallTarget::Open). The
// pidfds of threads that have exited are closed by Sweep(), or when their tid
// calls again.
class CallerPidfds {
 public:
  // At most this many are kept; further threads get a pidfd per call. Well
  // under the usual 1,024 descriptors, which the per-call duplicates need too.
  static constexpr std::size_t kMax = 256;

  // `tid`'s pidfd if one is kept and its thread alive; null otherwise.
  std::shared_ptr<const Pidfd> Find(pid_t tid);
  // Keeps `pidfd`, known to be `tid`'s (ID_VALID after pidfd_open).
  void Keep(pid_t tid, std::shared_ptr<const Pidfd> pidfd);
  // Closes the pidfds of threads that have exited (once calls in flight are
  // done with them).
  void Sweep();
  void Clear();

 private:
  void Forget(pid_t tid, const std::shared_ptr<const Pidfd>& pidfd);

  std::mutex mu_;
  std::unordered_map<pid_t, std::shared_ptr<const Pidfd>> by_tid_;
};

class CallTarget final : public proxy::TargetMemory, public proxy::TargetFiles {
 public:
  // Takes the calling thread's pidfd from `pidfds`, or opens one (PIDFD_THREAD;
  // the plain pid where the kernel predates it) and keeps it there, and checks
  // that the call is still pending, so the pidfd is known to name the caller.
  // A failure is a system error whose errno is the answer (ENOENT: the caller is gone). A value,
  // not a heap object: one per call.
  // `backend` tells which duplicates are GPU files (gpu_file_gate.h).
  // `runs` is the supervisor's, for RunInCaller.
  static Result<CallTarget> Open(Notifier& notifier, CallerPidfds& pidfds, const Notification& notification,
                                 const backend::Backend& backend, CallerRuns& runs);
  CallTarget(CallTarget&&) = default;
  CallTarget(const CallTarget&) = delete;
  CallTarget& operator=(const CallTarget&) = delete;
  CallTarget& operator=(CallTarget&&) = delete;

  bool Read(std::uint64_t addr, void* out, std::size_t len) override;
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override;
  // Takes the GPU file gate shared first, and keeps it until the call is done
  // (this object destroyed, after every duplicate is closed) once a duplicate
  // is a GPU file.
  int Duplicate(int target_fd) override;
  // Duplicate, also naming what the file is (one fstat serves the gate and
  // the caller's classification).
  int Duplicate(int target_fd, abi::DeviceKind& kind);
  int Install(int fd) override;
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>& fds) override;
  proxy::CallerRun RunInCaller(const proxy::Call& call, backend::Backend& backend, std::span<const std::byte> checked,
                               std::span<std::byte> result) override;

  pid_t tid() const { return tid_; }
  // The caller's process: its thread group id, as the supervisor sees it.
  pid_t thread_group() const { return pidfd_->thread_group(); }
  int pidfd() const { return pidfd_->fd(); }

 private:
  CallTarget(Notifier& notifier, std::uint64_t id, pid_t tid, std::shared_ptr<const Pidfd> pidfd,
             const backend::Backend& backend, CallerRuns& runs)
      : notifier_(notifier),
        id_(id),
        tid_(tid),
        pidfd_(std::move(pidfd)),
        backend_(backend),
        runs_(runs),
        gate_(proxy::GpuFileGate::OfThisProcess()) {}

  abi::DeviceKind KindOf(int fd) const;

  Notifier& notifier_;
  std::uint64_t id_;
  pid_t tid_;
  std::shared_ptr<const Pidfd> pidfd_;
  const backend::Backend& backend_;
  CallerRuns& runs_;
  proxy::GpuFileHold gate_;
  bool holds_gpu_file_ = false;
};

}  // namespace nvgate::supervisor
