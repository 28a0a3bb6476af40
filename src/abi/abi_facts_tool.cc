// nvgate-abi-facts: the table maintainer's side of the facts (docs/new-driver-version.md).
//
//   nvgate-abi-facts check VERSION FACTS
//       Compares the table VERSION uses (its own, else the newest of its branch)
//       with FACTS; one line per disagreement. Exit 0 when there is none, 1 when
//       there are some, 2 on bad input.
//   nvgate-abi-facts draft DELTA FACTS...
//       Prints DELTA (src/abi/data/r<branch>.delta.tsv) rewritten from the facts of
//       its versions: a remove line for every base row the headers do not name, a
//       change line for every base row whose key, size or offsets differ, the add
//       lines with their keys and sizes taken from the facts, each for the versions
//       it holds for. The capabilities and handlers stay as DELTA has them: those
//       are decisions, not facts.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "abi/abi.h"
#include "abi/facts.h"

namespace nvgate::abi {
namespace {

constexpr int kExitBadInput = 2;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<Facts> LoadFacts(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    spdlog::error("cannot read {}", path);
    return std::nullopt;
  }
  auto facts = Facts::Parse(std::filesystem::path(path).stem().string(), *text);
  if (!facts) {
    spdlog::error("{}: {}", path, facts.error());
    return std::nullopt;
  }
  return std::move(*facts);
}

std::string FormatRow(const Entry& e) {
  char key[16];
  std::snprintf(key, sizeof key, "0x%x", e.key);
  return std::string(LevelName(e.level)) + "\t" + e.name + "\t" + key + "\t" + e.mask.ToString() +
         "\t" + std::string(HandlerName(e.handler)) + "\t" +
         (e.param_struct.empty() ? "-" : e.param_struct) + "\t" + std::to_string(e.param_size) +
         "\t" + FormatLayout(e.layout);
}

int Check(const std::string& version, const std::string& facts_path) {
  const Table* table = TableForVersion(version);
  if (!table) {
    if (auto newest = NewestVersionOfBranch(BranchOf(version))) table = TableForVersion(*newest);
  }
  if (!table) {
    spdlog::error("no table for branch {}", BranchOf(version));
    return kExitBadInput;
  }
  auto facts = LoadFacts(facts_path);
  if (!facts) return kExitBadInput;
  std::vector<std::string> mismatches = CompareWithFacts(*table, *facts);
  for (const std::string& m : mismatches) std::printf("%s\n", m.c_str());
  return mismatches.empty() ? 0 : 1;
}

// What one row is in one version: absent, or the row as that version's facts have it.
using RowInVersion = std::optional<std::string>;

// Lines for one row: consecutive versions with the same outcome form a range;
// versions where the row is what `unchanged` says need no line.
void EmitRanges(const std::string& op_present, const std::vector<std::string>& versions,
                const std::vector<RowInVersion>& per_version, const RowInVersion& unchanged,
                const std::string& level_and_name, std::string& out) {
  std::size_t i = 0;
  while (i < versions.size()) {
    std::size_t j = i;
    while (j + 1 < versions.size() && per_version[j + 1] == per_version[i]) ++j;
    if (per_version[i] != unchanged) {
      std::string range = i == 0 && j + 1 == versions.size() ? "*" : versions[i] + ".." + versions[j];
      if (per_version[i]) {
        out += op_present + "\t" + range + "\t" + *per_version[i] + "\n";
      } else {
        out += "remove\t" + range + "\t" + level_and_name + "\n";
      }
    }
    i = j + 1;
  }
}

int Draft(const std::string& delta_path, const std::vector<std::string>& facts_paths) {
  auto text = ReadFile(delta_path);
  if (!text) {
    spdlog::error("cannot read {}", delta_path);
    return kExitBadInput;
  }
  std::string header, base_branch;
  std::vector<std::string> versions;
  std::vector<Entry> added;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("#")) {
      if (line.starts_with("#base\t")) base_branch = line.substr(6);
      if (line.starts_with("#versions\t")) {
        std::istringstream words(line.substr(10));
        for (std::string v; words >> v;) versions.push_back(v);
      }
      header += line + "\n";
      continue;
    }
    if (!line.starts_with("add\t")) continue;
    // The row after "add<TAB>versions<TAB>", parsed as a one-row table.
    std::size_t row_start = line.find('\t', 4);
    auto one = Table::Parse("#branch\tx\n#versions\tx\n" + line.substr(row_start + 1));
    if (!one) {
      spdlog::error("{}: {}: {}", delta_path, line, one.error());
      return kExitBadInput;
    }
    added.push_back(one->entries().front());
  }
  // The base as the source tree has it, next to the delta: the built-in tables
  // may not build while the delta is being drafted.
  std::string base_path =
      (std::filesystem::path(delta_path).parent_path() / ("r" + base_branch + ".tsv")).string();
  auto base_text = ReadFile(base_path);
  if (!base_text) {
    spdlog::error("cannot read the base table {}", base_path);
    return kExitBadInput;
  }
  auto base_table = Table::Parse(*base_text);
  if (!base_table) {
    spdlog::error("{}: {}", base_path, base_table.error());
    return kExitBadInput;
  }
  const Table* base = &*base_table;

  // Facts per version; a version without facts takes its predecessor's.
  std::map<std::string, Facts> by_tag;
  for (const std::string& path : facts_paths) {
    auto facts = LoadFacts(path);
    if (!facts) return kExitBadInput;
    by_tag.emplace(facts->tag, std::move(*facts));
  }
  std::vector<const Facts*> facts_of;
  for (const std::string& v : versions) {
    auto it = by_tag.find(v);
    facts_of.push_back(it != by_tag.end() ? &it->second
                                          : (facts_of.empty() ? nullptr : facts_of.back()));
  }
  for (std::size_t i = facts_of.size(); i-- > 0;) {
    if (!facts_of[i] && i + 1 < facts_of.size()) facts_of[i] = facts_of[i + 1];
  }
  if (facts_of.empty() || !facts_of.front()) {
    spdlog::error("no facts for any version of {}", delta_path);
    return kExitBadInput;
  }

  auto in_version = [&](const Entry& row, std::size_t i) -> RowInVersion {
    auto as_facts = RowAsFactsHaveIt(row, *facts_of[i]);
    if (!as_facts) return std::nullopt;
    return FormatRow(*as_facts);
  };
  std::string out = header;
  for (const Entry& row : base->entries()) {
    std::vector<RowInVersion> per_version;
    for (std::size_t i = 0; i < versions.size(); ++i) per_version.push_back(in_version(row, i));
    EmitRanges("change", versions, per_version, FormatRow(row),
               std::string(LevelName(row.level)) + "\t" + row.name, out);
  }
  for (const Entry& row : added) {
    std::vector<RowInVersion> per_version;
    for (std::size_t i = 0; i < versions.size(); ++i) per_version.push_back(in_version(row, i));
    // Versions whose headers lack an added command get no row: nothing to write.
    std::string level_and_name = std::string(LevelName(row.level)) + "\t" + row.name;
    std::string lines_for_row;
    EmitRanges("add", versions, per_version, std::nullopt, level_and_name, lines_for_row);
    out += lines_for_row;
  }
  std::printf("%s", out.c_str());
  return 0;
}

int Usage() {
  spdlog::error(
      "usage: nvgate-abi-facts check VERSION FACTS\n"
      "       nvgate-abi-facts draft DELTA FACTS...");
  return kExitBadInput;
}

}  // namespace
}  // namespace nvgate::abi

int main(int argc, char** argv) {
  using namespace nvgate::abi;
  // One logger, on stderr: each message prefixed with the program's name.
  spdlog::set_default_logger(spdlog::stderr_logger_st("nvgate-abi-facts"));
  spdlog::set_pattern("%n: %v");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "check") return Check(args[1], args[2]);
  if (args.size() >= 3 && args[0] == "draft") {
    return Draft(args[1], std::vector<std::string>(args.begin() + 2, args.end()));
  }
  return Usage();
}
