#include "cli/abi_report.h"

#include <cstdio>

#include <fmt/format.h>

namespace nvgate::cli {
namespace {

nlohmann::ordered_json EntryJson(const abi::Entry& e) {
  nlohmann::ordered_json caps = nlohmann::ordered_json::array();
  if (e.mask.base) caps.push_back("base");
  for (int i = 0; i < caps::kCapabilityCount; ++i) {
    auto c = static_cast<caps::Capability>(i);
    if (e.mask.caps.Has(c)) caps.push_back(std::string(caps::Name(c)));
  }
  return {{"key", fmt::format("{:#x}", e.key)},
          {"name", e.name},
          {"caps", caps},
          {"handler", std::string(abi::HandlerName(e.handler))},
          {"struct", e.param_struct},
          {"size", e.param_size}};
}

nlohmann::ordered_json CapsJson(caps::CapSet set) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (int i = 0; i < caps::kCapabilityCount; ++i) {
    auto c = static_cast<caps::Capability>(i);
    if (set.Has(c)) out.push_back(std::string(caps::Name(c)));
  }
  return out;
}

nlohmann::ordered_json CountsJson(const Counts& counts) {
  nlohmann::ordered_json out;
  for (int l = 0; l < abi::kLevelCount; ++l) {
    out[std::string(abi::LevelName(static_cast<abi::Level>(l)))] = counts.per_level[l];
  }
  out["total"] = counts.total;
  return out;
}

}  // namespace

Counts CountReachable(const abi::Table& table, caps::CapSet enabled) {
  Counts counts;
  for (const abi::Entry& e : table.entries()) {
    if (e.handler == abi::Handler::kDeny || !e.mask.Reachable(enabled)) continue;
    ++counts.per_level[static_cast<int>(e.level)];
    ++counts.total;
  }
  return counts;
}

std::vector<NamedSet> SummarySets() {
  std::vector<NamedSet> sets = {{"default (compute,utility)", caps::CapSet::Default()}};
  for (int i = 0; i < caps::kCapabilityCount; ++i) {
    auto c = static_cast<caps::Capability>(i);
    sets.push_back({std::string(caps::Name(c)), {c}});
  }
  sets.push_back({"all", caps::CapSet::AllUnprivileged()});
  sets.push_back({"all,profiling,fabric-imex-mgmt,rdma", caps::CapSet::Everything()});
  return sets;
}

std::vector<const abi::Entry*> ReachableOnlyWith(const abi::Table& table, caps::CapSet a,
                                                 caps::CapSet b) {
  std::vector<const abi::Entry*> out;
  for (const abi::Entry& e : table.entries()) {
    if (e.handler == abi::Handler::kDeny) continue;
    if (e.mask.Reachable(a) && !e.mask.Reachable(b)) out.push_back(&e);
  }
  return out;
}

std::string ListText(const abi::Table& table, caps::CapSet enabled) {
  std::string out;
  Counts counts = CountReachable(table, enabled);
  for (int l = 0; l < abi::kLevelCount; ++l) {
    auto level = static_cast<abi::Level>(l);
    out += fmt::format("{} ({} reachable):\n", abi::LevelName(level), counts.per_level[l]);
    for (const abi::Entry& e : table.entries()) {
      if (e.level != level || e.handler == abi::Handler::kDeny || !e.mask.Reachable(enabled)) {
        continue;
      }
      out += fmt::format("  {:<#12x} {:<64} {:<24} {}\n", e.key, e.name, e.mask.ToString(),
                         abi::HandlerName(e.handler));
    }
  }
  out += fmt::format("total reachable: {} of {} table entries\n", counts.total,
                     table.entries().size());
  return out;
}

std::string SummaryMarkdown(const abi::Table& table) {
  std::string out = "| capability set |";
  std::string rule = "|---|";
  for (int l = 0; l < abi::kLevelCount; ++l) {
    out += fmt::format(" {} |", abi::LevelName(static_cast<abi::Level>(l)));
    rule += "---:|";
  }
  out += " total |\n" + rule + "---:|\n";
  for (const NamedSet& s : SummarySets()) {
    Counts c = CountReachable(table, s.set);
    out += fmt::format("| {} |", s.label);
    for (int n : c.per_level) out += fmt::format(" {} |", n);
    out += fmt::format(" {} |\n", c.total);
  }
  return out;
}

std::string DiffText(const abi::Table& table, caps::CapSet a, caps::CapSet b) {
  std::string out;
  auto section = [&](caps::CapSet x, caps::CapSet y) {
    auto only = ReachableOnlyWith(table, x, y);
    out += fmt::format("only with {} ({} entries):\n", x.ToString(), only.size());
    for (const abi::Entry* e : only) {
      out += fmt::format("  {:<12} {:<#12x} {:<64} {}\n", abi::LevelName(e->level), e->key,
                         e->name, e->mask.ToString());
    }
  };
  section(a, b);
  section(b, a);
  return out;
}

nlohmann::ordered_json ReportJson(const abi::Table& table, std::string_view driver_version,
                                  caps::CapSet enabled) {
  nlohmann::ordered_json levels;
  for (int l = 0; l < abi::kLevelCount; ++l) {
    auto level = static_cast<abi::Level>(l);
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const abi::Entry& e : table.entries()) {
      if (e.level == level && e.handler != abi::Handler::kDeny && e.mask.Reachable(enabled)) {
        entries.push_back(EntryJson(e));
      }
    }
    levels[std::string(abi::LevelName(level))] = entries;
  }
  nlohmann::ordered_json summary = nlohmann::ordered_json::array();
  for (const NamedSet& s : SummarySets()) {
    summary.push_back({{"set", s.label},
                       {"capabilities", CapsJson(s.set)},
                       {"reachable", CountsJson(CountReachable(table, s.set))}});
  }
  return {{"schema", "nvgate.abi/1"},
          {"driver", driver_version},
          {"branch", table.branch()},
          {"capabilities", CapsJson(enabled)},
          {"reachable", CountsJson(CountReachable(table, enabled))},
          {"entries", levels},
          {"summary", summary}};
}

nlohmann::ordered_json DiffJson(const abi::Table& table, std::string_view driver_version,
                                caps::CapSet a, caps::CapSet b) {
  auto list = [&](caps::CapSet x, caps::CapSet y) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const abi::Entry* e : ReachableOnlyWith(table, x, y)) {
      nlohmann::ordered_json j = EntryJson(*e);
      j["level"] = std::string(abi::LevelName(e->level));
      out.push_back(j);
    }
    return out;
  };
  return {{"schema", "nvgate.abi-diff/1"},
          {"driver", driver_version},
          {"branch", table.branch()},
          {"a", CapsJson(a)},
          {"b", CapsJson(b)},
          {"only_a", list(a, b)},
          {"only_b", list(b, a)}};
}

VersionDiff DiffVersions(const abi::Table& a, const abi::Table& b, caps::CapSet enabled) {
  auto exposed = [&](const abi::Entry* e) {
    return e && e->handler != abi::Handler::kDeny && e->mask.Reachable(enabled);
  };
  VersionDiff diff;
  for (const abi::Entry& e : a.entries()) {
    if (!exposed(&e)) continue;
    const abi::Entry* other = b.FindByName(e.level, e.name);
    if (!exposed(other)) {
      diff.only_a.push_back(&e);
    } else if (auto columns = abi::RowDifferences(e, *other); !columns.empty()) {
      diff.changed.push_back({&e, other, std::move(columns)});
    }
  }
  for (const abi::Entry& e : b.entries()) {
    if (exposed(&e) && !exposed(a.FindByName(e.level, e.name))) diff.only_b.push_back(&e);
  }
  return diff;
}

std::string VersionDiffText(const VersionDiff& diff, std::string_view version_a,
                            std::string_view version_b) {
  std::string out;
  auto list = [&](std::string_view version, const std::vector<const abi::Entry*>& entries) {
    out += fmt::format("only with {} ({} entries):\n", version, entries.size());
    for (const abi::Entry* e : entries) {
      out += fmt::format("  {:<12} {:<#12x} {:<64} {}\n", abi::LevelName(e->level), e->key,
                         e->name, e->mask.ToString());
    }
  };
  list(version_a, diff.only_a);
  list(version_b, diff.only_b);
  out += fmt::format("changed ({} entries):\n", diff.changed.size());
  for (const ChangedEntry& c : diff.changed) {
    std::string what;
    for (const std::string& column : c.columns) {
      std::string from, to;
      if (column == "key") {
        from = fmt::format("{:#x}", c.a->key), to = fmt::format("{:#x}", c.b->key);
      } else if (column == "caps") {
        from = c.a->mask.ToString(), to = c.b->mask.ToString();
      } else if (column == "handler") {
        from = abi::HandlerName(c.a->handler), to = abi::HandlerName(c.b->handler);
      } else if (column == "struct") {
        from = c.a->param_struct, to = c.b->param_struct;
      } else if (column == "size") {
        from = std::to_string(c.a->param_size), to = std::to_string(c.b->param_size);
      } else {
        from = abi::FormatLayout(c.a->layout), to = abi::FormatLayout(c.b->layout);
      }
      what += fmt::format("{}{} {} -> {}", what.empty() ? "" : "; ", column, from, to);
    }
    out += fmt::format("  {:<12} {:<64} {}\n", abi::LevelName(c.a->level), c.a->name, what);
  }
  return out;
}

nlohmann::ordered_json VersionDiffJson(const VersionDiff& diff, std::string_view version_a,
                                       const abi::Table& a, std::string_view version_b,
                                       const abi::Table& b, caps::CapSet enabled) {
  auto list = [](const std::vector<const abi::Entry*>& entries) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const abi::Entry* e : entries) {
      nlohmann::ordered_json j = EntryJson(*e);
      j["level"] = std::string(abi::LevelName(e->level));
      out.push_back(j);
    }
    return out;
  };
  auto with_layout = [](const abi::Entry& e) {
    nlohmann::ordered_json j = EntryJson(e);
    j["layout"] = abi::FormatLayout(e.layout);
    return j;
  };
  nlohmann::ordered_json changed = nlohmann::ordered_json::array();
  for (const ChangedEntry& c : diff.changed) {
    changed.push_back({{"level", std::string(abi::LevelName(c.a->level))},
                       {"name", c.a->name},
                       {"columns", c.columns},
                       {"a", with_layout(*c.a)},
                       {"b", with_layout(*c.b)}});
  }
  return {{"schema", "nvgate.abi-versions-diff/1"},
          {"a", {{"driver", version_a}, {"branch", a.branch()}}},
          {"b", {{"driver", version_b}, {"branch", b.branch()}}},
          {"capabilities", CapsJson(enabled)},
          {"only_a", list(diff.only_a)},
          {"only_b", list(diff.only_b)},
          {"changed", changed}};
}

}  // namespace nvgate::cli
