// `nvgate oci runtime` (also installed as `nvgate-runtime`): an OCI runtime
// shim in front of runc. Docker, containerd and CRI-O call it with runc's
// command line; for `create` and `run` it puts nvgate's seccomp profile into
// the bundle's config.json, after checking the container's capability request
// against the operator's bound, and then the real runtime runs with the same
// arguments.
//
//   auto call = agent::ParseRuntimeCall({"--root", "/run/r", "create", "--bundle", "/b", "ctr1"});
//   if (!call) die(call.error());                   // arguments nvgate cannot read safely
//   if (call->creates_container) {
//     auto profiled = agent::InstallProfile(call->bundle, rules, {.allowed = bound, .listener_path = socket});
//     if (!profiled) refuse(profiled.error());     // the runtime is never called
//   }
//   execv(runc, args);                              // the arguments, unchanged
//
// The shim reads the command line the way runc 1.1 and crun 1.8 do: global
// options, the command, then the command's options, which may follow the
// container id (urfave/cli moves them in front). Any option it does not know
// is an error rather than a guess: were the shim to read a different bundle
// than the runtime, the container would start without nvgate's profile.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caps/caps.h"
#include "caps/gpus.h"
#include "error/error.h"
#include "supervisor/filter.h"

namespace nvgate::agent {

struct RuntimeCall {
  std::string command;             // "create", "state", ...; "" when none (runc --version)
  bool creates_container = false;  // create or run, without --help
  std::string bundle = ".";        // create/run: --bundle, relative to the working directory
  std::string container_id;        // create/run: the container's id, "" when missing
  std::optional<std::string> log_path;  // the global --log: where the runtime's caller reads errors
  std::string log_format = "text";      // the global --log-format
};

// Reads runc's command line (without argv[0]). Errors name the argument.
Result<RuntimeCall> ParseRuntimeCall(const std::vector<std::string>& args);

struct ShimOptions {
  caps::CapSet allowed;                // the operator's bound
  // The machine's GPUs and the operator's bound on them (agent::ResolveGpuRequest).
  std::vector<gpus::Gpu> machine{};
  gpus::Selection allowed_gpus{};
  std::string listener_path = "/run/nvgate/agent.sock";
  // The base profile for a bundle without linux.seccomp; none: allow the rest.
  std::optional<nlohmann::ordered_json> default_base;
  // Accept a container whose settings reach the GPU around the driver
  // (PrivilegedSettings); refused by default.
  bool allow_privileged = false;
};

// What in `config` (a whole config.json) reaches the GPU and the kernel around
// the driver, as `docker run --privileged` or `--cap-add SYS_ADMIN` asks: any
// capability of supervisor::AroundTheDriverCaps in process.capabilities, or a
// devices cgroup rule allowing every device. "" when none.
std::string PrivilegedSettings(const nlohmann::ordered_json& config);

struct ProfiledConfig {
  nlohmann::ordered_json config;  // with linux.seccomp = nvgate's profile
  std::string request;            // the request as written ("" when unset)
  std::string source;             // where it came from
  std::string enabled;            // the capabilities the agent will enable
  std::string gpus;               // the GPUs it will let the container name (gpus::Selection::ToString)
};

// `config` (a whole config.json) with nvgate's profile as linux.seccomp, built
// on its own linux.seccomp when it has one (Docker's default, a user's
// profile), else on `default_base`. An error, and no config, when the
// container's request is outside the bound, when it asks for privileged
// settings the options do not allow, or the config cannot carry the profile;
// the error names the capabilities and the bound, or the settings.
Result<ProfiledConfig> AddProfile(nlohmann::ordered_json config, const supervisor::TrapRules& rules,
                                  const ShimOptions& options);

// AddProfile on <bundle>/config.json, replaced atomically (a temporary file in
// the bundle, then rename) with the same mode. On error the file is untouched.
Result<ProfiledConfig> InstallProfile(const std::string& bundle, const supervisor::TrapRules& rules,
                                      const ShimOptions& options);

// A line for the runtime's --log file in its --log-format ("json": one object
// with level, msg and time, as runc writes them, and error, the id of the
// error's kind, when given; else logrus's text form), so that containerd and
// Docker show nvgate's refusal as the runtime's error.
std::string RuntimeLogLine(const std::string& format, const std::string& message, std::string_view error_id = "");

}  // namespace nvgate::agent
