#include "cli/config_file.h"

#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace nvgate::cli {
namespace {

// A command's table name: the command's name, or for a nested command
// "COMMAND-SUBCOMMAND" ([oci-runtime]); the root's keys are outside any table.
const CLI::App* CommandOfTable(const CLI::App& app, std::string_view table) {
  if (table.empty()) return &app;
  const CLI::App* at = &app;
  std::string_view rest = table;
  while (!rest.empty()) {
    std::size_t dash = rest.find('-');
    std::string_view name = rest.substr(0, dash);
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == name) next = sub;
    }
    if (next == nullptr) return nullptr;
    at = next;
    rest = dash == std::string_view::npos ? std::string_view{} : rest.substr(dash + 1);
  }
  return at;
}

std::vector<std::string> TableParents(std::string_view table) {
  std::vector<std::string> parents;
  std::size_t start = 0;
  while (start <= table.size() && !table.empty()) {
    std::size_t dash = table.find('-', start);
    parents.emplace_back(table.substr(start, dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  return parents;
}

[[noreturn]] void Fail(const toml::node& node, const std::string& what) {
  throw CLI::ConfigError(fmt::format("{}: {}", node.source().begin.line, what));
}

// A scalar as the option's text: strings as they are, numbers and booleans
// spelled as on a command line.
std::optional<std::string> ScalarText(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto b = node.value<bool>(); b && node.is_boolean()) return *b ? "true" : "false";
  if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
  if (node.is_floating_point()) return fmt::format("{}", *node.value<double>());
  return std::nullopt;
}

// An array is a comma-separated list, as nvgate's list options take it
// (caps = ["compute", "video"] is caps = "compute,video").
std::string ValueText(const toml::node& node, const std::string& where) {
  if (auto text = ScalarText(node)) return *text;
  if (const toml::array* array = node.as_array()) {
    std::string joined;
    for (const toml::node& element : *array) {
      auto text = ScalarText(element);
      if (!text) Fail(element, where + ": an array of strings, numbers or booleans only");
      joined += (joined.empty() ? "" : ",") + *text;
    }
    return joined;
  }
  Fail(node, where + ": a string, number, boolean or array of them, not a " +
                 std::string(node.is_table() ? "table" : "date or time"));
}

std::string OptionNames(const CLI::App& command) {
  std::string names;
  for (const CLI::Option* option : command.get_options()) {
    if (!option->get_configurable() || option->get_lnames().empty() || option->get_positional()) continue;
    if (option->get_name() == "--help" || option->get_name() == "--version") continue;
    names += (names.empty() ? "" : ", ") + option->get_lnames().front();
  }
  return names;
}

void AddItem(const CLI::App& app, std::vector<CLI::ConfigItem>& items, const std::string& table,
             const std::string& key, const toml::node& value) {
  const std::string where = table.empty() ? key : "[" + table + "] " + key;
  if (ConfigurableOption(app, table, key) == nullptr) {
    const CLI::App* command = CommandOfTable(app, table);
    if (const CLI::Option* option = command->get_option_no_throw("--" + key);
        option != nullptr && !option->get_configurable()) {
      Fail(value, where + ": cannot be set in a configuration file, only on the command line");
    }
    Fail(value, where + ": no such key (the keys of " + (table.empty() ? "the top level" : "[" + table + "]") +
                    ": " + OptionNames(*command) + ")");
  }
  items.push_back({.parents = TableParents(table), .name = key, .inputs = {ValueText(value, where)}});
}

// A command's table; a table inside it is its subcommand's ([oci.runtime] is
// [oci-runtime]).
void AddTable(const CLI::App& app, std::vector<CLI::ConfigItem>& items, const std::string& name,
              const toml::table& table) {
  if (CommandOfTable(app, name) == nullptr) {
    Fail(table, "[" + name + "] is no command's table (a table per command: [run], [trace], [learn], [agent], "
                "[oci-runtime], ...)");
  }
  for (const auto& [key, value] : table) {
    const std::string sub = name + "-" + std::string(key.str());
    if (const toml::table* nested = value.as_table(); nested != nullptr && CommandOfTable(app, sub) != nullptr) {
      AddTable(app, items, sub, *nested);
    } else {
      AddItem(app, items, name, std::string(key.str()), value);
    }
  }
}

// TOML's own quoting of a string value.
std::string Quoted(const std::string& text) {
  std::ostringstream out;
  out << toml::value<std::string>(text);
  return out.str();
}

void ShowCommand(const CLI::App& command, const std::string& table, const toml::table* document,
                 const std::string& file, std::string& out) {
  const toml::table* file_values = document == nullptr ? nullptr : table.empty() ? document : nullptr;
  if (document != nullptr && !table.empty()) {
    // [oci-runtime] or [oci.runtime]
    file_values = document->get_as<toml::table>(table);
    if (file_values == nullptr) {
      if (std::size_t dash = table.find('-'); dash != std::string::npos) {
        if (const toml::table* parent = document->get_as<toml::table>(table.substr(0, dash))) {
          file_values = parent->get_as<toml::table>(table.substr(dash + 1));
        }
      }
    }
  }
  std::string lines;
  for (const CLI::Option* option : command.get_options()) {
    if (!option->get_configurable() || option->get_lnames().empty() || option->get_positional()) continue;
    if (option->get_name() == "--help" || option->get_name() == "--version" || option->get_name() == "--config") {
      continue;
    }
    const std::string key = option->get_lnames().front();
    const toml::node* set = file_values != nullptr ? file_values->get(key) : nullptr;
    if (set != nullptr && set->is_table()) set = nullptr;  // a command's table, not this key
    const bool flag = option->get_expected_min() == 0;
    std::string value = set != nullptr ? ValueText(*set, key) : option->get_default_str();
    if (value.empty() && flag) value = "false";
    const std::string from = set != nullptr ? file : "default";
    if (value.empty()) {
      lines += fmt::format("# {} = (unset)\n", key);
    } else {
      const bool bare = flag && (value == "true" || value == "false");
      lines += fmt::format("{} = {}  # {}\n", key, bare ? value : Quoted(value), from);
    }
  }
  if (!lines.empty()) out += (table.empty() ? "" : "\n[" + table + "]\n") + lines;
  for (const CLI::App* sub : command.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    ShowCommand(*sub, table.empty() ? sub->get_name() : table + "-" + sub->get_name(), document, file, out);
  }
}

}  // namespace

const CLI::Option* ConfigurableOption(const CLI::App& app, const std::string& table, const std::string& key) {
  const CLI::App* command = CommandOfTable(app, table);
  if (command == nullptr || key.empty() || key.front() == '-') return nullptr;
  const CLI::Option* option = command->get_option_no_throw("--" + key);
  if (option == nullptr || !option->get_configurable() || option->get_positional()) return nullptr;
  if (option->get_name() == "--help" || option->get_name() == "--version" || option->get_name() == "--config") {
    return nullptr;
  }
  return option;
}

std::vector<CLI::ConfigItem> ConfigFile::from_config(std::istream& input) const {
  std::stringstream text;
  text << input.rdbuf();
  toml::table document;
  try {
    document = toml::parse(text.str());
  } catch (const toml::parse_error& e) {
    throw CLI::ConfigError(fmt::format("{}: {}", e.source().begin.line, e.description()));
  }
  std::vector<CLI::ConfigItem> read;
  for (const auto& [name, node] : document) {
    const std::string key(name.str());
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      AddItem(app_, read, "", key, node);
      continue;
    }
    AddTable(app_, read, key, *table);
  }
  return read;
}

std::string ShowConfig(const CLI::App& app, const std::string& file) {
  toml::table document;
  if (!file.empty()) document = toml::parse_file(file);
  std::string out = file.empty() ? "# no configuration file: every value is nvgate's default\n"
                                 : "# the effective configuration: " + file + ", else nvgate's defaults\n";
  ShowCommand(app, "", file.empty() ? nullptr : &document, file, out);
  return out;
}

}  // namespace nvgate::cli
