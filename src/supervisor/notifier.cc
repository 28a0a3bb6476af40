#include "supervisor/notifier.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "error/error.h"
#include "supervisor/sys.h"

namespace nvgate::supervisor {
namespace {

// Room for the kernel's seccomp_notif and seccomp_notif_resp, which may be
// larger than our headers' ones (80 and 24 bytes on Linux 6.18); Create()
// refuses a kernel that wants more.
constexpr std::size_t kKernelStructRoom = 256;

// A zeroed kernel structure on the stack: the receive loop allocates nothing.
// The kernel checks that the bytes it knows and our headers do not are zero.
template <typename T>
union KernelStruct {
  static_assert(sizeof(T) <= kKernelStructRoom);
  KernelStruct() { std::memset(room, 0, sizeof(room)); }
  T value;
  std::byte room[kKernelStructRoom];
};

}  // namespace

Result<std::unique_ptr<OsNotifier>> OsNotifier::Create(fd::OwnedFd listener) {
  seccomp_notif_sizes sizes{};
  if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    int e = errno;
    return tl::unexpected(
        Error::System(e, fmt::format("seccomp(SECCOMP_GET_NOTIF_SIZES) failed: {}", std::strerror(e))));
  }
  if (sizes.seccomp_notif > kKernelStructRoom || sizes.seccomp_notif_resp > kKernelStructRoom) {
    return tl::unexpected(Error::Unsupported(
        fmt::format("the kernel's seccomp notifications ({} and {} bytes) are larger than nvgate knows",
                    sizes.seccomp_notif, sizes.seccomp_notif_resp)));
  }
  fd::OwnedFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) {
    int e = errno;
    return tl::unexpected(Error::System(e, fmt::format("eventfd() failed: {}", std::strerror(e))));
  }
  return std::unique_ptr<OsNotifier>(new OsNotifier(std::move(listener), std::move(wake)));
}

OsNotifier::OsNotifier(fd::OwnedFd listener, fd::OwnedFd wake)
    : listener_(std::move(listener)), wake_(std::move(wake)) {}

OsNotifier::~OsNotifier() {
  // Closing the last reference to the listener fails every pending and future
  // trapped call with ENOSYS: the workload is cut off, never let through.
  listener_.reset();
}

bool OsNotifier::SetSyncWakeUp() {
  return ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
}

RecvStatus OsNotifier::Receive(Notification& out) {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return RecvStatus::kError;
    }
    if (fds[1].revents & POLLIN) return RecvStatus::kStopped;
    if (fds[0].revents & POLLIN) break;
    // POLLHUP without POLLIN: no task uses the filter any more.
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return RecvStatus::kGone;
  }
  KernelStruct<seccomp_notif> notif;
  if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, &notif.value) != 0) {
    // ENOENT: the notification was withdrawn (its thread took a signal before
    // we got it) or, since Linux 6.11, nothing uses the filter any more. POLLHUP
    // tells the two apart.
    if (errno == ENOENT || errno == EINTR) {
      pollfd hup{listener_.get(), POLLIN, 0};
      if (poll(&hup, 1, 0) == 1 && (hup.revents & POLLHUP) && !(hup.revents & POLLIN)) {
        return RecvStatus::kGone;
      }
      return RecvStatus::kRetry;
    }
    return RecvStatus::kError;
  }
  out.id = notif.value.id;
  out.tid = notif.value.pid;
  out.data = notif.value.data;
  return RecvStatus::kOk;
}

bool OsNotifier::IdValid(std::uint64_t id) {
  return ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int OsNotifier::Send(std::uint64_t id, const Response& response) {
  KernelStruct<seccomp_notif_resp> buf;
  seccomp_notif_resp* resp = &buf.value;
  resp->id = id;
  resp->val = response.error ? 0 : response.value;
  resp->error = -response.error;
  if (response.continue_syscall) {
    resp->val = 0;
    resp->error = 0;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  }
  if (ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) return -errno;
  return 0;
}

int OsNotifier::AddFd(std::uint64_t id, int fd, bool send) {
  seccomp_notif_addfd addfd{};
  addfd.id = id;
  addfd.flags = send ? SECCOMP_ADDFD_FLAG_SEND : 0;
  addfd.srcfd = static_cast<std::uint32_t>(fd);
  // Close-on-exec, as the driver's own fds are: the workload's children should
  // not inherit driver objects by accident.
  addfd.newfd_flags = O_CLOEXEC;
  int r = ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  return r < 0 ? -errno : r;
}

void OsNotifier::Wake() {
  std::uint64_t one = 1;
  // The eventfd is never read, so a failed write (counter full) still leaves it
  // readable: nothing to handle.
  (void)!write(wake_.get(), &one, sizeof(one));
}

}  // namespace nvgate::supervisor
