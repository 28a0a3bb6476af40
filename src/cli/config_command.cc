// nvgate config show: the configuration file as the parser reads it.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "cli/commands.h"
#include "cli/config_file.h"

namespace nvgate::cli {

void AddConfigCommand(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* config_cmd = app.add_subcommand("config", "Show nvgate's configuration file as nvgate reads it");
  config_cmd->require_subcommand(1);
  CLI::App* show_cmd = config_cmd->add_subcommand(
      "show",
      "Print the effective configuration: every key of each command's table, with the file's value or the "
      "default, and where it comes from");
  show_cmd->footer(
      "Examples:\n"
      "  nvgate config show                         # /etc/nvgate/nvgate.toml and the defaults\n"
      "  nvgate --config site.toml config show");
  commands.push_back({show_cmd, [&app](const Invocation&) {
                        std::string file = app.get_config_ptr()->as<std::string>();
                        std::error_code ec;
                        if (!std::filesystem::exists(file, ec)) file.clear();
                        std::printf("%s", ShowConfig(app, file).c_str());
                        return 0;
                      }});
}

}  // namespace nvgate::cli
