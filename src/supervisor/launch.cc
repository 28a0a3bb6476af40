#include "supervisor/launch.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "defences/defences.h"
#include "error/error.h"
#include "fd/owned_fd.h"
#include "supervisor/fd_passing.h"
#include "supervisor/filter.h"
#include "supervisor/filter_disassembler.h"
#include "supervisor/linux_caps.h"
#include "supervisor/notifier.h"

namespace nvgate::supervisor {

using defences::Defence;

namespace {

// Exit codes of the child before the command runs; shells use the same ones.
constexpr int kExitSetupFailed = 126;
constexpr int kExitCannotExec = 127;

// Where forwarded signals go: the workload, or the relay process in front of
// it. A signal handler can only reach it through a global.
std::atomic<pid_t> g_forward_to{0};

void ForwardSignal(int sig) {
  pid_t pid = g_forward_to.load();
  if (pid > 0) kill(pid, sig);
}

// Every signal a process may catch reaches the workload (batch schedulers warn
// with SIGUSR1, daemons reload on SIGHUP), as tini and runc forward them, but
// for those the kernel raises for a process's own fault, SIGCHLD (the relays
// wait for their children), SIGPIPE (raised by nvgate's own writes) and
// SIGTTIN/SIGTTOU (job control of nvgate's own terminal reads and writes).
bool IsForwarded(int sig) {
  switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
    case SIGSYS: case SIGABRT: case SIGCHLD: case SIGPIPE: case SIGTTIN: case SIGTTOU:
      return false;
    default:
      return sig <= 31 || sig >= SIGRTMIN;  // glibc keeps 32 and 33, below SIGRTMIN, for itself
  }
}

sigset_t ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (IsForwarded(sig)) sigaddset(&set, sig);
  }
  return set;
}

// Sets each forwarded signal's disposition to `action`; `saved`, where given,
// gets the previous ones.
void SetForwardedActions(const struct sigaction& action, std::map<int, struct sigaction>* saved = nullptr) {
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (IsForwarded(sig)) sigaction(sig, &action, saved != nullptr ? &(*saved)[sig] : nullptr);
  }
}

// A bind mount into the private /dev. Opened (O_PATH, which does not open the
// device) before the tmpfs hides the host's /dev, bound through /proc/self/fd.
struct Bind {
  std::string source;
  std::string target;
  bool required;  // the NVIDIA nodes must be there; the host's basics may not be
  dev_t rdev = 0;  // a character device made at target instead, where allowed (DeviceNode::rdev)
  int fd = -1;     // the child's: SetUpMounts opens and closes it; the parent never holds one
};

// Everything the child needs, computed before fork: the parent may have other
// threads, so the child only makes syscalls and never allocates.
struct ChildPlan {
  std::vector<std::string> args;
  std::vector<char*> argv;
  Program filter;
  bool isolate;
  std::string uid_map;
  std::string gid_map;
  std::vector<std::string> dirs;  // created under the new /dev, parents first
  std::vector<Bind> binds;
  std::vector<Bind> driver_files;  // outside /dev, bound after /proc is mounted
  std::vector<std::pair<const char*, const char*>> links;  // {target, link path}
  LinuxCapMask keep_caps;                                   // all the workload keeps
  // What a host-root workload must not reach (docs/security.md, "What a root
  // workload keeps"); empty for one that is not root on the host.
  std::vector<std::string> masked_files;  // /dev/null bound over each
  std::vector<std::string> masked_dirs;   // an empty read-only tmpfs over each
  std::vector<std::string> read_only;     // bound onto itself, read-only, with everything under it
  int null_fd = -1;                       // the host's /dev/null (O_PATH), the masks' source; as Bind::fd
  bool mask_host_paths = true;            // false in a user namespace of our own
  int sock;                                                 // the child's end
};

// One line on stderr from the child, without allocation.
void Say(const char* a, const char* b = "", const char* c = "", const char* d = "", const char* e = "") {
  for (const char* s : {"nvgate: ", a, b, c, d, e, "\n"}) {
    std::size_t left = std::strlen(s);
    while (left > 0) {
      ssize_t n = write(STDERR_FILENO, s, left);
      if (n <= 0) return;
      s += n;
      left -= static_cast<std::size_t>(n);
    }
  }
}

const char* ErrnoText(int e) {
  const char* s = strerrordesc_np(e);  // async-signal-safe, unlike strerror
  return s ? s : "unknown error";
}

// after fork: the child's, which keeps raw descriptors (it runs no destructors).
bool WriteFile(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

enum class Isolation { kIsolated, kInUserNamespace, kNotPossible, kBroken };

Isolation EnterNamespaces(const ChildPlan& plan) {
  if (unshare(CLONE_NEWNS | CLONE_NEWPID) == 0) return Isolation::kIsolated;
  int first = errno;
  // Without CAP_SYS_ADMIN, a user namespace of our own grants it there.
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0) {
    Say("warning: cannot create PID and mount namespaces (", ErrnoText(first),
        "); running the command without isolation");
    return Isolation::kNotPossible;
  }
  // Past this point we are in a user namespace; without a mapping the command
  // would run as the overflow uid, so failing here is fatal.
  if (!WriteFile("/proc/self/setgroups", "deny") || !WriteFile("/proc/self/uid_map", plan.uid_map) ||
      !WriteFile("/proc/self/gid_map", plan.gid_map)) {
    Say("cannot map our uid into the new user namespace: ", ErrnoText(errno));
    return Isolation::kBroken;
  }
  return Isolation::kInUserNamespace;
}

// "/proc/self/fd/<fd>" into `buf`, without allocation.
const char* FdPath(int fd, char (&buf)[32]) {
  char digits[12];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  std::strcpy(buf, "/proc/self/fd/");
  std::size_t len = std::strlen(buf);
  while (n > 0) buf[len++] = digits[--n];
  buf[len] = '\0';
  return buf;
}

// The hardware and kernel files of the host a root workload could still open
// (its capabilities are gone, but root owns them): masked and read-only as
// container engines do it. A path the kernel does not have is skipped; any
// other failure stops the launch, as the workload would run unprotected.
bool MaskHostPaths(const ChildPlan& plan) {
  if (!plan.mask_host_paths || !defences::Kept(Defence::kMaskedPaths)) return true;
  for (const std::string& path : plan.read_only) {
    struct mount_attr read_only {};
    read_only.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      Say("cannot bind ", path.c_str(), " to make it read-only: ", ErrnoText(errno));
      return false;
    }
    if (mount_setattr(AT_FDCWD, path.c_str(), AT_RECURSIVE, &read_only, sizeof read_only) != 0) {
      Say("cannot make ", path.c_str(), " read-only: ", ErrnoText(errno));
      return false;
    }
  }
  char null_path[32];
  for (const std::string& path : plan.masked_files) {
    if (mount(FdPath(plan.null_fd, null_path), path.c_str(), nullptr, MS_BIND, nullptr) != 0 && errno != ENOENT) {
      Say("cannot mask ", path.c_str(), ": ", ErrnoText(errno));
      return false;
    }
  }
  for (const std::string& path : plan.masked_dirs) {
    if (mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
        errno != ENOENT) {
      Say("cannot mask ", path.c_str(), ": ", ErrnoText(errno));
      return false;
    }
  }
  return true;
}

// after fork: the child's, which keeps raw descriptors (it runs no destructors).
bool SetUpMounts(ChildPlan& plan) {
  // Nothing we mount may propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    Say("mount(/, MS_REC|MS_PRIVATE) failed: ", ErrnoText(errno));
    return false;
  }
  for (std::vector<Bind>* list : {&plan.binds, &plan.driver_files}) {
    for (Bind& b : *list) {
      b.fd = open(b.source.c_str(), O_PATH | O_CLOEXEC);
      if (b.fd < 0 && b.required) {
        Say("cannot open ", b.source.c_str(), ": ", ErrnoText(errno));
        return false;
      }
    }
  }
  if (plan.mask_host_paths && !plan.masked_files.empty()) {
    plan.null_fd = open("/dev/null", O_PATH | O_CLOEXEC);
    if (plan.null_fd < 0) {
      Say("cannot open /dev/null to mask host files with: ", ErrnoText(errno));
      return false;
    }
  }
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=1m") != 0) {
    Say("mount(tmpfs, /dev) failed: ", ErrnoText(errno));
    return false;
  }
  for (const std::string& d : plan.dirs) mkdir(d.c_str(), 0755);
  for (Bind& b : plan.binds) {
    if (b.fd < 0) continue;
    // On this nodev /dev: a number to stat, never a device the kernel opens.
    // Not allowed in a user namespace (EPERM): then the file is bound there.
    if (b.rdev != 0 && mknod(b.target.c_str(), S_IFCHR | 0666, b.rdev) == 0) {
      chmod(b.target.c_str(), 0666);
      close(b.fd);
      continue;
    }
    struct stat st {};
    bool is_dir = fstat(b.fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir) {
      mkdir(b.target.c_str(), 0755);
    } else {
      int point = open(b.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
      if (point >= 0) close(point);
    }
    char source[32];
    if (mount(FdPath(b.fd, source), b.target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      Say("bind mount on ", b.target.c_str(), " from ", b.source.c_str(), " failed");
      if (b.required) return false;
    }
    close(b.fd);
  }
  mkdir("/dev/shm", 01777);
  if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    Say("warning: mount(tmpfs, /dev/shm) failed: ", ErrnoText(errno));
  }
  for (const auto& [target, link] : plan.links) symlink(target, link);
  // The workload gets no way to add nodes next to the ones it was given.
  if (mount(nullptr, "/dev", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            nullptr) != 0) {
    Say("warning: cannot make /dev read-only: ", ErrnoText(errno));
  }
  // A /proc of the new PID namespace, so that the workload neither sees nor
  // names processes outside it (the supervisor among them).
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Say("warning: cannot mount a /proc for the new PID namespace: ", ErrnoText(errno));
  }
  // The host's hardware files masked first: the sim's driver files (its own
  // PCI functions among them) are not the host's, and its libraries read them.
  if (!MaskHostPaths(plan)) return false;
  if (plan.null_fd >= 0) close(plan.null_fd);
  // Bound over directories of the host's /sys and the new /proc, hiding what
  // was there (the host's other modules and PCI functions among them);
  // read-only, as the driver's own files are to a workload.
  for (Bind& b : plan.driver_files) {
    char source[32];
    constexpr unsigned long kReadOnly = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount(FdPath(b.fd, source), b.target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      // A root without that directory (a container or chroot without /sys):
      // the workload runs, and NVIDIA's libraries will not find the driver there.
      if (errno == ENOENT) {
        Say("note: no ", b.target.c_str(), " in the sandbox's root: the simulated driver's files are not offered there");
        close(b.fd);
        continue;
      }
      Say("bind mount of the driver files on ", b.target.c_str(), " failed: ", ErrnoText(errno));
      return false;
    }
    if (mount(nullptr, b.target.c_str(), nullptr, kReadOnly, nullptr) != 0) {
      Say("bind mount of the driver files on ", b.target.c_str(), " failed: ", ErrnoText(errno));
      return false;
    }
    close(b.fd);
  }
  return true;
}

// Waits for `child`, forwarding signals to it, and exits with its status,
// shell-style. As pid 1 of the namespace (`reap_all`), it also reaps the
// orphans that are reparented to it. The forwarded signals were blocked before
// the fork: one that came since is pending, and is forwarded now that the
// relay knows its child.
[[noreturn]] void RelayUntilExit(pid_t child, bool reap_all) {
  g_forward_to.store(child);
  sigset_t forwarded = ForwardedSignals();
  sigprocmask(SIG_UNBLOCK, &forwarded, nullptr);
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(reap_all ? -1 : child, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      _exit(kExitSetupFailed);
    }
    if (pid != child) continue;
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
  }
}

// Leaves the workload `keep` and nothing else: in the bounding set (so that
// root's exec cannot grant more), permitted, effective, inheritable and
// ambient. Without CAP_SETPCAP (an unprivileged run without isolation) the
// bounding set stays, but such a workload holds no capability to keep.
bool DropWorkloadCapabilities(LinuxCapMask keep) {
  for (int cap = 0;; ++cap) {
    int held = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (held < 0) break;  // EINVAL: past the kernel's last capability
    if (held == 1 && (keep & (LinuxCapMask{1} << cap)) == 0 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
        errno != EPERM) {
      Say("prctl(PR_CAPBSET_DROP) failed: ", ErrnoText(errno));
      return false;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    Say("prctl(PR_CAP_AMBIENT_CLEAR_ALL) failed: ", ErrnoText(errno));
    return false;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    Say("capget() failed: ", ErrnoText(errno));
    return false;
  }
  for (int word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    auto bits = static_cast<std::uint32_t>(keep >> (32 * word));
    data[word].effective &= bits;
    data[word].permitted &= bits;
    data[word].inheritable &= bits;
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    Say("capset() failed: ", ErrnoText(errno));
    return false;
  }
  return true;
}

// after fork: the child's, which keeps raw descriptors (it runs no destructors).
[[noreturn]] void ExecWorkload(const ChildPlan& plan) {
  // CAP_SYS_PTRACE is never kept (ParseLinuxCaps refuses it): it would let a
  // root workload open /proc/PID/mem of the sandbox's init, or of the
  // supervisor without isolation, non-dumpable or not: both run without the
  // filter. The filter denies ptrace itself anyway.
  LinuxCapMask keep = plan.keep_caps;
  if (!defences::Kept(Defence::kDroppedCapabilities)) keep = ~(LinuxCapMask{1} << CAP_SYS_PTRACE);
  if (!defences::Kept(Defence::kUnreachableInit)) keep |= LinuxCapMask{1} << CAP_SYS_PTRACE;
  if (!DropWorkloadCapabilities(keep)) _exit(kExitSetupFailed);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    Say("prctl(PR_SET_NO_NEW_PRIVS) failed: ", ErrnoText(errno));
    _exit(kExitSetupFailed);
  }
  int listener = InstallFilter(plan.filter);
  if (listener < 0) {
    Say("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER|WAIT_KILLABLE_RECV) failed: ", ErrnoText(-listener));
    _exit(kExitSetupFailed);
  }
  // The workload must hold no reference to the listener: whoever holds one can
  // answer (and CONTINUE) its own trapped calls.
  bool sent = SendFd(plan.sock, listener);
  close(listener);
  close(plan.sock);
  if (!sent) _exit(kExitSetupFailed);
  // A signal forwarded before the exec was held (blocked since the relays'
  // fork): it now acts on this process as it would on the workload.
  struct sigaction by_default {};
  by_default.sa_handler = SIG_DFL;
  SetForwardedActions(by_default);
  sigset_t forwarded = ForwardedSignals();
  sigprocmask(SIG_UNBLOCK, &forwarded, nullptr);
  execvp(plan.argv[0], plan.argv.data());
  Say("cannot execute '", plan.argv[0], "': ", ErrnoText(errno));
  _exit(kExitCannotExec);
}

// The relays' handler for every forwarded signal, which stays blocked until
// the relay knows its child (RelayUntilExit): a signal that comes between a
// fork and the parent's learning the child's pid is held, not lost.
void InstallForwarding() {
  struct sigaction sa {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  SetForwardedActions(sa);
  sigset_t forwarded = ForwardedSignals();
  sigprocmask(SIG_BLOCK, &forwarded, nullptr);
}

// after fork: the child's, which keeps raw descriptors (it runs no destructors).
[[noreturn]] void RunChild(ChildPlan& plan) {
  // If nvgate dies, so does everything it started (the filter alone would only
  // make the trapped calls fail).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Before any fork, so that the relays forward from their first instant: pid
  // 1 of a namespace ignores every signal it has no handler for. Until a relay
  // knows its child the target is 0 and signals are dropped; exec resets the
  // handlers in the workload.
  g_forward_to.store(0);
  if (plan.isolate) {
    InstallForwarding();
    switch (EnterNamespaces(plan)) {
      case Isolation::kBroken:
        _exit(kExitSetupFailed);
      case Isolation::kNotPossible:
        break;
      case Isolation::kInUserNamespace:
        // Not root on the host: the host's root-owned files are out of its
        // reach, capabilities or not, so there is nothing to mask.
        plan.mask_host_paths = false;
        [[fallthrough]];
      case Isolation::kIsolated: {
        // The first child in a new PID namespace is its pid 1.
        pid_t init = fork();
        if (init < 0) {
          Say("fork() failed: ", ErrnoText(errno));
          _exit(kExitSetupFailed);
        }
        if (init > 0) {
          close(plan.sock);
          RelayUntilExit(init, false);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        // The workload sees this process as its pid 1 and shares its uid; it
        // runs without the filter, so its memory must stay out of reach.
        if (defences::Kept(Defence::kUnreachableInit)) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (!SetUpMounts(plan)) _exit(kExitSetupFailed);
        pid_t workload = fork();
        if (workload < 0) {
          Say("fork() failed: ", ErrnoText(errno));
          _exit(kExitSetupFailed);
        }
        if (workload > 0) {
          close(plan.sock);
          // When pid 1 exits, the kernel kills the rest of the namespace.
          RelayUntilExit(workload, true);
        }
        break;
      }
    }
  }
  ExecWorkload(plan);
}

// runc's default masked and read-only paths (the ones a root workload could
// use against the host or its hardware), and every PCI device's BAR and
// option ROM file, which sysfs hands to root without a capability check. Kept
// as lists so that other mounts into the sandbox can sit beside them.
//
// The PCI config files stay readable: NVIDIA's libraries read a function's
// header there to find the GPU (docs/gpu-validation.md), the read-only /sys
// refuses every write, and a reader without CAP_SYS_ADMIN (which no workload
// keeps) gets only the 64-byte header sysfs gives every user (Linux,
// drivers/pci/pci-sysfs.c, pci_read_config).
void AddHostPathMasks(ChildPlan& plan) {
  plan.read_only = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys"};
  plan.masked_dirs = {"/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"};
  plan.masked_files = {"/proc/kcore",     "/proc/keys",        "/proc/latency_stats",
                       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug"};
  // /sys/bus/pci/devices/* are links into /sys/devices/pci*; the masks go on
  // the files themselves, so both names lead to the mask. "resource" (the
  // read-only list of the BARs' addresses) stays.
  std::error_code ec;
  for (const auto& device : std::filesystem::directory_iterator("/sys/bus/pci/devices", ec)) {
    std::filesystem::path dir = std::filesystem::canonical(device.path(), ec);
    if (ec) continue;
    for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
      std::string name = file.path().filename();
      bool bar = name.rfind("resource", 0) == 0 && name.size() > 8;
      if (bar || name == "rom") plan.masked_files.push_back(file.path());
    }
  }
}

Result<ChildPlan> MakePlan(const LaunchOptions& options) {
  ChildPlan plan;
  plan.args = options.argv;
  for (std::string& a : plan.args) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  TrapRules rules = TrapRules::FromTable(*options.table);
  rules.opens = std::any_of(options.nodes.begin(), options.nodes.end(),
                            [](const backend::DeviceNode& node) { return node.rdev != 0; });
  auto filter = BuildFilter(rules);
  if (!filter) return tl::unexpected(filter.error());
  plan.filter = std::move(*filter);
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("supervisor: the workload's seccomp filter ({} instructions):\n{}", plan.filter.size(),
                  DisassembleFilter(plan.filter));
  }
  plan.isolate = options.isolate;
  plan.uid_map = fmt::format("{0} {0} 1", getuid());
  plan.gid_map = fmt::format("{0} {0} 1", getgid());
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts"}) {
    plan.binds.push_back({fmt::format("/dev/{}", name), fmt::format("/dev/{}", name), false});
  }
  for (const backend::DeviceNode& node : options.nodes) {
    const std::string& path = node.dev_path;
    if (path.rfind("/dev/", 0) != 0 || path.find("/../") != std::string::npos ||
        path.find("/./") != std::string::npos) {
      return tl::unexpected(
          Error::Internal(fmt::format("device node path '{}' is not a plain path under /dev/", path)));
    }
    for (std::size_t slash = path.find('/', 5); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      plan.dirs.push_back(path.substr(0, slash));
    }
    plan.binds.push_back({node.source_path, path, true, node.rdev});
  }
  for (const backend::DriverFileTree& tree : options.driver_files) {
    if (tree.target.empty() || tree.target[0] != '/' || tree.target.rfind("/dev/", 0) == 0) {
      return tl::unexpected(
          Error::Internal(fmt::format("driver file target '{}' is not an absolute path outside /dev", tree.target)));
    }
    plan.driver_files.push_back({tree.source_dir, tree.target, true});
  }
  plan.links = {{"/proc/self/fd", "/dev/fd"},
                {"/proc/self/fd/0", "/dev/stdin"},
                {"/proc/self/fd/1", "/dev/stdout"},
                {"/proc/self/fd/2", "/dev/stderr"}};
  plan.keep_caps = options.workload_caps;
  if (options.isolate && geteuid() == 0) AddHostPathMasks(plan);
  return plan;
}

}  // namespace

Result<void> DropCapabilities() {
  constexpr int kDropped[] = {CAP_SYS_ADMIN, CAP_PERFMON, CAP_SYS_NICE};
  for (int cap : kDropped) {
    // EINVAL: a capability this kernel does not know (CAP_PERFMON before 5.8).
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EPERM) {
      return tl::unexpected(
          Error::Errno(fmt::format("prctl(PR_CAPBSET_DROP, {}) failed", cap)));
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return tl::unexpected(Error::Errno("capget() failed"));
  }
  for (int cap : kDropped) {
    auto bit = static_cast<std::uint32_t>(1u << (cap % 32));
    data[cap / 32].effective &= ~bit;
    data[cap / 32].permitted &= ~bit;
    data[cap / 32].inheritable &= ~bit;
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    return tl::unexpected(Error::Errno("capset() failed"));
  }
  return {};
}

namespace {

int ShellStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitSetupFailed;
}

}  // namespace

Result<int> RunSupervised(const LaunchOptions& options, proxy::Executor& executor) {
  if (options.argv.empty()) return tl::unexpected(Error::Usage("no command to run"));
  if (!options.table || !options.backend) {
    return tl::unexpected(Error::Internal("RunSupervised needs an ABI table and a backend"));
  }
  if (auto ok = CheckKernelSupport(); !ok) return tl::unexpected(ok.error());
  auto plan = MakePlan(options);
  if (!plan) return tl::unexpected(plan.error());

  int socks[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0) {
    return tl::unexpected(Error::Errno("socketpair() failed"));
  }
  fd::OwnedFd supervisor_end(socks[0]);
  fd::OwnedFd child_end(socks[1]);
  plan->sock = child_end.get();
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    return tl::unexpected(Error::System(e, fmt::format("fork() failed: {}", std::strerror(e))));
  }
  if (child == 0) {  // after fork: RunChild never returns, so no destructor runs here
    close(socks[0]);
    RunChild(*plan);
  }
  child_end.reset();
  fd::OwnedFd listener = ReceiveFd(supervisor_end.get());
  supervisor_end.reset();
  auto reap = [child] {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return ShellStatus(status);
  };
  if (!listener) {
    int status = reap();
    return tl::unexpected(
        Error::System(0, fmt::format("the workload could not be started (status {}; see the messages above)", status)));
  }
  auto notifier = OsNotifier::Create(std::move(listener));
  auto privileges = notifier ? DropCapabilities() : Result<void>{};
  if (!notifier || !privileges) {
    kill(child, SIGKILL);
    reap();
    return tl::unexpected(notifier ? privileges.error() : notifier.error());
  }

  struct sigaction forward {};
  forward.sa_handler = ForwardSignal;
  forward.sa_flags = SA_RESTART;
  std::map<int, struct sigaction> saved;
  g_forward_to.store(child);
  SetForwardedActions(forward, &saved);
  // Reaped as soon as it exits: before Linux 6.11 a zombie still counts as a
  // user of the filter, and the loop would wait for it forever.
  int status = 0;
  std::thread waiter([&] {
    status = reap();
    g_forward_to.store(0);
  });
  SupervisorOptions supervisor_options = options.supervisor;
  // The child unshared its PID namespace and forked its pid 1 there before
  // the workload sent the listener: the workload is the rest of that
  // namespace. Without one of its own (isolation not possible) the workload
  // shares nvgate's, and stays unknown.
  std::optional<WorkloadNamespace> workload = WorkloadNamespace::ForChildrenOf(child);
  std::optional<WorkloadNamespace> own = WorkloadNamespace::Of(getpid());
  if (workload && own && (workload->ino != own->ino || workload->dev != own->dev)) {
    std::ifstream children(fmt::format("/proc/{}/task/{}/children", child, child));
    if (children >> workload->nvgate_init) supervisor_options.workload = *workload;
  }
  for (const backend::DeviceNode& node : options.nodes) {
    if (node.rdev != 0) supervisor_options.node_opens[node.dev_path] = node.source_path;
  }
  Supervisor supervisor(**notifier, *options.backend, executor, supervisor_options);
  auto ran = supervisor.Run();
  if (!ran) kill(child, SIGKILL);
  waiter.join();
  for (const auto& [sig, action] : saved) sigaction(sig, &action, nullptr);
  if (!ran) return tl::unexpected(ran.error());
  SupervisorStats s = supervisor.stats();
  spdlog::debug("supervisor: {} calls executed ({} denied), {} refused (not NVIDIA), {} callers gone", s.executed,
                s.denied, s.not_nvidia, s.target_gone);
  return status;
}

}  // namespace nvgate::supervisor
