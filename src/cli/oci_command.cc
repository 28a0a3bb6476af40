#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
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
