// nvgate: run untrusted GPU workloads against the host's NVIDIA driver with
// only the driver commands of their granted capabilities reachable.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/failure.h"
#include "error/error.h"

namespace {

// The options of every command that runs a workload (run, trace, learn).
void AddRunOptions(CLI::App* cmd, nvgate::cli::RunOptions& run, bool with_caps) {
  if (with_caps) {
    cmd->add_option("--caps", run.caps,
                    "Capabilities to grant (default: the command's NVIDIA_DRIVER_CAPABILITIES, "
                    "else compute,utility)");
  }
  cmd->add_option("--allowed-caps", run.allowed_caps,
                  with_caps ? "The operator's bound: a requested capability outside it is an error"
                            : "The operator's bound: every call within it is executed")
      ->default_str("all");
  if (with_caps) {
    cmd->add_option("--gpus", run.gpus,
                    "GPUs to give the workload, as NVIDIA_VISIBLE_DEVICES reads: all, none (no GPU node, "
                    "nvidiactl stays), void (no NVIDIA node), or indices, GPU-... UUIDs and PCI bus ids, "
                    "comma-separated (default: the command's NVIDIA_VISIBLE_DEVICES, else all)")
        ->type_name("LIST");
  }
  cmd->add_option("--allowed-gpus", run.allowed_gpus,
                  "The operator's bound on GPUs, as --gpus reads: a selection outside it is an error")
      ->type_name("LIST")
      ->default_str("all");
  cmd->add_option("--backend", run.backend,
                  "host: the real driver; sim: the simulated 580 driver (no GPU needed); replay: "
                  "the answers of a trace recorded with --with-params (needs --replay-trace)")
      ->check(CLI::IsMember({"host", "sim", "replay"}))
      ->default_str("host");
  cmd->add_option("--replay-trace", run.replay_trace,
                  "With --backend replay: answer each call from the next recorded driver call of FILE; "
                  "a call that does not match it fails, and nvgate exits 125")
      ->type_name("FILE");
  cmd->add_option("--log-denials", run.log_denials,
                  "Also append a line for every denied call to FILE (stderr gets the first denial of each "
                  "call, and a count of the rest at exit); 'all': every denied call on stderr");
  cmd->add_option("--log-format", run.log_format,
                  "Denial lines on stderr and in --log-denials: text, or json (one object per line: "
                  "event, pid, level, key, message)")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  cmd->add_option("--abi-version", run.abi_version,
                  "Use this supported version's table, or this branch's newest, for the "
                  "driver's branch (warns)");
  cmd->add_option("--sim-call-log", run.sim_call_log,
                  "With --backend sim: append one line per call handed to the simulated driver "
                  "(executed or refused by it) to FILE (what the escape suite checks)");
  cmd->add_option("--sim-gpus", run.sim_gpus,
                  "With --backend sim: how many GPUs the simulated driver offers (1 to 8, default 1): "
                  "/dev/nvidia0 ... in the workload's /dev")
      ->check(CLI::Range(1, 8));
  cmd->add_option("--sim-driver", run.sim_driver,
                  "With --backend sim: the supported driver version the sim is (its ABI table, "
                  "struct sizes and /proc files)")
      ->type_name("VERSION")
      ->default_str("580.159.04");
  cmd->add_flag("--no-isolate", run.no_isolate,
                "Do not give the workload its own PID and mount namespaces and /dev");
  cmd->add_option("--keep-caps", run.keep_caps,
                  "Linux capabilities a root workload keeps beyond CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
                  "NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT (e.g. SYS_NICE,IPC_LOCK; "
                  "warns with what each re-opens; SYS_PTRACE never)")
      ->type_name("LIST");
}

void AddCommand(CLI::App* cmd, nvgate::cli::RunOptions& run) {
  cmd->add_option("command", run.command, "The command and its arguments")->required()->expected(-1);
}

// containerd (runc options BinaryName), CRI-O and Docker call a runtime with
// runc's arguments and no others. Under the name nvgate-runtime every argument
// goes to `nvgate oci runtime`, which reads its options from the config file
// (NVGATE_CONFIG, else /etc/nvgate/nvgate.toml).
constexpr const char* kRuntimeName = "nvgate-runtime";

std::vector<std::string> Arguments(int argc, char** argv, bool as_runtime) {
  std::vector<std::string> args(argv, argv + argc);
  if (!as_runtime) return args;
  std::vector<std::string> shim = {args.front()};
  if (const char* config = std::getenv("NVGATE_CONFIG"); config != nullptr && *config != '\0') {
    shim.insert(shim.end(), {"--config", config});
  }
  shim.insert(shim.end(), {"oci", "runtime", "--"});
  shim.insert(shim.end(), args.begin() + 1, args.end());
  return shim;
}

// The innermost command the parser reached ("run", "oci runtime"), or "".
std::string CommandPath(const CLI::App& app) {
  std::string path;
  const CLI::App* at = &app;
  for (;;) {
    std::vector<const CLI::App*> parsed = at->get_subcommands([](const CLI::App* sub) { return sub->parsed(); });
    if (parsed.empty()) return path;
    at = parsed.front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
}

// A usage error: one line naming the problem and the documented exit status
// (docs/man/nvgate.1, EXIT STATUS), never the option parser's own numbers, so
// that a script or a container engine can tell it from the workload's status.
// --help and --version are not errors and print as the parser does.
int UsageError(const CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  const std::string command = CommandPath(app);
  std::string problem = e.what();
  // The parser asks for a command before it looks at what it did not expect.
  if (command.empty() && args.size() > 1 && args[1].size() > 1 && args[1][0] == '-') {
    problem = "unknown option " + args[1];
  } else if (command.empty()) {
    problem = "a command is required: abi, run, doctor, trace, learn, replay, summary, oci, agent or config";
  } else if (problem == "command is required") {
    problem = "no command to run: nvgate " + command + " [OPTIONS] -- COMMAND [ARGS...]";
  }
  const std::string program = command.empty() ? "nvgate" : "nvgate " + command;
  return nvgate::cli::Fail(program, nvgate::cli::RoleOf(command),
                           nvgate::Error::Usage(problem + " (see '" + program + " --help')"));
}

// A configuration file that --help, --version or doctor runs without.
struct UnreadConfigFile {
  std::string problem;  // "FILE:LINE: what"
  bool for_doctor;      // doctor reports it as a check; the others on stderr
};

// Where --help, --version or doctor is asked for with a configuration file that
// cannot be read: what is wrong with it, after taking the file out of `args` so
// that the parse runs on the defaults; nullopt otherwise.
std::optional<UnreadConfigFile> UnreadConfig(std::vector<std::string>& args, const CLI::App& app) {
  bool help = false;
  bool doctor = false;
  std::string file = "/etc/nvgate/nvgate.toml";
  std::size_t config_at = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "--version") help = true;
    if (a == "--config" && i + 1 < args.size()) {
      config_at = i;
      file = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_at = i;
      file = a.substr(9);
    } else if (a == "--log-level") {
      ++i;
    } else if (a == "doctor" && !doctor) {
      doctor = true;
    }
  }
  if (!help && !doctor) return std::nullopt;
  std::ifstream in(file);
  if (!in) {
    if (config_at == 0) return std::nullopt;  // no site file: nothing to read
    return UnreadConfigFile{file + ": cannot be read", doctor && !help};
  }
  try {
    nvgate::cli::ConfigFile(app).from_config(in);
  } catch (const CLI::ConfigError& e) {
    if (config_at != 0) {
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(config_at),
                 args.begin() + static_cast<std::ptrdiff_t>(config_at) + (args[config_at] == "--config" ? 2 : 1));
    }
    return UnreadConfigFile{file + ":" + e.what(), doctor && !help};
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  const bool as_runtime = argc > 0 && std::filesystem::path(argv[0]).filename() == kRuntimeName;
  std::vector<std::string> args = Arguments(argc, argv, as_runtime);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());

  CLI::App app{"nvgate: NVIDIA driver capability gate for untrusted GPU workloads"};
  app.set_version_flag("--version", "nvgate " NVGATE_VERSION, "Print nvgate's version and exit");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  nvgate abi --caps compute,utility          # what a CUDA workload can reach\n"
      "  nvgate run --caps compute -- python3 train.py\n"
      "  nvgate run --backend sim --caps video -- nvprobe\n"
      "  nvgate doctor                              # can nvgate run here, and how\n"
      "  nvgate learn --backend sim -- nvprobe      # the capabilities a workload needs\n"
      "Run 'nvgate COMMAND --help' for a command's options.");

  // Site defaults: a TOML file with a table per command ([run], [agent], ...)
  // whose keys are the long options without the dashes. Flags given on the
  // command line win; an unknown key or a bad value is an error naming it.
  app.config_formatter(std::make_shared<nvgate::cli::ConfigFile>(app));
  app.set_config("--config", "/etc/nvgate/nvgate.toml",
                 "Read defaults from this TOML file: a [run], [agent], ... table per command, "
                 "keys as the long options (flags override it)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "What nvgate writes on stderr: debug, info, warn (denials are warnings) or error "
                 "(--log-denials still gets every denial)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->default_str("info");

  nvgate::cli::AbiOptions abi;
  CLI::App* abi_cmd = app.add_subcommand(
      "abi", "Print the driver commands a capability set can reach (the attack-surface report)");
  abi_cmd->add_option("--driver", abi.driver,
                      "Driver version whose table to use (default: the host's driver, else the "
                      "newest supported)");
  abi_cmd->add_option("--caps", abi.caps,
                      "Capability list, as NVIDIA_DRIVER_CAPABILITIES (default: compute,utility)");
  abi_cmd->add_flag("--json", abi.json, "Print stable JSON (schema in docs/abi-json.md)");
  abi_cmd->add_option("--diff", abi.diff,
                      "Show what capability set A reaches that B does not, and the reverse")
      ->expected(2)
      ->type_name("CAPS_A CAPS_B");
  abi_cmd->add_flag("--summary-markdown", abi.summary_markdown,
                    "Print only the per-set count table, as Markdown");
  abi_cmd->add_option("--diff-versions", abi.diff_versions,
                      "Show what changed in the reachable commands between two driver versions "
                      "(with --caps: for that set; default: every capability)")
      ->expected(2)
      ->type_name("VERSION_A VERSION_B");
  abi_cmd->add_option("--abi-version", abi.abi_version,
                      "Use this version's table, or this branch's newest, for --driver (warns)");
  abi_cmd->footer(
      "Examples:\n"
      "  nvgate abi                                  # default set, host or newest driver\n"
      "  nvgate abi --driver 580.159.04 --caps compute,utility --json\n"
      "  nvgate abi --diff all compute,utility       # what 'all' adds\n"
      "  nvgate abi --diff-versions 570.211.01 580.159.04 --caps compute");

  nvgate::cli::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run a command with its NVIDIA driver calls checked and executed by nvgate");
  AddRunOptions(run_cmd, run, /*with_caps=*/true);
  run_cmd->add_flag("--audit", run.audit,
                    "Execute every call within --allowed-caps and only log (\"audit: would deny\") "
                    "those --caps would refuse; never for untrusted workloads");
  AddCommand(run_cmd, run);
  run_cmd->footer(
      "Exit status: the command's own; 125 when nvgate fails before the command starts, or\n"
      "when a --backend replay workload diverged from the trace; 127 when the command cannot\n"
      "be executed.\n"
      "Examples:\n"
      "  nvgate run -- nvidia-smi                       # utility,compute by default\n"
      "  NVIDIA_DRIVER_CAPABILITIES=video nvgate run -- ffmpeg -hwaccel cuda ...\n"
      "  nvgate run --backend sim --caps compute -- nvprobe\n"
      "  nvgate run --gpus 1 --allowed-gpus 1,2 -- app       # /dev/nvidia1 only; calls naming another GPU refused\n"
      "  nvgate run --backend replay --replay-trace probe.trace --caps compute -- nvprobe\n"
      "  nvgate run --audit --caps compute --allowed-caps compute,video -- app   # log, don't refuse");

  nvgate::cli::DoctorOptions doctor;
  CLI::App* doctor_cmd = app.add_subcommand(
      "doctor", "Check whether nvgate can run here (kernel, privileges, driver) and say how to fix what is missing");
  doctor_cmd->add_flag("--json", doctor.json, "Print stable JSON (schema nvgate.doctor/1, docs/install.md)");
  doctor_cmd->footer(
      "One line per check: ok, info, warn or fail, what was found, and the fix.\n"
      "Exit status: 0 the host backend (the real driver) is usable; 1 only the simulated\n"
      "driver (--backend sim) is usable; 2 neither is.\n"
      "Examples:\n"
      "  nvgate doctor                                   # the report, for people\n"
      "  nvgate doctor --json | jq '.backends.host'      # for scripts\n"
      "  nvgate doctor >/dev/null; echo $?               # 0, 1 or 2, as above");

  nvgate::cli::TraceOptions trace;
  CLI::App* trace_cmd = app.add_subcommand(
      "trace", "Run a command as 'nvgate run' does and record every NVIDIA call as JSON Lines");
  trace_cmd->add_option("-o,--output", trace.output, "The trace file (format: docs/trace-format.md)")
      ->required();
  trace_cmd->add_flag("--with-params", trace.with_params,
                      "Also record the parameter bytes read from and written to the workload (hex)");
  trace_cmd->add_flag("--observe-only", trace.observe_only,
                      "PROTECTS NOTHING, for trusted workloads only: record each call, then let the "
                      "kernel run it natively (the sim answers under every capability); decisions "
                      "say what --caps would do. Refused where --allowed-caps is configured")
      ->configurable(false);  // never a site default: it turns protection off
  AddRunOptions(trace_cmd, trace.run, /*with_caps=*/true);
  AddCommand(trace_cmd, trace.run);
  trace_cmd->footer(
      "Exit status: the command's own; 125 when nvgate fails before the command starts.\n"
      "--observe-only protects nothing: the workload's calls reach the driver unchecked.\n"
      "Examples:\n"
      "  nvgate trace -o train.trace -- python3 train.py\n"
      "  nvgate trace --observe-only --caps compute,utility -o native.trace -- ./trusted_app\n"
      "  nvgate trace -o probe.trace --with-params --backend sim --caps compute -- nvprobe\n"
      "  nvgate summary probe.trace                     # calls and time by command");

  nvgate::cli::LearnOptions learn;
  CLI::App* learn_cmd = app.add_subcommand(
      "learn", "Find the smallest NVIDIA_DRIVER_CAPABILITIES set a command (or a trace) needs");
  learn_cmd->add_flag("--json", learn.json, "Print JSON (docs/trace-format.md, 'nvgate learn --json')");
  learn_cmd->add_option("-o,--output", learn.output,
                        "Write the report to FILE instead of stdout (which the command shares)");
  AddRunOptions(learn_cmd, learn.run, /*with_caps=*/false);
  learn_cmd->add_option("args", learn.args, "A trace file, or the command and its arguments")
      ->required()
      ->expected(-1);
  learn_cmd->footer(
      "Runs the command with every call within --allowed-caps executed (default: every\n"
      "non-privileged capability), then names the smallest set that allows them all and\n"
      "which calls need each capability. Calls refused even within the bound are listed.\n"
      "A single argument that is a non-executable file is read as a trace instead.\n"
      "Exit status: the command's own (2 for a bad trace); 125 when nvgate fails first.\n"
      "Examples:\n"
      "  nvgate learn -- python3 train.py\n"
      "  nvgate learn --backend sim --allowed-caps compute,utility,video -- nvprobe\n"
      "  nvgate learn --json probe.trace");

  nvgate::cli::ReplayOptions replay;
  CLI::App* replay_cmd = app.add_subcommand(
      "replay", "Decide each call of a trace again under another capability set or driver");
  replay_cmd->add_option("trace", replay.trace, "The trace file")->required();
  replay_cmd->add_option("--caps", replay.caps, "Capability list (default: the trace's)");
  replay_cmd->add_option("--driver", replay.driver,
                         "Driver version whose table decides (default: the trace's)");
  replay_cmd->add_flag("--json", replay.json, "Print JSON");
  replay_cmd->footer(
      "One line per call: allowed, or refused and why; CHANGED where the trace's decision\n"
      "differs. Exit status: 0, or 2 for a bad trace or an unsupported driver.\n"
      "Examples:\n"
      "  nvgate replay probe.trace                      # the trace's own caps: nothing changes\n"
      "  nvgate replay probe.trace --caps video         # what video alone would refuse\n"
      "  nvgate replay probe.trace --driver 580.65.06 --json");

  nvgate::cli::SummaryOptions summary;
  CLI::App* summary_cmd = app.add_subcommand("summary", "Count a trace's calls and time by level and command");
  summary_cmd->add_option("trace", summary.trace, "The trace file")->required();
  summary_cmd->add_flag("--json", summary.json, "Print JSON");
  summary_cmd->footer(
      "Examples:\n"
      "  nvgate summary probe.trace\n"
      "  nvgate summary --json probe.trace | jq '.levels'");

  nvgate::cli::OciProfileOptions oci_profile;
  CLI::App* oci_cmd = app.add_subcommand("oci", "Integrate with OCI runtimes (runc, crun, Docker, containerd)");
  oci_cmd->require_subcommand(1);
  oci_cmd->footer(
      "Examples:\n"
      "  nvgate oci profile --listener /run/nvgate/agent.sock > seccomp.json\n"
      "  nvgate oci profile --help\n"
      "  nvgate oci runtime --help");
  CLI::App* oci_profile_cmd = oci_cmd->add_subcommand(
      "profile", "Write the OCI seccomp profile that hands a container's NVIDIA calls to 'nvgate agent'");
  oci_profile_cmd->add_option("--base", oci_profile.base,
                              "Seccomp profile to extend (Docker's default, say), or a config.json "
                              "(default: allow everything else)");
  oci_profile_cmd->add_option("--listener", oci_profile.listener, "The agent's socket (listenerPath)")
      ->default_str("/run/nvgate/agent.sock");
  oci_profile_cmd->add_option("--caps-metadata", oci_profile.caps_metadata,
                              "Capability request sent to the agent as listenerMetadata; it wins over "
                              "the container's annotation and NVIDIA_DRIVER_CAPABILITIES");
  oci_profile_cmd->add_option("--driver", oci_profile.driver,
                              "Driver version whose table decides what is trapped (default: the host's "
                              "driver, else the newest supported)");
  oci_profile_cmd->add_option("-o,--output", oci_profile.output, "Write the profile to FILE instead of stdout");
  oci_profile_cmd->footer(
      "The profile traps exactly the ioctls 'nvgate run' traps (SCMP_ACT_NOTIFY), denies what\n"
      "the workload must not reach (ptrace, process_vm_*, pidfd_getfd, kcmp, userfaultfd,\n"
      "io_uring, new seccomp listeners) and rewrites the base's unconditional ioctl rule so\n"
      "that it cannot shadow the NOTIFY rules. See docs/containers.md.\n"
      "Examples:\n"
      "  nvgate oci profile > seccomp.json             # permissive base\n"
      "  nvgate oci profile --base docker-default.json --listener /run/nvgate/agent.sock -o gpu.json\n"
      "  docker run --security-opt seccomp=gpu.json ...\n"
      "  nvgate oci profile --base bundle/config.json --caps-metadata compute,utility");

  nvgate::cli::OciRuntimeOptions oci_runtime;
  CLI::App* oci_runtime_cmd = oci_cmd->add_subcommand(
      "runtime",
      "Be the OCI runtime in front of runc: put nvgate's profile into each new container's config.json, "
      "refusing requests outside the bound, then run runc with the same arguments (also as nvgate-runtime)");
  oci_runtime_cmd->add_option("--runtime", oci_runtime.runtime,
                              "The real runtime: a path, or a name looked up in PATH")
      ->default_str("runc");
  oci_runtime_cmd->add_option("--allowed-caps", oci_runtime.allowed_caps,
                              "The operator's bound: a container requesting more is not created (give the "
                              "agent's --allowed-caps)")
      ->default_str("all");
  oci_runtime_cmd->add_option("--allowed-gpus", oci_runtime.allowed_gpus,
                              "The operator's bound on GPUs: a container whose devices or NVIDIA_VISIBLE_DEVICES "
                              "name another GPU is not created (give the agent's --allowed-gpus)")
      ->type_name("LIST")
      ->default_str("all");
  oci_runtime_cmd->add_option("--sim-gpus", oci_runtime.sim_gpus,
                              "Resolve GPU names on the GPUs of an agent run with --backend sim --sim-gpus N "
                              "instead of the host driver's")
      ->check(CLI::Range(1, 8));
  oci_runtime_cmd->add_option("--socket", oci_runtime.socket, "The agent's socket (the profile's listenerPath)")
      ->default_str("/run/nvgate/agent.sock");
  oci_runtime_cmd->add_option("--base", oci_runtime.base,
                              "Seccomp profile (or config.json) to build on for containers without one of "
                              "their own (default: allow everything else); a container's own profile is "
                              "always its base");
  oci_runtime_cmd->add_option("--driver", oci_runtime.driver,
                              "Driver version whose table decides what is trapped (default: the host's "
                              "driver, else the newest supported)");
  oci_runtime_cmd->add_flag("--allow-privileged", oci_runtime.allow_privileged,
                            "Also create containers that ask for --privileged-like settings (CAP_SYS_ADMIN, "
                            "CAP_SYS_RAWIO, CAP_SYS_MODULE, CAP_BPF, CAP_PERFMON or CAP_DAC_READ_SEARCH, or every "
                            "device in the devices cgroup), which reach the GPU around the driver");
  oci_runtime_cmd->add_option("args", oci_runtime.args, "The runtime's arguments, after --, passed on unchanged")
      ->expected(-1)
      ->configurable(false);
  oci_runtime_cmd->footer(
      "For create and run, reads the bundle's config.json, resolves the container's request\n"
      "as 'nvgate agent' will, and refuses (exit 125, runtime not called) a request outside\n"
      "--allowed-caps or naming a GPU outside --allowed-gpus, or one asking for --privileged-like\n"
      "settings (unless --allow-privileged);\n"
      "otherwise replaces linux.seccomp with nvgate's profile built on it.\n"
      "Every other command goes to the runtime untouched. Under the name nvgate-runtime all\n"
      "arguments are the runtime's and options come from the config file's [oci-runtime]\n"
      "table (NVGATE_CONFIG, else /etc/nvgate/nvgate.toml). See docs/containers.md.\n"
      "Examples:\n"
      "  nvgate oci runtime --allowed-caps compute,utility -- run --bundle ./bundle ctr1\n"
      "  nvgate-runtime --root /run/runc create --bundle ./bundle ctr1   # as containerd runs it\n"
      "  # /etc/docker/daemon.json: {\"runtimes\": {\"nvgate\": {\"path\": \"/usr/bin/nvgate-runtime\"}}}\n"
      "  docker run --runtime=nvgate -e NVIDIA_DRIVER_CAPABILITIES=compute,utility ...");

  nvgate::cli::AgentOptions agent;
  nvgate::cli::AgentStatusOptions agent_status;
  CLI::App* agent_cmd = app.add_subcommand(
      "agent", "Supervise the NVIDIA calls of containers whose runtime sends their seccomp listener here");
  agent_cmd->add_option("--socket", agent.socket, "The socket the profile's listenerPath names")
      ->default_str("/run/nvgate/agent.sock");
  agent_cmd->add_option("--allowed-caps", agent.allowed_caps,
                        "The operator's bound: a container requesting more gets every NVIDIA call refused")
      ->default_str("all");
  agent_cmd->add_option("--allowed-gpus", agent.allowed_gpus,
                        "The operator's bound on GPUs (as NVIDIA_VISIBLE_DEVICES reads): a container whose "
                        "devices or NVIDIA_VISIBLE_DEVICES name another GPU gets every NVIDIA call refused")
      ->type_name("LIST")
      ->default_str("all");
  agent_cmd->add_option("--backend", agent.backend,
                        "host: the real driver; sim: the simulated 580 driver (no GPU needed)")
      ->check(CLI::IsMember({"host", "sim"}))
      ->default_str("host");
  agent_cmd->add_option("--sim-node-dir", agent.sim_node_dir,
                        "With --backend sim: create the sim's node files (nvidiactl, nvidia0, "
                        "nvidia-uvm) in DIR, to bind-mount into containers as /dev/...");
  agent_cmd->add_option("--sim-gpus", agent.sim_gpus,
                        "With --backend sim: how many GPUs the simulated driver offers (1 to 8, default 1)")
      ->check(CLI::Range(1, 8));
  agent_cmd->add_option("--sim-call-log", agent.sim_call_log,
                        "With --backend sim: append one line per call the simulated driver executes to FILE, "
                        "naming the process that made it (each container's supervisor process)");
  agent_cmd->add_option("--abi-version", agent.abi_version,
                        "Use this supported version's table whatever the driver is (warns)");
  agent_cmd->add_option("--metrics", agent.metrics,
                        "Serve Prometheus metrics at GET /metrics on HOST:PORT (127.0.0.1:9464, [::1]:9464) "
                        "or unix:PATH (default: none)")
      ->type_name("ADDR");
  CLI::App* agent_status_cmd = agent_cmd->add_subcommand("status", "Print the agent's active containers as JSON");
  agent_status_cmd->add_option("--socket", agent_status.socket, "The agent's socket")
      ->default_str("/run/nvgate/agent.sock");
  agent_status_cmd->footer(
      "Example:\n"
      "  nvgate agent status --socket /run/nvgate/agent.sock | jq '.containers[].id'");
  agent_cmd->footer(
      "Capabilities per container, first of: the profile's listenerMetadata, the annotation\n"
      "io.nvgate.driver-capabilities, NVIDIA_DRIVER_CAPABILITIES in the bundle's config.json,\n"
      "else compute,utility; always within --allowed-caps. GPUs per container: the /dev/nvidiaN\n"
      "its config.json lists (devices, mounts) and those its NVIDIA_VISIBLE_DEVICES selects (unset:\n"
      "none, as the NVIDIA toolkit reads it); always within --allowed-gpus. Runs until SIGINT or SIGTERM.\n"
      "Examples:\n"
      "  nvgate agent --socket /run/nvgate/agent.sock --allowed-caps compute,utility,video\n"
      "  nvgate agent --socket /tmp/a.sock --backend sim --sim-node-dir /tmp/nvsim\n"
      "  nvgate agent --allowed-gpus 0,1      # containers may be given GPUs 0 and 1 only\n"
      "  nvgate agent --metrics 127.0.0.1:9464       # then: curl http://127.0.0.1:9464/metrics\n"
      "  nvgate agent status --socket /tmp/a.sock");

  // Not for people: the process `nvgate agent` starts for each container.
  std::string agent_container_config;
  CLI::App* agent_container_cmd = app.add_subcommand("agent-container", "");
  agent_container_cmd->group("");
  agent_container_cmd->add_option("config", agent_container_config)->required();

  CLI::App* config_cmd = app.add_subcommand("config", "Show nvgate's configuration file as nvgate reads it");
  config_cmd->require_subcommand(1);
  CLI::App* config_show_cmd = config_cmd->add_subcommand(
      "show", "Print the effective configuration: every key of each command's table, with the file's value or the "
              "default, and where it comes from");
  config_show_cmd->footer(
      "Examples:\n"
      "  nvgate config show                         # /etc/nvgate/nvgate.toml and the defaults\n"
      "  nvgate --config site.toml config show");

  // --help, --version and doctor work whatever the configuration file holds:
  // they run on the defaults, and say what is wrong with the file.
  const std::optional<UnreadConfigFile> config_problem = UnreadConfig(args, app);
  if (config_problem && !config_problem->for_doctor) {
    nvgate::cli::Print("nvgate", config_problem->problem + " (not read)");
  }
  if (config_problem) {
    app.set_config("--config", "",
                   "Read defaults from this TOML file: a [run], [agent], ... table per command, "
                   "keys as the long options (flags override it)");
    arg_pointers.clear();
    for (std::string& arg : args) arg_pointers.push_back(arg.data());
  }
  try {
    app.parse(static_cast<int>(arg_pointers.size()), arg_pointers.data());
  } catch (const CLI::ConfigError& e) {
    // ConfigFile's errors start with the line: FILE:LINE: what.
    const std::string command = CommandPath(app);
    return nvgate::cli::Fail("nvgate", nvgate::cli::RoleOf(command),
                             nvgate::Error::Config(app.get_config_ptr()->as<std::string>() + ":" + e.what()));
  } catch (const CLI::ParseError& e) {
    return UsageError(app, e, args);
  }
  // Every command writes its messages through nvgate's one logger (cli/failure.h).
  // Loggers the commands create later start at this level too.
  nvgate::cli::Logger();
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (config_problem && doctor_cmd->parsed()) doctor.config_problem = config_problem->problem;
  if (config_show_cmd->parsed()) {
    std::string file = app.get_config_ptr()->as<std::string>();
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) file.clear();
    std::printf("%s", nvgate::cli::ShowConfig(app, file).c_str());
    return 0;
  }
  if (abi_cmd->parsed()) return nvgate::cli::RunAbi(abi);
  if (run_cmd->parsed()) return nvgate::cli::RunRun(run);
  if (doctor_cmd->parsed()) return nvgate::cli::RunDoctor(doctor);
  if (trace_cmd->parsed()) {
    trace.bound_configured = trace_cmd->get_option("--allowed-caps")->count() > 0;
    return nvgate::cli::RunTrace(trace);
  }
  if (learn_cmd->parsed()) return nvgate::cli::RunLearn(learn);
  if (replay_cmd->parsed()) return nvgate::cli::RunReplay(replay);
  if (summary_cmd->parsed()) return nvgate::cli::RunSummary(summary);
  if (oci_profile_cmd->parsed()) return nvgate::cli::RunOciProfile(oci_profile);
  if (oci_runtime_cmd->parsed()) {
    if (as_runtime) oci_runtime.program = kRuntimeName;
    return nvgate::cli::RunOciRuntime(oci_runtime);
  }
  if (agent_status_cmd->parsed()) return nvgate::cli::RunAgentStatus(agent_status);
  if (agent_cmd->parsed()) return nvgate::cli::RunAgent(agent);
  if (agent_container_cmd->parsed()) return nvgate::cli::RunAgentContainer(agent_container_config);
  return 2;
}
