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
#include "supervisor/filter.h"

namespace nvgate::cli {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "nvgate oci profile: %s\n", message.c_str());
  return kExitUsage;
}

// A seccomp profile from `path`; a whole config.json works too: its
// linux.seccomp is the profile.
tl::expected<nlohmann::ordered_json, std::string> ReadBaseProfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return tl::unexpected("cannot read --base " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto base = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (base.is_discarded()) return tl::unexpected(path + " is not JSON");
  if (base.is_object() && base.contains("linux") && base["linux"].contains("seccomp")) {
    base = base["linux"]["seccomp"];
  }
  return base;
}

// Which requests are trapped depends on the driver's table: `driver`, else the
// host's driver, else the newest supported one.
tl::expected<supervisor::TrapRules, std::string> ProfileRules(const std::optional<std::string>& driver) {
  std::string version =
      driver ? *driver : backend::ReadProcDriverVersion().value_or(abi::SupportedVersions().back());
  auto chosen = ChooseTable(version, std::nullopt);
  if (!chosen) return tl::unexpected(chosen.error());
  return supervisor::TrapRules::FromTable(*chosen->table);
}

// `runtime` as execv takes it: a path as given, a name looked up in PATH.
tl::expected<std::string, std::string> FindRuntime(const std::string& runtime) {
  if (runtime.empty()) return tl::unexpected(std::string("--runtime is empty"));
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
    if (found.empty()) return tl::unexpected(fmt::format("runtime '{}' is not in PATH", runtime));
  }
  // Configured as its own runtime, the shim would exec itself forever.
  char self[PATH_MAX];
  char target[PATH_MAX];
  if (realpath("/proc/self/exe", self) != nullptr && realpath(found.c_str(), target) != nullptr &&
      std::strcmp(self, target) == 0) {
    return tl::unexpected(fmt::format("runtime '{}' is nvgate itself; name the real runtime (runc)", runtime));
  }
  return found;
}

// Says why the container is not created, on stderr and in the runtime's log,
// where containerd and Docker look for the runtime's error.
int Refuse(const OciRuntimeOptions& options, const agent::RuntimeCall& call, const std::string& reason) {
  std::string message = call.container_id.empty()
                            ? reason + "; the runtime was not called"
                            : fmt::format("container {}: {}; the runtime was not called", call.container_id, reason);
  std::fprintf(stderr, "%s: %s\n", options.program.c_str(), message.c_str());
  if (call.log_path) {
    std::ofstream log(*call.log_path, std::ios::app);
    log << agent::RuntimeLogLine(call.log_format, options.program + ": " + message);
  }
  return kExitSetupFailure;
}

}  // namespace

int RunOciProfile(const OciProfileOptions& options) {
  agent::OciProfileOptions profile_options;
  profile_options.listener_path = options.listener;
  if (options.caps_metadata) {
    // The agent resolves it under its bound; here it only has to be a list.
    if (auto parsed = caps::ParseList(*options.caps_metadata); !parsed) return Fail("--caps-metadata: " + parsed.error());
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
  if (!(out << text)) return Fail("cannot write " + *options.output);
  return 0;
}

int RunOciRuntime(const OciRuntimeOptions& options) {
  auto call = agent::ParseRuntimeCall(options.args);
  if (!call) {
    std::fprintf(stderr, "%s: %s; the runtime was not called\n", options.program.c_str(), call.error().c_str());
    return kExitSetupFailure;
  }
  auto runtime = FindRuntime(options.runtime);
  if (!runtime) return Refuse(options, *call, runtime.error());
  if (call->creates_container) {
    agent::ShimOptions shim;
    shim.listener_path = options.socket;
    auto allowed = caps::ParseAllowed(options.allowed_caps);
    if (!allowed) return Refuse(options, *call, "--allowed-caps: " + allowed.error());
    shim.allowed = *allowed;
    shim.machine = options.sim_gpus ? backend::SimGpus(*options.sim_gpus) : backend::HostGpus();
    auto allowed_gpus = gpus::ResolveBound(options.allowed_gpus, shim.machine);
    if (!allowed_gpus) return Refuse(options, *call, "--allowed-gpus: " + allowed_gpus.error());
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
    if (spdlog::get_level() <= spdlog::level::debug) {
      std::fprintf(stderr,
                   "%s: container %s: capabilities %s (from %s), GPUs %s; nvgate's profile is in %s/config.json\n",
                   options.program.c_str(), call->container_id.c_str(), profiled->enabled.c_str(),
                   profiled->source.c_str(), profiled->gpus.c_str(), call->bundle.c_str());
    }
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options.runtime.c_str()));
  for (const std::string& arg : options.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(runtime->c_str(), argv.data());
  std::fprintf(stderr, "%s: cannot execute %s: %s\n", options.program.c_str(), runtime->c_str(), std::strerror(errno));
  return 127;
}

}  // namespace nvgate::cli
