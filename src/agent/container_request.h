// What an OCI runtime sends to `linux.seccomp.listenerPath`, and the
// capability request nvgate reads from it.
//
// runc and crun connect to the listener path once per container start and send,
// in one message with the listener fd(s) as SCM_RIGHTS, the container process
// state:
//   {"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": 4242,
//    "metadata": "<listenerMetadata>",
//    "state": {"ociVersion": ..., "id": "ctr1", "status": "creating", "pid": 4242,
//              "bundle": "/path/to/bundle", "annotations": {...}}}
//
//   auto request = agent::ParseContainerProcessState(json);
//   auto caps = agent::ReadCapsRequest(*request);      // reads <bundle>/config.json
//   auto enabled = agent::ResolveRequest(*caps, allowed);
//
// The agent and `nvgate oci runtime` (oci_runtime.h) read and resolve a
// container's request through the same two functions, RequestFromConfig and
// ResolveRequest, so what the shim refuses at create is what the agent would
// refuse.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "caps/caps.h"
#include "caps/gpus.h"
#include "error/error.h"

namespace nvgate::agent {

// The annotation that, when present, is the container's capability request
// instead of its NVIDIA_DRIVER_CAPABILITIES.
inline constexpr std::string_view kCapsAnnotation = "io.nvgate.driver-capabilities";

struct ContainerProcessState {
  std::string id;
  int pid = 0;
  std::string bundle;
  std::string metadata;                          // the profile's listenerMetadata
  std::map<std::string, std::string> annotations;
  int seccomp_fd_index = -1;                     // which of the received fds is the listener
};

// Parses the runtime's message. Errors name the missing or malformed field.
Result<ContainerProcessState> ParseContainerProcessState(std::string_view json);

struct CapsRequest {
  // The request as written (nullopt: not set anywhere, the toolkit's default).
  std::optional<std::string> text;
  // CUDA_VERSION set without NVIDIA_REQUIRE_CUDA: the toolkit reads an unset
  // request as "all" for such images.
  bool legacy_cuda_image = false;
  std::string source;  // where the request came from, for logs
};

// The container's request, first of: a non-empty `metadata` (the profile's
// listenerMetadata, --caps-metadata), the kCapsAnnotation annotation, process.env
// NVIDIA_DRIVER_CAPABILITIES of `config` (a config.json); else unset. Every one
// is the container creator's request: the operator's bound limits them all.
CapsRequest RequestFromConfig(const nlohmann::ordered_json& config,
                              const std::map<std::string, std::string>& annotations, std::string_view metadata);

// RequestFromConfig with <bundle>/config.json and the state's annotations and
// metadata; an error when the bundle's config.json cannot be read.
Result<CapsRequest> ReadCapsRequest(const ContainerProcessState& state);

// The capabilities a container gets under `allowed`, or why it gets none: a
// request outside the bound (the error names the capabilities and the bound),
// or one that leaves nothing enabled.
Result<caps::CapSet> ResolveRequest(const CapsRequest& request, caps::CapSet allowed);

// The GPUs a container's config gives it: the /dev/nvidia<N> nodes it lists
// (linux.devices paths and mount destinations: what a runtime or a CDI spec puts
// in the container) and the GPUs its process.env NVIDIA_VISIBLE_DEVICES selects
// (what the NVIDIA container toolkit's hook would mount), read as the toolkit
// reads it: unset is "void", or "all" on a legacy CUDA image.
struct GpuRequest {
  std::optional<std::string> visible_devices;  // NVIDIA_VISIBLE_DEVICES as written
  bool legacy_cuda_image = false;
  std::vector<int> node_gpus;                  // N of each /dev/nvidiaN listed, in order
};
GpuRequest GpuRequestFromConfig(const nlohmann::ordered_json& config);

// GpuRequestFromConfig of the bundle's config.json; an error when it cannot be read.
Result<GpuRequest> ReadGpuRequest(const ContainerProcessState& state);

// The GPUs a container reaches: those its nodes and its NVIDIA_VISIBLE_DEVICES
// name, together, on `machine` within `bound`; an error naming a GPU outside
// the bound or one the machine does not have. Where the machine's GPUs are
// not known (the shim on a host without a driver) and the bound is every GPU,
// every GPU: the agent, which knows them, resolves the request again.
Result<gpus::Selection> ResolveGpuRequest(const GpuRequest& request, const std::vector<gpus::Gpu>& machine,
                                          const gpus::Selection& bound);

}  // namespace nvgate::agent
