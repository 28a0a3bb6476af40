#include "supervisor/target.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "defences/defences.h"
#include "error/error.h"
#include "supervisor/sys.h"

namespace nvgate::supervisor {

using defences::Defence;

namespace {

// The thread group of `tid` from /proc/TID/status ("Tgid:" comes within its
// first lines); `tid` itself when it cannot be read, as for a thread group
// leader.
pid_t ThreadGroupOf(pid_t tid) {
  ssize_t n = 0;
  char buf[512];
  {
    fd::OwnedFd fd(open(fmt::format("/proc/{}/status", tid).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return tid;
    n = read(fd.get(), buf, sizeof buf);
  }
  if (n <= 0) return tid;
  std::string_view status(buf, static_cast<std::size_t>(n));
  std::size_t at = status.find("\nTgid:");
  if (at == std::string_view::npos) return tid;
  std::string_view value = status.substr(at + 6);
  value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
  pid_t tgid = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), tgid);
  return error == std::errc() && tgid > 0 ? tgid : tid;
}

}  // namespace

std::shared_ptr<const Pidfd> CallerPidfds::Find(pid_t tid) {
  std::shared_ptr<const Pidfd> pidfd;
  {
    std::lock_guard lock(mu_);
    auto it = by_tid_.find(tid);
    if (it == by_tid_.end()) return nullptr;
    pidfd = it->second;
  }
  // Readable once its thread has exited: the tid may be another thread's now.
  pollfd exited{pidfd->fd(), POLLIN, 0};
  if (poll(&exited, 1, 0) != 0) {
    Forget(tid, pidfd);
    return nullptr;
  }
  return pidfd;
}

void CallerPidfds::Keep(pid_t tid, std::shared_ptr<const Pidfd> pidfd) {
  std::lock_guard lock(mu_);
  if (by_tid_.size() >= kMax && !by_tid_.contains(tid)) return;
  by_tid_.insert_or_assign(tid, std::move(pidfd));
}

void CallerPidfds::Forget(pid_t tid, const std::shared_ptr<const Pidfd>& pidfd) {
  std::lock_guard lock(mu_);
  // Another call may have kept a newer one for the tid meanwhile.
  auto it = by_tid_.find(tid);
  if (it != by_tid_.end() && it->second == pidfd) by_tid_.erase(it);
}

void CallerPidfds::Sweep() {
  std::vector<std::pair<pid_t, std::shared_ptr<const Pidfd>>> kept;
  {
    std::lock_guard lock(mu_);
    kept.assign(by_tid_.begin(), by_tid_.end());
  }
  std::vector<pollfd> fds;
  for (const auto& [tid, pidfd] : kept) fds.push_back({pidfd->fd(), POLLIN, 0});
  if (fds.empty() || poll(fds.data(), fds.size(), 0) <= 0) return;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) Forget(kept[i].first, kept[i].second);
  }
}

void CallerPidfds::Clear() {
  std::lock_guard lock(mu_);
  by_tid_.clear();
}

Result<CallTarget> CallTarget::Open(Notifier& notifier, CallerPidfds& pidfds, const Notification& notification,
                                    const backend::Backend& backend, CallerRuns& runs) {
  auto tid = static_cast<pid_t>(notification.tid);
  // notification.tid is 0 when the caller is in no namespace we can see.
  if (tid <= 0) return tl::unexpected(Error::System(ESRCH, "the caller is in no PID namespace nvgate sees"));
  std::shared_ptr<const Pidfd> pidfd = pidfds.Find(tid);
  const bool kept = pidfd != nullptr;
  if (!kept) {
    int fd = sys::PidfdOpen(tid, PIDFD_THREAD);
    // Before 6.9 PIDFD_THREAD is unknown (EINVAL) and only a thread-group leader
    // has a pidfd; pidfd_getfd then reads the leader's file table, which is the
    // caller's unless it unshared CLONE_FILES.
    if (fd < 0 && errno == EINVAL) fd = sys::PidfdOpen(tid, 0);
    if (fd < 0) return tl::unexpected(Error::Errno(fmt::format("pidfd_open of tid {}", tid)));
    pidfd = std::make_shared<const Pidfd>(fd, ThreadGroupOf(tid));
  }
  // A new pidfd: a tid cannot be reused while its thread waits in the
  // notification, so if the id is still valid now, the pidfd and the thread
  // group (read after the notification was received) are the caller's.
  // A kept pidfd needs no such check: its thread was alive with this tid before
  // the call and still is (Find), and no two live threads share a tid, so it is
  // the caller. Reads and writes check the id themselves.
  if (!kept) {
    if (!notifier.IdValid(notification.id)) {
      return tl::unexpected(Error::System(ENOENT, "the caller's notification is no longer valid"));
    }
    pidfds.Keep(tid, pidfd);
  }
  return CallTarget(notifier, notification.id, tid, std::move(pidfd), backend, runs);
}

proxy::CallerRun CallTarget::RunInCaller(const proxy::Call& call, backend::Backend& backend,
                                         std::span<const std::byte> checked, std::span<std::byte> result) {
  return supervisor::RunInCaller(runs_, notifier_, backend,
                                 CallerCall{.id = id_,
                                            .tid = tid_,
                                            .thread_group = thread_group(),
                                            .fd = call.fd,
                                            .device = call.device,
                                            .request = call.request,
                                            .arg = call.arg},
                                 checked, result);
}

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

abi::DeviceKind CallTarget::KindOf(int fd) const {
  struct stat st;
  return ::fstat(fd, &st) == 0 ? backend_.Classify(st) : abi::DeviceKind::kNotNvidia;
}

int CallTarget::Duplicate(int target_fd) {
  abi::DeviceKind kind;
  return Duplicate(target_fd, kind);
}

int CallTarget::Duplicate(int target_fd, abi::DeviceKind& kind) {
  kind = abi::DeviceKind::kNotNvidia;
  if (target_fd < 0) return -EBADF;
  gate_.Share();
  int fd = sys::PidfdGetfd(pidfd_->fd(), target_fd);
  int err = errno;
  if (fd >= 0) kind = KindOf(fd);
  if (kind == abi::DeviceKind::kGpu) holds_gpu_file_ = true;
  // No GPU file held by this call: nothing for a GPU-checked call to wait for.
  if (!holds_gpu_file_ && !gate_.exclusive()) gate_.Release();
  return fd < 0 ? -err : fd;
}

int CallTarget::HoldCallerGpuFiles(std::vector<fd::OwnedFd>& fds) {
  gate_.Exclude();
  if (!defences::Kept(Defence::kCallersGpuFiles)) {
    for (const backend::DeviceNode& node : backend_.Nodes()) {
      if (node.kind != abi::DeviceKind::kGpu) continue;
      fd::OwnedFd fd(::open(node.source_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) fds.push_back(std::move(fd));
    }
    return 0;
  }
  // The calling thread's own fd table (a thread may have unshared it).
  std::string dir = fmt::format("/proc/{}/task/{}/fd", pidfd_->thread_group(), tid_);
  DIR* entries = ::opendir(dir.c_str());
  if (entries == nullptr) return -errno;
  std::vector<int> numbers;
  while (const dirent* e = ::readdir(entries)) {
    int number = 0;
    std::string_view name(e->d_name);
    if (std::from_chars(name.data(), name.data() + name.size(), number).ec != std::errc{}) continue;
    struct stat st;
    if (::stat((dir + "/" + e->d_name).c_str(), &st) == 0 && backend_.Classify(st) == abi::DeviceKind::kGpu) {
      numbers.push_back(number);
    }
  }
  ::closedir(entries);
  for (int number : numbers) {
    fd::OwnedFd fd(sys::PidfdGetfd(pidfd_->fd(), number));
    if (!fd) continue;  // closed since: not the workload's any more
    // The number may have been reused for another file since the listing.
    if (KindOf(fd.get()) != abi::DeviceKind::kGpu) continue;
    fds.push_back(std::move(fd));
  }
  // The listing and the duplicates came from a thread still waiting in this call.
  return notifier_.IdValid(id_) ? 0 : -ENOENT;
}

int CallTarget::Install(int fd) { return notifier_.AddFd(id_, fd, /*send=*/false); }

}  // namespace nvgate::supervisor
