// Options that more than one command declares, each written once: the
// workload options of run, trace and learn, and the agent's options that
// `nvgate oci runtime` mirrors.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"

namespace nvgate::cli {

// The options of every command that runs a workload (run, trace, learn);
// with_caps adds the request (--caps, --gpus) to the bound.
void AddRunOptions(CLI::App* cmd, RunOptions& run, bool with_caps);

// The workload to run, after the options: `-- COMMAND [ARGS...]`.
void AddCommand(CLI::App* cmd, RunOptions& run);

// --allowed-caps, default all; `help` says what happens beyond it.
void AddAllowedCapsOption(CLI::App* cmd, std::string& allowed_caps, const std::string& help);

// --allowed-gpus, a LIST, default all.
void AddAllowedGpusOption(CLI::App* cmd, std::string& allowed_gpus, const std::string& help);

// --sim-gpus: the simulated driver's GPU count, 1 to 8.
void AddSimGpusOption(CLI::App* cmd, std::optional<int>& sim_gpus, const std::string& help);

// --socket: the agent's socket, default /run/nvgate/agent.sock.
void AddSocketOption(CLI::App* cmd, std::string& socket, const std::string& help);

}  // namespace nvgate::cli
