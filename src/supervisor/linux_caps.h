// The Linux capabilities a workload started by `nvgate run` keeps (issue #25).
//
// Root on the host holds every capability, and most of them reach the GPU,
// the kernel or other tenants without the driver: PCI BARs through sysfs,
// device nodes of its own (CAP_MKNOD), BPF, modules, raw port I/O, unmounting
// the sandbox's /proc. The workload keeps only kWorkloadDefault (podman's
// default container set, which is Docker's without CAP_MKNOD, CAP_NET_RAW and
// CAP_AUDIT_WRITE: see docs/security.md) plus what the operator names with
// --keep-caps; the launcher drops the rest from its bounding, permitted,
// effective, inheritable and ambient sets before exec (launch.cc).
//
//   auto kept = supervisor::ParseLinuxCaps("sys_nice,CAP_IPC_LOCK");  // a mask
//   for (int cap : MaskBits(*kept)) spdlog::warn("{}", LinuxCapReopens(cap));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error/error.h"

namespace nvgate::supervisor {

// Bit N stands for capability number N (linux/capability.h).
using LinuxCapMask = std::uint64_t;

// CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP,
// SETGID, SETPCAP, SETUID, SYS_CHROOT.
LinuxCapMask WorkloadDefaultCaps();

// "CAP_SYS_ADMIN", "sys_admin", "SYS_ADMIN", comma-separated; "" is none. An
// unknown name is an error naming it. CAP_SYS_PTRACE is refused: the sandbox's
// init and the supervisor run without the filter, and it would reach their
// memory.
Result<LinuxCapMask> ParseLinuxCaps(std::string_view list);

// "SYS_ADMIN" for CAP_SYS_ADMIN; "CAP_<n>" for a number the table lacks.
std::string LinuxCapName(int cap);

// What holding `cap` gives a root workload beyond the default set, in a few
// words ("" for the default set's own).
std::string_view LinuxCapReopens(int cap);

// The capability numbers in `mask`, lowest first.
std::vector<int> MaskBits(LinuxCapMask mask);

// "CHOWN,DAC_OVERRIDE,...", lowest number first.
std::string LinuxCapList(LinuxCapMask mask);

// The capabilities a container that asks for them reaches around the driver
// with (SYS_ADMIN, SYS_RAWIO, MKNOD, ...): what the OCI shim refuses unless
// the operator allows it.
LinuxCapMask AroundTheDriverCaps();

}  // namespace nvgate::supervisor
