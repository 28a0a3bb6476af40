// nvgate: run untrusted GPU workloads against the host's NVIDIA driver with
// only the driver commands of their granted capabilities reachable.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"nvgate: NVIDIA driver capability gate for untrusted GPU workloads"};
  app.set_version_flag("--version", "nvgate " NVGATE_VERSION, "Print nvgate's version and exit");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  nvgate abi --caps compute,utility          # what a CUDA workload can reach\n"
      "  nvgate run --caps compute -- python3 train.py\n"
      "  nvgate run --backend sim --caps video -- nvprobe\n"
      "  nvgate doctor                              # can nvgate run here, and how\n"
      "Run 'nvgate COMMAND --help' for a command's options.");

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
  abi_cmd->footer(
      "Examples:\n"
      "  nvgate abi                                  # default set, host or newest driver\n"
      "  nvgate abi --driver 580.159.04 --caps compute,utility --json\n"
      "  nvgate abi --diff all compute,utility       # what 'all' adds");

  nvgate::cli::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run a command with its NVIDIA driver calls checked and executed by nvgate");
  run_cmd->add_option("--caps", run.caps,
                      "Capabilities to grant (default: the command's NVIDIA_DRIVER_CAPABILITIES, "
                      "else compute,utility)");
  run_cmd->add_option("--allowed-caps", run.allowed_caps,
                      "The operator's bound: a requested capability outside it is an error")
      ->default_str("all");
  run_cmd->add_option("--backend", run.backend,
                      "host: the real driver; sim: the simulated 580 driver (no GPU needed)")
      ->check(CLI::IsMember({"host", "sim"}))
      ->default_str("host");
  run_cmd->add_option("--log-denials", run.log_denials,
                      "Also append one line per denied call to FILE");
  run_cmd->add_option("--abi-version", run.abi_version,
                      "Use this supported version's table whatever the driver is (warns)");
  run_cmd->add_option("--sim-call-log", run.sim_call_log,
                      "With --backend sim: append one line per call the simulated driver executes "
                      "to FILE (what the escape suite checks)");
  run_cmd->add_flag("--no-isolate", run.no_isolate,
                    "Do not give the workload its own PID and mount namespaces and /dev");
  run_cmd->add_option("command", run.command, "The command and its arguments")
      ->required()
      ->expected(-1);
  run_cmd->footer(
      "Exit status: the command's own; 125 when nvgate fails before the command starts;\n"
      "127 when the command cannot be executed.\n"
      "Examples:\n"
      "  nvgate run -- nvidia-smi                       # utility,compute by default\n"
      "  NVIDIA_DRIVER_CAPABILITIES=video nvgate run -- ffmpeg -hwaccel cuda ...\n"
      "  nvgate run --backend sim --caps compute -- nvprobe");

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

  CLI11_PARSE(app, argc, argv);

  if (abi_cmd->parsed()) return nvgate::cli::RunAbi(abi);
  if (run_cmd->parsed()) return nvgate::cli::RunRun(run);
  if (doctor_cmd->parsed()) return nvgate::cli::RunDoctor(doctor);
  return 2;
}
