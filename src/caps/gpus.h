// GPU selection: which of the machine's GPUs a workload may use, resolved from
// `nvgate run --gpus`, NVIDIA_VISIBLE_DEVICES or a container's config.
//
//   auto bound = gpus::ResolveBound("all", machine);                      // operator bound
//   auto selection = gpus::Resolve(gpus::ParseRequest(getenv("NVIDIA_VISIBLE_DEVICES")),
//                                  machine, *bound);
//   if (!selection) die(selection.error());  // names the device
//
// The request reads as the NVIDIA container toolkit reads NVIDIA_VISIBLE_DEVICES
// (nvidia-container-toolkit internal/config/image/devices.go and cuda_image.go;
// libnvidia-container src/cli/common.c, select_devices):
//  - "all": every GPU;
//  - "none": no GPU, but the driver's control node (and UVM) stay;
//  - "void", or set but empty: as if no NVIDIA runtime were used, no NVIDIA
//    node at all;
//  - otherwise a comma-separated list, whitespace around items and empty items
//    ignored, each item a GPU index ("1", counting GPUs in PCI bus order, as
//    NVML and nvidia-smi do), a full GPU UUID ("GPU-..."; case does not
//    matter, no prefixes), or a PCI bus id ("0000:18:00.0"); an item naming no
//    GPU is an error, as in libnvidia-container.
// MIG devices ("MIG-<uuid>", "<gpu>:<instance>") are refused with an error:
// nvgate does not select MIG instances yet.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "error/error.h"

namespace nvgate::gpus {

// One GPU of the machine, as the backend reports it.
struct Gpu {
  int index = 0;            // its minor number, /dev/nvidia<index>: "GPU <index>" in messages
  std::uint32_t gpu_id = 0; // RM's gpuId, as NV0000 controls and NV_ESC_ATTACH_GPUS_TO_FD name it
  std::string uuid;         // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as the driver prints it
  std::string pci_bus_id;   // "0000:18:00.0", lowercase
  // RM's device instance (NV0080_ALLOC_PARAMETERS deviceId) of the GPU, or -1
  // where the backend cannot tell: the host driver numbers instances as GPUs
  // attach, which can change while nvgate runs.
  int device_instance = -1;
};

// The text form of a 16-byte GPU UUID as the driver prints it ("GPU-" and 8-4-4-4-12 hex digits).
std::string UuidText(std::span<const std::uint8_t, 16> uuid);

enum class RequestKind : std::uint8_t { kAll, kNone, kVoid, kList };

struct Request {
  RequestKind kind = RequestKind::kAll;
  std::vector<std::string> devices;  // the items of a kList, trimmed, none empty
};

// Reads a request. `text` nullopt (unset): the caller's default, `unset`.
Request ParseRequest(std::optional<std::string_view> text, RequestKind unset = RequestKind::kAll);

// What a workload gets.
class Selection {
 public:
  // Every GPU of `machine`: no restriction.
  static Selection All(std::vector<Gpu> machine);
  static Selection Of(RequestKind kind, std::vector<Gpu> selected, std::size_t machine_gpus);

  RequestKind kind() const { return kind_; }
  // The GPUs selected, in index order.
  const std::vector<Gpu>& gpus() const { return gpus_; }
  // Whether some GPU of the machine is left out.
  bool restricted() const { return restricted_; }
  // Whether the workload gets NVIDIA nodes at all ("void" gives none).
  bool any_nodes() const { return kind_ != RequestKind::kVoid; }

  const Gpu* ByIndex(int index) const;
  const Gpu* ByGpuId(std::uint32_t gpu_id) const;
  const Gpu* ByUuid(std::string_view uuid) const;

  // "0,1" (indices), "none" or "void".
  std::string ToString() const;

 private:
  RequestKind kind_ = RequestKind::kAll;
  std::vector<Gpu> gpus_;
  bool restricted_ = false;
};

// The GPU of `machine` that `device` (one list item) names, or an error naming it.
Result<Gpu> Find(std::string_view device, std::span<const Gpu> machine);

// Why `gpu`, which `device` named, may not be selected under `bound`.
std::string OutsideBound(std::string_view device, const Gpu& gpu, const Selection& bound);

// The operator's bound: a list (as a request reads it) of the GPUs workloads
// may be given. "all" is every GPU; "none" and "void" allow no GPU.
Result<Selection> ResolveBound(std::string_view text, std::span<const Gpu> machine);

// A request resolved on `machine` within `bound`: "all" is every GPU of the
// bound; a named GPU outside the bound is an error naming it and the bound.
Result<Selection> Resolve(const Request& request, std::span<const Gpu> machine, const Selection& bound);

}  // namespace nvgate::gpus
