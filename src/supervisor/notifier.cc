#include "supervisor/notifier.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "supervisor/sys.h"

namespace nvgate::supervisor {
namespace {

// A zeroed buffer of at least the kernel's size for a structure (the kernel may
// know a larger one than our headers, and checks that unknown bytes are zero).
class KernelBuffer {
 public:
  KernelBuffer(std::size_t kernel_size, std::size_t ours)
      : words_((std::max(kernel_size, ours) + 7) / 8, 0) {}
  template <typename T>
  T* As() { return reinterpret_cast<T*>(words_.data()); }

 private:
  std::vector<std::uint64_t> words_;
};

}  // namespace

tl::expected<std::unique_ptr<OsNotifier>, std::string> OsNotifier::Create(int listener) {
  seccomp_notif_sizes sizes{};
  if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
    int e = errno;
    close(listener);
    return tl::unexpected(fmt::format("seccomp(SECCOMP_GET_NOTIF_SIZES) failed: {}", std::strerror(e)));
  }
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int e = errno;
    close(listener);
    return tl::unexpected(fmt::format("eventfd() failed: {}", std::strerror(e)));
  }
  return std::unique_ptr<OsNotifier>(new OsNotifier(listener, wake, sizes));
}

OsNotifier::OsNotifier(int listener, int wake, seccomp_notif_sizes sizes)
    : listener_(listener), wake_(wake), sizes_(sizes) {}

OsNotifier::~OsNotifier() {
  // Closing the last reference to the listener fails every pending and future
  // trapped call with ENOSYS: the workload is cut off, never let through.
  close(listener_);
  close(wake_);
}

bool OsNotifier::SetSyncWakeUp() {
  return ioctl(listener_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
}

RecvStatus OsNotifier::Receive(Notification& out) {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return RecvStatus::kError;
    }
    if (fds[1].revents & POLLIN) return RecvStatus::kStopped;
    if (fds[0].revents & POLLIN) break;
    // POLLHUP without POLLIN: no task uses the filter any more.
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return RecvStatus::kGone;
  }
  KernelBuffer buf(sizes_.seccomp_notif, sizeof(seccomp_notif));
  auto* notif = buf.As<seccomp_notif>();
  if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
    // ENOENT: the notification was withdrawn (its thread took a signal before
    // we got it) or, since Linux 6.11, nothing uses the filter any more. POLLHUP
    // tells the two apart.
    if (errno == ENOENT || errno == EINTR) {
      pollfd hup{listener_, POLLIN, 0};
      if (poll(&hup, 1, 0) == 1 && (hup.revents & POLLHUP) && !(hup.revents & POLLIN)) {
        return RecvStatus::kGone;
      }
      return RecvStatus::kRetry;
    }
    return RecvStatus::kError;
  }
  out.id = notif->id;
  out.tid = notif->pid;
  out.data = notif->data;
  return RecvStatus::kOk;
}

bool OsNotifier::IdValid(std::uint64_t id) {
  return ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int OsNotifier::Send(std::uint64_t id, const Response& response) {
  KernelBuffer buf(sizes_.seccomp_notif_resp, sizeof(seccomp_notif_resp));
  auto* resp = buf.As<seccomp_notif_resp>();
  resp->id = id;
  resp->val = response.error ? 0 : response.value;
  resp->error = -response.error;
  if (response.continue_syscall) {
    resp->val = 0;
    resp->error = 0;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  }
  if (ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) return -errno;
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
  int r = ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
  return r < 0 ? -errno : r;
}

void OsNotifier::Wake() {
  std::uint64_t one = 1;
  // The eventfd is never read, so a failed write (counter full) still leaves it
  // readable: nothing to handle.
  (void)!write(wake_, &one, sizeof(one));
}

}  // namespace nvgate::supervisor
