#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/limits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "defences/defences.h"
#include "error/error.h"
#include "fd/owned_fd.h"
#include "supervisor/target.h"

namespace nvgate::supervisor {

using defences::Defence;

namespace {

#if defined(__x86_64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#endif

// How long the leader may stay inside one call before the standby takes over
// receiving. The standby looks once a period, so a call that arrives behind a
// blocked one waits one to two periods. Each look while calls flow delays the
// call in progress by tens of microseconds on a 2-vCPU guest: at 1 ms a look
// hit 1-2% of calls (p99 36-60 us instead of 20-27 us at 5 ms or more).
constexpr auto kTakeOverAfter = std::chrono::milliseconds(5);

bool IsOpen(int nr) {
#ifdef __NR_open
  if (nr == __NR_open) return true;
#endif
  return nr == __NR_openat;
}

// The NUL-terminated path at `addr` in the caller's memory, read a page at a
// time (a read across the end of its mapping would fail); nullopt when it
// cannot be read or is longer than PATH_MAX.
std::optional<std::string> ReadPath(CallTarget& target, std::uint64_t addr) {
  constexpr std::uint64_t kPage = 4096;
  std::string path;
  while (path.size() < PATH_MAX) {
    char chunk[kPage];
    std::size_t len = kPage - addr % kPage;
    if (!target.Read(addr, chunk, len)) return std::nullopt;
    const char* end = static_cast<const char*>(std::memchr(chunk, '\0', len));
    if (end != nullptr) return path.append(chunk, static_cast<std::size_t>(end - chunk));
    path.append(chunk, len);
    addr += len;
  }
  return std::nullopt;
}

}  // namespace

Supervisor::Supervisor(Notifier& notifier, const backend::Backend& backend,
                       proxy::Executor& executor, SupervisorOptions options)
    : notifier_(notifier), backend_(backend), executor_(executor), options_(options),
      caller_runs_(options.workload) {
  if (options_.max_workers < 1) options_.max_workers = 1;
}

Supervisor::~Supervisor() { JoinThreads(); }

Result<void> Supervisor::Run() {
  // A same-uid workload could otherwise ptrace us, read our memory or take our
  // listener with pidfd_getfd (docs/security.md, invariant 7). Our own access
  // to the workload is unaffected: it is checked against the target.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return tl::unexpected(
        Error::Errno("prctl(PR_SET_DUMPABLE, 0) failed"));
  }
  if (!notifier_.SetSyncWakeUp()) {
    spdlog::debug("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable; cross-CPU wake-ups will cost more");
  }
  {
    std::unique_lock lock(mu_);
    // Standing by from the start: the first call may be one that blocks.
    if (options_.max_workers > 1) StartFollower();
    Lead(lock);
    Follow(lock);
  }
  JoinThreads();
  pidfds_.Clear();
  return result_;
}

void Supervisor::Stop() { notifier_.Wake(); }

SupervisorStats Supervisor::stats() const {
  return {.executed = executed_.load(),
          .denied = denied_.load(),
          .not_nvidia = not_nvidia_.load(),
          .target_gone = target_gone_.load()};
}

// Receives and executes calls until the end, or until the standby took over
// receiving while this thread was inside a call. Takes no lock per call.
void Supervisor::Lead(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  for (;;) {
    Notification n;
    RecvStatus status = notifier_.Receive(n);
    if (status == RecvStatus::kRetry) continue;
    if (status != RecvStatus::kOk) {
      int recv_errno = errno;
      lock.lock();
      End(status, recv_errno);
      return;
    }
    // Only the leader moves leader_call_ on from even, so this is not racy.
    const std::uint64_t in_call = leader_call_.load() + 1;
    leader_call_.store(in_call);
    calls_in_flight_.fetch_add(1);
    if (standby_sleeping_.load()) {
      lock.lock();
      standby_cv_.notify_one();
      lock.unlock();
    }
    Handle(n);
    calls_in_flight_.fetch_sub(1);
    std::uint64_t expected = in_call;
    if (!leader_call_.compare_exchange_strong(expected, in_call + 1)) {
      lock.lock();
      return;  // deposed: the standby moved it on, and receives now
    }
  }
}

// A thread that does not lead: stands by where no other thread does, else waits
// as a spare for that place, until the end.
void Supervisor::Follow(std::unique_lock<std::mutex>& lock) {
  while (!done_) {
    if (!has_standby_) {
      StandBy(lock);
      continue;
    }
    ++spares_;
    spare_cv_.wait(lock, [this] { return done_ || !has_standby_; });
    --spares_;
  }
}

// Looks at the leader once a period. Takes over receiving when the leader is
// inside the call it was in a period ago (it may be blocked in the driver for
// as long as it likes), then leads; sleeps after a period without calls.
// Returns at the end, or once this thread led and was deposed in turn.
void Supervisor::StandBy(std::unique_lock<std::mutex>& lock) {
  has_standby_ = true;
  std::uint64_t seen = leader_call_.load();
  while (!done_) {
    standby_cv_.wait_until(lock, std::chrono::steady_clock::now() + kTakeOverAfter, [this] { return done_; });
    if (done_) break;
    std::uint64_t now = leader_call_.load();
    const bool in_one_call = now == seen && now % 2 == 1;
    // The exchange fails when the leader finished that call meanwhile.
    if (in_one_call && calls_in_flight_.load() < options_.max_workers &&
        leader_call_.compare_exchange_strong(now, now + 1)) {
      has_standby_ = false;
      // The next standby, before this thread may block in a call of its own.
      if (spares_ > 0) {
        spare_cv_.notify_one();
      } else {
        StartFollower();
      }
      Lead(lock);
      return;
    }
    if (now == seen && now % 2 == 0) {
      // A pause in the calls: the time to let go of threads that have exited.
      lock.unlock();
      pidfds_.Sweep();
      lock.lock();
      // Set before looking at leader_call_, which the leader sets before
      // looking at this: one of the two sees the other.
      standby_sleeping_.store(true);
      standby_cv_.wait(lock, [&] { return done_ || leader_call_.load() != seen; });
      standby_sleeping_.store(false);
    }
    seen = leader_call_.load();
  }
  has_standby_ = false;
}

void Supervisor::StartFollower() {
  try {
    threads_.emplace_back([this] {
      std::unique_lock lock(mu_);
      Follow(lock);
    });
  } catch (const std::system_error& e) {
    // The calls still run; a blocked one stalls the others until its thread
    // is done with it and stands by.
    spdlog::warn("cannot start a supervisor thread: {}", e.what());
  }
}

void Supervisor::End(RecvStatus status, int recv_errno) {
  if (status == RecvStatus::kError) {
    result_ = tl::unexpected(Error::System(
        recv_errno, fmt::format("ioctl(SECCOMP_IOCTL_NOTIF_RECV) failed: {}", std::strerror(recv_errno))));
  }
  done_ = true;
  standby_cv_.notify_all();
  spare_cv_.notify_all();
}

// Waits for every thread but the caller; each finishes the call it is in.
void Supervisor::JoinThreads() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    done_ = true;
    threads.swap(threads_);
  }
  standby_cv_.notify_all();
  spare_cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

// The caller waits in the supervisor until it is answered: a call running in
// another caller's memory meanwhile counts on it (caller_run.h).
void Supervisor::Handle(const Notification& n) {
  caller_runs_.Enter(static_cast<pid_t>(n.tid));
  HandleParked(n);
  caller_runs_.Leave(static_cast<pid_t>(n.tid));
}

void Supervisor::HandleParked(const Notification& n) {
  const auto received = options_.meter ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  if (!options_.node_opens.empty() && n.data.arch == kNativeArch && IsOpen(n.data.nr)) {
    HandleOpen(n);
    return;
  }
  // The filter notifies native ioctls only; anything else means the filter and
  // this loop disagree, and the safe answer is the one for an unknown syscall.
  if (n.data.nr != __NR_ioctl || n.data.arch != kNativeArch) {
    spdlog::error("notification for syscall {} arch {:#x}: not an ioctl the filter traps", n.data.nr,
                  n.data.arch);
    Answer(n, {.error = ENOSYS});
    return;
  }
  std::optional<CallTarget> target = OpenTarget(n);
  if (!target) return;
  // The kernel hands ioctl an `unsigned int fd` and an `unsigned int cmd`.
  auto fd_number = static_cast<int>(static_cast<std::uint32_t>(n.data.args[0]));
  abi::DeviceKind kind = abi::DeviceKind::kNotNvidia;
  int duplicate = target->Duplicate(fd_number, kind);
  if (duplicate < 0) {
    // EBADF for a closed number is what the kernel itself would have said.
    Answer(n, {.error = -duplicate});
    return;
  }
  fd::OwnedFd fd(duplicate);
  if (kind == abi::DeviceKind::kNotNvidia) {
    fd.reset();
    not_nvidia_.fetch_add(1, std::memory_order_relaxed);
    Answer(n, {.error = ENOTTY,
               .continue_syscall = !defences::Kept(Defence::kNeverContinue)});
    return;
  }
  proxy::Call call{.fd = fd.get(),
                   .device = kind,
                   .request = static_cast<std::uint32_t>(n.data.args[1]),
                   .arg = n.data.args[2],
                   .pid = target->thread_group(), .tid = static_cast<int>(n.tid)};
  executed_.fetch_add(1, std::memory_order_relaxed);
  proxy::Reply reply = executor_.Execute(call, *target, *target);
  // Closed before the answer: once the workload sees its ioctl return, a close()
  // of its own file is the last reference and the driver releases it.
  fd.reset();
  if (reply.denied) denied_.fetch_add(1, std::memory_order_relaxed);
  // A call that ran in its caller's memory was answered by the kernel.
  if (!reply.answered) Answer(n, {.value = reply.value, .error = reply.error, .continue_syscall = reply.run_natively});
  if (options_.meter) options_.meter->Answered(reply.denied, std::chrono::steady_clock::now() - received);
}

// open() and openat() of a sim character-device node: the supervisor opens the
// sim's node file and installs it as the call's result. The node itself sits on
// the sandbox's nodev /dev, so letting the kernel run any other open (CONTINUE)
// cannot reach a device: a path swapped in after this check, a relative path or
// a symlink that resolves to the node fails there with EACCES. The path must be
// the node's exact absolute path, as NVIDIA's libraries and nvgate's workloads
// write it.
void Supervisor::HandleOpen(const Notification& n) {
  std::optional<CallTarget> target = OpenTarget(n);
  if (!target) return;
  const bool at = n.data.nr == __NR_openat;
  std::optional<std::string> path = ReadPath(*target, n.data.args[at ? 1 : 0]);
  auto node = path ? options_.node_opens.find(*path) : options_.node_opens.end();
  if (node == options_.node_opens.end()) {
    auto refused = path ? options_.refused_opens.find(*path) : options_.refused_opens.end();
    if (refused != options_.refused_opens.end()) {
      refused->second(target->thread_group());
      Answer(n, {.error = EACCES});
      return;
    }
    Answer(n, {.continue_syscall = true});
    return;
  }
  // The access mode and O_NONBLOCK, as the driver's open sees them; nothing
  // that would create, truncate or follow elsewhere.
  auto flags = static_cast<int>(n.data.args[at ? 2 : 1]);
  fd::OwnedFd fd(open(node->second.c_str(), (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC));
  if (!fd) {
    Answer(n, {.error = errno});
    return;
  }
  int installed = notifier_.AddFd(n.id, fd.get(), true);
  fd.reset();
  if (installed == -ENOENT) {
    target_gone_.fetch_add(1, std::memory_order_relaxed);
  } else if (installed < 0) {
    Answer(n, {.error = -installed});
  }
}

// The caller's memory and files; answered already (or gone) when it cannot be had.
std::optional<CallTarget> Supervisor::OpenTarget(const Notification& n) {
  auto target = CallTarget::Open(notifier_, pidfds_, n, backend_, caller_runs_);
  if (target) return std::move(*target);
  const int error = target.error().errno_value;
  if (error == ENOENT || error == ESRCH) {
    target_gone_.fetch_add(1, std::memory_order_relaxed);
  } else {
    Answer(n, {.error = error});
  }
  return std::nullopt;
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

}  // namespace nvgate::supervisor
