#include "agent/agent_metrics.h"

namespace nvgate::agent {

void ContainerMeter::Answered(bool denied, std::chrono::nanoseconds latency) {
  latency_.Observe(latency);
  // Released after the histogram (and the denial, counted while the call ran):
  // a scrape that sees this call counted sees all of it.
  (denied ? denied_ : allowed_).fetch_add(1, std::memory_order_release);
}

void ContainerMeter::Denied(const policy::Denial& denial) {
  std::lock_guard lock(mu_);
  auto it = denials_.find(DenialKey(denial.capability, denial.call));
  if (it != denials_.end()) {
    ++it->second;
  } else if (denials_.size() < kMaxDenialSeries) {
    denials_.emplace(DenialKey(denial.capability, denial.call), 1);
  } else {
    ++denials_[DenialKey("other", "other")];
  }
}

ContainerMeter::Snapshot ContainerMeter::Read() const {
  Snapshot s;
  s.allowed = allowed_.load(std::memory_order_acquire);
  s.denied = denied_.load(std::memory_order_acquire);
  s.latency = latency_.Read();
  std::lock_guard lock(mu_);
  s.denials = denials_;
  return s;
}

void AgentTotals::Add(const ContainerMeter::Snapshot& container) {
  allowed += container.allowed;
  denied += container.denied;
  for (const auto& [key, count] : container.denials) denials_by_capability[key.first] += count;
  latency += container.latency;
}

void WriteAgentMetrics(metrics::Exposition& out, const std::vector<ContainerSample>& live, const AgentTotals& totals) {
  using metrics::Type;
  auto value = [](std::uint64_t v) { return static_cast<double>(v); };

  out.Family("nvgate_active_containers", "Containers whose NVIDIA calls the agent supervises now.", Type::kGauge);
  out.Sample("nvgate_active_containers", {}, value(live.size()));

  out.Family("nvgate_calls_total",
             "NVIDIA calls of each running container, answered: allowed (executed) or denied.", Type::kCounter);
  for (const ContainerSample& c : live) {
    out.Sample("nvgate_calls_total", {{"container", c.id}, {"decision", "allowed"}}, value(c.meter.allowed));
    out.Sample("nvgate_calls_total", {{"container", c.id}, {"decision", "denied"}}, value(c.meter.denied));
  }
  out.Family("nvgate_denials_total",
             "Denied NVIDIA calls of each running container, by what the denial log names: the capability "
             "that would allow the call (or unknown, never, client, share, unsupported) and the call.",
             Type::kCounter);
  for (const ContainerSample& c : live) {
    for (const auto& [key, count] : c.meter.denials) {
      out.Sample("nvgate_denials_total", {{"container", c.id}, {"capability", key.first}, {"call", key.second}},
                 value(count));
    }
  }
  out.Family("nvgate_supervision_latency_seconds",
             "From a trapped NVIDIA call's notification to its answer, per running container.", Type::kHistogram);
  for (const ContainerSample& c : live) {
    out.Histogram("nvgate_supervision_latency_seconds", {{"container", c.id}}, c.meter.latency);
  }

  out.Family("nvgate_containers_started_total",
             "Containers whose runtime handed them to the agent (those refused included).", Type::kCounter);
  out.Sample("nvgate_containers_started_total", {}, value(totals.started));
  out.Family("nvgate_containers_refused_total",
             "Containers whose capability request was refused: every NVIDIA call of theirs is denied.",
             Type::kCounter);
  out.Sample("nvgate_containers_refused_total", {}, value(totals.refused));
  out.Family("nvgate_container_supervisors_failed_total",
             "Containers whose supervisor process crashed, was killed or failed: their NVIDIA calls then fail "
             "(ENOSYS); its counts until its last report stay in the agent's totals.",
             Type::kCounter);
  out.Sample("nvgate_container_supervisors_failed_total", {}, value(totals.failed));
  out.Family("nvgate_agent_calls_total", "NVIDIA calls of every container, those gone included.", Type::kCounter);
  out.Sample("nvgate_agent_calls_total", {{"decision", "allowed"}}, value(totals.allowed));
  out.Sample("nvgate_agent_calls_total", {{"decision", "denied"}}, value(totals.denied));
  out.Family("nvgate_agent_denials_total",
             "Denied NVIDIA calls of every container, those gone included, by capability.", Type::kCounter);
  for (const auto& [capability, count] : totals.denials_by_capability) {
    out.Sample("nvgate_agent_denials_total", {{"capability", capability}}, value(count));
  }
  out.Family("nvgate_agent_supervision_latency_seconds",
             "From a trapped NVIDIA call's notification to its answer, every container.", Type::kHistogram);
  out.Histogram("nvgate_agent_supervision_latency_seconds", {}, totals.latency);
}

}  // namespace nvgate::agent
