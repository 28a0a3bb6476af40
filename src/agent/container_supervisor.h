// One container's supervisor process, which `nvgate agent` starts for each
// container that a runtime hands it (agent.h), and what that process tells the
// agent.
//
// The agent forks and, in the child, does only async-signal-safe work (it is
// multi-threaded): it moves the container's listener to fd 3 and its end of a
// report socketpair to fd 4, closes every other fd, clears the signal mask and
// execs /proc/self/exe as `nvgate agent-container CONFIG`, CONFIG being
// EncodeConfig's JSON. That process runs RunContainerSupervisor:
//
//   auto config = agent::DecodeConfig(argv_config);
//   return agent::RunContainerSupervisor(*config, /*listener=*/3, /*report=*/4);
//
// so that the driver sees each container's calls come from a process of that
// container's own: its per-process rules (the PID share policy, ProcID checks,
// osIsGpuAccessible's look at the caller's files) separate tenants again, and
// a supervisor that crashes takes only its own container's calls with it.
//
// Reports: one JSON object per message on the SOCK_SEQPACKET socket, each a
// whole snapshot of the container's counts (EncodeReport). The process sends
// one when the counts changed, checking every kReportPeriod, and a last one when
// its supervision ends; the agent keeps the newest.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/agent_metrics.h"
#include "caps/caps.h"
#include "error/error.h"

namespace nvgate::agent {

// How the agent's children reach the driver, as the agent itself was told.
struct DriverAccess {
  std::string backend = "host";  // "host" or "sim"
  std::string sim_node_dir;      // the sim's node files, shared by every container
  std::string sim_call_log;      // the sim's call log ("" for none), appended to by every container
  std::string abi_version;       // the ABI table the agent chose
  int sim_gpus = 1;              // how many GPUs the sim drives
};

struct ContainerSupervisorConfig {
  std::string id;
  int pid = 0;               // the container's first process, for logs
  caps::CapSet enabled;      // what its calls run under
  bool refused = false;      // its request was refused: every NVIDIA call is denied, none logged
  // The indices of the GPUs its calls may name (agent::ResolveGpuRequest);
  // nullopt: every GPU.
  std::optional<std::vector<int>> gpus{};
  int agent_pid = 0;         // the process must end with the agent that started it
  std::string log_level = "info";  // the agent's (spdlog's names)
  DriverAccess driver;
};

std::string EncodeConfig(const ContainerSupervisorConfig& config);
Result<ContainerSupervisorConfig> DecodeConfig(std::string_view json);

// A container's counts, as its supervisor process last reported them.
struct ContainerReport {
  ContainerMeter::Snapshot meter;
  std::uint64_t executed = 0;  // NVIDIA calls handed to the proxy
  std::uint64_t denied = 0;    // of those, denied and answered
  nlohmann::json denials = nlohmann::json::array();  // as in ContainerStatus::denials
};

// The most entries of ContainerReport::denials a report carries (a container
// refused everything denies each call it makes once per distinct call).
inline constexpr std::size_t kMaxReportedDenials = 256;
// The largest report the agent reads.
inline constexpr std::size_t kMaxReportBytes = 128 * 1024;
inline constexpr std::chrono::milliseconds kReportPeriod{100};

std::string EncodeReport(const ContainerReport& report);
// Checks every field's type and bound: the agent must not trust a supervisor
// process whose workload may have taken it over.
Result<ContainerReport> DecodeReport(std::string_view json);

// Supervises the container whose listener is `listener` until its last task
// is gone or SIGTERM, sending reports on `report`. Returns the process's exit
// status: 0 when the container is gone, 1 when supervision could not start or
// failed.
int RunContainerSupervisor(const ContainerSupervisorConfig& config, int listener, int report);

}  // namespace nvgate::agent
