#include "supervisor/supervisor.h"

#include <linux/audit.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "supervisor/target.h"
#include "testing/weakening.h"

namespace nvgate::supervisor {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#endif

// Bounds the tid -> tgid cache; a workload that churns through threads would
// otherwise grow it forever. Clearing it only costs a re-read.
constexpr std::size_t kTgidCacheMax = 4096;

}  // namespace

Supervisor::Supervisor(Notifier& notifier, const backend::Backend& backend,
                       proxy::Executor& executor, SupervisorOptions options)
    : notifier_(notifier), backend_(backend), executor_(executor), options_(options) {
  if (options_.max_workers < 1) options_.max_workers = 1;
}

Supervisor::~Supervisor() { JoinWorkers(); }

tl::expected<void, std::string> Supervisor::Run() {
  // A same-uid workload could otherwise ptrace us, read our memory or take our
  // listener with pidfd_getfd (research/seccomp-unotify.md §6). Our own access
  // to the workload is unaffected: it is checked against the target.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return tl::unexpected(fmt::format("prctl(PR_SET_DUMPABLE, 0) failed: {}", std::strerror(errno)));
  }
  if (!notifier_.SetSyncWakeUp()) {
    spdlog::debug("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable; cross-CPU wake-ups will cost more");
  }
  tl::expected<void, std::string> result;
  for (bool done = false; !done;) {
    Notification n;
    switch (notifier_.Receive(n)) {
      case RecvStatus::kOk:
        Dispatch(n);
        break;
      case RecvStatus::kRetry:
        break;
      case RecvStatus::kGone:
      case RecvStatus::kStopped:
        done = true;
        break;
      case RecvStatus::kError:
        result = tl::unexpected(
            fmt::format("ioctl(SECCOMP_IOCTL_NOTIF_RECV) failed: {}", std::strerror(errno)));
        done = true;
        break;
    }
  }
  JoinWorkers();
  return result;
}

void Supervisor::Stop() { notifier_.Wake(); }

SupervisorStats Supervisor::stats() const {
  return {executed_.load(), not_nvidia_.load(), target_gone_.load()};
}

void Supervisor::Dispatch(const Notification& n) {
  // The filter notifies native ioctls only; anything else means the filter and
  // this loop disagree, and the safe answer is the one for an unknown syscall.
  if (n.data.nr != __NR_ioctl || n.data.arch != kNativeArch) {
    spdlog::error("notification for syscall {} arch {:#x}: not an ioctl the filter traps", n.data.nr,
                  n.data.arch);
    Answer(n, {.error = ENOSYS});
    return;
  }
  std::lock_guard lock(mu_);
  queue_.push_back(n);
  // Every queued call needs a free worker, or it waits behind a call that may
  // block in the driver for as long as it likes.
  if (queue_.size() > idle_ && workers_.size() < static_cast<std::size_t>(options_.max_workers)) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  cv_.notify_one();
}

void Supervisor::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, and nothing left to answer
    Notification n = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Handle(n);
    lock.lock();
  }
}

void Supervisor::JoinWorkers() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (std::thread& t : workers) t.join();
}

void Supervisor::Handle(const Notification& n) {
  auto target = CallTarget::Open(notifier_, n);
  if (!target) {
    if (target.error() == ENOENT || target.error() == ESRCH) {
      target_gone_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    Answer(n, {.error = target.error()});
    return;
  }
  // The kernel hands ioctl an `unsigned int fd` and an `unsigned int cmd`.
  auto fd_number = static_cast<int>(static_cast<std::uint32_t>(n.data.args[0]));
  int fd = (*target)->Duplicate(fd_number);
  if (fd < 0) {
    // EBADF for a closed number is what the kernel itself would have said.
    Answer(n, {.error = -fd});
    return;
  }
  struct stat st {};
  abi::DeviceKind kind = abi::DeviceKind::kNotNvidia;
  if (fstat(fd, &st) == 0) kind = backend_.Classify(st);
  if (kind == abi::DeviceKind::kNotNvidia) {
    close(fd);
    not_nvidia_.fetch_add(1, std::memory_order_relaxed);
    Answer(n, {.error = ENOTTY,
               .continue_syscall = testing::Weakened(testing::Weakening::kContinueOtherFiles)});
    return;
  }
  proxy::Call call{.fd = fd,
                   .device = kind,
                   .request = static_cast<std::uint32_t>(n.data.args[1]),
                   .arg = n.data.args[2],
                   .pid = ThreadGroupOf(n.tid)};
  executed_.fetch_add(1, std::memory_order_relaxed);
  proxy::Reply reply = executor_.Execute(call, **target, **target);
  // Closed before the answer: once the workload sees its ioctl return, a close()
  // of its own file is the last reference and the driver releases it.
  close(fd);
  Answer(n, {.value = reply.value, .error = reply.error});
}

void Supervisor::Answer(const Notification& n, const Response& r) {
  int e = notifier_.Send(n.id, r);
  if (e == -ENOENT) {
    target_gone_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("tid {}: caller gone before its answer", n.tid);
  } else if (e < 0) {
    spdlog::warn("ioctl(SECCOMP_IOCTL_NOTIF_SEND, id={}) failed: {}", n.id, std::strerror(-e));
  }
}

int Supervisor::ThreadGroupOf(std::uint32_t tid) {
  {
    std::lock_guard lock(tgid_mu_);
    auto it = tgid_cache_.find(tid);
    if (it != tgid_cache_.end()) return it->second;
  }
  // Called while the thread waits in its notification, so the tid is its own.
  int tgid = static_cast<int>(tid);
  std::ifstream status(fmt::format("/proc/{}/status", tid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Tgid:", 0) == 0) {
      tgid = std::stoi(line.substr(5));
      break;
    }
  }
  std::lock_guard lock(tgid_mu_);
  if (tgid_cache_.size() >= kTgidCacheMax) tgid_cache_.clear();
  tgid_cache_.emplace(tid, tgid);
  return tgid;
}

}  // namespace nvgate::supervisor
