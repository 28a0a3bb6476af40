#include "supervisor/caller_run.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "defences/defences.h"
#include "fd/owned_fd.h"

namespace nvgate::supervisor {

using defences::Defence;

namespace {

// How long the other tasks may take to stop. A task that does not stop in
// time is in the kernel uninterruptibly (disk I/O); the call is then refused
// rather than run with that task free to return to its own code.
constexpr auto kStopDeadline = std::chrono::seconds(2);
// A PID namespace is at most 32 levels deep (kernel/pid_namespace.c, MAX_PID_NS_LEVEL).
constexpr int kMaxNamespaceDepth = 32;

std::optional<WorkloadNamespace> NamespaceAt(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return WorkloadNamespace{.dev = st.st_dev, .ino = st.st_ino};
}

bool SameNamespace(const struct stat& st, const WorkloadNamespace& ns) {
  return st.st_ino == ns.ino && st.st_dev == ns.dev;
}

// Whether process `pid` runs in `workload` or a namespace below it.
bool InWorkload(pid_t pid, const WorkloadNamespace& workload) {
  const std::string path = fmt::format("/proc/{}/ns/pid", pid);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;  // gone, or not ours to look at
  if (SameNamespace(st, workload)) return true;
  fd::OwnedFd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return false;
  bool below = false;
  for (int depth = 0; depth < kMaxNamespaceDepth && !below; ++depth) {
    // EPERM once the parent lies outside the supervisor's own namespace.
    ns.reset(ioctl(ns.get(), NS_GET_PARENT));
    if (!ns) break;
    below = fstat(ns.get(), &st) == 0 && SameNamespace(st, workload);
  }
  return below;
}

std::vector<pid_t> NumericEntries(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t n = 0;
    const char* end = e->d_name + std::strlen(e->d_name);
    auto [ptr, error] = std::from_chars(e->d_name, end, n);
    if (error == std::errc() && ptr == end && n > 0) out.push_back(n);
  }
  closedir(d);
  return out;
}

// The state letter of /proc/TID/stat (after the command's closing paren).
char TaskState(pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/stat", tid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 'X' : stat[paren + 2];
}

// The syscall a blocked task waits in (/proc/TID/syscall, first field); -1 for none.
long BlockedIn(pid_t tid) {
  std::ifstream in(fmt::format("/proc/{}/syscall", tid));
  long nr = -1;
  if (!(in >> nr)) return -1;
  return nr;
}

// Where [addr, addr+len) lies in `tid`'s memory: "" when every byte is in a
// private anonymous mapping (the heap, a stack, an unnamed mapping), else what
// the first other mapping is. Anything else could be changed by someone who is
// not stopped: a shared mapping by another process, a file mapping by a write
// to the file, a device mapping by the device.
std::string NotPrivateAnonymous(pid_t tid, std::uint64_t addr, std::uint64_t len) {
  std::ifstream maps(fmt::format("/proc/{}/maps", tid));
  if (!maps) return "its memory map cannot be read";
  std::uint64_t covered = addr;
  const std::uint64_t end = addr + len;
  std::string line;
  while (covered < end && std::getline(maps, line)) {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    char perms[5] = {};
    unsigned long long offset = 0;
    char dev[16] = {};
    unsigned long inode = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %llx %15s %lu %n", &lo, &hi, perms, &offset, dev, &inode,
                    &path_at) < 6) {
      continue;
    }
    if (hi <= covered) continue;
    if (lo > covered) break;
    std::string_view path = std::string_view(line).substr(static_cast<std::size_t>(path_at));
    const bool anonymous = inode == 0 && (path.empty() || path == "[heap]" || path.starts_with("[stack") ||
                                          path.starts_with("[anon:"));
    if (perms[3] != 'p' || !anonymous) {
      return fmt::format("its parameters lie in a {} mapping of {}", perms[3] == 's' ? "shared" : "private",
                         path.empty() ? "anonymous shared memory" : std::string(path));
    }
    covered = hi;
  }
  return covered >= end ? "" : "its parameters are not mapped";
}

bool ReadCaller(pid_t tid, std::uint64_t addr, std::span<std::byte> out) {
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr), out.size()};
  return process_vm_readv(tid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(out.size());
}

// The syscall's return value in a stopped tracee's registers.
std::optional<std::int64_t> ReturnValue(pid_t tid) {
  user_regs_struct regs{};
  iovec io{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &io) != 0) return std::nullopt;
#if defined(__x86_64__)
  return static_cast<std::int64_t>(regs.rax);
#elif defined(__aarch64__)
  return static_cast<std::int64_t>(regs.regs[0]);
#else
#error "nvgate reads syscall return values on x86_64 and aarch64 only"
#endif
}

// The kernel's restart codes (include/linux/errno.h): the syscall did not run
// and is entered again (through the filter) once the task resumes.
bool IsRestart(std::int64_t value) { return value <= -512 && value >= -516; }

// The other tasks of the workload, stopped by this thread (ptrace is per
// tracer thread). Tasks it stops are detached by Thaw(); the exit of the
// thread detaches any still traced and not yet stopped (exit_ptrace).
class Freeze {
 public:
  Freeze(CallerRuns& runs, pid_t caller) : runs_(runs), caller_(caller) {}

  // "" once every other task is stopped or parked, else why not.
  std::string StopOthers() {
    const auto deadline = std::chrono::steady_clock::now() + kStopDeadline;
    for (;;) {
      std::vector<pid_t> fresh;
      for (pid_t tid : WorkloadTasks(runs_.workload())) {
        if (tid != caller_ && !stopped_.contains(tid) && !parked_.contains(tid)) fresh.push_back(tid);
      }
      if (fresh.empty()) return "";
      for (pid_t tid : fresh) {
        if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
          if (errno == ESRCH) continue;
          const char state = TaskState(tid);
          if (state == 'Z' || state == 'X') {
            parked_.insert(tid);  // exited: runs nothing any more
            continue;
          }
          return fmt::format("task {} of the workload cannot be stopped ({}: it is traced by another "
                             "process)", tid, std::strerror(errno));
        }
        ptrace(PTRACE_INTERRUPT, tid, 0, 0);
      }
      for (pid_t tid : fresh) {
        if (std::string why = AwaitStop(tid, deadline); !why.empty()) return why;
      }
    }
  }

  // Detaches every stopped task, handing back a signal it was stopped with.
  void Thaw() {
    for (pid_t tid : stopped_) ptrace(PTRACE_DETACH, tid, 0, pending_signal_[tid]);
    stopped_.clear();
  }

  // `tid`, stopped with `status` (waitpid's) by this thread.
  void NoteStopped(pid_t tid, int status) {
    stopped_.insert(tid);
    // A signal-delivery-stop (no event in the upper bits) holds back the
    // signal; it is handed back at the detach.
    if ((status >> 16) == 0) pending_signal_[tid] = WSTOPSIG(status);
  }

 private:
  std::string AwaitStop(pid_t tid, std::chrono::steady_clock::time_point deadline) {
    auto pause = std::chrono::microseconds(20);
    for (;;) {
      int status = 0;
      pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
      if (got == tid) {
        if (WIFEXITED(status) || WIFSIGNALED(status)) return "";
        if (WIFSTOPPED(status)) {
          NoteStopped(tid, status);
          return "";
        }
      }
      if (got < 0) return errno == ECHILD ? "" : fmt::format("waitpid({}): {}", tid, std::strerror(errno));
      // Not stopped yet. Parked where it cannot run its own code until this
      // run is over: a call the supervisor holds (its wait is killable only,
      // and no call executes until the run ends), or vfork's wait for a child.
      const long nr = BlockedIn(tid);
      const bool in_vfork = nr == __NR_vfork || ((nr == __NR_clone || nr == __NR_clone3) && TaskState(tid) == 'D');
      if (runs_.Holds(tid) || in_vfork) {
        parked_.insert(tid);
        return "";
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return fmt::format("task {} of the workload did not stop within {} s", tid,
                           std::chrono::duration_cast<std::chrono::seconds>(kStopDeadline).count());
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
  }

  CallerRuns& runs_;
  const pid_t caller_;
  std::set<pid_t> stopped_;
  std::set<pid_t> parked_;
  std::map<pid_t, int> pending_signal_;
};

// The body of RunInCaller, on a thread of its own.
proxy::CallerRun RunFrozen(CallerRuns& runs, Notifier& notifier, backend::Backend& backend, const CallerCall& call,
                           std::span<const std::byte> checked, std::span<std::byte> result) {
  Freeze freeze(runs, call.tid);
  proxy::CallerRun run;
  auto refuse = [&](std::string why) {
    freeze.Thaw();
    run.refused = std::move(why);
    return run;
  };
  if (defences::Kept(Defence::kFrozenPin)) {
    if (std::string why = freeze.StopOthers(); !why.empty()) return refuse(why);
    std::vector<std::byte> now(checked.size());
    if (!ReadCaller(call.tid, call.arg, now)) return refuse("its parameters can no longer be read");
    if (!std::equal(now.begin(), now.end(), checked.begin(), checked.end())) {
      return refuse("its parameters changed after they were checked");
    }
  }
  if (defences::Kept(Defence::kPinPrivateMemory)) {
    if (std::string why = NotPrivateAnonymous(call.tid, call.arg, checked.size()); !why.empty()) {
      return refuse(why);
    }
  }

  if (std::optional<int> rc = backend.IoctlAsCaller(call.fd, call.device, call.request, call.arg, call.tid)) {
    run.value = *rc;
    if (!ReadCaller(call.tid, call.arg, result)) std::copy(checked.begin(), checked.end(), result.begin());
    freeze.Thaw();
    return run;
  }

  // The host's driver: the workload's own call, in its own memory. The caller
  // is seized and an interrupt armed while it still waits for this answer
  // (a killable wait, which the interrupt does not end), so that it stops
  // on its way out of the ioctl, before any code of its own runs again.
  if (ptrace(PTRACE_SEIZE, call.tid, 0, 0) != 0 || ptrace(PTRACE_INTERRUPT, call.tid, 0, 0) != 0) {
    return refuse(fmt::format("the calling thread cannot be traced ({})", std::strerror(errno)));
  }
  int sent = notifier.Send(call.id, {.continue_syscall = true});
  run.answered = true;
  if (sent < 0) {
    // Gone before the answer (killed): nothing ran. Its exit detaches it.
    run.value = -ESRCH;
    freeze.Thaw();
    return run;
  }
  int status = 0;
  pid_t got;
  do {
    got = waitpid(call.tid, &status, __WALL);
  } while (got < 0 && errno == EINTR);
  if (got == call.tid && WIFSTOPPED(status)) {
    freeze.NoteStopped(call.tid, status);
    std::int64_t value = ReturnValue(call.tid).value_or(-EIO);
    // Interrupted before the driver ran it: it is entered again, and checked
    // again, once resumed.
    run.value = IsRestart(value) ? -EINTR : value;
    if (!ReadCaller(call.tid, call.arg, result)) std::copy(checked.begin(), checked.end(), result.begin());
  } else {
    run.value = -ESRCH;  // killed in the driver; its files' release cleans up
  }
  freeze.Thaw();
  return run;
}

}  // namespace

std::optional<WorkloadNamespace> WorkloadNamespace::ForChildrenOf(pid_t pid) {
  return NamespaceAt(fmt::format("/proc/{}/ns/pid_for_children", pid));
}

std::optional<WorkloadNamespace> WorkloadNamespace::Of(pid_t pid) {
  return NamespaceAt(fmt::format("/proc/{}/ns/pid", pid));
}

std::set<pid_t> WorkloadTasks(const WorkloadNamespace& workload) {
  std::set<pid_t> tasks;
  for (pid_t pid : NumericEntries("/proc")) {
    if (pid == workload.nvgate_init || !InWorkload(pid, workload)) continue;
    for (pid_t tid : NumericEntries(fmt::format("/proc/{}/task", pid))) tasks.insert(tid);
  }
  return tasks;
}

void CallerRuns::Enter(pid_t tid) {
  std::unique_lock lock(mu_);
  parked_.insert(tid);
  cv_.wait(lock, [this] { return !exclusive_; });
  ++executing_;
}

void CallerRuns::Leave(pid_t tid) {
  std::lock_guard lock(mu_);
  --executing_;
  if (auto it = parked_.find(tid); it != parked_.end()) parked_.erase(it);
  cv_.notify_all();
}

bool CallerRuns::Holds(pid_t tid) {
  std::lock_guard lock(mu_);
  return parked_.contains(tid);
}

CallerRuns::Exclusive::Exclusive(CallerRuns& runs) : runs_(runs) {
  // Not counted as executing while it waits for its turn, or two runs would
  // each wait for the other to finish.
  {
    std::lock_guard lock(runs_.mu_);
    --runs_.executing_;
    runs_.cv_.notify_all();
  }
  one_at_a_time_ = std::unique_lock(runs_.run_mu_);
  std::unique_lock lock(runs_.mu_);
  runs_.cv_.wait(lock, [this] { return !runs_.exclusive_; });
  runs_.exclusive_ = true;
  runs_.cv_.wait(lock, [this] { return runs_.executing_ == 0; });
}

CallerRuns::Exclusive::~Exclusive() {
  std::lock_guard lock(runs_.mu_);
  runs_.exclusive_ = false;
  ++runs_.executing_;
  runs_.cv_.notify_all();
}

proxy::CallerRun RunInCaller(CallerRuns& runs, Notifier& notifier, backend::Backend& backend,
                             const CallerCall& call, std::span<const std::byte> checked,
                             std::span<std::byte> result) {
  if (!runs.workload().known()) {
    return {.refused = "the workload has no PID namespace of its own, so its other tasks cannot be told "
                       "from the host's and stopped"};
  }
  CallerRuns::Exclusive exclusive(runs);
  proxy::CallerRun run;
  // ptrace belongs to the thread that attached: a thread of its own, whose
  // exit detaches whatever it still traces.
  try {
    std::thread tracer([&] { run = RunFrozen(runs, notifier, backend, call, checked, result); });
    tracer.join();
  } catch (const std::system_error& e) {
    run.refused = fmt::format("no thread could be started to stop the workload's other tasks ({})", e.what());
  }
  return run;
}

}  // namespace nvgate::supervisor
