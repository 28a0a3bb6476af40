// The seccomp listener behind a small interface, so that the supervisor loop can
// be driven by a fake in tests.
//
//   auto n = supervisor::OsNotifier::Create(std::move(listener));  // an fd::OwnedFd
//   if (!n) die(n.error());
//   (*n)->SetSyncWakeUp();                                         // best effort, 6.6+
//   Notification call;
//   while ((*n)->Receive(call) == RecvStatus::kOk) {
//     ...
//     (*n)->Send(call.id, {.value = 0});                           // -ENOENT: target gone
//   }
#pragma once

#include <linux/seccomp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::supervisor {

struct Notification {
  std::uint64_t id = 0;
  std::uint32_t tid = 0;  // the calling thread, in the supervisor's PID namespace
  seccomp_data data{};    // syscall nr, arch and the register arguments
};

struct Response {
  std::int64_t value = 0;  // the syscall's return value when error == 0
  int error = 0;           // a positive errno to fail the syscall with
  // Let the kernel run the syscall itself (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
  // Never where nvgate protects an ioctl: the kernel re-reads the fd and
  // memory after the check. Set for `nvgate trace --observe-only`, which
  // protects nothing (trace/observe_only.h), by the escape suite's weakened
  // build, to show what would get through (defences/defences.h), and for an
  // open that is not of a sim character-device node, which cannot reach a
  // device (Supervisor::HandleOpen).
  bool continue_syscall = false;
};

enum class RecvStatus {
  kOk,
  kRetry,    // the notification went away between wake-up and RECV (its thread got
             // a signal before the supervisor saw it); receive again
  kGone,     // no task uses the filter any more: the workload is gone
  kStopped,  // Wake() was called
  kError,    // errno says why
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Blocks until a notification, the end of the workload, or Wake().
  virtual RecvStatus Receive(Notification& out) = 0;
  // Whether notification `id` is still pending (its thread still waits for us).
  virtual bool IdValid(std::uint64_t id) = 0;
  // Answers a notification. 0, or -errno; -ENOENT means the target is gone.
  virtual int Send(std::uint64_t id, const Response& response) = 0;
  // Installs the supervisor's `fd` into the target (close-on-exec there). With
  // `send`, it also answers the notification with the new number, atomically
  // (ADDFD_FLAG_SEND). Returns the target's fd number, or -errno.
  virtual int AddFd(std::uint64_t id, int fd, bool send) = 0;
  // Makes a blocked or later Receive return kStopped. Thread-safe.
  virtual void Wake() = 0;
  // Asks the kernel to wake the receiver on the notifying thread's CPU, and the
  // caller on the answering one (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux
  // 6.6+): a round trip then costs ~3.5 us instead of two cross-CPU wake-ups.
  // False where unsupported.
  virtual bool SetSyncWakeUp() = 0;
};

class OsNotifier final : public Notifier {
 public:
  // `listener` is closed on error.
  static Result<std::unique_ptr<OsNotifier>> Create(fd::OwnedFd listener);
  ~OsNotifier() override;
  OsNotifier(const OsNotifier&) = delete;
  OsNotifier& operator=(const OsNotifier&) = delete;

  RecvStatus Receive(Notification& out) override;
  bool IdValid(std::uint64_t id) override;
  int Send(std::uint64_t id, const Response& response) override;
  int AddFd(std::uint64_t id, int fd, bool send) override;
  void Wake() override;
  bool SetSyncWakeUp() override;

  int fd() const { return listener_.get(); }

 private:
  OsNotifier(fd::OwnedFd listener, fd::OwnedFd wake);

  fd::OwnedFd listener_;
  fd::OwnedFd wake_;  // eventfd; readable once Wake() was called
};

}  // namespace nvgate::supervisor
