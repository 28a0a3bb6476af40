// Traces of NVIDIA driver calls: one JSON line per call the proxy executed or
// refused, after a versioned header line (format in docs/trace-format.md).
//
//   trace::TraceWriter writer(file, header, /*with_params=*/false);
//   proxy.SetObserver(&writer);            // nvgate trace
//   ... run the workload ...
//   auto trace = trace::ReadTrace(in);     // nvgate learn FILE, replay, summary
//   if (!trace) die(trace.error());        // names the bad line
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "abi/device.h"
#include "caps/caps.h"
#include "error/error.h"
#include "proxy/call_record.h"

namespace nvgate::trace {

// The format version this nvgate writes and reads; a change that breaks a
// reader bumps it.
inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kFormatName = "nvgate-trace";

struct TraceHeader {
  int version = kFormatVersion;
  std::string nvgate_version;
  std::string driver_version;  // the version whose table decided the calls
  std::string backend;         // "host", "sim" or "replay"
  caps::CapSet caps;           // the capabilities the calls were decided under
  caps::CapSet allowed_caps;   // the operator's bound
  bool with_params = false;
  // nvgate trace --observe-only: each call was decided under `caps` but run by
  // the kernel (host) or answered under every capability (sim, replay); the
  // decisions say what nvgate run would do (trace/observe_only.h).
  bool observe_only = false;
  std::vector<std::string> command;
  std::string started;         // UTC, ISO 8601
};

// Why a call was refused.
enum class Reason : std::uint8_t {
  kNone,               // allowed
  kUnknown,            // no table row (or a node nvgate has no table for)
  kNeverAllowed,       // a deny row, or a row no capability reaches
  kMissingCapability,  // a capability outside the set reaches it
  kProxyCheck,         // policy allowed the command, the proxy's own checks refused it
};
std::string_view ReasonName(Reason reason);  // "unknown", "never_allowed", ...
std::optional<Reason> ReasonFromName(std::string_view name);

// A call's decision as traces and reports write it: "allowed" or "refused".
std::string_view DecisionName(bool allowed);
// Whether `name` is "allowed"; nullopt for a name that is neither.
std::optional<bool> AllowedFromDecisionName(std::string_view name);

// One call, as written to and read from a trace.
struct TracedCall {
  std::uint64_t seq = 0;            // order in which the calls completed
  std::int64_t start_us = 0;        // since the trace started
  std::int64_t duration_us = 0;     // the whole call in the proxy
  int pid = 0;
  int tid = 0;                      // 0 when not known
  abi::DeviceKind device = abi::DeviceKind::kNotNvidia;
  std::uint32_t request = 0;        // the ioctl request's low 32 bits
  // The request as decoded: frontend nr or UVM request.
  abi::Level request_level = abi::Level::kFrontend;
  std::uint32_t request_key = 0;
  std::string request_name;         // "" when the table has no row
  // The innermost command decided: a control's cmd, an alloc's class, ...;
  // the request itself when it does not dispatch again (or was refused first).
  abi::Level level = abi::Level::kFrontend;
  std::uint32_t key = 0;
  std::string name;
  std::string reached_by;           // the row's capabilities (abi::Mask::ToString), "" without one
  std::uint32_t size = 0;           // top-level parameter bytes
  bool allowed = false;
  Reason reason = Reason::kNone;
  std::string message;              // the refusal as logged, "" when allowed
  std::optional<int> driver_return; // set when the call reached the driver
  std::int64_t driver_us = 0;
  std::int64_t value = 0;           // what the workload's ioctl returned
  int error = 0;                    // and its errno, 0 for none
  std::optional<std::uint32_t> status;  // NV_STATUS written back, where the struct has one
  std::vector<proxy::MemoryCopy> in;    // parameter bytes, with --with-params
  std::vector<proxy::MemoryCopy> out;

  // Whether the innermost command was decoded: false for an escape that
  // dispatches again but was refused before its inner key was read.
  bool InnerKnown(const abi::Table& table) const;
};

// The record of one call, with names and times as a trace states them.
TracedCall FromRecord(const proxy::CallRecord& record, const abi::Table& table,
                      std::chrono::steady_clock::time_point trace_start, bool with_params);

// Written with their keys in a fixed order, so that lines read well.
nlohmann::ordered_json HeaderToJson(const TraceHeader& header);
Result<TraceHeader> HeaderFromJson(const nlohmann::json& j);
nlohmann::ordered_json CallToJson(const TracedCall& call);
Result<TracedCall> CallFromJson(const nlohmann::json& j);

struct Trace {
  TraceHeader header;
  std::vector<TracedCall> calls;
  // The number of a last line that ended without its newline and is not a
  // whole call, as when the recording nvgate was killed mid-write; the calls
  // before it are read. 0 for a whole trace.
  int cut_short_line = 0;
};

// Reads a whole trace; errors name the line.
Result<Trace> ReadTrace(std::istream& in);
Result<Trace> ReadTraceFile(const std::string& path);

// Writes each observed call as one line, flushed, so that a trace survives a
// workload that never ends cleanly.
class TraceWriter final : public proxy::CallObserver {
 public:
  // Writes the header line at once.
  TraceWriter(std::ostream& out, const TraceHeader& header, const abi::Table& table);

  bool WantsParams() const override { return with_params_; }
  void Observe(const proxy::CallRecord& record) override;

  std::uint64_t calls_written() const;

 private:
  std::ostream& out_;
  const abi::Table& table_;
  bool with_params_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  mutable std::mutex mu_;
  std::uint64_t next_seq_ = 0;
};

// Keeps every observed call in memory (nvgate learn COMMAND).
class CallCollector final : public proxy::CallObserver {
 public:
  explicit CallCollector(const abi::Table& table) : table_(table) {}

  bool WantsParams() const override { return false; }
  void Observe(const proxy::CallRecord& record) override;

  // The calls so far, in completion order.
  std::vector<TracedCall> Calls() const;

 private:
  const abi::Table& table_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  mutable std::mutex mu_;
  std::vector<TracedCall> calls_;
};

// The current UTC time as ISO 8601, for headers.
std::string UtcNow();

}  // namespace nvgate::trace
