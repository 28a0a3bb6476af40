#include "cli/command_options.h"

namespace nvgate::cli {

void AddRunOptions(CLI::App* cmd, RunOptions& run, bool with_caps) {
  if (with_caps) {
    cmd->add_option("--caps", run.caps,
                    "Capabilities to grant (default: the command's NVIDIA_DRIVER_CAPABILITIES, "
                    "else compute,utility)");
  }
  AddAllowedCapsOption(cmd, run.allowed_caps,
                       with_caps ? "The operator's bound: a requested capability outside it is an error"
                                 : "The operator's bound: every call within it is executed");
  if (with_caps) {
    cmd->add_option("--gpus", run.gpus,
                    "GPUs to give the workload, as NVIDIA_VISIBLE_DEVICES reads: all, none (no GPU node, "
                    "nvidiactl stays), void (no NVIDIA node), or indices, GPU-... UUIDs and PCI bus ids, "
                    "comma-separated (default: the command's NVIDIA_VISIBLE_DEVICES, else all)")
        ->type_name("LIST");
  }
  AddAllowedGpusOption(cmd, run.allowed_gpus,
                       "The operator's bound on GPUs, as --gpus reads: a selection outside it is an error");
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
  AddSimGpusOption(cmd, run.sim_gpus,
                   "With --backend sim: how many GPUs the simulated driver offers (1 to 8, default 1): "
                   "/dev/nvidia0 ... in the workload's /dev");
  cmd->add_option("--sim-driver", run.sim_driver,
                  "With --backend sim: the supported driver version the sim is (its ABI table, "
                  "struct sizes and /proc files)")
      ->type_name("VERSION")
      ->default_str("580.159.04");
  cmd->add_flag("--no-isolate", run.no_isolate, "Do not give the workload its own PID and mount namespaces and /dev");
  cmd->add_option("--keep-caps", run.keep_caps,
                  "Linux capabilities a root workload keeps beyond CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
                  "NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT (e.g. SYS_NICE,IPC_LOCK; "
                  "warns with what each re-opens; SYS_PTRACE never)")
      ->type_name("LIST");
}

void AddCommand(CLI::App* cmd, RunOptions& run) {
  cmd->add_option("command", run.command, "The command and its arguments")->required()->expected(-1);
}

void AddAllowedCapsOption(CLI::App* cmd, std::string& allowed_caps, const std::string& help) {
  cmd->add_option("--allowed-caps", allowed_caps, help)->default_str("all");
}

void AddAllowedGpusOption(CLI::App* cmd, std::string& allowed_gpus, const std::string& help) {
  cmd->add_option("--allowed-gpus", allowed_gpus, help)->type_name("LIST")->default_str("all");
}

void AddSimGpusOption(CLI::App* cmd, std::optional<int>& sim_gpus, const std::string& help) {
  cmd->add_option("--sim-gpus", sim_gpus, help)->check(CLI::Range(1, 8));
}

void AddSocketOption(CLI::App* cmd, std::string& socket, const std::string& help) {
  cmd->add_option("--socket", socket, help)->default_str("/run/nvgate/agent.sock");
}

}  // namespace nvgate::cli
