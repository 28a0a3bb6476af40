#include "supervisor/target.h"

#include <sys/uio.h>

#include <cerrno>

#include "supervisor/sys.h"

namespace nvgate::supervisor {

tl::expected<std::unique_ptr<CallTarget>, int> CallTarget::Open(Notifier& notifier,
                                                                const Notification& notification) {
  auto tid = static_cast<pid_t>(notification.tid);
  // notification.tid is 0 when the caller is in no namespace we can see.
  if (tid <= 0) return tl::unexpected(ESRCH);
  int pidfd = sys::PidfdOpen(tid, PIDFD_THREAD);
  // Before 6.9 PIDFD_THREAD is unknown (EINVAL) and only a thread-group leader
  // has a pidfd; pidfd_getfd then reads the leader's file table, which is the
  // caller's unless it unshared CLONE_FILES.
  if (pidfd < 0 && errno == EINVAL) pidfd = sys::PidfdOpen(tid, 0);
  if (pidfd < 0) return tl::unexpected(errno);
  // A tid cannot be reused while its thread waits in the notification: if the
  // id is still valid now, the pidfd names the caller.
  if (!notifier.IdValid(notification.id)) {
    close(pidfd);
    return tl::unexpected(ENOENT);
  }
  return std::unique_ptr<CallTarget>(new CallTarget(notifier, notification.id, tid, pidfd));
}

CallTarget::~CallTarget() { close(pidfd_); }

bool CallTarget::Read(std::uint64_t addr, void* out, std::size_t len) {
  if (len == 0) return notifier_.IdValid(id_);
  if (len > kMaxTransfer) return false;
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(addr)), len};
  ssize_t n = process_vm_readv(tid_, &local, 1, &remote, 1, 0);
  // Bytes read from a thread that is no longer waiting may belong to whatever
  // reused its pid: only a still-valid id vouches for them.
  return n == static_cast<ssize_t>(len) && notifier_.IdValid(id_);
}

bool CallTarget::Write(std::uint64_t addr, const void* in, std::size_t len) {
  if (len > kMaxTransfer) return false;
  if (!notifier_.IdValid(id_)) return false;
  if (len == 0) return true;
  iovec local{const_cast<void*>(in), len};
  iovec remote{reinterpret_cast<void*>(static_cast<std::uintptr_t>(addr)), len};
  return process_vm_writev(tid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

int CallTarget::Duplicate(int target_fd) {
  if (target_fd < 0) return -EBADF;
  int fd = sys::PidfdGetfd(pidfd_, target_fd);
  return fd < 0 ? -errno : fd;
}

int CallTarget::Install(int fd) { return notifier_.AddFd(id_, fd, /*send=*/false); }

}  // namespace nvgate::supervisor
