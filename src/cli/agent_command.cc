#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "backend/backend.h"
#include "caps/caps.h"
#include "caps/gpus.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "cli/failure.h"
#include "metrics/exposition.h"
#include "metrics/http_server.h"
#include "supervisor/filter.h"
#include "supervisor/launch.h"

namespace nvgate::cli {
namespace {

int Fail(const Error& error) { return cli::Fail("agent", error); }

}  // namespace

int RunAgent(const AgentOptions& options) {
  Logger();
  auto allowed = caps::ParseAllowed(options.allowed_caps);
  if (!allowed) return Fail(allowed.error().Prefixed("--allowed-caps: "));
  if (options.sim_node_dir && options.backend != "sim") return Fail(Error::Usage("--sim-node-dir needs --backend sim"));
  if (options.sim_call_log && options.backend != "sim") return Fail(Error::Usage("--sim-call-log needs --backend sim"));
  if (options.sim_gpus && options.backend != "sim") return Fail(Error::Usage("--sim-gpus needs --backend sim"));
  std::optional<metrics::ListenAddress> metrics_address;
  if (options.metrics) {
    auto parsed = metrics::ParseListenAddress(*options.metrics);
    if (!parsed) return Fail(parsed.error().Prefixed("--metrics: "));
    metrics_address = *parsed;
  }
  if (auto kernel = supervisor::CheckKernelSupport(); !kernel) return Fail(kernel.error());

  backend::SimOptions sim;
  if (options.sim_node_dir) sim.node_dir = *options.sim_node_dir;
  if (options.sim_gpus) sim.gpu_count = *options.sim_gpus;
  auto backend = options.backend == "sim" ? backend::MakeSimBackend(sim) : backend::MakeHostBackend();
  if (!backend) return Fail(backend.error());
  auto detected = (*backend)->DriverVersion();
  if (!detected) return Fail(detected.error());
  auto chosen = ChooseTable(*detected, options.abi_version);
  if (!chosen) return Fail(chosen.error());
  if (!chosen->warning.empty()) spdlog::warn("{}", chosen->warning);

  // Each container's supervisor process opens the driver (or the sim's node
  // files) itself. The sim's files are the agent's: created here, in
  // --sim-node-dir or a directory of the agent's own, and bound into containers.
  agent::DriverAccess driver{.backend = options.backend,
                             .sim_node_dir = "",
                             .sim_call_log = options.sim_call_log.value_or(""),
                             .abi_version = chosen->version,
                             .sim_gpus = sim.gpu_count};
  if (options.backend == "sim") {
    driver.sim_node_dir = std::filesystem::path((*backend)->Nodes().front().source_path).parent_path();
  }
  std::vector<gpus::Gpu> machine = (*backend)->Gpus();
  auto allowed_gpus = gpus::ResolveBound(options.allowed_gpus, machine);
  if (!allowed_gpus) return Fail(allowed_gpus.error().Prefixed("--allowed-gpus: "));
  agent::Agent agent({.socket_path = options.socket,
                      .allowed = *allowed,
                      .machine = std::move(machine),
                      .allowed_gpus = *allowed_gpus,
                      .driver = driver});
  if (auto listening = agent.Listen(); !listening) return Fail(listening.error());
  // Declared after the agent, whose counters it renders: it stops first.
  metrics::HttpServer metrics_server([&] {
    metrics::Exposition out;
    out.Family("nvgate_build_info", "nvgate's version, the driver's, the ABI table's and the backend; always 1.",
               metrics::Type::kGauge);
    out.Sample("nvgate_build_info",
               {{"version", NVGATE_VERSION},
                {"driver", *detected},
                {"abi", chosen->version},
                {"backend", options.backend}},
               1);
    agent.WriteMetrics(out);
    return out.Take();
  });
  if (metrics_address) {
    if (auto listening = metrics_server.Listen(*metrics_address); !listening) {
      return Fail(listening.error().Prefixed("--metrics " + *options.metrics + ": "));
    }
  }
  // Before any thread starts: capabilities and the signal mask are per thread.
  if (auto dropped = supervisor::DropCapabilities(); !dropped) return Fail(dropped.error());
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread signal_waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("agent: stopping on signal {}", signal);
    // nvgate-agent.service is Type=notify; without NOTIFY_SOCKET this does nothing.
    sd_notify(0, "STOPPING=1");
    agent.Stop();
  });

  spdlog::info("agent: listening on {} (driver {}, backend {}, allowed capabilities {})", options.socket,
               chosen->version, options.backend, allowed->ToString());
  if (metrics_address) {
    // After the signal mask: SIGTERM must reach the signal waiter, not this thread.
    metrics_server.Start();
    spdlog::info("agent: metrics on {} (GET /metrics)", metrics_server.address());
  }
  // The socket listens since Listen(): a runtime's connect succeeds from here
  // on, so systemd may start containerd, Docker and CRI-O (the unit is
  // Before= them). A no-op without NOTIFY_SOCKET.
  sd_notify(0, "READY=1");
  auto served = agent.Serve();
  // Serve() can also end on an error: release the signal waiter either way.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  metrics_server.Stop();
  if (!served) return Fail(served.error());
  return 0;
}

int RunAgentContainer(const std::string& config) {
  Logger();
  auto decoded = agent::DecodeConfig(config);
  if (!decoded) return cli::Fail("agent-container", decoded.error());
  // The agent's --log-level, which may not be this process's (a file's or the default).
  spdlog::set_level(spdlog::level::from_str(decoded->log_level));
  return agent::RunContainerSupervisor(*decoded, /*listener=*/3, /*report=*/4);
}

int RunAgentStatus(const AgentStatusOptions& options) {
  auto reply = agent::QueryStatus(options.socket);
  if (!reply) return cli::Fail("agent status", reply.error());
  std::fputs(reply->c_str(), stdout);
  return 0;
}

}  // namespace nvgate::cli
