// `nvgate agent`: supervises the NVIDIA calls of containers started by an OCI
// runtime with nvgate's seccomp profile (oci_profile.h).
//
//   agent::Agent agent({.socket_path = "/run/nvgate/agent.sock", .allowed = bound,
//                       .table = table, .backend = backend.get()});
//   if (auto r = agent.Listen(); !r) die(r.error());
//   agent.Serve();                 // until Stop(), from another thread or a signal
//
// One connection per container start: the runtime (runc, crun) sends the
// container's seccomp listener and its process state (container_request.h).
// The agent resolves the container's capability request under its bound and
// runs a Proxy and a Supervisor for it on a thread of its own, exactly as
// `nvgate run` does, until the container's last task is gone; then everything
// of that container is released. A request outside the bound (or unreadable)
// is logged once and the container's every NVIDIA call is refused: the
// container still runs, as it would on a host without the capability.
//
// A connection that sends {"request": "status"} without fds gets the active
// containers back as one JSON object (nvgate agent status). WriteMetrics()
// gives the same counts and more as Prometheus metrics (agent_metrics.h).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "abi/abi.h"
#include "agent/agent_metrics.h"
#include "backend/backend.h"
#include "caps/caps.h"
#include "supervisor/supervisor.h"

namespace nvgate::agent {

struct AgentOptions {
  std::string socket_path;
  caps::CapSet allowed;                  // the operator's bound
  const abi::Table* table = nullptr;     // the driver's table
  backend::Backend* backend = nullptr;   // shared by every container; thread-safe
  supervisor::SupervisorOptions supervisor;
};

struct ContainerStatus {
  std::string id;
  int pid = 0;
  std::string requested;  // the request as written ("" when unset)
  std::string source;     // where it came from
  std::string enabled;    // what calls run under; "" when every call is refused
  bool refused = false;   // the request was outside the bound, or unreadable
  std::uint64_t executed = 0;  // NVIDIA calls handed to the proxy
  std::uint64_t denied = 0;    // of those, denied and answered
  nlohmann::json denials;      // per denied call: call, level, key, capability, count, processes
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  // Stops every supervisor and waits for their threads.
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Binds the socket (mode 0600; a stale socket file is replaced).
  tl::expected<void, std::string> Listen();
  // Accepts runtimes and status requests until Stop().
  tl::expected<void, std::string> Serve();
  // Makes Serve() return; supervised containers' trapped calls then fail
  // (ENOSYS), they are never let through. Thread-safe.
  void Stop();

  std::vector<ContainerStatus> Containers() const;
  // Every metric, the containers that are gone counted in the agent's
  // totals. Thread-safe; takes the agent's lock only to read counters.
  void WriteMetrics(metrics::Exposition& out) const;

 private:
  struct Container;

  void HandleConnection(int connection);
  void StartContainer(int listener, const struct ContainerProcessState& state);
  void ReapFinished();

  AgentOptions options_;
  int listen_fd_ = -1;
  bool bound_ = false;  // the socket file is ours to remove
  int wake_fd_ = -1;  // eventfd, readable once Stop() was called

  mutable std::mutex mu_;
  std::list<std::unique_ptr<Container>> containers_;
  AgentTotals totals_;  // of the containers reaped, and how many ever started
};

// Asks the agent on `socket_path` for its active containers; returns its JSON
// reply.
tl::expected<std::string, std::string> QueryStatus(const std::string& socket_path);

}  // namespace nvgate::agent
