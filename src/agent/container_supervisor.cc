#include "agent/container_supervisor.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "abi/abi.h"
#include "backend/backend.h"
#include "error/error.h"
#include "fd/owned_fd.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "supervisor/launch.h"
#include "supervisor/notifier.h"
#include "supervisor/supervisor.h"

namespace nvgate::agent {
namespace {

using nlohmann::json;

// The value at `key` of `object` as T, or nullopt when missing or of another type.
template <typename T>
std::optional<T> Get(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return std::nullopt;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return std::nullopt;
  } else if constexpr (std::is_signed_v<T>) {
    if (!it->is_number_integer()) return std::nullopt;
  } else {
    if (!it->is_number_unsigned()) return std::nullopt;
  }
  return it->get<T>();
}

json EncodeLatency(const metrics::LatencyHistogram::Snapshot& latency) {
  return {{"counts", latency.counts}, {"sum_ns", latency.sum_ns}};
}

bool DecodeLatency(const json& in, metrics::LatencyHistogram::Snapshot& out) {
  if (!in.is_object()) return false;
  auto counts = in.find("counts");
  auto sum = Get<std::uint64_t>(in, "sum_ns");
  if (counts == in.end() || !counts->is_array() || counts->size() != out.counts.size() || !sum) return false;
  for (std::size_t i = 0; i < out.counts.size(); ++i) {
    if (!(*counts)[i].is_number_unsigned()) return false;
    out.counts[i] = (*counts)[i].get<std::uint64_t>();
  }
  out.sum_ns = *sum;
  return true;
}

// What one entry of ContainerStatus::denials holds: strings and counts only.
bool ValidDenialEntry(const json& entry) {
  if (!entry.is_object() || entry.size() != 6) return false;
  for (const char* key : {"call", "level", "key", "capability"}) {
    if (!Get<std::string>(entry, key)) return false;
  }
  return Get<std::uint64_t>(entry, "count") && Get<std::uint64_t>(entry, "processes");
}

bool SendReport(int fd, const std::string& report) {
  for (;;) {
    ssize_t n = send(fd, report.data(), report.size(), MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

ContainerReport Snapshot(const ContainerMeter& meter, const supervisor::Supervisor& supervisor,
                         const policy::DenialLog& denials) {
  ContainerReport report;
  // The meter first: a call it counts was executed and its denial logged before.
  report.meter = meter.Read();
  supervisor::SupervisorStats stats = supervisor.stats();
  report.executed = stats.executed;
  report.denied = stats.denied;
  for (const policy::DenialCount& d : denials.Summary()) {
    if (report.denials.size() == kMaxReportedDenials) break;
    report.denials.push_back({{"call", d.call},
                              {"level", abi::LevelName(d.level)},
                              {"key", fmt::format("{:#x}", d.key)},
                              {"capability", d.capability},
                              {"count", d.count},
                              {"processes", d.processes}});
  }
  return report;
}

}  // namespace

std::string EncodeConfig(const ContainerSupervisorConfig& config) {
  return json{{"id", config.id},
              {"gpus", config.gpus ? json(*config.gpus) : json(nullptr)},
              {"sim_gpus", config.driver.sim_gpus},
              {"pid", config.pid},
              {"enabled", config.enabled.bits()},
              {"refused", config.refused},
              {"agent_pid", config.agent_pid},
              {"log_level", config.log_level},
              {"backend", config.driver.backend},
              {"sim_node_dir", config.driver.sim_node_dir},
              {"sim_call_log", config.driver.sim_call_log},
              {"abi_version", config.driver.abi_version}}
      .dump();
}

Result<ContainerSupervisorConfig> DecodeConfig(std::string_view text) {
  json in = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!in.is_object()) return tl::unexpected(Error::Malformed("the configuration is not a JSON object"));
  ContainerSupervisorConfig config;
  auto id = Get<std::string>(in, "id");
  auto pid = Get<int>(in, "pid");
  auto enabled = Get<std::uint16_t>(in, "enabled");
  auto refused = Get<bool>(in, "refused");
  auto agent_pid = Get<int>(in, "agent_pid");
  auto log_level = Get<std::string>(in, "log_level");
  auto backend = Get<std::string>(in, "backend");
  auto node_dir = Get<std::string>(in, "sim_node_dir");
  auto call_log = Get<std::string>(in, "sim_call_log");
  auto abi_version = Get<std::string>(in, "abi_version");
  auto sim_gpus = Get<int>(in, "sim_gpus");
  auto gpus = in.find("gpus");
  const bool gpus_valid =
      gpus != in.end() &&
      (gpus->is_null() ||
       (gpus->is_array() && std::all_of(gpus->begin(), gpus->end(), [](const json& g) {
          return g.is_number_integer() && g.get<int>() >= 0;
        })));
  if (!id || !pid || !enabled || !refused || !agent_pid || !log_level || !backend || !node_dir || !call_log ||
      !abi_version || !sim_gpus || !gpus_valid) {
    return tl::unexpected(Error::Malformed("the configuration lacks a field or has one of the wrong type"));
  }
  config.id = *id;
  config.pid = *pid;
  config.enabled = caps::CapSet::FromBits(*enabled);
  config.refused = *refused;
  config.agent_pid = *agent_pid;
  config.log_level = *log_level;
  config.driver = {.backend = *backend, .sim_node_dir = *node_dir, .sim_call_log = *call_log,
                   .abi_version = *abi_version, .sim_gpus = *sim_gpus};
  if (!gpus->is_null()) config.gpus = gpus->get<std::vector<int>>();
  return config;
}

std::string EncodeReport(const ContainerReport& report) {
  json denial_series = json::array();
  for (const auto& [key, count] : report.meter.denials) denial_series.push_back({key.first, key.second, count});
  return json{{"allowed", report.meter.allowed},
              {"denied_answered", report.meter.denied},
              {"denial_series", denial_series},
              {"latency", EncodeLatency(report.meter.latency)},
              {"executed", report.executed},
              {"denied", report.denied},
              {"denials", report.denials}}
      .dump();
}

Result<ContainerReport> DecodeReport(std::string_view text) {
  if (text.size() > kMaxReportBytes) return tl::unexpected(Error::Malformed("the report is too large"));
  json in = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!in.is_object()) return tl::unexpected(Error::Malformed("the report is not a JSON object"));
  ContainerReport report;
  auto allowed = Get<std::uint64_t>(in, "allowed");
  auto denied_answered = Get<std::uint64_t>(in, "denied_answered");
  auto executed = Get<std::uint64_t>(in, "executed");
  auto denied = Get<std::uint64_t>(in, "denied");
  auto series = in.find("denial_series");
  auto latency = in.find("latency");
  auto denials = in.find("denials");
  if (!allowed || !denied_answered || !executed || !denied || series == in.end() || !series->is_array() ||
      series->size() > ContainerMeter::kMaxDenialSeries + 1 || latency == in.end() ||
      !DecodeLatency(*latency, report.meter.latency) || denials == in.end() || !denials->is_array() ||
      denials->size() > kMaxReportedDenials) {
    return tl::unexpected(Error::Malformed("the report lacks a field, has one of the wrong type or is over a bound"));
  }
  for (const json& s : *series) {
    if (!s.is_array() || s.size() != 3 || !s[0].is_string() || !s[1].is_string() || !s[2].is_number_unsigned()) {
      return tl::unexpected(Error::Malformed("the report has a malformed denial series"));
    }
    report.meter.denials[{s[0].get<std::string>(), s[1].get<std::string>()}] = s[2].get<std::uint64_t>();
  }
  for (const json& d : *denials) {
    if (!ValidDenialEntry(d)) return tl::unexpected(Error::Malformed("the report has a malformed denial"));
  }
  report.meter.allowed = *allowed;
  report.meter.denied = *denied_answered;
  report.executed = *executed;
  report.denied = *denied;
  report.denials = *denials;
  return report;
}

int RunContainerSupervisor(const ContainerSupervisorConfig& config, int listener, int report) {
  const std::string& id = config.id;
  // Ends with the agent (set here, after exec: a binary with file
  // capabilities would clear it), and not at all if the agent is already gone.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != config.agent_pid) {
    spdlog::error("agent: container {}: the agent that started its supervisor is gone", id);
    return 1;
  }
  // It holds the container's listener: from here on, not only once
  // Supervisor::Run (which sets this too) starts, no same-uid process may
  // ptrace it or take the listener with pidfd_getfd.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    spdlog::error("agent: container {}: prctl(PR_SET_DUMPABLE, 0) failed: {}", id, std::strerror(errno));
    return 1;
  }
  // The same privilege drop as `nvgate run`'s supervisor.
  if (auto dropped = supervisor::DropCapabilities(); !dropped) {
    spdlog::error("agent: container {}: {}", id, dropped.error());
    return 1;
  }
  const abi::Table* table = abi::TableForVersion(config.driver.abi_version);
  if (table == nullptr) {
    spdlog::error("agent: container {}: no ABI table for {}", id, config.driver.abi_version);
    return 1;
  }
  backend::SimOptions sim{.gpu_count = config.driver.sim_gpus,
                          .node_dir = config.driver.sim_node_dir,
                          .call_log = config.driver.sim_call_log};
  auto backend = config.driver.backend == "sim" ? backend::MakeSimBackend(sim) : backend::MakeHostBackend();
  if (!backend) {
    spdlog::error("agent: container {}: {}", id, backend.error());
    return 1;
  }
  auto notifier = supervisor::OsNotifier::Create(fd::OwnedFd(listener));
  if (!notifier) {
    spdlog::error("agent: container {}: {}", id, notifier.error());
    return 1;
  }

  ContainerMeter meter;
  auto count = [&meter](const policy::Denial& d) { meter.Denied(d); };
  policy::DenialLog denials =
      config.refused
          ? policy::DenialLog([](const policy::Denial&) {}, count)  // the agent logged the refusal once
          : policy::DenialLog([&id](const policy::Denial& d) { spdlog::warn("denied: container {}: {}", id, d.line); },
                              count);
  proxy::Proxy proxy(*table, config.enabled, **backend, denials);
  if (config.gpus) {
    std::vector<gpus::Gpu> machine = (*backend)->Gpus();
    std::vector<gpus::Gpu> selected;
    for (const gpus::Gpu& gpu : machine) {
      if (std::find(config.gpus->begin(), config.gpus->end(), gpu.index) != config.gpus->end()) {
        selected.push_back(gpu);
      }
    }
    const std::size_t machine_gpus = machine.size();
    proxy.SetGpus({.selection = gpus::Selection::Of(gpus::RequestKind::kList, std::move(selected), machine_gpus),
                   .machine = std::move(machine)});
  }
  supervisor::SupervisorOptions options{.meter = &meter};
  // The container's PID namespace is its workload's, unless it shares the
  // host's: then calls that run in the caller's own memory are refused.
  std::optional<supervisor::WorkloadNamespace> workload = supervisor::WorkloadNamespace::Of(config.pid);
  std::optional<supervisor::WorkloadNamespace> own = supervisor::WorkloadNamespace::Of(getpid());
  if (workload && own && (workload->ino != own->ino || workload->dev != own->dev)) options.workload = *workload;
  supervisor::Supervisor supervisor(**notifier, **backend, proxy, options);

  // SIGTERM (the agent stopping) ends supervision; blocked before any thread starts.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop, &signal);
    supervisor.Stop();
  });
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    std::uint64_t reported = ~0ull;
    while (!done.load()) {
      pollfd p{report, 0, 0};
      poll(&p, 1, static_cast<int>(kReportPeriod.count()));
      // The agent gone: nothing to report to (and PR_SET_PDEATHSIG ends us).
      if (p.revents & (POLLHUP | POLLERR)) return;
      ContainerMeter::Snapshot now = meter.Read();
      if (now.allowed + now.denied == reported) continue;
      reported = now.allowed + now.denied;
      SendReport(report, EncodeReport(Snapshot(meter, supervisor, denials)));
    }
  });

  auto result = supervisor.Run();
  done = true;
  reporter.join();
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  SendReport(report, EncodeReport(Snapshot(meter, supervisor, denials)));
  if (!result) {
    spdlog::error("agent: container {}: supervision ended: {}", id, result.error());
    return 1;
  }
  spdlog::info("agent: container {} is gone ({} calls executed)", id, supervisor.stats().executed);
  return 0;
}

}  // namespace nvgate::agent
