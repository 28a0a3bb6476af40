#include "trace/regression.h"

#include <fmt/format.h>

#include "abi/abi.h"
#include "trace/analysis.h"

namespace nvgate::trace {

std::vector<std::string> Regressions(const Trace& trace) {
  const abi::Table* table = abi::TableForVersion(trace.header.driver_version);
  if (table == nullptr) {
    return {"driver " + trace.header.driver_version + " has no table: its calls cannot be decided"};
  }
  std::vector<std::string> found;
  const std::string caps = trace.header.caps.ToString();
  for (const ReplayedCall& r : Replay(*table, trace.header.caps, trace.calls).calls) {
    const bool was_allowed = PolicyAllowed(*r.call);
    if (was_allowed == r.now.allowed) continue;
    std::string line = fmt::format("seq {}: {} {:#x} {} was {} under {}, now {}", r.call->seq,
                                   abi::LevelName(r.call->level), r.call->key,
                                   r.call->name.empty() ? "(no table row)" : r.call->name, DecisionName(was_allowed),
                                   caps, DecisionName(r.now.allowed));
    if (!r.now.allowed) line += fmt::format(" ({})", ReasonName(r.now.reason));
    if (!r.now.inner_known) line += " (its inner command is not in the trace)";
    found.push_back(std::move(line));
  }
  return found;
}

}  // namespace nvgate::trace
