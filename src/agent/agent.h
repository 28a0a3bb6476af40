// `nvgate agent`: supervises the NVIDIA calls of containers started by an OCI
// runtime with nvgate's seccomp profile (oci_profile.h).
//
//   agent::Agent agent({.socket_path = "/run/nvgate/agent.sock", .allowed = bound,
//                       .driver = {.backend = "host", .abi_version = "580.159.04"}});
//   if (auto r = agent.Listen(); !r) die(r.error());
//   agent.Serve();                 // until Stop(), from another thread or a signal
//
// One connection per container start: the runtime (runc, crun) sends the
// container's seccomp listener and its process state (container_request.h).
// The agent resolves the container's capability request under its bound and
// starts a supervisor process for that container alone
// (container_supervisor.h), which runs a Proxy and a Supervisor as `nvgate
// run` does until the container's last task is gone. The driver therefore sees
// each container's calls come from a process of its own. A request outside the
// bound (or unreadable) is logged once and the container's every NVIDIA call is
// refused: the container still runs, as it would on a host without the
// capability.
//
// The agent keeps no listener: once the child has it, the child is the only
// process that can answer the container's calls. A child that dies (killed,
// crashed) takes only its own container's NVIDIA calls with it: the kernel then
// fails them with ENOSYS, as for any seccomp listener that is gone. The agent
// logs it and counts it (nvgate_container_supervisors_failed_total).
//
// Each child reports its container's counts over a socketpair; a connection
// that sends {"request": "status"} without fds gets the active containers back
// as one JSON object (nvgate agent status), and WriteMetrics() gives the same
// counts and more as Prometheus metrics (agent_metrics.h).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/agent_metrics.h"
#include "agent/container_supervisor.h"
#include "caps/caps.h"
#include "caps/gpus.h"
#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::agent {

struct AgentOptions {
  std::string socket_path;
  caps::CapSet allowed;  // the operator's bound
  // The machine's GPUs and the operator's bound on them; with no GPUs known
  // and an unrestricted bound, containers' GPU requests are not checked.
  std::vector<gpus::Gpu> machine{};
  gpus::Selection allowed_gpus{};
  DriverAccess driver;   // how each container's supervisor process reaches the driver
  // The program and first arguments of a container's supervisor process; the
  // agent adds its configuration (EncodeConfig) as the last argument. `nvgate`
  // runs itself again: the same binary as the agent, even after an upgrade
  // replaced the file.
  std::vector<std::string> supervisor_command = {"/proc/self/exe", "agent-container"};
};

struct ContainerStatus {
  std::string id;
  int pid = 0;
  int supervisor_pid = 0;  // the container's supervisor process
  std::string requested;  // the request as written ("" when unset)
  std::string source;     // where it came from
  std::string enabled;    // what calls run under; "" when every call is refused
  std::string gpus;       // the GPUs its calls may name (gpus::Selection::ToString); "all" for every one
  bool refused = false;   // the request was outside the bound, or unreadable
  std::optional<ErrorKind> refusal;  // why, when refused (its id is agent status's "error")
  std::uint64_t executed = 0;  // NVIDIA calls handed to the proxy
  std::uint64_t denied = 0;    // of those, denied and answered
  nlohmann::json denials;      // per denied call: call, level, key, capability, count, processes
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  // Stops every container's supervisor process and waits for it.
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Binds the socket (mode 0600; a stale socket file is replaced).
  Result<void> Listen();
  // Accepts runtimes and status requests until Stop().
  Result<void> Serve();
  // Makes Serve() return and every container's supervisor process end
  // (SIGTERM); supervised containers' trapped calls then fail (ENOSYS), they
  // are never let through. Thread-safe.
  void Stop();

  std::vector<ContainerStatus> Containers() const;
  // Every metric, the containers that are gone counted in the agent's
  // totals, from the newest report of each container's process. Thread-safe.
  void WriteMetrics(metrics::Exposition& out) const;

 private:
  struct Container;

  void HandleConnection(int connection);
  void StartContainer(fd::OwnedFd listener, const struct ContainerProcessState& state);
  // Takes the reports waiting on `c`'s socket; false once its process is gone.
  bool ReadReports(Container& c);
  // Waits for `c`'s process, logs how it ended and moves its counts to the totals.
  void Reap(Container& c);

  AgentOptions options_;
  fd::OwnedFd listen_fd_;
  bool bound_ = false;  // the socket file is ours to remove
  fd::OwnedFd wake_fd_;  // eventfd, readable once Stop() was called
  std::string report_buffer_;  // Serve()'s thread's, for ReadReports

  // Containers are added and removed by Serve()'s thread only, under mu_;
  // other threads read them under mu_.
  mutable std::mutex mu_;
  std::list<std::unique_ptr<Container>> containers_;
  AgentTotals totals_;  // of the containers reaped, and how many ever started
};

// Asks the agent on `socket_path` for its active containers; returns its JSON
// reply.
Result<std::string> QueryStatus(const std::string& socket_path);

}  // namespace nvgate::agent
