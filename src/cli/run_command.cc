#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "backend/backend.h"
#include "caps/caps.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "supervisor/filter.h"
#include "supervisor/launch.h"

namespace nvgate::cli {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "nvgate run: %s\n", message.c_str());
  return kExitSetupFailure;
}

// The command's own request: NVIDIA_DRIVER_CAPABILITIES, and whether the image
// is a legacy CUDA image (CUDA_VERSION without NVIDIA_REQUIRE_CUDA), for which
// the toolkit reads an unset variable as "all".
tl::expected<caps::CapSet, std::string> ResolveCaps(const RunOptions& options, caps::CapSet allowed) {
  if (options.caps) return caps::Resolve(*options.caps, allowed);
  const char* env = std::getenv("NVIDIA_DRIVER_CAPABILITIES");
  const char* cuda_version = std::getenv("CUDA_VERSION");
  const char* require_cuda = std::getenv("NVIDIA_REQUIRE_CUDA");
  bool legacy = cuda_version && *cuda_version && !(require_cuda && *require_cuda);
  return caps::Resolve(env ? std::optional<std::string_view>(env) : std::nullopt, allowed, legacy);
}

// The NVIDIA nodes the workload's /dev gets: the control node and the GPUs for
// any capability, the UVM node only with compute (every UVM command is compute's).
std::vector<backend::DeviceNode> NodesFor(const backend::Backend& backend, caps::CapSet enabled) {
  std::vector<backend::DeviceNode> out;
  for (const backend::DeviceNode& node : backend.Nodes()) {
    switch (node.kind) {
      case abi::DeviceKind::kCtl:
      case abi::DeviceKind::kGpu:
        out.push_back(node);
        break;
      case abi::DeviceKind::kUvm:
        if (enabled.Has(caps::Capability::kCompute)) out.push_back(node);
        break;
      case abi::DeviceKind::kUvmTools:
      case abi::DeviceKind::kModeset:
      case abi::DeviceKind::kCaps:
      case abi::DeviceKind::kNotNvidia:
        break;  // no table covers their ioctls: not offered
    }
  }
  return out;
}

}  // namespace

int RunRun(const RunOptions& options) {
  // Diagnostics go to stderr: the workload owns stdout.
  spdlog::set_default_logger(spdlog::stderr_color_mt("nvgate"));
  spdlog::set_pattern("nvgate: %v");
  auto allowed = caps::ParseAllowed(options.allowed_caps);
  if (!allowed) return Fail("--allowed-caps: " + allowed.error());
  auto enabled = ResolveCaps(options, *allowed);
  if (!enabled) return Fail(enabled.error());
  if (enabled->empty()) return Fail("no driver capability is enabled");

  if (options.backend == "sim" && options.no_isolate) {
    return Fail("--backend sim serves its device nodes in the workload's own /dev; drop --no-isolate");
  }
  if (auto kernel = supervisor::CheckKernelSupport(); !kernel) return Fail(kernel.error());

  if (options.sim_call_log && options.backend != "sim") return Fail("--sim-call-log needs --backend sim");
  backend::SimOptions sim;
  if (options.sim_call_log) sim.call_log = *options.sim_call_log;
  auto backend = options.backend == "sim" ? backend::MakeSimBackend(sim) : backend::MakeHostBackend();
  if (!backend) return Fail(backend.error());
  auto detected = (*backend)->DriverVersion();
  if (!detected) return Fail(detected.error());
  auto chosen = ChooseTable(*detected, options.abi_version);
  if (!chosen) return Fail(chosen.error());
  if (!chosen->warning.empty()) spdlog::warn("{}", chosen->warning);

  std::unique_ptr<std::ofstream> log_file;
  if (options.log_denials) {
    log_file = std::make_unique<std::ofstream>(*options.log_denials, std::ios::app);
    if (!*log_file) return Fail("cannot open --log-denials file " + *options.log_denials);
  }
  std::mutex log_mu;
  policy::DenialLog denials([&](const std::string& line) {
    spdlog::warn("denied: {}", line);
    if (log_file) {
      std::lock_guard lock(log_mu);
      *log_file << line << '\n' << std::flush;
    }
  });

  proxy::Proxy proxy(*chosen->table, *enabled, **backend, denials);
  supervisor::LaunchOptions launch{
      .argv = options.command,
      .table = chosen->table,
      .backend = backend->get(),
      .nodes = NodesFor(**backend, *enabled),
      .isolate = !options.no_isolate,
      .supervisor = {},
  };
  auto status = supervisor::RunSupervised(launch, proxy);
  if (!status) return Fail(status.error());
  return *status;
}

}  // namespace nvgate::cli
