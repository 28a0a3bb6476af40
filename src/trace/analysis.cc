#include "trace/analysis.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace nvgate::trace {
namespace {

using Json = nlohmann::json;

Reason ReasonOf(policy::Verdict verdict) {
  switch (verdict) {
    case policy::Verdict::kAllow: return Reason::kNone;
    case policy::Verdict::kUnknown: return Reason::kUnknown;
    case policy::Verdict::kNeverAllowed: return Reason::kNeverAllowed;
    case policy::Verdict::kMissingCapability: return Reason::kMissingCapability;
  }
  return Reason::kUnknown;
}

bool HasTable(abi::DeviceKind device) {
  return abi::IsFrontend(device) || device == abi::DeviceKind::kUvm;
}

// The rows a call needs reached: its request's and, when it dispatches
// again, its inner command's. Empty when a row is missing.
std::vector<const abi::Entry*> RowsOf(const abi::Table& table, const TracedCall& call) {
  if (!HasTable(call.device)) return {};
  const abi::Entry* request = table.Find(call.request_level, call.request_key);
  if (request == nullptr) return {};
  if (call.level == call.request_level && call.key == call.request_key) return {request};
  const abi::Entry* inner = table.Find(call.level, call.key);
  if (inner == nullptr) return {};
  return {request, inner};
}

bool AllReached(const std::vector<const abi::Entry*>& rows, caps::CapSet set) {
  return std::all_of(rows.begin(), rows.end(), [&](const abi::Entry* e) {
    return e->handler != abi::Handler::kDeny && e->mask.Reachable(set);
  });
}

std::size_t Surface(const abi::Table& table, caps::CapSet set) {
  std::size_t n = 0;
  for (const abi::Entry& e : table.entries()) n += e.handler != abi::Handler::kDeny && e.mask.Reachable(set);
  return n;
}

CommandUse UseOf(const abi::Table& table, const TracedCall& call) {
  const abi::Entry* e = table.Find(call.level, call.key);
  return {.level = call.level,
          .key = call.key,
          .name = e ? e->name : call.name,
          .reached_by = e ? e->mask.ToString() : "",
          .calls = 0};
}

// Commands in first-seen order, each with its call count.
class CommandCounter {
 public:
  void Add(const CommandUse& use) {
    auto k = std::make_pair(use.level, use.key);
    auto [it, inserted] = index_.try_emplace(k, uses_.size());
    if (inserted) uses_.push_back(use);
    ++uses_[it->second].calls;
  }
  const std::vector<CommandUse>& uses() const { return uses_; }

 private:
  std::map<std::pair<abi::Level, std::uint32_t>, std::size_t> index_;
  std::vector<CommandUse> uses_;
};

Json UsesToJson(const std::vector<CommandUse>& uses) {
  Json out = Json::array();
  for (const CommandUse& u : uses) {
    out.push_back({{"level", abi::LevelName(u.level)},
                   {"key", fmt::format("{:#x}", u.key)},
                   {"name", u.name},
                   {"reached_by", u.reached_by},
                   {"calls", u.calls}});
  }
  return out;
}

void UsesToText(std::string& out, const std::vector<CommandUse>& uses) {
  char line[200];
  for (const CommandUse& u : uses) {
    std::snprintf(line, sizeof line, "    %-12s %-10s %-44s %-18s %llu call%s\n",
                  std::string(abi::LevelName(u.level)).c_str(), fmt::format("{:#x}", u.key).c_str(),
                  u.name.empty() ? "(no table row)" : u.name.c_str(),
                  u.reached_by.empty() ? "-" : u.reached_by.c_str(),
                  static_cast<unsigned long long>(u.calls), u.calls == 1 ? "" : "s");
    out += line;
  }
}

}  // namespace

Evaluation Evaluate(const abi::Table& table, caps::CapSet enabled, const TracedCall& call) {
  Evaluation e;
  auto refuse = [&](const policy::Decision& d, abi::Level level, std::uint32_t key) {
    e.allowed = false;
    e.reason = ReasonOf(d.verdict);
    e.message = policy::Describe(d, level, key, enabled);
    e.capability = policy::DeniedCapability(d);
    e.call = policy::CallName(d, level);
    return e;
  };
  if (!HasTable(call.device)) {
    // As the proxy: ioctls on other NVIDIA nodes have no table.
    return refuse({.verdict = policy::Verdict::kUnknown,
                   .entry = nullptr,
                   .answer = policy::DenialAnswer(call.request_level)},
                  call.request_level, call.request_key);
  }
  policy::Decision outer = policy::Decide(table, call.request_level, call.request_key, enabled);
  if (!outer.allowed()) return refuse(outer, call.request_level, call.request_key);
  if (!call.InnerKnown(table)) {
    e.allowed = true;
    e.inner_known = false;
    return e;
  }
  if (call.level != call.request_level || call.key != call.request_key) {
    policy::Decision inner = policy::Decide(table, call.level, call.key, enabled);
    if (!inner.allowed()) return refuse(inner, call.level, call.key);
  }
  e.allowed = true;
  return e;
}

bool PolicyAllowed(const TracedCall& call) {
  return call.allowed || call.reason == Reason::kProxyCheck;
}

LearnResult Learn(const abi::Table& table, caps::CapSet bound, std::span<const TracedCall> calls) {
  LearnResult result;
  result.calls = calls.size();
  // The distinct row sets the chosen set must reach, and who needs them.
  std::set<std::vector<const abi::Entry*>> needs;
  CommandCounter refused, undetermined;
  for (const TracedCall& call : calls) {
    if (!call.InnerKnown(table)) {
      undetermined.Add(UseOf(table, call));
      continue;
    }
    std::vector<const abi::Entry*> rows = RowsOf(table, call);
    if (rows.empty() || !AllReached(rows, bound)) {
      refused.Add(UseOf(table, call));
      continue;
    }
    needs.insert(std::move(rows));
  }
  result.refused = refused.uses();
  result.undetermined = undetermined.uses();
  if (needs.empty()) return result;

  // Ten capabilities: every subset of the bound can be tried.
  std::optional<caps::CapSet> best;
  std::size_t best_surface = std::numeric_limits<std::size_t>::max();
  for (std::uint32_t bits = 0; bits < (1u << caps::kCapabilityCount); ++bits) {
    caps::CapSet candidate = caps::CapSet::FromBits(static_cast<std::uint16_t>(bits));
    if (!candidate.IsSubsetOf(bound) || candidate.bits() != bits) continue;
    bool reaches_all = std::all_of(needs.begin(), needs.end(),
                                   [&](const auto& rows) { return AllReached(rows, candidate); });
    if (!reaches_all) continue;
    std::size_t surface = Surface(table, candidate);
    if (!best || std::popcount(bits) < std::popcount(best->bits()) ||
        (std::popcount(bits) == std::popcount(best->bits()) && surface < best_surface)) {
      best = candidate;
      best_surface = surface;
    }
  }
  // Every row set is reached by the bound itself, so a set was found.
  result.minimal = *best;

  // In the trace's order, each call credited to its innermost row: the escape
  // around it is the base tier.
  CommandCounter shared;
  std::map<caps::Capability, CommandCounter> needed_by;
  for (const TracedCall& call : calls) {
    if (!call.InnerKnown(table)) continue;
    std::vector<const abi::Entry*> rows = RowsOf(table, call);
    if (!needs.contains(rows)) continue;
    const abi::Mask& mask = rows.back()->mask;
    caps::CapSet reaching = mask.caps & result.minimal;
    if (!mask.base && std::popcount(reaching.bits()) == 1) {
      needed_by[static_cast<caps::Capability>(std::countr_zero(reaching.bits()))].Add(UseOf(table, call));
    } else {
      shared.Add(UseOf(table, call));
    }
  }
  result.shared = shared.uses();
  for (auto& [cap, counter] : needed_by) result.needed_by[cap] = counter.uses();
  return result;
}

Json LearnToJson(const LearnResult& r, caps::CapSet bound) {
  Json needed = Json::object();
  for (const auto& [cap, uses] : r.needed_by) needed[std::string(caps::Name(cap))] = UsesToJson(uses);
  return {{"caps", r.minimal.ToString()},
          {"allowed_caps", bound.ToString()},
          {"calls", r.calls},
          {"needed_by", needed},
          {"shared", UsesToJson(r.shared)},
          {"refused", UsesToJson(r.refused)},
          {"undetermined", UsesToJson(r.undetermined)}};
}

std::string LearnToText(const LearnResult& r, caps::CapSet bound) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%llu NVIDIA calls, learned within the bound %s\n",
                static_cast<unsigned long long>(r.calls), bound.ToString().c_str());
  out += line;
  if (r.minimal.empty()) {
    out += "no capability needed: no call that a capability set allows was made\n";
  } else {
    out += "smallest capability set: " + r.minimal.ToString() +
           "\n  NVIDIA_DRIVER_CAPABILITIES=" + r.minimal.ToString() + "\n";
  }
  for (const auto& [cap, uses] : r.needed_by) {
    out += "\nneeds " + std::string(caps::Name(cap)) + ":\n";
    UsesToText(out, uses);
  }
  if (!r.shared.empty()) {
    out += "\nallowed by any capability of the set (base tier, or several reach it):\n";
    UsesToText(out, r.shared);
  }
  if (!r.refused.empty()) {
    out += "\nrefused under every set within the bound (unknown, never allowed, or only outside it):\n";
    UsesToText(out, r.refused);
  }
  if (!r.undetermined.empty()) {
    out += "\nrefused before their inner command was read (not counted):\n";
    UsesToText(out, r.undetermined);
  }
  return out;
}

ReplayResult Replay(const abi::Table& table, caps::CapSet enabled, std::span<const TracedCall> calls) {
  ReplayResult result;
  for (const TracedCall& call : calls) {
    ReplayedCall r{.call = &call, .now = Evaluate(table, enabled, call), .changed = false};
    bool was_allowed = PolicyAllowed(call);
    r.changed = was_allowed != r.now.allowed ||
                (!r.now.allowed && !was_allowed && r.now.reason != call.reason);
    result.allowed += r.now.allowed;
    result.refused += !r.now.allowed;
    result.changed += r.changed;
    result.undetermined += !r.now.inner_known;
    result.calls.push_back(std::move(r));
  }
  return result;
}

Summary Summarize(std::span<const TracedCall> calls) {
  Summary s;
  std::map<std::pair<abi::Level, std::uint32_t>, SummaryRow> rows;
  std::optional<std::int64_t> first_start;
  std::int64_t last_end = 0;
  for (const TracedCall& c : calls) {
    for (SummaryRow* row : {&rows[{c.level, c.key}], &s.by_level[c.level]}) {
      row->level = c.level;
      row->key = c.key;
      row->name = c.name;
      ++row->calls;
      row->allowed += c.allowed;
      row->refused += !c.allowed;
      row->total_us += c.duration_us;
      row->driver_us += c.driver_us;
    }
    ++s.calls;
    s.allowed += c.allowed;
    s.refused += !c.allowed;
    s.total_us += c.duration_us;
    s.driver_us += c.driver_us;
    first_start = std::min(first_start.value_or(c.start_us), c.start_us);
    last_end = std::max(last_end, c.start_us + c.duration_us);
  }
  s.span_us = first_start ? last_end - *first_start : 0;
  for (auto& [k, row] : rows) s.rows.push_back(std::move(row));
  std::stable_sort(s.rows.begin(), s.rows.end(), [](const SummaryRow& a, const SummaryRow& b) {
    return std::tuple(a.level, -static_cast<std::int64_t>(a.calls), a.key) <
           std::tuple(b.level, -static_cast<std::int64_t>(b.calls), b.key);
  });
  return s;
}

void AuditObserver::Observe(const proxy::CallRecord& record) {
  TracedCall call = FromRecord(record, table_, record.started, false);
  // A call the bound refused too was already logged as denied.
  if (!PolicyAllowed(call)) return;
  Evaluation e = Evaluate(table_, requested_, call);
  if (e.allowed) return;
  log_.Report({.pid = call.pid,
               .level = call.level,
               .key = call.key,
               .line = "pid " + std::to_string(call.pid) + ": " + e.message,
               .capability = std::move(e.capability),
               .call = std::move(e.call)});
}

}  // namespace nvgate::trace
