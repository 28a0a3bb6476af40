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

// containerd (runc options BinaryName), CRI-O and Docker call a runtime with
// runc's arguments and no others. Under the name nvgate-runtime every argument
// goes to `nvgate oci runtime`, which reads its options from the config file
// (NVGATE_CONFIG, else /etc/nvgate/nvgate.toml).
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
  const bool as_runtime = argc > 0 && std::filesystem::path(argv[0]).filename() == nvgate::cli::kRuntimeName;
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

  std::vector<nvgate::cli::Command> commands;
  for (auto* add_command : {&nvgate::cli::AddAbiCommand, &nvgate::cli::AddRunCommand, &nvgate::cli::AddDoctorCommand,
                            &nvgate::cli::AddTraceCommands, &nvgate::cli::AddOciCommands,
                            &nvgate::cli::AddAgentCommands, &nvgate::cli::AddConfigCommand}) {
    add_command(app, commands);
  }

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

  // The innermost subcommand parsed: `agent status`, not `agent`.
  const auto reached = std::find_if(commands.begin(), commands.end(), [](const nvgate::cli::Command& command) {
    return command.subcommand->parsed() &&
           command.subcommand->get_subcommands([](const CLI::App* sub) { return sub->parsed(); }).empty();
  });
  if (reached == commands.end()) return nvgate::cli::kExitUsage;
  const nvgate::cli::Invocation invocation{
      .as_runtime = as_runtime,
      .config_problem = config_problem ? std::optional(config_problem->problem) : std::nullopt};
  return reached->run(invocation);
}
