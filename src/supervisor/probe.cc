#include "supervisor/probe.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "fd/owned_fd.h"
#include "supervisor/fd_passing.h"
#include "supervisor/filter.h"
#include "supervisor/notifier.h"
#include "supervisor/sys.h"

namespace nvgate::supervisor {
namespace {

// The child's wait status, or -1 when it could not be reaped.
int WaitFor(pid_t child) {
  int status;
  pid_t waited;
  do {
    waited = waitpid(child, &status, 0);
  } while (waited < 0 && errno == EINTR);
  return waited == child ? status : -1;
}

// Installs a filter with the workload's flags in a child, as launch does, and
// tries the listener it hands over as the supervisor would. The filter lets
// every call through: only the flags and the listener are being tested.
void ProbeListener(KernelFeatures& features) {
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) != 0) {
    features.install_errno = errno;
    return;
  }
  fd::OwnedFd supervisor_end(socks[0]);
  fd::OwnedFd child_end(socks[1]);
  const Program allow_all{BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  pid_t child = fork();
  if (child < 0) {
    features.install_errno = errno;
    return;
  }
  if (child == 0) {  // after fork: the child ends in _exit, so no destructor runs here
    close(socks[0]);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(errno);
    int listener = InstallFilter(allow_all);
    if (listener < 0) _exit(-listener);
    if (!SendFd(socks[1], listener)) _exit(EPIPE);
    // Keeps the filter in use until the parent is done with the listener (EOF).
    char byte;
    while (read(socks[1], &byte, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  child_end.reset();
  fd::OwnedFd listener = ReceiveFd(supervisor_end.get());
  const bool received = static_cast<bool>(listener);
  if (received) {
    auto notifier = OsNotifier::Create(std::move(listener));
    features.sync_wake_up = notifier && (*notifier)->SetSyncWakeUp();
  }
  supervisor_end.reset();
  int status = WaitFor(child);
  if (!received) {
    // The child's exit status is the errno that stopped it.
    bool told = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0;
    features.install_errno = told ? WEXITSTATUS(status) : EIO;
  }
}

// Writes all of `text` to `path`; false with errno set otherwise. Only system calls.
// after fork: the child's, which keeps raw descriptors (it runs no destructors).
bool WriteFile(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = write(fd, text.data(), text.size());
  int write_errno = n < 0 ? errno : EIO;
  close(fd);
  if (n == static_cast<ssize_t>(text.size())) return true;
  errno = write_errno;
  return false;
}

}  // namespace

KernelFeatures ProbeKernel() {
  KernelFeatures features;
  seccomp_notif_sizes sizes{};
  features.user_notification = syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
  if (auto required = CheckKernelSupport(); required) {
    features.wait_killable_recv = true;
    ProbeListener(features);
  } else {
    features.required_error = required.error().message;
  }
  // Before 6.9 the flag is unknown: EINVAL.
  features.pidfd_thread = static_cast<bool>(fd::OwnedFd(sys::PidfdOpen(getpid(), PIDFD_THREAD)));
  return features;
}

Isolation ProbeIsolation() {
  Isolation result;
  // Formatted here: the child makes only system calls. Inside the new user
  // namespace our uid reads as the overflow uid, so it is taken now.
  const std::string uid_map = fmt::format("{0} {0} 1", getuid());
  const std::string gid_map = fmt::format("{0} {0} 1", getgid());
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.namespaces_errno = result.user_namespace_errno = errno;
    return result;
  }
  fd::OwnedFd read_end(pipe_fds[0]);
  fd::OwnedFd write_end(pipe_fds[1]);
  pid_t child = fork();
  if (child < 0) {
    result.namespaces_errno = result.user_namespace_errno = errno;
    return result;
  }
  if (child == 0) {  // after fork: the child ends in _exit, so no destructor runs here
    Isolation found;
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) == 0) {
      found.mode = IsolationMode::kNamespaces;
    } else {
      found.namespaces_errno = errno;
      // Without a uid mapping `nvgate run` gives up on the workload, so the
      // mapping is part of what must work.
      if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) != 0 ||
          !WriteFile("/proc/self/setgroups", "deny") || !WriteFile("/proc/self/uid_map", uid_map) ||
          !WriteFile("/proc/self/gid_map", gid_map)) {
        found.user_namespace_errno = errno;
      } else {
        found.mode = IsolationMode::kUserNamespace;
      }
    }
    bool sent = write(pipe_fds[1], &found, sizeof found) == static_cast<ssize_t>(sizeof found);
    _exit(sent ? 0 : 1);
  }
  write_end.reset();
  Isolation found;
  ssize_t n;
  do {
    n = read(read_end.get(), &found, sizeof found);
  } while (n < 0 && errno == EINTR);
  read_end.reset();
  WaitFor(child);
  if (n != static_cast<ssize_t>(sizeof found)) {
    result.namespaces_errno = result.user_namespace_errno = EIO;
    return result;
  }
  return found;
}

}  // namespace nvgate::supervisor
