#include "agent/oci_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/container_request.h"
#include "agent/oci_profile.h"
#include "error/error.h"
#include "fd/owned_fd.h"
#include "supervisor/linux_caps.h"

namespace nvgate::agent {
namespace {

using Json = nlohmann::ordered_json;

// runc 1.1's and crun 1.8's global options.
constexpr std::array<std::string_view, 7> kGlobalValueOptions = {"log",      "log-format", "log-level",
                                                                 "root",     "criu",       "rootless",
                                                                 "cgroup-manager"};
constexpr std::array<std::string_view, 7> kGlobalSwitches = {"debug", "systemd-cgroup", "help", "h",
                                                             "version", "v", "V"};
// The options of `create` and `run` in runc 1.1 and crun 1.8.
constexpr std::array<std::string_view, 5> kCreateValueOptions = {"bundle", "b", "console-socket", "pid-file",
                                                                 "preserve-fds"};
constexpr std::array<std::string_view, 8> kCreateSwitches = {"no-pivot", "no-new-keyring", "detach", "d",
                                                             "keep",     "no-subreaper",   "help",   "h"};

template <std::size_t N>
bool Contains(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

struct Option {
  std::string name;
  std::optional<std::string> value;  // given as name=value
};

// Go's flag syntax, which runc follows: -name, --name, -name=value,
// --name=value. "-" alone is an argument; "--" ends the options (not an Option).
std::optional<Option> AsOption(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  Option out;
  if (auto eq = arg.find('='); eq != std::string_view::npos) {
    out.value = std::string(arg.substr(eq + 1));
    arg = arg.substr(0, eq);
  }
  out.name = std::string(arg);
  return out;
}

bool IsHelp(std::string_view name) { return name == "help" || name == "h"; }

// --help and --version make the runtime print and exit, and nvgate then leaves
// the bundle alone; --help=false would not, so a value is not guessed at.
Result<void> CheckSwitch(const Option& option, std::string_view arg) {
  bool informational = IsHelp(option.name) || option.name == "version" || option.name == "v" || option.name == "V";
  if (informational && option.value) {
    return tl::unexpected(
        Error::Usage(fmt::format("'{}': nvgate does not guess whether the runtime would print or run", arg)));
  }
  return {};
}

// The value of a value option: after '=', else the next argument.
Result<std::string> OptionValue(const Option& option, const std::vector<std::string>& args, std::size_t& i) {
  if (option.value) return *option.value;
  if (i + 1 >= args.size()) return tl::unexpected(Error::Usage(fmt::format("option --{} needs a value", option.name)));
  return args[++i];
}

// The options and id of `create` or `run`, starting at args[i].
Result<void> ParseCreateArguments(const std::vector<std::string>& args, std::size_t i, RuntimeCall& call) {
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (call.container_id.empty() && i + 1 < args.size()) call.container_id = args[i + 1];
      return {};
    }
    auto option = AsOption(arg);
    if (!option) {
      if (call.container_id.empty()) call.container_id = arg;
      continue;
    }
    if (option->name == "config" || option->name == "f") {
      return tl::unexpected(Error::Usage(fmt::format(
          "'{}': nvgate puts its profile into <bundle>/config.json, so the runtime must read that file", arg)));
    }
    if (Contains(kCreateValueOptions, option->name)) {
      auto value = OptionValue(*option, args, i);
      if (!value) return tl::unexpected(value.error());
      // Go's flag package keeps the last value given.
      if (option->name == "bundle" || option->name == "b") call.bundle = value->empty() ? "." : *value;
      continue;
    }
    if (Contains(kCreateSwitches, option->name)) {
      if (auto checked = CheckSwitch(*option, arg); !checked) return tl::unexpected(checked.error());
      if (IsHelp(option->name)) call.creates_container = false;
      continue;
    }
    return tl::unexpected(Error::Usage(fmt::format(
        "unknown option '{}' of '{}': nvgate cannot tell which bundle the runtime would read", arg, call.command)));
  }
  return {};
}

std::map<std::string, std::string> Annotations(const Json& config) {
  std::map<std::string, std::string> out;
  auto annotations = config.find("annotations");
  if (annotations == config.end() || !annotations->is_object()) return out;
  for (auto it = annotations->begin(); it != annotations->end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

// Readers see the old file or the new one, never a part. No fsync: a bundle
// does not outlive its container, and the runtime reads it from the page cache.
Result<void> ReplaceFile(const std::string& path, const std::string& text) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return tl::unexpected(Error::Errno("stat " + path));
  std::string temp = path + ".nvgate-XXXXXX";
  fd::OwnedFd fd(mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return tl::unexpected(Error::Errno("mkostemp " + temp));
  std::string_view rest = text;
  std::optional<Error> error;
  if (fchmod(fd.get(), st.st_mode & 07777) != 0) error = Error::Errno("fchmod " + temp);
  while (!error && !rest.empty()) {
    ssize_t n = write(fd.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = Error::Errno("write " + temp);
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (!fd.Close() && !error) error = Error::Errno("close " + temp);
  if (!error && rename(temp.c_str(), path.c_str()) != 0) error = Error::Errno("rename " + temp + " " + path);
  if (error) {
    unlink(temp.c_str());
    return tl::unexpected(*error);
  }
  return {};
}

// A devices cgroup rule that allows every device: allow, type "a" or none, no
// major and minor (or -1, runc's wildcard), as --privileged writes it.
bool AllowsEveryDevice(const Json& rule) {
  if (!rule.is_object() || rule.value("allow", false) != true) return false;
  auto wildcard = [&](const char* key) {
    auto it = rule.find(key);
    return it == rule.end() || it->is_null() || (it->is_number_integer() && it->get<std::int64_t>() == -1);
  };
  std::string type = rule.contains("type") && rule["type"].is_string() ? rule["type"].get<std::string>() : "a";
  return type == "a" && wildcard("major") && wildcard("minor");
}

}  // namespace

std::string PrivilegedSettings(const Json& config) {
  std::vector<std::string> found;
  const supervisor::LinuxCapMask around = supervisor::AroundTheDriverCaps();
  if (auto process = config.find("process"); process != config.end() && process->is_object()) {
    if (auto caps = process->find("capabilities"); caps != process->end() && caps->is_object()) {
      supervisor::LinuxCapMask asked = 0;
      for (auto set = caps->begin(); set != caps->end(); ++set) {
        if (!set.value().is_array()) continue;
        for (const Json& name : set.value()) {
          if (!name.is_string()) continue;
          // An unknown name is the runtime's to refuse.
          if (auto cap = supervisor::ParseLinuxCaps(name.get<std::string>())) asked |= *cap;
        }
      }
      for (int cap : supervisor::MaskBits(asked & around)) found.push_back("CAP_" + supervisor::LinuxCapName(cap));
    }
  }
  if (auto linux_section = config.find("linux"); linux_section != config.end() && linux_section->is_object()) {
    auto resources = linux_section->find("resources");
    if (resources != linux_section->end() && resources->is_object()) {
      auto devices = resources->find("devices");
      if (devices != resources->end() && devices->is_array() &&
          std::any_of(devices->begin(), devices->end(), AllowsEveryDevice)) {
        found.push_back("every device allowed in the devices cgroup (linux.resources.devices)");
      }
    }
  }
  return found.empty() ? "" : fmt::format("{}", fmt::join(found, ", "));
}

Result<RuntimeCall> ParseRuntimeCall(const std::vector<std::string>& args) {
  RuntimeCall call;
  bool informational = false;  // --help or --version: the runtime prints and exits
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    auto option = AsOption(arg);
    if (!option) break;
    if (Contains(kGlobalValueOptions, option->name)) {
      auto value = OptionValue(*option, args, i);
      if (!value) return tl::unexpected(value.error());
      if (option->name == "log") call.log_path = *value;
      if (option->name == "log-format") call.log_format = *value;
      continue;
    }
    if (Contains(kGlobalSwitches, option->name)) {
      if (auto checked = CheckSwitch(*option, arg); !checked) return tl::unexpected(checked.error());
      if (option->name != "debug" && option->name != "systemd-cgroup") informational = true;
      continue;
    }
    return tl::unexpected(Error::Usage(
        fmt::format("unknown global option '{}': nvgate cannot tell where the runtime's command starts", arg)));
  }
  if (i >= args.size()) return call;
  call.command = args[i];
  if (call.command == "restore") {
    return tl::unexpected(Error::Usage(
        std::string("'restore' starts a container from a checkpoint, which carries its own seccomp filter; nvgate "
                    "cannot supervise it")));
  }
  if (call.command != "create" && call.command != "run") return call;
  call.creates_container = !informational;
  if (auto parsed = ParseCreateArguments(args, i + 1, call); !parsed) return tl::unexpected(parsed.error());
  return call;
}

Result<ProfiledConfig> AddProfile(Json config, const supervisor::TrapRules& rules, const ShimOptions& options) {
  if (!config.is_object()) return tl::unexpected(Error::Malformed("config.json is not a JSON object"));
  if (config.contains("linux") && !config["linux"].is_object()) {
    return tl::unexpected(Error::Malformed("config.json: \"linux\" is not an object"));
  }
  if (std::string privileged = PrivilegedSettings(config); !privileged.empty() && !options.allow_privileged) {
    return tl::unexpected(Error::Refused(fmt::format(
        "the container asks for {}, which reach the GPU and the kernel around the driver (docker run "
        "--privileged or --cap-add does this); set allow-privileged = true in [oci-runtime] to create it anyway",
        privileged)));
  }
  OciProfileOptions profile_options;
  profile_options.listener_path = options.listener_path;
  profile_options.base = options.default_base;
  if (config.contains("linux") && config["linux"].contains("seccomp") && !config["linux"]["seccomp"].is_null()) {
    profile_options.base = config["linux"]["seccomp"];
  }
  auto profile = BuildOciProfile(rules, profile_options);
  if (!profile) return tl::unexpected(profile.error().Prefixed("config.json: linux.seccomp: "));
  // A base's listenerMetadata stays in the profile, and the agent reads it first.
  std::string metadata;
  if (auto it = profile->find("listenerMetadata"); it != profile->end()) {
    if (!it->is_string()) {
      return tl::unexpected(Error::Malformed("config.json: linux.seccomp.listenerMetadata is not a string"));
    }
    metadata = it->get<std::string>();
  }

  CapsRequest request = RequestFromConfig(config, Annotations(config), metadata);
  auto enabled = ResolveRequest(request, options.allowed);
  if (!enabled) {
    return tl::unexpected(Error::Refused(
        request.text ? fmt::format("capability request '{}' (from {}) refused: {}", *request.text, request.source,
                                   enabled.error())
                     : fmt::format("the default capability request (none set) refused: {}", enabled.error())));
  }
  auto gpus = ResolveGpuRequest(GpuRequestFromConfig(config), options.machine, options.allowed_gpus);
  if (!gpus) return tl::unexpected(gpus.error().Prefixed("GPU request refused: "));
  config["linux"]["seccomp"] = std::move(*profile);
  return ProfiledConfig{.config = std::move(config),
                        .request = request.text.value_or(""),
                        .source = request.source,
                        .enabled = enabled->ToString(),
                        .gpus = gpus->restricted() ? gpus->ToString() : "all"};
}

Result<ProfiledConfig> InstallProfile(const std::string& bundle, const supervisor::TrapRules& rules,
                                      const ShimOptions& options) {
  std::string path = bundle + "/config.json";
  std::ifstream in(path);
  if (!in) return tl::unexpected(Error::Errno("cannot read " + path));
  std::stringstream text;
  text << in.rdbuf();
  Json config;
  try {
    config = Json::parse(text.str());
  } catch (const Json::parse_error& e) {
    return tl::unexpected(Error::Malformed(fmt::format("{} is not valid JSON: {}", path, e.what())));
  }
  auto profiled = AddProfile(std::move(config), rules, options);
  if (!profiled) return tl::unexpected(profiled.error());
  if (auto replaced = ReplaceFile(path, profiled->config.dump() + "\n"); !replaced) {
    return tl::unexpected(replaced.error());
  }
  return profiled;
}

std::string RuntimeLogLine(const std::string& format, const std::string& message, std::string_view error_id) {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char time[32];
  std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (format == "json") {
    Json line{{"level", "error"}, {"msg", message}, {"time", time}};
    if (!error_id.empty()) line["error"] = error_id;
    return line.dump() + "\n";
  }
  // logrus's text form quotes the message as Go's %q does; JSON's escapes agree
  // for everything a message of ours holds.
  return fmt::format("time=\"{}\" level=error msg={}\n", time, nlohmann::json(message).dump());
}

}  // namespace nvgate::agent
