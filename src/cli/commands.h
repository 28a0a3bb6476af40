// The nvgate subcommands. Each returns the process exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nvgate::cli {

struct AbiOptions {
  std::optional<std::string> driver;
  std::optional<std::string> caps;
  bool json = false;
  std::vector<std::string> diff;
  bool summary_markdown = false;
};
int RunAbi(const AbiOptions& options);

struct RunOptions {
  std::optional<std::string> caps;
  std::string allowed_caps = "all";
  std::string backend = "host";
  std::optional<std::string> log_denials;
  std::optional<std::string> abi_version;
  bool no_isolate = false;
  std::optional<std::string> sim_call_log;
  std::vector<std::string> command;
};
int RunRun(const RunOptions& options);

struct DoctorOptions {
  bool json = false;
};
// Exit status: kDoctorHostUsable, kDoctorOnlySimUsable or kDoctorNothingUsable (cli/doctor.h).
int RunDoctor(const DoctorOptions& options);

// Exit status for nvgate's own failures before the command starts.
inline constexpr int kExitSetupFailure = 125;
// Exit status for bad usage of `nvgate abi`.
inline constexpr int kExitUsage = 2;

}  // namespace nvgate::cli
