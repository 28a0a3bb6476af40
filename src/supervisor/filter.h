// The workload's seccomp program, built from the ABI table (policy as data).
//
//   auto rules = supervisor::TrapRules::FromTable(*table);
//   auto program = supervisor::BuildFilter(rules);          // raw classic BPF
//   // in the workload, after prctl(PR_SET_NO_NEW_PRIVS):
//   auto listener = supervisor::InstallFilter(*program);    // the notification fd
//
// The program, in order:
//   1. any ABI but the native one (i386 `int $0x80`, x32) -> ENOSYS;
//   2. ptrace, process_vm_readv/writev, pidfd_getfd, kcmp, userfaultfd -> EPERM;
//      io_uring_* -> ENOSYS (libraries fall back to plain syscalls);
//      seccomp(SET_MODE_FILTER) with NEW_LISTENER -> EPERM;
//   3. ioctl whose request's LOW 32 BITS (all the kernel passes to drivers) may be
//      dispatched by an NVIDIA driver -> USER_NOTIF;
//   4. with TrapRules::opens, open and openat -> USER_NOTIF;
//   5. everything else -> ALLOW, with no notification.
//
// `TrapRules::Traps` answers step 3 in userspace from the same data, and
// `EvaluateFilter` (filter_evaluator.h) runs the built program itself, so tests
// can check both against each other and against the kernel;
// `DisassembleFilter` (filter_disassembler.h) prints it.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "error/error.h"
#include "supervisor/filter_evaluator.h"
#include "supervisor/filter_program.h"

namespace nvgate::supervisor {

// Which ioctl requests reach the supervisor. Derived from the frontend and UVM
// rows of a table; each rule names a family of 32-bit request values.
struct TrapRules {
  // _IOC_TYPE 'F' with one of these _IOC_NR values, any direction and size.
  std::vector<std::uint8_t> frontend_nrs;
  // The NVIDIA frontend dispatches on _IOC_NR and checks _IOC_SIZE, ignoring the
  // type and direction bits: (nr, size) with any type and direction; size 0
  // stands for any size.
  struct Sized {
    std::uint8_t nr;
    std::uint32_t size;
    bool operator==(const Sized&) const = default;
  };
  std::vector<Sized> frontend_sized;
  // nvidia-uvm dispatches on the whole 32-bit value: every value below this...
  std::uint32_t uvm_below = 0x800;
  // ...and these (UVM_INITIALIZE, UVM_DEINITIALIZE, and any other UVM row key).
  std::vector<std::uint32_t> uvm_values;
  // open and openat too: set when the backend's nodes are character devices
  // whose open the supervisor answers itself (the sim; backend.h, DeviceNode::rdev).
  bool opens = false;

  static TrapRules FromTable(const abi::Table& table);

  // Whether the filter built from these rules notifies ioctl(fd, request, ...).
  bool Traps(std::uint32_t request) const;
};

// The whole seccomp program for the workload, as classic BPF.
Result<Program> BuildFilter(const TrapRules& rules);

// Installs `program` on the calling thread with
// SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV and
// returns the listener (close-on-exec), or -errno. The caller must have set
// PR_SET_NO_NEW_PRIVS (or hold CAP_SYS_ADMIN). -EINVAL means the kernel lacks
// WAIT_KILLABLE_RECV (5.19), which is required: without it a signal can make the
// supervisor run a call that the workload then re-issues. Only raw syscalls, no
// allocation: safe in a child forked from a multi-threaded process.
int InstallFilter(const Program& program);

// Checks, without installing anything, that this kernel has what InstallFilter
// needs; the error names the missing feature.
Result<void> CheckKernelSupport();

}  // namespace nvgate::supervisor
