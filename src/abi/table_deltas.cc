// The delta files: a branch's tables as changes to the full table's rows.
#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "abi/table_grammar.h"

namespace nvgate::abi {
namespace {

using grammar::Err;
using grammar::FileHeader;
using grammar::ParseRow;
using grammar::ReadTableFile;
using grammar::Split;

// One line of a delta file.
struct DeltaLine {
  enum class Op : std::uint8_t { kRemove, kChange, kAdd };
  Op op;
  int line_no;
  std::string first, last;  // the version range it applies to; empty for every version
  Level level;
  std::string name;
  Entry row;  // the new row of a change or add
  bool AppliesTo(std::string_view version) const {
    return first.empty() ||
           (CompareVersions(first, version) <= 0 && CompareVersions(version, last) <= 0);
  }
};

// "op<TAB>versions<TAB>level<TAB>name" for remove; the same followed by the
// rest of a full row (key, caps, handler, struct, size, layout) for change and add.
Result<DeltaLine> ParseDeltaLine(std::string_view line, int line_no,
                                                    std::span<const std::string> versions) {
  std::vector<std::string_view> cols = Split(line, '\t');
  DeltaLine d{};
  d.line_no = line_no;
  if (cols[0] == "remove") {
    d.op = DeltaLine::Op::kRemove;
  } else if (cols[0] == "change") {
    d.op = DeltaLine::Op::kChange;
  } else if (cols[0] == "add") {
    d.op = DeltaLine::Op::kAdd;
  } else {
    return Err("unknown delta operation \"" + std::string(cols[0]) +
               "\" (remove, change or add)");
  }
  std::size_t expected = d.op == DeltaLine::Op::kRemove ? 4 : 10;
  if (cols.size() != expected) {
    return Err(std::string(cols[0]) + " needs " + std::to_string(expected) +
               " tab-separated columns, found " + std::to_string(cols.size()));
  }
  if (cols[1] != "*") {
    std::size_t dots = cols[1].find("..");
    if (dots == std::string_view::npos) {
      return Err("versions \"" + std::string(cols[1]) + "\" is neither * nor FIRST..LAST");
    }
    d.first = std::string(cols[1].substr(0, dots));
    d.last = std::string(cols[1].substr(dots + 2));
    for (const std::string& end : {d.first, d.last}) {
      if (std::find(versions.begin(), versions.end(), end) == versions.end()) {
        return Err("version " + end + " of range " + std::string(cols[1]) +
                   " is not in #versions");
      }
    }
    if (CompareVersions(d.first, d.last) > 0) {
      return Err("range " + std::string(cols[1]) + " ends before it starts");
    }
  }
  auto level = LevelFromName(cols[2]);
  if (!level) return Err("unknown level \"" + std::string(cols[2]) + "\"");
  d.level = *level;
  d.name = std::string(cols[3]);
  if (d.op != DeltaLine::Op::kRemove) {
    std::string_view rest = line;
    for (int skip = 0; skip < 2; ++skip) rest.remove_prefix(rest.find('\t') + 1);
    auto row = ParseRow(rest);
    if (!row) return tl::unexpected(row.error());
    d.row = std::move(*row);
  }
  return d;
}

}  // namespace

Result<std::vector<Table>> Table::ParseDelta(const Table& base,
                                                                std::string_view text) {
  std::vector<DeltaLine> changes;
  auto read_change = [&](std::string_view line, int line_no,
                         const FileHeader& so_far) -> Result<void> {
    auto change = ParseDeltaLine(line, line_no, so_far.versions);
    if (!change) return tl::unexpected(change.error());
    const Entry* in_base = base.FindByName(change->level, change->name);
    if (change->op == DeltaLine::Op::kAdd && in_base) {
      return Err("add of " + change->name + ", which the base table has (use change)");
    }
    if (change->op != DeltaLine::Op::kAdd && !in_base) {
      return Err(change->name + " is not a " + std::string(LevelName(change->level)) +
                 " row of the base table");
    }
    if (change->op != DeltaLine::Op::kRemove && change->row.name != change->name) {
      return Err("the row names " + change->row.name + ", not " + change->name);
    }
    if (change->op != DeltaLine::Op::kRemove && change->row.level != change->level) {
      return Err("the row's level differs from the line's");
    }
    if (change->op == DeltaLine::Op::kChange && RowDifferences(*in_base, change->row).empty()) {
      return Err("change of " + change->name + " equals the base row");
    }
    changes.push_back(std::move(*change));
    return {};
  };
  auto header = ReadTableFile(text, base.branch(), read_change);
  if (!header) return tl::unexpected(header.error());
  const std::string& branch = header->branch;
  const std::vector<std::string>& versions = header->versions;

  // Two lines about one row must never both apply to one version: the result
  // would depend on their order.
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (std::size_t j = i + 1; j < changes.size(); ++j) {
      const DeltaLine& a = changes[i];
      const DeltaLine& b = changes[j];
      if (a.level != b.level || a.name != b.name) continue;
      for (const std::string& v : versions) {
        if (a.AppliesTo(v) && b.AppliesTo(v)) {
          return Err("line " + std::to_string(b.line_no) + ": " + b.name + " is already changed for " +
                     v + " by line " + std::to_string(a.line_no));
        }
      }
    }
  }

  // Versions that the same lines apply to share one table.
  std::map<std::vector<std::size_t>, std::vector<std::string>> groups;
  for (const std::string& v : versions) {
    std::vector<std::size_t> applying;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      if (changes[i].AppliesTo(v)) applying.push_back(i);
    }
    groups[applying].push_back(v);
  }
  std::vector<Table> out;
  for (const auto& [applying, group_versions] : groups) {
    std::map<std::pair<Level, std::string>, const DeltaLine*> by_name;
    for (std::size_t i : applying) by_name[{changes[i].level, changes[i].name}] = &changes[i];
    Table table;
    table.branch_ = branch;
    table.base_ = base.branch();
    table.versions_ = group_versions;
    auto add = [&](const Entry& e, int from_line) -> Result<void> {
      auto added = table.Add(e);
      if (added || from_line == 0) return added;
      return tl::unexpected(added.error().Prefixed("line " + std::to_string(from_line) + ": "));
    };
    for (const Entry& e : base.entries()) {
      auto it = by_name.find({e.level, e.name});
      if (it == by_name.end()) {
        if (auto added = add(e, 0); !added) return tl::unexpected(added.error());
      } else if (it->second->op == DeltaLine::Op::kChange) {
        if (auto added = add(it->second->row, it->second->line_no); !added) {
          return tl::unexpected(added.error());
        }
      }
    }
    for (std::size_t i : applying) {
      if (changes[i].op != DeltaLine::Op::kAdd) continue;
      if (auto added = add(changes[i].row, changes[i].line_no); !added) {
        return tl::unexpected(added.error());
      }
    }
    out.push_back(std::move(table));
  }
  return out;
}

}  // namespace nvgate::abi
