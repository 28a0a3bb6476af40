#include "supervisor/linux_caps.h"

#include <linux/capability.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "error/error.h"

namespace nvgate::supervisor {
namespace {

struct LinuxCap {
  int number;
  std::string_view name;
  // What a root workload reaches with it; empty for the default set's own.
  std::string_view reopens;
};

// Every capability of linux/capability.h, with what it gives a root workload
// that nvgate's sandbox otherwise withholds.
constexpr LinuxCap kLinuxCaps[] = {
    {CAP_CHOWN, "CHOWN", ""},
    {CAP_DAC_OVERRIDE, "DAC_OVERRIDE", ""},
    {CAP_DAC_READ_SEARCH, "DAC_READ_SEARCH", "open_by_handle_at: any file of a mounted file system, past the mount namespace"},
    {CAP_FOWNER, "FOWNER", ""},
    {CAP_FSETID, "FSETID", ""},
    {CAP_KILL, "KILL", ""},
    {CAP_SETGID, "SETGID", ""},
    {CAP_SETUID, "SETUID", ""},
    {CAP_SETPCAP, "SETPCAP", ""},
    {CAP_LINUX_IMMUTABLE, "LINUX_IMMUTABLE", "immutable and append-only flags of the host's files"},
    {CAP_NET_BIND_SERVICE, "NET_BIND_SERVICE", ""},
    {CAP_NET_BROADCAST, "NET_BROADCAST", "broadcast and multicast on the host's network"},
    {CAP_NET_ADMIN, "NET_ADMIN", "the host's network configuration (the workload shares its network namespace)"},
    {CAP_NET_RAW, "NET_RAW", "raw and packet sockets on the host's interfaces (the workload shares its network)"},
    {CAP_IPC_LOCK, "IPC_LOCK", "locking memory past RLIMIT_MEMLOCK"},
    {CAP_IPC_OWNER, "IPC_OWNER", "System V IPC objects of every user on the host"},
    {CAP_SYS_MODULE, "SYS_MODULE", "kernel module loading: code in the kernel, around the driver"},
    {CAP_SYS_RAWIO, "SYS_RAWIO", "raw port I/O (iopl, ioperm), /dev/mem, /proc/kcore and PCI BARs: the GPU and the kernel without the driver"},
    {CAP_SYS_CHROOT, "SYS_CHROOT", ""},
    {CAP_SYS_PTRACE, "SYS_PTRACE", "the memory of the sandbox's init and of the supervisor, which run without the filter"},
    {CAP_SYS_PACCT, "SYS_PACCT", "process accounting to any file"},
    {CAP_SYS_ADMIN, "SYS_ADMIN", "mount and unmount (the host's /proc under the sandbox's: other tenants' workloads), devtmpfs and its device nodes, BPF, perf, namespaces"},
    {CAP_SYS_BOOT, "SYS_BOOT", "reboot and kexec of the host"},
    {CAP_SYS_NICE, "SYS_NICE", "real-time scheduling and other processes' priorities: starving the supervisor"},
    {CAP_SYS_RESOURCE, "SYS_RESOURCE", "raising its resource limits past the host's"},
    {CAP_SYS_TIME, "SYS_TIME", "the host's clock"},
    {CAP_SYS_TTY_CONFIG, "SYS_TTY_CONFIG", "vhangup and the host's terminals"},
    {CAP_MKNOD, "MKNOD", "device nodes of its own (any GPU, disk or /dev/userfaultfd), as there is no devices cgroup"},
    {CAP_LEASE, "LEASE", "leases on files it does not own"},
    {CAP_AUDIT_WRITE, "AUDIT_WRITE", "records in the host's audit log"},
    {CAP_AUDIT_CONTROL, "AUDIT_CONTROL", "the host's audit rules"},
    {CAP_SETFCAP, "SETFCAP", ""},
    {CAP_MAC_OVERRIDE, "MAC_OVERRIDE", "overriding the host's LSM policy"},
    {CAP_MAC_ADMIN, "MAC_ADMIN", "the host's LSM policy"},
    {CAP_SYSLOG, "SYSLOG", "the kernel log and kernel addresses"},
    {CAP_WAKE_ALARM, "WAKE_ALARM", "alarms that wake the host"},
    {CAP_BLOCK_SUSPEND, "BLOCK_SUSPEND", "keeping the host from suspending"},
    {CAP_AUDIT_READ, "AUDIT_READ", "the host's audit log"},
    {CAP_PERFMON, "PERFMON", "perf events on every CPU and the kernel"},
    {CAP_BPF, "BPF", "privileged BPF programs and maps"},
    {CAP_CHECKPOINT_RESTORE, "CHECKPOINT_RESTORE", "choosing pids and reading other processes' map files"},
};

LinuxCapMask Bit(int cap) { return LinuxCapMask{1} << cap; }

}  // namespace

LinuxCapMask WorkloadDefaultCaps() {
  LinuxCapMask mask = 0;
  for (const LinuxCap& cap : kLinuxCaps) {
    if (cap.reopens.empty()) mask |= Bit(cap.number);
  }
  return mask;
}

LinuxCapMask AroundTheDriverCaps() {
  return Bit(CAP_SYS_ADMIN) | Bit(CAP_SYS_RAWIO) | Bit(CAP_SYS_MODULE) | Bit(CAP_BPF) | Bit(CAP_PERFMON) |
         Bit(CAP_DAC_READ_SEARCH);
}

Result<LinuxCapMask> ParseLinuxCaps(std::string_view list) {
  LinuxCapMask mask = 0;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string name(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    if (name.rfind("CAP_", 0) == 0) name.erase(0, 4);
    if (name.empty()) continue;
    auto found = std::find_if(std::begin(kLinuxCaps), std::end(kLinuxCaps),
                              [&](const LinuxCap& cap) { return cap.name == name; });
    if (found == std::end(kLinuxCaps)) {
      return tl::unexpected(
          Error::Usage(fmt::format("'{}' is not a Linux capability (e.g. SYS_NICE or CAP_IPC_LOCK)", name)));
    }
    if (found->number == CAP_SYS_PTRACE) {
      return tl::unexpected(Error::Refused(std::string("SYS_PTRACE cannot be kept: ") + std::string(found->reopens)));
    }
    mask |= Bit(found->number);
  }
  return mask;
}

std::string LinuxCapName(int cap) {
  for (const LinuxCap& c : kLinuxCaps) {
    if (c.number == cap) return std::string(c.name);
  }
  return fmt::format("CAP_{}", cap);
}

std::string_view LinuxCapReopens(int cap) {
  for (const LinuxCap& c : kLinuxCaps) {
    if (c.number == cap) return c.reopens;
  }
  return "a capability this nvgate does not know";
}

std::vector<int> MaskBits(LinuxCapMask mask) {
  std::vector<int> out;
  for (int cap = 0; cap < 64; ++cap) {
    if (mask & Bit(cap)) out.push_back(cap);
  }
  return out;
}

std::string LinuxCapList(LinuxCapMask mask) {
  std::string out;
  for (int cap : MaskBits(mask)) out += (out.empty() ? "" : ",") + LinuxCapName(cap);
  return out.empty() ? "none" : out;
}

}  // namespace nvgate::supervisor
