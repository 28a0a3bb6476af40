// What a trace says: each call re-decided under another capability set or
// driver table (nvgate replay, run --audit), the smallest capability set that
// allows every call (nvgate learn), and where the calls and time went
// (nvgate summary).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "caps/caps.h"
#include "policy/policy.h"
#include "proxy/call_record.h"
#include "trace/trace.h"

namespace nvgate::trace {

// A traced call decided again, as the proxy's policy would decide it: first
// the request (frontend nr or UVM request), then the inner command it
// dispatches to.
struct Evaluation {
  bool allowed = false;
  Reason reason = Reason::kNone;  // never kProxyCheck: that needs the live call
  // False when the request dispatches again but the trace never saw the inner
  // command (refused before it was read); `allowed` is then the request's
  // own decision and may be optimistic.
  bool inner_known = true;
  std::string message;     // policy::Describe of a refusal
  std::string capability;  // policy::DeniedCapability of a refusal
  std::string call;        // policy::CallName of a refusal
};
Evaluation Evaluate(const abi::Table& table, caps::CapSet enabled, const TracedCall& call);

// Whether the policy refused the call when it was traced (a refusal by the
// proxy's own checks is an allow by the policy).
bool PolicyAllowed(const TracedCall& call);

// One distinct command (level and key) of a trace.
struct CommandUse {
  abi::Level level;
  std::uint32_t key;
  std::string name;       // "" when the table has no row
  std::string reached_by; // the row's capabilities, "" without a row
  std::uint64_t calls = 0;
};

struct LearnResult {
  // The smallest set within the bound that allows every call that some set
  // within the bound allows; among equally small sets, the one reaching the
  // fewest table rows.
  caps::CapSet minimal;
  // Per capability of `minimal`: the commands only it reaches there.
  std::map<caps::Capability, std::vector<CommandUse>> needed_by;
  // Commands that several capabilities of `minimal` reach, or the base tier
  // (any capability).
  std::vector<CommandUse> shared;
  // Commands no set within the bound allows: unknown, never allowed, or only
  // reached by capabilities outside it.
  std::vector<CommandUse> refused;
  // Escapes whose inner command the trace never saw.
  std::vector<CommandUse> undetermined;
  std::uint64_t calls = 0;
};
LearnResult Learn(const abi::Table& table, caps::CapSet bound, std::span<const TracedCall> calls);
nlohmann::json LearnToJson(const LearnResult& result, caps::CapSet bound);
std::string LearnToText(const LearnResult& result, caps::CapSet bound);

struct ReplayedCall {
  const TracedCall* call;
  Evaluation now;
  // The decision differs from the traced one (policy decisions compared).
  bool changed = false;
};
struct ReplayResult {
  std::vector<ReplayedCall> calls;
  std::uint64_t allowed = 0, refused = 0, changed = 0, undetermined = 0;
};
ReplayResult Replay(const abi::Table& table, caps::CapSet enabled, std::span<const TracedCall> calls);

struct SummaryRow {
  abi::Level level;
  std::uint32_t key;
  std::string name;
  std::uint64_t calls = 0, allowed = 0, refused = 0;
  std::int64_t total_us = 0, driver_us = 0;
};
struct Summary {
  std::vector<SummaryRow> rows;  // by level, then most calls first
  std::map<abi::Level, SummaryRow> by_level;
  std::uint64_t calls = 0, allowed = 0, refused = 0;
  std::int64_t total_us = 0, driver_us = 0;
  std::int64_t span_us = 0;  // first call's start to last call's end
};
Summary Summarize(std::span<const TracedCall> calls);

// `nvgate run --audit`: the calls run under the allowed bound; each one the
// requested set would refuse is reported once per (process, command).
class AuditObserver final : public proxy::CallObserver {
 public:
  AuditObserver(const abi::Table& table, caps::CapSet requested, policy::DenialLog& log)
      : table_(table), requested_(requested), log_(log) {}

  bool WantsParams() const override { return false; }
  void Observe(const proxy::CallRecord& record) override;

 private:
  const abi::Table& table_;
  caps::CapSet requested_;
  policy::DenialLog& log_;
};

}  // namespace nvgate::trace
