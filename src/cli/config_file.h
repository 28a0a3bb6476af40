// nvgate's configuration file (/etc/nvgate/nvgate.toml, docs/install.md): TOML,
// read by toml++, with a table per command ([run], [agent], [oci-runtime] for
// `nvgate oci runtime`) whose keys are the command's long options without the
// dashes. Turned into CLI11's items, so that flags given on the command line
// still win. Every error names the line: an unknown table or key, a value
// that is not a string, number, boolean or array of them, a TOML syntax error,
// a table given twice.
//
//   app.config_formatter(std::make_shared<nvgate::cli::ConfigFile>(app));
#pragma once

#include <istream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace nvgate::cli {

class ConfigFile : public CLI::ConfigTOML {
 public:
  // `app` names the commands and options a key may set; it outlives this.
  explicit ConfigFile(const CLI::App& app) : app_(app) {}
  // Throws CLI::ConfigError "LINE: what" (the caller names the file).
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App& app_;
};

// The option a configuration key names: [TABLE] KEY, TABLE "" for a key
// outside any table; nullptr when there is none or it cannot be set from a
// file. "oci-runtime" is the table of `nvgate oci runtime`.
const CLI::Option* ConfigurableOption(const CLI::App& app, const std::string& table, const std::string& key);

// `nvgate config show`: every key each table may hold, with the value the
// file gives it, else its default, as TOML, with a comment naming where each
// comes from. `file` is the file read ("" for none).
std::string ShowConfig(const CLI::App& app, const std::string& file);

}  // namespace nvgate::cli
