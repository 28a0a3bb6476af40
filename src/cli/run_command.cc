#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "backend/backend.h"
#include "caps/caps.h"
#include "caps/gpus.h"
#include "cli/command_options.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "cli/failure.h"
#include "cli/supervised_run.h"
#include "error/error.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "supervisor/filter.h"
#include "supervisor/launch.h"
#include "supervisor/linux_caps.h"
#include "trace/analysis.h"
#include "trace/observe_only.h"
#include "trace/replay_backend.h"

namespace nvgate::cli {
namespace {

// One denial as a JSON object on one line, for --log-format json.
std::string DenialJson(std::string_view event, const policy::Denial& d) {
  nlohmann::json object = {{"event", event},
                           {"pid", d.pid},
                           {"level", abi::LevelName(d.level)},
                           {"key", fmt::format("{:#x}", d.key)},
                           {"message", d.line}};
  return object.dump();
}

// One line per call that was denied more than once: only its first denial was
// logged (policy::DenialLog).
void LogDenialSummary(const policy::DenialLog& denials, bool json) {
  for (const policy::DenialCount& c : denials.Summary()) {
    if (c.count < 2) continue;
    std::string processes = c.processes >= policy::DenialLog::kMaxCountedProcesses
                                ? fmt::format("{} or more processes", c.processes)
                                : fmt::format("{} process{}", c.processes, c.processes == 1 ? "" : "es");
    std::string message = fmt::format("{} ({} {:#x}, {}) denied {} times in all, in {}; only the first was logged",
                                      c.call, abi::LevelName(c.level), c.key, c.capability, c.count, processes);
    if (json) {
      nlohmann::json object = {{"event", "denial_summary"}, {"level", abi::LevelName(c.level)},
                               {"key", fmt::format("{:#x}", c.key)}, {"call", c.call},
                               {"capability", c.capability}, {"count", c.count},
                               {"processes", c.processes}, {"message", message}};
      Print("", object.dump());
    } else {
      spdlog::warn("denials: {}", message);
    }
  }
}

// The command's own request: NVIDIA_DRIVER_CAPABILITIES, and whether the image
// is a legacy CUDA image (CUDA_VERSION without NVIDIA_REQUIRE_CUDA), for which
// the toolkit reads an unset variable as "all".
Result<caps::CapSet> ResolveCaps(const RunOptions& options, caps::CapSet allowed) {
  if (options.caps) return caps::Resolve(*options.caps, allowed);
  const char* env = std::getenv("NVIDIA_DRIVER_CAPABILITIES");
  const char* cuda_version = std::getenv("CUDA_VERSION");
  const char* require_cuda = std::getenv("NVIDIA_REQUIRE_CUDA");
  bool legacy = cuda_version && *cuda_version && !(require_cuda && *require_cuda);
  return caps::Resolve(env ? std::optional<std::string_view>(env) : std::nullopt, allowed, legacy);
}

// The command's GPU selection: --gpus, else its NVIDIA_VISIBLE_DEVICES, else
// every GPU (where the toolkit would read an unset variable as "void" on a
// non-legacy image: nvgate run is asked for a GPU workload by being used),
// within --allowed-gpus.
Result<gpus::Selection> ResolveGpus(const RunOptions& options, const std::vector<gpus::Gpu>& machine) {
  auto bound = gpus::ResolveBound(options.allowed_gpus, machine);
  if (!bound) return tl::unexpected(bound.error().Prefixed("--allowed-gpus: "));
  if (options.gpus) {
    auto selected = gpus::Resolve(gpus::ParseRequest(*options.gpus), machine, *bound);
    if (!selected) return tl::unexpected(selected.error().Prefixed("--gpus: "));
    return selected;
  }
  const char* env = std::getenv("NVIDIA_VISIBLE_DEVICES");
  auto selected = gpus::Resolve(gpus::ParseRequest(env ? std::optional<std::string_view>(env) : std::nullopt),
                                machine, *bound);
  if (!selected) return tl::unexpected(selected.error().Prefixed("NVIDIA_VISIBLE_DEVICES: "));
  return selected;
}

// The GPU index of a GPU node, from its name: /dev/nvidia<index>.
std::optional<int> GpuNodeIndex(const backend::DeviceNode& node) {
  constexpr std::string_view kPrefix = "/dev/nvidia";
  std::string_view path = node.dev_path;
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  int index = -1;
  auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), index);
  if (ec != std::errc() || end != path.data() + path.size()) return std::nullopt;
  return index;
}

// The NVIDIA nodes the workload's /dev gets: the control node for any
// capability and the selected GPUs' nodes, the UVM node only with compute
// (every UVM command is compute's); none at all for the selection "void".
std::vector<backend::DeviceNode> NodesFor(const backend::Backend& backend, caps::CapSet enabled,
                                          const gpus::Selection& selected) {
  std::vector<backend::DeviceNode> out;
  if (!selected.any_nodes()) return out;
  for (const backend::DeviceNode& node : backend.Nodes()) {
    switch (node.kind) {
      case abi::DeviceKind::kCtl:
        out.push_back(node);
        break;
      case abi::DeviceKind::kGpu:
        if (auto index = GpuNodeIndex(node); !selected.restricted() || (index && selected.ByIndex(*index))) {
          out.push_back(node);
        }
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

// The denial of an open of `node`, withheld from the workload's /dev for want
// of compute (NodesFor): reported as a denial of the node's UVM use, key 0 (no
// UVM command has that number), naming the capability that offers the node.
policy::Denial WithheldNodeDenial(const backend::DeviceNode& node, caps::CapSet enabled, int pid) {
  const std::string call = "open " + node.dev_path;
  const caps::CapSet with_compute = enabled | caps::CapSet{caps::Capability::kCompute};
  return {.pid = pid,
          .level = abi::Level::kUvm,
          .key = 0,
          .line = fmt::format("pid {}: compute: {} (uvm 0x0) denied; enable with NVIDIA_DRIVER_CAPABILITIES={}", pid,
                              call, with_compute.ToString()),
          .capability = "compute",
          .call = call};
}

// The refusals of opens of the nodes NodesFor withholds, each reported to `denials`.
std::map<std::string, std::function<void(int)>, std::less<>> WithheldNodeOpens(const backend::Backend& backend,
                                                                                caps::CapSet enabled,
                                                                                policy::DenialLog& denials) {
  std::map<std::string, std::function<void(int)>, std::less<>> refused;
  for (const backend::DeviceNode& node : backend.Nodes()) {
    if (node.kind != abi::DeviceKind::kUvm || enabled.Has(caps::Capability::kCompute)) continue;
    refused[node.dev_path] = [node, enabled, &denials](int pid) {
      denials.Report(WithheldNodeDenial(node, enabled, pid));
    };
  }
  return refused;
}

// The backend --backend names; `replay` is set to it when it is the replay one.
Result<std::unique_ptr<backend::Backend>> MakeBackend(const RunOptions& options, trace::ReplayBackend*& replay) {
  if (options.backend == "sim") {
    backend::SimOptions sim;
    if (options.sim_call_log) sim.call_log = *options.sim_call_log;
    if (options.sim_gpus) sim.gpu_count = *options.sim_gpus;
    if (options.sim_driver) sim.driver_version = *options.sim_driver;
    return backend::MakeSimBackend(sim);
  }
  if (options.backend == "replay") {
    auto opened = trace::ReplayBackend::Open(*options.replay_trace);
    if (!opened) return tl::unexpected(opened.error().Prefixed("--replay-trace "));
    replay = opened->get();
    return std::unique_ptr<backend::Backend>(std::move(*opened));
  }
  return backend::MakeHostBackend();
}

// The Linux capabilities the workload keeps: the default set and --keep-caps,
// each kept one with a warning naming what it re-opens. Said when nvgate runs
// as root, where the workload would otherwise hold the host's capabilities.
Result<supervisor::LinuxCapMask> WorkloadCaps(const RunOptions& options) {
  auto extra = supervisor::ParseLinuxCaps(options.keep_caps);
  if (!extra) return tl::unexpected(extra.error().Prefixed("--keep-caps: "));
  const supervisor::LinuxCapMask defaults = supervisor::WorkloadDefaultCaps();
  for (int cap : supervisor::MaskBits(*extra & ~defaults)) {
    spdlog::warn("--keep-caps {}: the workload keeps CAP_{}, which re-opens {}", supervisor::LinuxCapName(cap),
                 supervisor::LinuxCapName(cap), supervisor::LinuxCapReopens(cap));
  }
  const supervisor::LinuxCapMask kept = defaults | *extra;
  if (::geteuid() == 0) {
    spdlog::info("the workload runs as root with only the capabilities {}{}", supervisor::LinuxCapList(kept),
                 options.no_isolate ? ""
                                    : "; /sys, /proc/sys and /proc/sysrq-trigger are read-only, PCI devices' "
                                      "resource and rom files and /proc/kcore are masked");
  }
  return kept;
}

}  // namespace

void AddRunCommand(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd =
      app.add_subcommand("run", "Run a command with its NVIDIA driver calls checked and executed by nvgate");
  AddRunOptions(cmd, *options, /*with_caps=*/true);
  cmd->add_flag("--audit", options->audit,
                "Execute every call within --allowed-caps and only log (\"audit: would deny\") "
                "those --caps would refuse; never for untrusted workloads");
  AddCommand(cmd, *options);
  cmd->footer(
      "Exit status: the command's own; 125 when nvgate fails before the command starts, or\n"
      "when a --backend replay workload diverged from the trace; 127 when the command cannot\n"
      "be executed.\n"
      "Examples:\n"
      "  nvgate run -- nvidia-smi                       # utility,compute by default\n"
      "  NVIDIA_DRIVER_CAPABILITIES=video nvgate run -- ffmpeg -hwaccel cuda ...\n"
      "  nvgate run --backend sim --caps compute -- nvprobe\n"
      "  nvgate run --gpus 1 --allowed-gpus 1,2 -- app       # /dev/nvidia1 only; calls naming another GPU refused\n"
      "  nvgate run --backend replay --replay-trace probe.trace --caps compute -- nvprobe\n"
      "  nvgate run --audit --caps compute --allowed-caps compute,video -- app   # log, don't refuse");
  commands.push_back({cmd, [options](const Invocation&) { return RunRun(*options); }});
}

int SuperviseCommand(std::string_view command_name, const RunOptions& options, ExecutedCaps executed,
                     const ObserverFactory& observe) {
  auto fail = [&](const Error& error) { return Fail(command_name, error); };
  // Diagnostics go to stderr: the workload owns stdout.
  Logger();
  auto allowed = caps::ParseAllowed(options.allowed_caps);
  if (!allowed) return fail(allowed.error().Prefixed("--allowed-caps: "));
  auto requested = ResolveCaps(options, *allowed);
  if (!requested) return fail(requested.error());
  if (requested->empty()) return fail(Error::Usage("no driver capability is enabled"));
  const caps::CapSet enabled = executed == ExecutedCaps::kRequested ? *requested : *allowed;

  if (options.backend != "host" && options.no_isolate) {
    return fail(Error::Usage("--backend " + options.backend +
                             " serves its device nodes in the workload's own /dev; drop --no-isolate"));
  }
  if (auto kernel = supervisor::CheckKernelSupport(); !kernel) return fail(kernel.error());
  auto workload_caps = WorkloadCaps(options);
  if (!workload_caps) return fail(workload_caps.error());

  if (options.sim_call_log && options.backend != "sim") return fail(Error::Usage("--sim-call-log needs --backend sim"));
  if (options.sim_gpus && options.backend != "sim") return fail(Error::Usage("--sim-gpus needs --backend sim"));
  if (options.sim_driver && options.backend != "sim") return fail(Error::Usage("--sim-driver needs --backend sim"));
  if (options.replay_trace.has_value() != (options.backend == "replay")) {
    return fail(Error::Usage("--backend replay and --replay-trace FILE go together"));
  }
  trace::ReplayBackend* replay = nullptr;
  auto backend = MakeBackend(options, replay);
  if (!backend) return fail(backend.error());
  auto chosen = ChooseTableFor(**backend, options.abi_version);
  if (!chosen) return fail(chosen.error());

  // --log-denials all: every denial on stderr; --log-denials FILE: every one in FILE.
  const bool every_on_stderr = options.log_denials == std::optional<std::string>("all");
  std::unique_ptr<std::ofstream> log_file;
  if (options.log_denials && !every_on_stderr) {
    log_file = std::make_unique<std::ofstream>(*options.log_denials, std::ios::app);
    if (!*log_file) return fail(Error::System(errno, "cannot open --log-denials file " + *options.log_denials));
  }
  std::mutex log_mu;
  const bool json = options.log_format == "json";
  // On stderr the first denial of each call; in the --log-denials file every
  // one; at exit a count of each call denied more than once (DenialSummary).
  auto to_stderr = [json](const policy::Denial& d) {
    if (json) {
      Print("", DenialJson("denied", d));
    } else {
      spdlog::warn("denied: {}", d.line);
    }
  };
  policy::DenialLog denials(
      [&](const policy::Denial& d) {
        if (!every_on_stderr) to_stderr(d);
      },
      [&](const policy::Denial& d) {
        if (every_on_stderr) return to_stderr(d);
        if (!log_file) return;
        std::lock_guard lock(log_mu);
        *log_file << (json ? DenialJson("denied", d) : d.line) << '\n' << std::flush;
      });

  const std::vector<gpus::Gpu> machine = (*backend)->Gpus();
  auto selected_gpus = ResolveGpus(options, machine);
  if (!selected_gpus) return fail(selected_gpus.error());
  if (options.no_isolate && (selected_gpus->restricted() || !selected_gpus->any_nodes())) {
    return fail(Error::Usage("the GPU selection " + selected_gpus->ToString() +
                             " leaves GPU nodes out of the workload's own /dev, which --no-isolate does not give "
                             "it; drop --no-isolate"));
  }

  proxy::Proxy proxy(*chosen->table, enabled, **backend, denials);
  proxy.SetGpus({.selection = *selected_gpus, .machine = machine});
  std::unique_ptr<trace::ObserveOnlyExecutor> observe_only;
  if (observe) {
    auto observer = observe(RunSetup{.table = *chosen->table,
                                     .driver_version = chosen->version,
                                     .backend = options.backend,
                                     .requested = *requested,
                                     .enabled = enabled,
                                     .allowed = *allowed});
    if (!observer) return fail(observer.error());
    if (executed == ExecutedCaps::kObserveOnly) {
      // The host backend's nodes are the driver's own, so the kernel can run
      // the calls; the sim's and a replay's are plain files, on which the
      // kernel would answer ENOTTY, so the proxy answers in its place.
      observe_only = std::make_unique<trace::ObserveOnlyExecutor>(
          *chosen->table, *requested, **observer, options.backend == "host" ? nullptr : &proxy);
    } else {
      proxy.SetObserver(*observer);
    }
  }
  supervisor::LaunchOptions launch{
      .argv = options.command,
      .table = chosen->table,
      .backend = backend->get(),
      .nodes = NodesFor(**backend, enabled, *selected_gpus),
      .driver_files = selected_gpus->any_nodes() ? (*backend)->DriverFiles()
                                                 : std::vector<backend::DriverFileTree>{},
      .isolate = !options.no_isolate,
      .workload_caps = *workload_caps,
      .supervisor = {.refused_opens = WithheldNodeOpens(**backend, enabled, denials)},
  };
  proxy::Executor& executor = observe_only ? static_cast<proxy::Executor&>(*observe_only) : proxy;
  auto status = supervisor::RunSupervised(launch, executor);
  if (!every_on_stderr) LogDenialSummary(denials, json);
  if (!status) return fail(status.error());
  if (replay != nullptr) {
    if (auto problem = replay->Outcome()) {
      return fail(Error::Diverged("the workload diverged from the replayed trace " + *options.replay_trace + ": " +
                                  *problem + " (its command exited with status " + std::to_string(*status) + ")"));
    }
  }
  return *status;
}

int RunRun(const RunOptions& options) {
  if (!options.audit) return SuperviseCommand("run", options, ExecutedCaps::kRequested, {});

  std::unique_ptr<policy::DenialLog> audit_log;
  std::unique_ptr<trace::AuditObserver> audit;
  auto observe = [&](const RunSetup& setup) -> Result<proxy::CallObserver*> {
    spdlog::warn("AUDIT MODE: capabilities {} requested, but every call within the allowed bound {} "
                 "is EXECUTED; calls {} would refuse are only logged (\"audit: would deny\"). "
                 "Do not use audit mode for untrusted workloads.",
                 setup.requested.ToString(), setup.allowed.ToString(), setup.requested.ToString());
    audit_log = std::make_unique<policy::DenialLog>([json = options.log_format == "json"](const policy::Denial& d) {
      if (json) {
        Print("", DenialJson("audit-would-deny", d));
      } else {
        spdlog::warn("audit: would deny {}", d.line);
      }
    });
    audit = std::make_unique<trace::AuditObserver>(setup.table, setup.requested, *audit_log);
    return audit.get();
  };
  return SuperviseCommand("run", options, ExecutedCaps::kAllowedBound, observe);
}

}  // namespace nvgate::cli
