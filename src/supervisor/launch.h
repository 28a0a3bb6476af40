// `nvgate run`: start a command under the filter and supervise it until every
// one of its tasks is gone.
//
//   supervisor::LaunchOptions opt{.argv = {"python3", "train.py"},
//                                 .table = table,
//                                 .backend = backend.get(),
//                                 .nodes = backend->Nodes()};
//   auto status = supervisor::RunSupervised(opt, proxy);   // shell-style status
//   if (!status) die(status.error());
//   return *status;
//
// The child, where it can (root, or unprivileged user namespaces): a new mount
// and PID namespace, an init process (pid 1) that forwards signals and reaps, and
// a private /dev: a tmpfs with null, zero, full, random, urandom, tty, ptmx and
// pts bound from the host, a tmpfs on /dev/shm, the fd/stdin/stdout/stderr links,
// and exactly the NVIDIA nodes given (each `source_path` bound onto its
// `dev_path`), and each of `driver_files` bound read-only over its target
// (after the new /proc is mounted). Where it cannot, it warns and runs the command without
// isolation. When nvgate is root on the host (no user namespace of its own),
// the host's hardware and kernel files are masked or read-only there as runc
// does it: /sys read-only, every PCI device's resourceN and rom,
// /proc/kcore and the like masked, /proc/sys and /proc/sysrq-trigger read-only.
// The init is non-dumpable (it runs without the filter). Then the workload
// keeps only `workload_caps` (never CAP_SYS_PTRACE, so that not even root can
// open an unfiltered process's /proc/PID/mem; none of them reaches hardware
// or the kernel around the driver), sets PR_SET_NO_NEW_PRIVS, installs the filter,
// hands the listener to the parent over a socketpair (SCM_RIGHTS), closes it and
// execs.
//
// The parent drops CAP_SYS_ADMIN, CAP_PERFMON and CAP_SYS_NICE (effective,
// permitted, inheritable, bounding; CAP_SYS_PTRACE is kept where held), becomes
// non-dumpable, forwards every signal a process may catch (but SIGCHLD,
// SIGPIPE, SIGTTIN, SIGTTOU and the fault signals) and runs the Supervisor loop.
// Capabilities are per thread: call this before starting other threads, or
// those keep theirs.
#pragma once

#include <string>
#include <vector>

#include "abi/abi.h"
#include "backend/backend.h"
#include "error/error.h"
#include "proxy/proxy.h"
#include "supervisor/linux_caps.h"
#include "supervisor/supervisor.h"

namespace nvgate::supervisor {

struct LaunchOptions {
  std::vector<std::string> argv;         // the command; argv[0] is looked up in PATH
  const abi::Table* table = nullptr;     // decides which ioctls are trapped
  backend::Backend* backend = nullptr;   // classifies the workload's files
  // The NVIDIA nodes the workload finds in its private /dev (and no others).
  std::vector<backend::DeviceNode> nodes;
  // Driver files outside /dev (the sim's /proc/driver, /sys/module, PCI
  // functions), each bound read-only over its target once the new /proc is up.
  std::vector<backend::DriverFileTree> driver_files = {};
  // PID + mount namespaces and a private /dev, where possible (default on).
  bool isolate = true;
  // The Linux capabilities the workload keeps (linux_caps.h); every other one
  // leaves all of its sets before exec.
  LinuxCapMask workload_caps = WorkloadDefaultCaps();
  SupervisorOptions supervisor;
};

// Runs the command and returns its exit status, shell-style: the exit code, or
// 128 + signal number when a signal killed it; 127 when it could not be
// executed. An error means nvgate itself could not set up or supervise it.
Result<int> RunSupervised(const LaunchOptions& options, proxy::Executor& executor);

// Invariant 8: no privilege beyond what the calls need. Drops CAP_SYS_ADMIN,
// CAP_PERFMON and CAP_SYS_NICE from the calling thread (effective, permitted,
// inheritable) and from the bounding set; CAP_SYS_PTRACE stays: it is what lets
// pidfd_getfd and process_vm_* reach a workload that made itself
// non-dumpable. Capabilities are per thread: call before starting threads.
Result<void> DropCapabilities();

}  // namespace nvgate::supervisor
