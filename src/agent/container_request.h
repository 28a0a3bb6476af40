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
//   auto enabled = caps::Resolve(caps->text, allowed, caps->legacy_cuda_image);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

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
tl::expected<ContainerProcessState, std::string> ParseContainerProcessState(std::string_view json);

struct CapsRequest {
  // The request as written (nullopt: not set anywhere, the toolkit's default).
  std::optional<std::string> text;
  // CUDA_VERSION set without NVIDIA_REQUIRE_CUDA: the toolkit reads an unset
  // request as "all" for such images.
  bool legacy_cuda_image = false;
  std::string source;  // where the request came from, for logs
};

// The container's request, first of: a non-empty listenerMetadata (the
// profile's --caps-metadata), the kCapsAnnotation annotation, process.env
// NVIDIA_DRIVER_CAPABILITIES of <bundle>/config.json; else unset. Every one is
// the container creator's request: the agent's --allowed-caps bounds them all.
tl::expected<CapsRequest, std::string> ReadCapsRequest(const ContainerProcessState& state);

}  // namespace nvgate::agent
