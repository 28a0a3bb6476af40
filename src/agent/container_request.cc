#include "agent/container_request.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace nvgate::agent {
namespace {

using Json = nlohmann::ordered_json;

// The value of NAME in an OCI process.env list ("NAME=value"); the last one
// wins, as with execve's environment lookup in most libcs.
std::optional<std::string> EnvValue(const Json& env, std::string_view name) {
  std::optional<std::string> value;
  if (!env.is_array()) return value;
  for (const Json& entry : env) {
    if (!entry.is_string()) continue;
    const std::string& s = entry.get_ref<const std::string&>();
    if (s.size() > name.size() && s.compare(0, name.size(), name) == 0 && s[name.size()] == '=') {
      value = s.substr(name.size() + 1);
    }
  }
  return value;
}

// The bundle's config.json, or an empty object without a bundle.
Result<Json> ReadBundleConfig(const ContainerProcessState& state) {
  Json config = Json::object();
  if (state.bundle.empty()) return config;
  std::string path = state.bundle + "/config.json";
  std::ifstream in(path);
  if (!in) return tl::unexpected(Error::System(errno, "cannot read " + path));
  std::stringstream text;
  text << in.rdbuf();
  config = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) return tl::unexpected(Error::Malformed(path + " is not JSON"));
  return config;
}

Json ProcessEnv(const Json& config) {
  if (config.is_object() && config.contains("process") && config["process"].is_object() &&
      config["process"].contains("env")) {
    return config["process"]["env"];
  }
  return Json::array();
}

bool LegacyCudaImage(const Json& env) {
  auto cuda_version = EnvValue(env, "CUDA_VERSION");
  auto require_cuda = EnvValue(env, "NVIDIA_REQUIRE_CUDA");
  return cuda_version && !cuda_version->empty() && !(require_cuda && !require_cuda->empty());
}

// N of a GPU node path "/dev/nvidiaN".
std::optional<int> GpuNode(const Json& path) {
  if (!path.is_string()) return std::nullopt;
  constexpr std::string_view kPrefix = "/dev/nvidia";
  std::string_view p = path.get_ref<const std::string&>();
  if (!p.starts_with(kPrefix) || p.size() == kPrefix.size() || p.size() > kPrefix.size() + 3) return std::nullopt;
  int n = 0;
  for (char c : p.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

Result<ContainerProcessState> ParseContainerProcessState(std::string_view json) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return tl::unexpected(Error::Malformed("the runtime's message is not JSON"));
  ContainerProcessState out;
  auto fds = j.find("fds");
  if (fds == j.end() || !fds->is_array()) return tl::unexpected(Error::Malformed("no \"fds\" list"));
  for (std::size_t i = 0; i < fds->size(); ++i) {
    if ((*fds)[i] == "seccompFd") out.seccomp_fd_index = static_cast<int>(i);
  }
  if (out.seccomp_fd_index < 0) return tl::unexpected(Error::Malformed("no \"seccompFd\" among the fds"));
  if (j.contains("pid") && j["pid"].is_number_integer()) out.pid = j["pid"].get<int>();
  if (j.contains("metadata") && j["metadata"].is_string()) out.metadata = j["metadata"].get<std::string>();
  auto state = j.find("state");
  if (state == j.end() || !state->is_object()) return tl::unexpected(Error::Malformed("no \"state\" object"));
  if (!state->contains("id") || !(*state)["id"].is_string()) return tl::unexpected(Error::Malformed("no state.id"));
  out.id = (*state)["id"].get<std::string>();
  if (state->contains("bundle") && (*state)["bundle"].is_string()) out.bundle = (*state)["bundle"].get<std::string>();
  if (out.pid == 0 && state->contains("pid") && (*state)["pid"].is_number_integer()) out.pid = (*state)["pid"].get<int>();
  if (state->contains("annotations") && (*state)["annotations"].is_object()) {
    for (auto& [key, value] : (*state)["annotations"].items()) {
      if (value.is_string()) out.annotations[key] = value.get<std::string>();
    }
  }
  return out;
}

CapsRequest RequestFromConfig(const Json& config, const std::map<std::string, std::string>& annotations,
                              std::string_view metadata) {
  const Json env = ProcessEnv(config);
  CapsRequest out;
  out.legacy_cuda_image = LegacyCudaImage(env);
  if (!metadata.empty()) {
    out.text = std::string(metadata);
    out.source = "listenerMetadata";
  } else if (auto it = annotations.find(std::string(kCapsAnnotation)); it != annotations.end()) {
    out.text = it->second;
    out.source = "annotation " + std::string(kCapsAnnotation);
  } else if (auto value = EnvValue(env, "NVIDIA_DRIVER_CAPABILITIES")) {
    out.text = *value;
    out.source = "NVIDIA_DRIVER_CAPABILITIES";
  } else {
    out.source = "default";
  }
  return out;
}

Result<CapsRequest> ReadCapsRequest(const ContainerProcessState& state) {
  auto config = ReadBundleConfig(state);
  if (!config) return tl::unexpected(config.error());
  return RequestFromConfig(*config, state.annotations, state.metadata);
}

Result<caps::CapSet> ResolveRequest(const CapsRequest& request, caps::CapSet allowed) {
  auto resolved = caps::Resolve(request.text, allowed, request.legacy_cuda_image);
  if (!resolved) return tl::unexpected(resolved.error());
  if (resolved->empty()) return tl::unexpected(Error::Usage("no driver capability is enabled"));
  return *resolved;
}

GpuRequest GpuRequestFromConfig(const Json& config) {
  const Json env = ProcessEnv(config);
  GpuRequest out;
  out.visible_devices = EnvValue(env, "NVIDIA_VISIBLE_DEVICES");
  out.legacy_cuda_image = LegacyCudaImage(env);
  auto add = [&](const Json& list, const char* field) {
    if (!list.is_array()) return;
    for (const Json& item : list) {
      if (!item.is_object() || !item.contains(field)) continue;
      if (auto n = GpuNode(item[field])) out.node_gpus.push_back(*n);
    }
  };
  if (config.is_object() && config.contains("linux") && config["linux"].is_object() &&
      config["linux"].contains("devices")) {
    add(config["linux"]["devices"], "path");
  }
  if (config.is_object() && config.contains("mounts")) add(config["mounts"], "destination");
  return out;
}

Result<GpuRequest> ReadGpuRequest(const ContainerProcessState& state) {
  auto config = ReadBundleConfig(state);
  if (!config) return tl::unexpected(config.error());
  return GpuRequestFromConfig(*config);
}

Result<gpus::Selection> ResolveGpuRequest(const GpuRequest& request, const std::vector<gpus::Gpu>& machine,
                                          const gpus::Selection& bound) {
  if (machine.empty() && !bound.restricted()) return gpus::Selection::All({});
  const gpus::Request env = gpus::ParseRequest(
      request.visible_devices, request.legacy_cuda_image ? gpus::RequestKind::kAll : gpus::RequestKind::kVoid);
  auto from_env = gpus::Resolve(env, machine, bound);
  if (!from_env) return tl::unexpected(from_env.error().Prefixed("NVIDIA_VISIBLE_DEVICES: "));
  if (request.node_gpus.empty() || !from_env->restricted()) return from_env;
  std::vector<gpus::Gpu> both = from_env->gpus();
  // A node names the GPU of its minor number.
  for (int n : request.node_gpus) {
    const std::string node = "/dev/nvidia" + std::to_string(n);
    auto gpu = std::find_if(machine.begin(), machine.end(), [n](const gpus::Gpu& g) { return g.index == n; });
    if (gpu == machine.end()) {
      return tl::unexpected(Error::NotFound("device " + node + ": no GPU of this machine has that node"));
    }
    if (!bound.ByIndex(n)) {
      return tl::unexpected(Error::Refused("device " + node + ": " + gpus::OutsideBound(node, *gpu, bound)));
    }
    both.push_back(*gpu);
  }
  return gpus::Selection::Of(gpus::RequestKind::kList, std::move(both), machine.size());
}

}  // namespace nvgate::agent
