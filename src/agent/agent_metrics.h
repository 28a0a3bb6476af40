// The agent's metrics (docs/containers.md, "Metrics"): each container's
// supervisor process counts its answered calls and their latency into a
// ContainerMeter (atomics, on every call), and its DenialLog counts each
// denial by capability and call (under the meter's mutex: denials only); the
// process reports the meter's snapshots to the agent (container_supervisor.h).
// When a container is gone its series go too, and its counts stay in the
// agent's totals.
//
//   ContainerMeter meter;
//   supervisor::SupervisorOptions options{.meter = &meter};
//   policy::DenialLog log(first, [&](const policy::Denial& d) { meter.Denied(d); });
//   ...
//   WriteAgentMetrics(out, {{"ctr1", meter.Read()}}, totals);
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/exposition.h"
#include "policy/policy.h"
#include "supervisor/supervisor.h"

namespace nvgate::agent {

class ContainerMeter final : public supervisor::CallMeter {
 public:
  // Distinct (capability, call) series per container. Names come from the
  // table, so they are bounded anyway; this bounds what one container that is
  // refused everything can add. Past it, denials count as ("other", "other").
  static constexpr std::size_t kMaxDenialSeries = 64;

  using DenialKey = std::pair<std::string, std::string>;  // capability, call

  struct Snapshot {
    std::uint64_t allowed = 0;
    std::uint64_t denied = 0;
    std::map<DenialKey, std::uint64_t> denials{};
    metrics::LatencyHistogram::Snapshot latency{};
  };

  void Answered(bool denied, std::chrono::nanoseconds latency) override;
  // A DenialLog's `every` sink.
  void Denied(const policy::Denial& denial);
  Snapshot Read() const;

 private:
  std::atomic<std::uint64_t> allowed_{0};
  std::atomic<std::uint64_t> denied_{0};
  metrics::LatencyHistogram latency_;
  mutable std::mutex mu_;
  std::map<DenialKey, std::uint64_t> denials_;
};

// Counts over every container since the agent started, those gone included.
struct AgentTotals {
  std::uint64_t started = 0;  // containers handed to the agent
  std::uint64_t refused = 0;  // of those, with their capability request refused
  std::uint64_t failed = 0;   // supervisor processes that crashed, were killed or failed
  std::uint64_t allowed = 0;
  std::uint64_t denied = 0;
  std::map<std::string, std::uint64_t> denials_by_capability{};
  metrics::LatencyHistogram::Snapshot latency{};

  void Add(const ContainerMeter::Snapshot& container);
};

struct ContainerSample {
  std::string id;
  ContainerMeter::Snapshot meter;
};

// Every family, in a fixed order: the per-container ones with a series for
// each of `live`, then the agent's totals.
void WriteAgentMetrics(metrics::Exposition& out, const std::vector<ContainerSample>& live, const AgentTotals& totals);

}  // namespace nvgate::agent
