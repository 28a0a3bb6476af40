// The nvgate subcommands: their options, the functions that run them (each
// returns the process exit status), and what adds each to the parser.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace nvgate::cli {

struct AbiOptions {
  std::optional<std::string> driver;
  std::optional<std::string> caps;
  bool json = false;
  std::vector<std::string> diff;
  bool summary_markdown = false;
  std::vector<std::string> diff_versions;  // two driver versions
  std::optional<std::string> abi_version;  // as run's --abi-version
};
int RunAbi(const AbiOptions& options);

struct RunOptions {
  std::optional<std::string> caps;
  std::string allowed_caps = "all";
  // The GPUs the workload gets (caps/gpus.h): --gpus, else the command's
  // NVIDIA_VISIBLE_DEVICES, else every GPU; always within allowed_gpus.
  std::optional<std::string> gpus;
  std::string allowed_gpus = "all";
  std::string backend = "host";
  std::optional<std::string> log_denials;
  std::string log_format = "text";  // or "json"
  std::optional<std::string> abi_version;
  bool no_isolate = false;
  // Linux capabilities a root workload keeps beyond the default set
  // (supervisor/linux_caps.h), comma-separated.
  std::string keep_caps;
  std::optional<std::string> sim_call_log;
  std::optional<int> sim_gpus;
  std::optional<std::string> sim_driver;  // the version the sim is; its default when unset
  // With backend "replay": the trace (recorded with --with-params) that answers the calls.
  std::optional<std::string> replay_trace;
  // Execute everything within --allowed-caps; only log what --caps would refuse.
  bool audit = false;
  std::vector<std::string> command;
};
int RunRun(const RunOptions& options);

struct TraceOptions {
  RunOptions run;
  std::string output;
  bool with_params = false;
  // Record, and let the kernel run every call (protects nothing).
  bool observe_only = false;
  // Whether --allowed-caps was given, on the command line or in the config
  // file: an operator bound, under which --observe-only is refused.
  bool bound_configured = false;
};
int RunTrace(const TraceOptions& options);

struct LearnOptions {
  RunOptions run;  // its caps are the bound: learn executes everything within it
  bool json = false;
  std::optional<std::string> output;
  // A trace file, or the command to run.
  std::vector<std::string> args;
};
int RunLearn(const LearnOptions& options);

struct ReplayOptions {
  std::string trace;
  std::optional<std::string> caps;
  std::optional<std::string> driver;
  bool json = false;
};
int RunReplay(const ReplayOptions& options);

struct SummaryOptions {
  std::string trace;
  bool json = false;
};
int RunSummary(const SummaryOptions& options);

struct DoctorOptions {
  bool json = false;
  // The configuration file doctor was given, and what is wrong with it
  // ("FILE:LINE: what"), reported as a check: doctor runs on its defaults.
  std::optional<std::string> config_problem;
};
// Exit status: kDoctorHostUsable, kDoctorOnlySimUsable or kDoctorNothingUsable (cli/doctor.h).
int RunDoctor(const DoctorOptions& options);

struct OciProfileOptions {
  std::optional<std::string> base;  // a seccomp profile, or a config.json whose linux.seccomp is used
  std::string listener = "/run/nvgate/agent.sock";
  std::optional<std::string> caps_metadata;
  std::optional<std::string> driver;
  std::optional<std::string> output;
};
int RunOciProfile(const OciProfileOptions& options);

struct OciRuntimeOptions {
  std::string runtime = "runc";  // a path, or a name looked up in PATH
  std::string allowed_caps = "all";
  std::string allowed_gpus = "all";
  std::optional<int> sim_gpus;    // resolve GPU names on the sim's GPUs, not the host driver's
  std::string socket = "/run/nvgate/agent.sock";
  std::optional<std::string> base;  // for bundles without linux.seccomp
  std::optional<std::string> driver;
  // Create containers asking for --privileged-like settings (agent::ShimOptions).
  bool allow_privileged = false;
  std::vector<std::string> args;    // the runtime's arguments, passed on unchanged
  std::string program = "nvgate oci runtime";  // or "nvgate-runtime": how errors start
};
// Execs the runtime; returns only on error (kExitSetupFailure, or 127 when
// the runtime cannot be executed).
int RunOciRuntime(const OciRuntimeOptions& options);

struct AgentOptions {
  std::string socket = "/run/nvgate/agent.sock";
  std::string allowed_caps = "all";
  std::string allowed_gpus = "all";
  std::optional<int> sim_gpus;
  std::string backend = "host";
  std::optional<std::string> sim_node_dir;
  std::optional<std::string> sim_call_log;
  std::optional<std::string> abi_version;
  std::optional<std::string> metrics;  // HOST:PORT or unix:PATH
};
int RunAgent(const AgentOptions& options);

// `nvgate agent-container CONFIG`, hidden: one container's supervisor process,
// started by the agent with the container's listener on fd 3 and its report
// socket on fd 4 (agent/container_supervisor.h).
int RunAgentContainer(const std::string& config);

struct AgentStatusOptions {
  std::string socket = "/run/nvgate/agent.sock";
};
int RunAgentStatus(const AgentStatusOptions& options);

// Exit status for nvgate's own failures before the command starts, and for a
// replay (--backend replay) whose workload diverged from the trace.
inline constexpr int kExitSetupFailure = 125;
// Exit status for bad usage (an option or the configuration file) of every
// command but those that start a workload (kExitSetupFailure) and doctor.
inline constexpr int kExitUsage = 2;
// doctor's, whose 1 and 2 are verdicts on the host.
inline constexpr int kExitDoctorUsage = 3;

// The name under which nvgate is the OCI runtime (argv[0]): every argument is
// the runtime's, for `nvgate oci runtime`.
inline constexpr const char* kRuntimeName = "nvgate-runtime";

// What the front end knows of an invocation beyond its command's options.
struct Invocation {
  bool as_runtime = false;  // called as kRuntimeName
  // The configuration file that could not be read ("FILE:LINE: what"), for
  // doctor, which runs on its defaults and reports it as a check.
  std::optional<std::string> config_problem;
};

// A command the parser knows: its subcommand, and what runs it when that is
// the innermost subcommand parsed.
struct Command {
  CLI::App* subcommand;
  std::function<int(const Invocation&)> run;
};

// Each adds its subcommands to `app` (options, footer, nested subcommands) and
// records their handlers in `commands`, which keep the options the parser
// fills alive. main adds them in the order --help lists them.
void AddAbiCommand(CLI::App& app, std::vector<Command>& commands);
void AddRunCommand(CLI::App& app, std::vector<Command>& commands);
void AddDoctorCommand(CLI::App& app, std::vector<Command>& commands);
// trace, learn, replay and summary.
void AddTraceCommands(CLI::App& app, std::vector<Command>& commands);
// oci profile and oci runtime.
void AddOciCommands(CLI::App& app, std::vector<Command>& commands);
// agent, agent status and the hidden agent-container.
void AddAgentCommands(CLI::App& app, std::vector<Command>& commands);
// config show, which reads every command of `app` when it runs.
void AddConfigCommand(CLI::App& app, std::vector<Command>& commands);

}  // namespace nvgate::cli
