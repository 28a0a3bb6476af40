// `nvgate doctor`: what this machine offers nvgate, each finding with its fix,
// and which backend `nvgate run` can use here.
//
//   MachineFacts facts = GatherMachineFacts();   // probes (forks throwaway children)
//   DoctorReport report = Judge(facts);           // pure: tests feed it made-up facts
//   std::printf("%s", DoctorText(report).c_str());
//   return report.exit_status;
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "error/error.h"
#include "supervisor/probe.h"

namespace nvgate::cli {

// What `nvgate run` would find on one backend before it starts the workload.
struct DriverFacts {
  std::string unavailable;             // why the backend could not be made; empty when it was
  std::optional<std::string> version;  // the driver version it runs
  std::string version_error;           // why the version could not be read
  std::optional<std::string> table;    // the version whose ABI table `nvgate run` would use
  std::string table_branch;            // that table's branch ("580")
  std::string table_error;             // why no table fits (lists the supported versions)
  std::vector<backend::DeviceNode> nodes;
  std::optional<ErrorKind> error_kind;  // the kind of the error above, when there is one
};

struct MachineFacts {
  std::string kernel_release;
  supervisor::KernelFeatures kernel;
  unsigned euid = 0;
  bool cap_sys_admin = false;
  bool cap_sys_ptrace = false;
  supervisor::Isolation isolation;
  // Sysctl values as read; nullopt where this kernel has no such file.
  std::optional<std::string> unprivileged_userns_clone;             // Debian's switch
  std::optional<std::string> max_user_namespaces;                   // user.max_user_namespaces
  std::optional<std::string> apparmor_restrict_unprivileged_userns; // Ubuntu 23.10+
  std::optional<int> yama_ptrace_scope;                             // nullopt: Yama is off
  DriverFacts host;
  DriverFacts sim;
};

MachineFacts GatherMachineFacts();

enum class CheckStatus { kOk, kInfo, kWarn, kFail };

struct Check {
  std::string id;       // stable, for scripts: "seccomp-wait-killable-recv"
  CheckStatus status;
  std::string message;  // what was found
  std::string fix;      // what to do about it; empty when nothing needs doing
};

struct BackendVerdict {
  bool usable = false;
  std::string reason;  // why not, when not
};

// Exit statuses of `nvgate doctor`.
inline constexpr int kDoctorHostUsable = 0;
inline constexpr int kDoctorOnlySimUsable = 1;
inline constexpr int kDoctorNothingUsable = 2;

struct DoctorReport {
  std::vector<Check> checks;
  BackendVerdict host;
  BackendVerdict sim;
  int exit_status = kDoctorNothingUsable;
  nlohmann::json facts;  // the machine facts, as in --json
};

DoctorReport Judge(const MachineFacts& facts);

// One line per check, then the verdict. With `colour`, each check's status is
// coloured (ok green, warn yellow, fail red) for a terminal.
std::string DoctorText(const DoctorReport& report, bool colour = false);

// Stable JSON, schema "nvgate.doctor/1" (docs/install.md).
nlohmann::json DoctorJson(const DoctorReport& report);

}  // namespace nvgate::cli
