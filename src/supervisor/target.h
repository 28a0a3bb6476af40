// The trapped thread's memory and file table, for the proxy, while the call is
// pending.
//
//   auto target = supervisor::CallTarget::Open(notifier, notification);
//   if (!target) reply(-target.error());              // gone before we looked
//   int dup = (*target)->Duplicate(fd);               // pidfd_getfd
//   (*target)->Read(addr, &params, sizeof(params));   // then ID_VALID
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

#include <tl/expected.hpp>

#include "proxy/proxy.h"
#include "supervisor/notifier.h"

namespace nvgate::supervisor {

// The most one Read or Write moves: the proxy bounds nested buffers at 1 MiB;
// anything far larger is a bug or an attack on the supervisor's memory.
inline constexpr std::size_t kMaxTransfer = 16u << 20;

class CallTarget final : public proxy::TargetMemory, public proxy::TargetFiles {
 public:
  // Opens a pidfd for the calling thread (PIDFD_THREAD; the plain pid where the
  // kernel predates it) and checks that the call is still pending, so the pidfd
  // is known to name the caller. Returns a positive errno on failure (ENOENT:
  // the caller is gone).
  static tl::expected<std::unique_ptr<CallTarget>, int> Open(Notifier& notifier,
                                                             const Notification& notification);
  ~CallTarget() override;
  CallTarget(const CallTarget&) = delete;
  CallTarget& operator=(const CallTarget&) = delete;

  bool Read(std::uint64_t addr, void* out, std::size_t len) override;
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override;
  int Duplicate(int target_fd) override;
  int Install(int fd) override;

  pid_t tid() const { return tid_; }
  int pidfd() const { return pidfd_; }

 private:
  CallTarget(Notifier& notifier, std::uint64_t id, pid_t tid, int pidfd)
      : notifier_(notifier), id_(id), tid_(tid), pidfd_(pidfd) {}

  Notifier& notifier_;
  std::uint64_t id_;
  pid_t tid_;
  int pidfd_;
};

}  // namespace nvgate::supervisor
