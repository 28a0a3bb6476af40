#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "abi/abi.h"
#include "agent/oci_profile.h"
#include "agent/oci_runtime.h"
#include "backend/backend.h"
#include "backend/version.h"
#include "caps/caps.h"
#include "caps/gpus.h"
#include "cli/command_options.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "cli/failure.h"
#include "error/error.h"
#include "supervisor/filter.h"

namespace nvgate::cli {
namespace {

int Fail(const Error& error) { return cli::Fail("oci profile", error); }

// A seccomp profile from `path`; a whole config.json works too: its
// linux.seccomp is the profile.
Result<nlohmann::ordered_json> ReadBaseProfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected(Error::System(errno, "cannot read --base " + path));
  std::stringstream text;
  text << in.rdbuf();
  auto base = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (base.is_discarded()) return tl::unexpected(Error::Malformed(path + " is not JSON"));
  if (base.is_object() && base.contains("linux") && base["linux"].contains("seccomp")) {
    base = base["linux"]["seccomp"];
  }
  return base;
}

// Which requests are trapped depends on the driver's table: `driver`, else the
// host's driver, else the newest supported one.
Result<supervisor::TrapRules> ProfileRules(const std::optional<std::string>& driver) {
  std::string version =
      driver ? *driver : backend::ReadProcDriverVersion().value_or(abi::SupportedVersions().back());
  auto chosen = ChooseTable(version, std::nullopt);
  if (!chosen) return tl::unexpected(chosen.error());
  return supervisor::TrapRules::FromTable(*chosen->table);
}

// `runtime` as execv takes it: a path as given, a name looked up in PATH.
Result<std::string> FindRuntime(const std::string& runtime) {
  if (runtime.empty()) return tl::unexpected(Error::Usage("--runtime is empty"));
  std::string found;
  if (runtime.find('/') != std::string::npos) {
    found = runtime;
  } else {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::string dir;
    while (found.empty() && std::getline(dirs, dir, ':')) {
      std::string candidate = (dir.empty() ? "." : dir) + "/" + runtime;
      if (access(candidate.c_str(), X_OK) == 0) found = candidate;
    }
    if (found.empty()) return tl::unexpected(Error::NotFound(fmt::format("runtime '{}' is not in PATH", runtime)));
  }
  // Configured as its own runtime, the shim would exec itself forever.
  char self[PATH_MAX];
  char target[PATH_MAX];
  if (realpath("/proc/self/exe", self) != nullptr && realpath(found.c_str(), target) != nullptr &&
      std::strcmp(self, target) == 0) {
    return tl::unexpected(
        Error::Usage(fmt::format("runtime '{}' is nvgate itself; name the real runtime (runc)", runtime)));
  }
  return found;
}

// Says why the container is not created, on stderr and in the runtime's log,
// where containerd and Docker look for the runtime's error.
int Refuse(const OciRuntimeOptions& options, const agent::RuntimeCall& call, const Error& reason) {
  const Error refusal{reason.kind, reason.errno_value,
                      (call.container_id.empty() ? "" : fmt::format("container {}: ", call.container_id)) +
                          reason.message + "; the runtime was not called"};
  if (call.log_path) {
    std::ofstream log(*call.log_path, std::ios::app);
    log << agent::RuntimeLogLine(call.log_format, options.program + ": " + refusal.message, refusal.id());
  }
  return Fail(options.program, CommandRole::kStartsWorkload, refusal);
}

}  // namespace

void AddOciCommands(CLI::App& app, std::vector<Command>& commands) {
  auto profile = std::make_shared<OciProfileOptions>();
  auto runtime = std::make_shared<OciRuntimeOptions>();
  CLI::App* oci_cmd = app.add_subcommand("oci", "Integrate with OCI runtimes (runc, crun, Docker, containerd)");
  oci_cmd->require_subcommand(1);
  oci_cmd->footer(
      "Examples:\n"
      "  nvgate oci profile --listener /run/nvgate/agent.sock > seccomp.json\n"
      "  nvgate oci profile --help\n"
      "  nvgate oci runtime --help");
  CLI::App* profile_cmd = oci_cmd->add_subcommand(
      "profile", "Write the OCI seccomp profile that hands a container's NVIDIA calls to 'nvgate agent'");
  profile_cmd->add_option("--base", profile->base,
                          "Seccomp profile to extend (Docker's default, say), or a config.json "
                          "(default: allow everything else)");
  profile_cmd->add_option("--listener", profile->listener, "The agent's socket (listenerPath)")
      ->default_str("/run/nvgate/agent.sock");
  profile_cmd->add_option("--caps-metadata", profile->caps_metadata,
                          "Capability request sent to the agent as listenerMetadata; it wins over "
                          "the container's annotation and NVIDIA_DRIVER_CAPABILITIES");
  profile_cmd->add_option("--driver", profile->driver,
                          "Driver version whose table decides what is trapped (default: the host's "
                          "driver, else the newest supported)");
  profile_cmd->add_option("-o,--output", profile->output, "Write the profile to FILE instead of stdout");
  profile_cmd->footer(
      "The profile traps exactly the ioctls 'nvgate run' traps (SCMP_ACT_NOTIFY), denies what\n"
      "the workload must not reach (ptrace, process_vm_*, pidfd_getfd, kcmp, userfaultfd,\n"
      "io_uring, new seccomp listeners) and rewrites the base's unconditional ioctl rule so\n"
      "that it cannot shadow the NOTIFY rules. See docs/containers.md.\n"
      "Examples:\n"
      "  nvgate oci profile > seccomp.json             # permissive base\n"
      "  nvgate oci profile --base docker-default.json --listener /run/nvgate/agent.sock -o gpu.json\n"
      "  docker run --security-opt seccomp=gpu.json ...\n"
      "  nvgate oci profile --base bundle/config.json --caps-metadata compute,utility");
  commands.push_back({profile_cmd, [profile](const Invocation&) { return RunOciProfile(*profile); }});

  CLI::App* runtime_cmd = oci_cmd->add_subcommand(
      "runtime",
      "Be the OCI runtime in front of runc: put nvgate's profile into each new container's config.json, "
      "refusing requests outside the bound, then run runc with the same arguments (also as nvgate-runtime)");
  runtime_cmd->add_option("--runtime", runtime->runtime, "The real runtime: a path, or a name looked up in PATH")
      ->default_str("runc");
  AddAllowedCapsOption(runtime_cmd, runtime->allowed_caps,
                       "The operator's bound: a container requesting more is not created (give the "
                       "agent's --allowed-caps)");
  AddAllowedGpusOption(runtime_cmd, runtime->allowed_gpus,
                       "The operator's bound on GPUs: a container whose devices or NVIDIA_VISIBLE_DEVICES "
                       "name another GPU is not created (give the agent's --allowed-gpus)");
  AddSimGpusOption(runtime_cmd, runtime->sim_gpus,
                   "Resolve GPU names on the GPUs of an agent run with --backend sim --sim-gpus N "
                   "instead of the host driver's");
  AddSocketOption(runtime_cmd, runtime->socket, "The agent's socket (the profile's listenerPath)");
  runtime_cmd->add_option("--base", runtime->base,
                          "Seccomp profile (or config.json) to build on for containers without one of "
                          "their own (default: allow everything else); a container's own profile is "
                          "always its base");
  runtime_cmd->add_option("--driver", runtime->driver,
                          "Driver version whose table decides what is trapped (default: the host's "
                          "driver, else the newest supported)");
  runtime_cmd->add_flag("--allow-privileged", runtime->allow_privileged,
                        "Also create containers that ask for --privileged-like settings (CAP_SYS_ADMIN, "
                        "CAP_SYS_RAWIO, CAP_SYS_MODULE, CAP_BPF, CAP_PERFMON or CAP_DAC_READ_SEARCH, or every "
                        "device in the devices cgroup), which reach the GPU around the driver");
  runtime_cmd->add_option("args", runtime->args, "The runtime's arguments, after --, passed on unchanged")
      ->expected(-1)
      ->configurable(false);
  runtime_cmd->footer(
      "For create and run, reads the bundle's config.json, resolves the container's request\n"
      "as 'nvgate agent' will, and refuses (exit 125, runtime not called) a request outside\n"
      "--allowed-caps or naming a GPU outside --allowed-gpus, or one asking for --privileged-like\n"
      "settings (unless --allow-privileged);\n"
      "otherwise replaces linux.seccomp with nvgate's profile built on it.\n"
      "Every other command goes to the runtime untouched. Under the name nvgate-runtime all\n"
      "arguments are the runtime's and options come from the config file's [oci-runtime]\n"
      "table (NVGATE_CONFIG, else /etc/nvgate/nvgate.toml). See docs/containers.md.\n"
      "Examples:\n"
      "  nvgate oci runtime --allowed-caps compute,utility -- run --bundle ./bundle ctr1\n"
      "  nvgate-runtime --root /run/runc create --bundle ./bundle ctr1   # as containerd runs it\n"
      "  # /etc/docker/daemon.json: {\"runtimes\": {\"nvgate\": {\"path\": \"/usr/bin/nvgate-runtime\"}}}\n"
      "  docker run --runtime=nvgate -e NVIDIA_DRIVER_CAPABILITIES=compute,utility ...");
  commands.push_back({runtime_cmd, [runtime](const Invocation& invocation) {
                        if (invocation.as_runtime) runtime->program = kRuntimeName;
                        return RunOciRuntime(*runtime);
                      }});
}

int RunOciProfile(const OciProfileOptions& options) {
  agent::OciProfileOptions profile_options;
  profile_options.listener_path = options.listener;
  if (options.caps_metadata) {
    // The agent resolves it under its bound; here it only has to be a list.
    if (auto parsed = caps::ParseList(*options.caps_metadata); !parsed) {
      return Fail(parsed.error().Prefixed("--caps-metadata: "));
    }
    profile_options.listener_metadata = *options.caps_metadata;
  }
  if (options.base) {
    auto base = ReadBaseProfile(*options.base);
    if (!base) return Fail(base.error());
    profile_options.base = std::move(*base);
  }
  auto rules = ProfileRules(options.driver);
  if (!rules) return Fail(rules.error());
  auto profile = agent::BuildOciProfile(*rules, profile_options);
  if (!profile) return Fail(profile.error());
  std::string text = profile->dump(2) + "\n";
  if (!options.output) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(*options.output);
  if (!(out << text)) return Fail(Error::System(errno, "cannot write " + *options.output));
  return 0;
}

int RunOciRuntime(const OciRuntimeOptions& options) {
  auto call = agent::ParseRuntimeCall(options.args);
  if (!call) return Refuse(options, agent::RuntimeCall{}, call.error());
  auto runtime = FindRuntime(options.runtime);
  if (!runtime) return Refuse(options, *call, runtime.error());
  if (call->creates_container) {
    agent::ShimOptions shim;
    shim.listener_path = options.socket;
    auto allowed = caps::ParseAllowed(options.allowed_caps);
    if (!allowed) return Refuse(options, *call, allowed.error().Prefixed("--allowed-caps: "));
    shim.allowed = *allowed;
    shim.machine = options.sim_gpus ? backend::SimGpus(*options.sim_gpus) : backend::HostGpus();
    auto allowed_gpus = gpus::ResolveBound(options.allowed_gpus, shim.machine);
    if (!allowed_gpus) return Refuse(options, *call, allowed_gpus.error().Prefixed("--allowed-gpus: "));
    shim.allowed_gpus = *allowed_gpus;
    shim.allow_privileged = options.allow_privileged;
    if (options.base) {
      auto base = ReadBaseProfile(*options.base);
      if (!base) return Refuse(options, *call, base.error());
      shim.default_base = std::move(*base);
    }
    auto rules = ProfileRules(options.driver);
    if (!rules) return Refuse(options, *call, rules.error());
    auto profiled = agent::InstallProfile(call->bundle, *rules, shim);
    if (!profiled) return Refuse(options, *call, profiled.error());
    Log(options.program, spdlog::level::debug,
        fmt::format("container {}: capabilities {} (from {}), GPUs {}; nvgate's profile is in {}/config.json",
                    call->container_id, profiled->enabled, profiled->source, profiled->gpus, call->bundle));
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options.runtime.c_str()));
  for (const std::string& arg : options.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(runtime->c_str(), argv.data());
  const int e = errno;
  return Fail(options.program, CommandRole::kStartsWorkload,
              Error::Exec(e, fmt::format("cannot execute {}: {}", *runtime, std::strerror(e))));
}

}  // namespace nvgate::cli
