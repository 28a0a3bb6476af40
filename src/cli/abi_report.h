// The attack-surface report behind `nvgate abi`: which table entries a
// capability set reaches, per level, as text, Markdown or JSON.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "caps/caps.h"

namespace nvgate::cli {

// Reachable entries per level, and in total.
struct Counts {
  std::array<int, abi::kLevelCount> per_level{};
  int total = 0;
};
Counts CountReachable(const abi::Table& table, caps::CapSet enabled);

// The sets the summary always shows: the default, each capability alone,
// "all", and "all" with the privileged capabilities.
struct NamedSet {
  std::string label;
  caps::CapSet set;
};
std::vector<NamedSet> SummarySets();

// Entries reachable with `a` but not with `b`.
std::vector<const abi::Entry*> ReachableOnlyWith(const abi::Table& table, caps::CapSet a,
                                                 caps::CapSet b);

std::string ListText(const abi::Table& table, caps::CapSet enabled);
std::string SummaryMarkdown(const abi::Table& table);
std::string DiffText(const abi::Table& table, caps::CapSet a, caps::CapSet b);

// What changed in the exposed surface (the rows a capability set reaches, deny
// rows never) from one driver version's table to another's, matched by level
// and name.
struct ChangedEntry {
  const abi::Entry* a;
  const abi::Entry* b;
  std::vector<std::string> columns;  // abi::RowDifferences(*a, *b)
};
struct VersionDiff {
  std::vector<const abi::Entry*> only_a;
  std::vector<const abi::Entry*> only_b;
  std::vector<ChangedEntry> changed;
};
VersionDiff DiffVersions(const abi::Table& a, const abi::Table& b, caps::CapSet enabled);
std::string VersionDiffText(const VersionDiff& diff, std::string_view version_a,
                            std::string_view version_b);

// Stable JSON (schema "nvgate.abi/1", documented in docs/abi-json.md).
nlohmann::ordered_json ReportJson(const abi::Table& table, std::string_view driver_version,
                                  caps::CapSet enabled);
nlohmann::ordered_json DiffJson(const abi::Table& table, std::string_view driver_version,
                                caps::CapSet a, caps::CapSet b);

// Schema "nvgate.abi-versions-diff/1" (docs/abi-tables.md).
nlohmann::ordered_json VersionDiffJson(const VersionDiff& diff, std::string_view version_a,
                                       const abi::Table& a, std::string_view version_b,
                                       const abi::Table& b, caps::CapSet enabled);

}  // namespace nvgate::cli
