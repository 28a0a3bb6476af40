// What this kernel and this process let the supervisor do, found by doing it in
// throwaway children the way `nvgate run` does it: `nvgate doctor` reports it.
//
//   auto kernel = supervisor::ProbeKernel();        // seccomp and pidfd features
//   if (!kernel.required_error.empty()) die(kernel.required_error);
//   auto isolation = supervisor::ProbeIsolation();  // namespaces for the workload
//
// Neither changes the calling process: filters and namespaces are entered by a
// forked child that then exits. The children make only system calls, so a
// multi-threaded caller is safe.
#pragma once

#include <string>

namespace nvgate::supervisor {

struct KernelFeatures {
  // seccomp user notification (SECCOMP_GET_NOTIF_SIZES answers; Linux 5.0).
  bool user_notification = false;
  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19), required: CheckKernelSupport passes.
  bool wait_killable_recv = false;
  // CheckKernelSupport's error, empty when it passes: why `nvgate run` refuses this kernel.
  std::string required_error;
  // 0 when a child installed the real kind of filter (InstallFilter) and handed
  // over its listener; else the errno that stopped it. Only tried when
  // CheckKernelSupport passes.
  int install_errno = 0;
  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6), optional: cheaper round trips.
  bool sync_wake_up = false;
  // PIDFD_THREAD (Linux 6.9), optional: the supervisor reaches the calling
  // thread's own file table, not its thread-group leader's.
  bool pidfd_thread = false;
};

KernelFeatures ProbeKernel();

// How `nvgate run` can give the workload its PID and mount namespaces, tried in
// the order it tries them.
enum class IsolationMode {
  kNamespaces,     // unshare(CLONE_NEWNS | CLONE_NEWPID) directly (CAP_SYS_ADMIN)
  kUserNamespace,  // inside a new user namespace mapping our uid (unprivileged)
  kNone,           // neither: the workload would share /dev and the PID namespace
};

struct Isolation {
  IsolationMode mode = IsolationMode::kNone;
  int namespaces_errno = 0;      // why the direct unshare failed, when it did
  int user_namespace_errno = 0;  // why the user-namespace route failed, when it did
};

Isolation ProbeIsolation();

}  // namespace nvgate::supervisor
