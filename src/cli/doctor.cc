#include "cli/doctor.h"

#include <linux/capability.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/color.h>
#include <fmt/format.h>

#include "cli/driver_table.h"
#include "error/error.h"
#include "supervisor/linux_caps.h"

namespace nvgate::cli {
namespace {

std::optional<std::string> ReadSysctl(const char* path) {
  std::ifstream in(path);
  std::string value;
  if (!in || !std::getline(in, value)) return std::nullopt;
  return value;
}

// Our effective capability set, from /proc/self/status.
std::uint64_t EffectiveCapabilities() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return 0;
}

// What `nvgate run` would learn from a backend before starting the workload,
// through the calls it makes.
DriverFacts Examine(Result<std::unique_ptr<backend::Backend>> made) {
  DriverFacts facts;
  if (!made) {
    facts.unavailable = made.error().message;
    facts.error_kind = made.error().kind;
    return facts;
  }
  backend::Backend& backend = **made;
  facts.nodes = backend.Nodes();
  auto version = backend.DriverVersion();
  if (!version) {
    facts.version_error = version.error().message;
    facts.error_kind = version.error().kind;
    return facts;
  }
  facts.version = *version;
  auto chosen = ChooseTable(*version, std::nullopt);
  if (!chosen) {
    facts.table_error = chosen.error().message;
    facts.error_kind = chosen.error().kind;
    return facts;
  }
  facts.table = chosen->version;
  facts.table_branch = chosen->table->branch();
  return facts;
}

std::string ErrnoName(int e) {
  const char* name = strerrorname_np(e);
  return fmt::format("{} ({})", name ? name : "errno " + std::to_string(e), std::strerror(e));
}

std::string_view StatusLabel(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk: return "ok";
    case CheckStatus::kInfo: return "info";
    case CheckStatus::kWarn: return "warn";
    case CheckStatus::kFail: return "fail";
  }
  return "?";
}

fmt::terminal_color StatusColour(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk: return fmt::terminal_color::green;
    case CheckStatus::kInfo: return fmt::terminal_color::blue;
    case CheckStatus::kWarn: return fmt::terminal_color::yellow;
    case CheckStatus::kFail: return fmt::terminal_color::red;
  }
  return fmt::terminal_color::white;
}

std::string_view IsolationName(supervisor::IsolationMode mode) {
  switch (mode) {
    case supervisor::IsolationMode::kNamespaces: return "namespaces";
    case supervisor::IsolationMode::kUserNamespace: return "user-namespace";
    case supervisor::IsolationMode::kNone: return "none";
  }
  return "?";
}

nlohmann::json OptionalJson(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json FactsJson(const MachineFacts& facts) {
  const supervisor::KernelFeatures& k = facts.kernel;
  nlohmann::json nodes = nlohmann::json::array();
  for (const backend::DeviceNode& node : facts.host.nodes) {
    nodes.push_back({{"path", node.dev_path}, {"kind", abi::DeviceKindName(node.kind)}});
  }
  auto driver = [](const DriverFacts& d) {
    return nlohmann::json{
        {"available", d.unavailable.empty()},
        {"version", OptionalJson(d.version)},
        {"table", OptionalJson(d.table)},
        {"error", d.error_kind ? nlohmann::json(ErrorKindId(*d.error_kind)) : nlohmann::json(nullptr)}};
  };
  return {
      {"kernel_release", facts.kernel_release},
      {"seccomp",
       {{"user_notification", k.user_notification},
        {"wait_killable_recv", k.wait_killable_recv},
        {"listener_installed", k.wait_killable_recv && k.install_errno == 0},
        {"sync_wake_up", k.sync_wake_up}}},
      {"pidfd_thread", k.pidfd_thread},
      {"euid", facts.euid},
      {"cap_sys_admin", facts.cap_sys_admin},
      {"cap_sys_ptrace", facts.cap_sys_ptrace},
      {"isolation", IsolationName(facts.isolation.mode)},
      {"sysctl",
       {{"kernel.unprivileged_userns_clone", OptionalJson(facts.unprivileged_userns_clone)},
        {"user.max_user_namespaces", OptionalJson(facts.max_user_namespaces)},
        {"kernel.apparmor_restrict_unprivileged_userns",
         OptionalJson(facts.apparmor_restrict_unprivileged_userns)}}},
      {"yama_ptrace_scope",
       facts.yama_ptrace_scope ? nlohmann::json(*facts.yama_ptrace_scope) : nlohmann::json(nullptr)},
      {"host_driver", driver(facts.host)},
      {"sim_driver", driver(facts.sim)},
      {"device_nodes", nodes},
  };
}

void CheckKernel(const MachineFacts& facts, std::vector<Check>& checks) {
  const supervisor::KernelFeatures& k = facts.kernel;
  bool kernel_ready = k.user_notification && k.wait_killable_recv && k.install_errno == 0;
  // The release only hints (distributions backport); the probes below decide.
  int major = 0;
  int minor = 0;
  bool parsed = std::sscanf(facts.kernel_release.c_str(), "%d.%d", &major, &minor) == 2;
  bool new_enough = parsed && (major > 5 || (major == 5 && minor >= 19));
  const std::string upgrade = "use Linux 5.19 or newer (6.9+ for every optional feature)";
  if (!parsed) {
    checks.push_back({"kernel", CheckStatus::kWarn,
                      "Linux " + facts.kernel_release + ": release not understood", upgrade});
  } else if (new_enough) {
    checks.push_back({"kernel", CheckStatus::kOk, "Linux " + facts.kernel_release + " (5.19+ needed)", ""});
  } else {
    checks.push_back({"kernel", kernel_ready ? CheckStatus::kWarn : CheckStatus::kFail,
                      "Linux " + facts.kernel_release + " is older than 5.19", upgrade});
  }

  // Required features missing from a new-enough kernel are being withheld.
  const std::string seccomp_fix =
      new_enough ? "something forbids seccomp() here: a container's seccomp profile (docker run "
                   "--security-opt seccomp=unconfined), or nvgate itself when nested"
                 : upgrade;
  if (k.user_notification) {
    checks.push_back({"seccomp-user-notification", CheckStatus::kOk,
                      "seccomp user notification (required)", ""});
  } else {
    checks.push_back({"seccomp-user-notification", CheckStatus::kFail,
                      "seccomp user notification is unavailable (required; Linux 5.0+ with "
                      "CONFIG_SECCOMP_FILTER)",
                      seccomp_fix});
  }
  if (k.wait_killable_recv) {
    checks.push_back({"seccomp-wait-killable-recv", CheckStatus::kOk,
                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (required)", ""});
  } else {
    checks.push_back({"seccomp-wait-killable-recv", CheckStatus::kFail, k.required_error,
                      seccomp_fix});
  }
  if (!k.wait_killable_recv) {
    checks.push_back({"seccomp-listener", CheckStatus::kInfo,
                      "not tried: the required seccomp features are unavailable", ""});
  } else if (k.install_errno == 0) {
    checks.push_back({"seccomp-listener", CheckStatus::kOk,
                      "a child installed a filter with nvgate's flags and handed over its listener",
                      ""});
  } else {
    checks.push_back({"seccomp-listener", CheckStatus::kFail,
                      "a child could not install a filter with nvgate's flags or hand over its "
                      "listener: " + ErrnoName(k.install_errno),
                      seccomp_fix});
  }
  if (!kernel_ready) {
    checks.push_back({"seccomp-sync-wake-up", CheckStatus::kInfo,
                      "not tried: the required seccomp features are unavailable", ""});
  } else if (k.sync_wake_up) {
    checks.push_back({"seccomp-sync-wake-up", CheckStatus::kOk,
                      "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (optional: cheaper round trips)", ""});
  } else {
    checks.push_back({"seccomp-sync-wake-up", CheckStatus::kWarn,
                      "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP is unavailable (optional): each trapped "
                      "call costs two cross-CPU wake-ups",
                      "use Linux 6.6 or newer for cheaper trapped calls"});
  }
  if (k.pidfd_thread) {
    checks.push_back({"pidfd-thread", CheckStatus::kOk,
                      "PIDFD_THREAD (optional: each call's fds are looked up in the calling "
                      "thread's own file table)",
                      ""});
  } else {
    checks.push_back({"pidfd-thread", CheckStatus::kWarn,
                      "PIDFD_THREAD is unavailable (optional): a workload thread that unshared "
                      "its file table (CLONE_FILES) has its fds looked up in its leader's table",
                      "use Linux 6.9 or newer"});
  }
}

void CheckPrivileges(const MachineFacts& facts, std::vector<Check>& checks) {
  checks.push_back({"privileges", CheckStatus::kInfo,
                    fmt::format("euid {}, {} CAP_SYS_ADMIN, {} CAP_SYS_PTRACE", facts.euid,
                                facts.cap_sys_admin ? "with" : "without",
                                facts.cap_sys_ptrace ? "with" : "without"),
                    ""});

  std::vector<std::string> values;
  std::vector<std::string> fixes;
  if (facts.unprivileged_userns_clone) {
    values.push_back("kernel.unprivileged_userns_clone=" + *facts.unprivileged_userns_clone);
    if (*facts.unprivileged_userns_clone == "0") {
      fixes.push_back("sysctl -w kernel.unprivileged_userns_clone=1");
    }
  }
  if (facts.max_user_namespaces) {
    values.push_back("user.max_user_namespaces=" + *facts.max_user_namespaces);
    if (*facts.max_user_namespaces == "0") fixes.push_back("sysctl -w user.max_user_namespaces=15000");
  }
  if (facts.apparmor_restrict_unprivileged_userns) {
    values.push_back("kernel.apparmor_restrict_unprivileged_userns=" +
                     *facts.apparmor_restrict_unprivileged_userns);
    if (*facts.apparmor_restrict_unprivileged_userns == "1") {
      fixes.push_back("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor "
                      "profile that lets nvgate create user namespaces)");
    }
  }
  std::string settings = values.empty() ? "no user-namespace sysctls" : fmt::format("{}", fmt::join(values, ", "));
  if (facts.cap_sys_admin) {
    checks.push_back({"user-namespaces", CheckStatus::kInfo,
                      "not needed with CAP_SYS_ADMIN (" + settings + ")", ""});
  } else if (fixes.empty()) {
    checks.push_back({"user-namespaces", CheckStatus::kOk,
                      "unprivileged user namespaces are allowed (" + settings + ")", ""});
  } else {
    checks.push_back({"user-namespaces", CheckStatus::kWarn,
                      "unprivileged user namespaces are restricted (" + settings + ")",
                      fmt::format("run as root, or {}", fmt::join(fixes, "; "))});
  }

  const supervisor::Isolation& iso = facts.isolation;
  switch (iso.mode) {
    case supervisor::IsolationMode::kNamespaces:
      checks.push_back({"isolation", CheckStatus::kOk,
                        "the workload gets its own PID and mount namespaces and /dev", ""});
      break;
    case supervisor::IsolationMode::kUserNamespace:
      checks.push_back({"isolation", CheckStatus::kOk,
                        "the workload gets its own PID and mount namespaces and /dev, inside a "
                        "user namespace",
                        ""});
      break;
    case supervisor::IsolationMode::kNone:
      checks.push_back(
          {"isolation", CheckStatus::kWarn,
           fmt::format("cannot create PID and mount namespaces (directly: {}; in a user namespace: "
                       "{}): the workload would share /dev and the PID namespace, and --backend "
                       "sim cannot run",
                       ErrnoName(iso.namespaces_errno), ErrnoName(iso.user_namespace_errno)),
           "run as root, or allow unprivileged user namespaces (see user-namespaces)"});
      break;
  }

  const std::string kept = supervisor::LinuxCapList(supervisor::WorkloadDefaultCaps());
  if (facts.euid == 0) {
    checks.push_back(
        {"workload-capabilities", CheckStatus::kInfo,
         fmt::format("a workload run as root keeps only the capabilities {} (nvgate run --keep-caps, or keep-caps "
                     "in [run], adds more, with a warning){}",
                     kept,
                     iso.mode == supervisor::IsolationMode::kNamespaces
                         ? "; /sys, /proc/sys and /proc/sysrq-trigger are read-only and PCI devices' resource "
                           "and rom files, /proc/kcore and /sys/firmware are masked"
                         : ""),
         ""});
  } else {
    checks.push_back({"workload-capabilities", CheckStatus::kInfo,
                      fmt::format("the workload holds no capability on the host (at most {} in a user namespace "
                                  "of its own)",
                                  kept),
                      ""});
  }
}

// Yama's check applies to the supervisor's process_vm_readv and pidfd_getfd on
// the workload.
void CheckYama(const MachineFacts& facts, std::vector<Check>& checks) {
  if (!facts.yama_ptrace_scope) {
    checks.push_back({"yama-ptrace-scope", CheckStatus::kOk,
                      "Yama is off: the supervisor may read its workload's memory", ""});
    return;
  }
  int scope = *facts.yama_ptrace_scope;
  std::string lower = "sysctl -w kernel.yama.ptrace_scope=1";
  switch (scope) {
    case 0:
      checks.push_back({"yama-ptrace-scope", CheckStatus::kOk, "0 (classic)", ""});
      return;
    case 1:
      checks.push_back({"yama-ptrace-scope", CheckStatus::kOk,
                        "1 (restricted): the workload is the supervisor's descendant, which it "
                        "may read",
                        ""});
      return;
    case 2:
      if (facts.cap_sys_ptrace) {
        checks.push_back({"yama-ptrace-scope", CheckStatus::kOk,
                          "2 (admin-only): allowed with CAP_SYS_PTRACE, which the supervisor keeps",
                          ""});
        return;
      }
      checks.push_back({"yama-ptrace-scope", CheckStatus::kFail,
                        "2 (admin-only): without CAP_SYS_PTRACE the supervisor cannot read the "
                        "workload's memory",
                        "run as root, or " + lower});
      return;
    case 3:
      checks.push_back({"yama-ptrace-scope", CheckStatus::kFail,
                        "3 (no attach): the supervisor cannot read the workload's memory",
                        "set kernel.yama.ptrace_scope=1 in /etc/sysctl.d and reboot (3 cannot be "
                        "lowered while running)"});
      return;
    default:
      checks.push_back({"yama-ptrace-scope", CheckStatus::kWarn,
                        fmt::format("{} (unknown to nvgate)", scope), lower});
      return;
  }
}

void CheckHostDriver(const MachineFacts& facts, std::vector<Check>& checks) {
  const DriverFacts& host = facts.host;
  const std::vector<std::string> versions = abi::SupportedVersions();
  const std::string supported = fmt::format("nvgate has tables for {} versions, {} to {}", versions.size(),
                                            versions.front(), versions.back());
  if (!host.unavailable.empty()) {
    checks.push_back({"nvidia-driver", CheckStatus::kFail, host.unavailable,
                      "install and load a supported NVIDIA driver (" + supported +
                          "); without a GPU use nvgate run --backend sim"});
    checks.push_back({"abi-table", CheckStatus::kInfo, "not checked: no driver; " + supported, ""});
    checks.push_back({"device-nodes", CheckStatus::kFail,
                      "no NVIDIA device nodes (the host backend needs /dev/nvidiactl)",
                      "load the driver and create its nodes: nvidia-modprobe -c=0 -u"});
    return;
  }
  if (!host.version) {
    checks.push_back({"nvidia-driver", CheckStatus::kFail, host.version_error,
                      "check that the driver is loaded: nvidia-smi, /proc/driver/nvidia/version"});
    checks.push_back({"abi-table", CheckStatus::kInfo, "not checked: no driver version; " + supported, ""});
  } else {
    checks.push_back({"nvidia-driver", CheckStatus::kOk, "NVIDIA driver " + *host.version, ""});
    if (host.table) {
      checks.push_back({"abi-table", CheckStatus::kOk,
                        fmt::format("table r{} has driver {}", host.table_branch, *host.table), ""});
    } else {
      checks.push_back({"abi-table", CheckStatus::kFail, host.table_error,
                        "install a driver nvgate has a table for, or run with --abi-version "
                        "VERSION at your own risk"});
    }
  }

  std::vector<std::string> names;
  bool has_gpu = false;
  bool has_uvm = false;
  for (const backend::DeviceNode& node : host.nodes) {
    names.push_back(node.dev_path);
    has_gpu |= node.kind == abi::DeviceKind::kGpu;
    has_uvm |= node.kind == abi::DeviceKind::kUvm;
  }
  std::string present = fmt::format("{}", fmt::join(names, " "));
  if (!has_gpu) {
    checks.push_back({"device-nodes", CheckStatus::kWarn, present + ": no GPU node (/dev/nvidiaN)",
                      "create the GPU nodes: nvidia-modprobe -c=0"});
  } else if (!has_uvm) {
    checks.push_back({"device-nodes", CheckStatus::kWarn,
                      present + ": no /dev/nvidia-uvm, which compute (CUDA) needs",
                      "load nvidia-uvm and create its node: nvidia-modprobe -u -c=0"});
  } else {
    checks.push_back({"device-nodes", CheckStatus::kOk, present, ""});
  }
}

void CheckSim(const MachineFacts& facts, std::vector<Check>& checks) {
  const DriverFacts& sim = facts.sim;
  std::string problem = !sim.unavailable.empty() ? sim.unavailable
                        : !sim.version          ? sim.version_error
                                                : sim.table_error;
  if (problem.empty()) {
    checks.push_back({"sim-driver", CheckStatus::kOk,
                      fmt::format("simulated driver {} (table r{})", *sim.version, sim.table_branch),
                      ""});
  } else {
    checks.push_back({"sim-driver", CheckStatus::kFail, problem,
                      "the simulated driver keeps its device files in /tmp: check that it is writable"});
  }
}

// The message of the first failed check among `ids`, or "".
std::string FirstFailure(const std::vector<Check>& checks, std::initializer_list<std::string_view> ids) {
  for (std::string_view id : ids) {
    for (const Check& check : checks) {
      if (check.id == id && check.status == CheckStatus::kFail) return check.id + ": " + check.message;
    }
  }
  return "";
}

}  // namespace

MachineFacts GatherMachineFacts() {
  MachineFacts facts;
  utsname uts{};
  if (uname(&uts) == 0) facts.kernel_release = uts.release;
  facts.kernel = supervisor::ProbeKernel();
  facts.euid = geteuid();
  std::uint64_t caps = EffectiveCapabilities();
  facts.cap_sys_admin = caps & (std::uint64_t{1} << CAP_SYS_ADMIN);
  facts.cap_sys_ptrace = caps & (std::uint64_t{1} << CAP_SYS_PTRACE);
  facts.isolation = supervisor::ProbeIsolation();
  facts.unprivileged_userns_clone = ReadSysctl("/proc/sys/kernel/unprivileged_userns_clone");
  facts.max_user_namespaces = ReadSysctl("/proc/sys/user/max_user_namespaces");
  facts.apparmor_restrict_unprivileged_userns =
      ReadSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (auto scope = ReadSysctl("/proc/sys/kernel/yama/ptrace_scope")) {
    try {
      facts.yama_ptrace_scope = std::stoi(*scope);
    } catch (const std::exception&) {
      facts.yama_ptrace_scope = -1;  // reported as unknown
    }
  }
  facts.host = Examine(backend::MakeHostBackend());
  facts.sim = Examine(backend::MakeSimBackend({}));
  return facts;
}

DoctorReport Judge(const MachineFacts& facts) {
  DoctorReport report;
  CheckKernel(facts, report.checks);
  CheckPrivileges(facts, report.checks);
  CheckYama(facts, report.checks);
  CheckHostDriver(facts, report.checks);
  CheckSim(facts, report.checks);

  // Everything both backends need, then each one's own.
  const std::initializer_list<std::string_view> common = {
      "seccomp-user-notification", "seccomp-wait-killable-recv", "seccomp-listener",
      "yama-ptrace-scope"};
  std::string common_failure = FirstFailure(report.checks, common);
  std::string host_failure = !common_failure.empty()
                                 ? common_failure
                                 : FirstFailure(report.checks, {"nvidia-driver", "abi-table"});
  std::string sim_failure = !common_failure.empty() ? common_failure
                                                    : FirstFailure(report.checks, {"sim-driver"});
  if (sim_failure.empty() && facts.isolation.mode == supervisor::IsolationMode::kNone) {
    sim_failure =
        "isolation: --backend sim serves its device nodes in the workload's private /dev, which "
        "needs PID and mount namespaces";
  }
  report.host = {host_failure.empty(), host_failure};
  report.sim = {sim_failure.empty(), sim_failure};
  report.exit_status = report.host.usable  ? kDoctorHostUsable
                       : report.sim.usable ? kDoctorOnlySimUsable
                                           : kDoctorNothingUsable;
  report.facts = FactsJson(facts);
  return report;
}

std::string DoctorText(const DoctorReport& report, bool colour) {
  std::string out;
  for (const Check& check : report.checks) {
    // Padded before colouring: the escape sequences must not count as width.
    std::string label = fmt::format("{:<5}", StatusLabel(check.status));
    if (colour) label = fmt::format(fmt::fg(StatusColour(check.status)), "{}", label);
    out += fmt::format("{} {:<27} {}", label, check.id, check.message);
    if (!check.fix.empty()) out += " -- fix: " + check.fix;
    out += '\n';
  }
  auto verdict = [](const BackendVerdict& v) { return v.usable ? std::string("usable") : "not usable: " + v.reason; };
  out += "\nhost backend: " + verdict(report.host) + "\n";
  out += "sim backend:  " + verdict(report.sim) + "\n";
  switch (report.exit_status) {
    case kDoctorHostUsable:
      out += "verdict: nvgate can run workloads on this machine's NVIDIA driver (exit 0)\n";
      break;
    case kDoctorOnlySimUsable:
      out += "verdict: only the simulated driver is usable here: nvgate run --backend sim (exit 1)\n";
      break;
    default:
      out += "verdict: nvgate cannot run here; fix the failed checks above (exit 2)\n";
      break;
  }
  return out;
}

nlohmann::json DoctorJson(const DoctorReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  for (const Check& check : report.checks) {
    checks.push_back({{"id", check.id},
                      {"status", StatusLabel(check.status)},
                      {"message", check.message},
                      {"fix", check.fix.empty() ? nlohmann::json(nullptr) : nlohmann::json(check.fix)}});
  }
  auto verdict = [](const BackendVerdict& v) {
    return nlohmann::json{{"usable", v.usable},
                          {"reason", v.usable ? nlohmann::json(nullptr) : nlohmann::json(v.reason)}};
  };
  return {
      {"schema", "nvgate.doctor/1"},
      {"nvgate_version", NVGATE_VERSION},
      {"exit_status", report.exit_status},
      {"backends", {{"host", verdict(report.host)}, {"sim", verdict(report.sim)}}},
      {"checks", checks},
      {"facts", report.facts},
  };
}

}  // namespace nvgate::cli
