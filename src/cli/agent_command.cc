#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "backend/backend.h"
#include "caps/caps.h"
#include "caps/gpus.h"
#include "cli/command_options.h"
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

void AddAgentCommands(CLI::App& app, std::vector<Command>& commands) {
  auto agent = std::make_shared<AgentOptions>();
  auto status = std::make_shared<AgentStatusOptions>();
  CLI::App* agent_cmd = app.add_subcommand(
      "agent", "Supervise the NVIDIA calls of containers whose runtime sends their seccomp listener here");
  AddSocketOption(agent_cmd, agent->socket, "The socket the profile's listenerPath names");
  AddAllowedCapsOption(agent_cmd, agent->allowed_caps,
                       "The operator's bound: a container requesting more gets every NVIDIA call refused");
  AddAllowedGpusOption(agent_cmd, agent->allowed_gpus,
                       "The operator's bound on GPUs (as NVIDIA_VISIBLE_DEVICES reads): a container whose "
                       "devices or NVIDIA_VISIBLE_DEVICES name another GPU gets every NVIDIA call refused");
  agent_cmd->add_option("--backend", agent->backend,
                        "host: the real driver; sim: the simulated 580 driver (no GPU needed)")
      ->check(CLI::IsMember({"host", "sim"}))
      ->default_str("host");
  agent_cmd->add_option("--sim-node-dir", agent->sim_node_dir,
                        "With --backend sim: create the sim's node files (nvidiactl, nvidia0, "
                        "nvidia-uvm) in DIR, to bind-mount into containers as /dev/...");
  AddSimGpusOption(agent_cmd, agent->sim_gpus,
                   "With --backend sim: how many GPUs the simulated driver offers (1 to 8, default 1)");
  agent_cmd->add_option("--sim-call-log", agent->sim_call_log,
                        "With --backend sim: append one line per call the simulated driver executes to FILE, "
                        "naming the process that made it (each container's supervisor process)");
  agent_cmd->add_option("--abi-version", agent->abi_version,
                        "Use this supported version's table whatever the driver is (warns)");
  agent_cmd->add_option("--metrics", agent->metrics,
                        "Serve Prometheus metrics at GET /metrics on HOST:PORT (127.0.0.1:9464, [::1]:9464) "
                        "or unix:PATH (default: none)")
      ->type_name("ADDR");
  CLI::App* status_cmd = agent_cmd->add_subcommand("status", "Print the agent's active containers as JSON");
  AddSocketOption(status_cmd, status->socket, "The agent's socket");
  status_cmd->footer(
      "Example:\n"
      "  nvgate agent status --socket /run/nvgate/agent.sock | jq '.containers[].id'");
  commands.push_back({status_cmd, [status](const Invocation&) { return RunAgentStatus(*status); }});
  agent_cmd->footer(
      "Capabilities per container, first of: the profile's listenerMetadata, the annotation\n"
      "io.nvgate.driver-capabilities, NVIDIA_DRIVER_CAPABILITIES in the bundle's config.json,\n"
      "else compute,utility; always within --allowed-caps. GPUs per container: the /dev/nvidiaN\n"
      "its config.json lists (devices, mounts) and those its NVIDIA_VISIBLE_DEVICES selects (unset:\n"
      "none, as the NVIDIA toolkit reads it); always within --allowed-gpus. Runs until SIGINT or SIGTERM.\n"
      "Examples:\n"
      "  nvgate agent --socket /run/nvgate/agent.sock --allowed-caps compute,utility,video\n"
      "  nvgate agent --socket /tmp/a.sock --backend sim --sim-node-dir /tmp/nvsim\n"
      "  nvgate agent --allowed-gpus 0,1      # containers may be given GPUs 0 and 1 only\n"
      "  nvgate agent --metrics 127.0.0.1:9464       # then: curl http://127.0.0.1:9464/metrics\n"
      "  nvgate agent status --socket /tmp/a.sock");
  commands.push_back({agent_cmd, [agent](const Invocation&) { return RunAgent(*agent); }});

  // Not for people: the process `nvgate agent` starts for each container.
  auto container_config = std::make_shared<std::string>();
  CLI::App* container_cmd = app.add_subcommand("agent-container", "");
  container_cmd->group("");
  container_cmd->add_option("config", *container_config)->required();
  commands.push_back(
      {container_cmd, [container_config](const Invocation&) { return RunAgentContainer(*container_config); }});
}

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
  auto chosen = ChooseTableFor(**backend, options.abi_version);
  if (!chosen) return Fail(chosen.error());

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
                {"driver", chosen->detected},
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
