#include "proxy/gpu_selection_check.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

namespace nvgate::proxy {
namespace {

enum class GpuField : std::uint8_t {
  kDeviceInstance,  // NvU32 device instance at `offset`
  kGpuId,           // NvU32 gpuId at `offset`
  kGpuIdList,       // NvU32 gpuIds from `offset`: `count` of them, or the whole struct when 0
  kUuid,            // 16-byte GPU UUID at `offset`
};

struct GpuNamingCall {
  abi::Level level;
  std::string_view name;
  GpuField field;
  std::uint32_t offset;
  std::uint32_t count;
};

// Offsets are of the driver's structs at 580.142: NV0080_ALLOC_PARAMETERS
// (class/cl0080.h), UVM_REGISTER_GPU(_VASPACE)_PARAMS
// (kernel-open/nvidia-uvm/uvm_ioctl.h), the NV0000 GPU controls'
// (ctrl/ctrl0000/ctrl0000gpu.h: each has gpuId first, ATTACH_IDS and
// DETACH_IDS an array of 32 first) and NV_ESC_ATTACH_GPUS_TO_FD's bare array
// (kernel-open/nvidia/nv.c:2532).
constexpr GpuNamingCall kGpuNamingCalls[] = {
    {abi::Level::kAlloc, "NV01_DEVICE_0", GpuField::kDeviceInstance, 0, 1},
    {abi::Level::kUvm, "UVM_REGISTER_GPU", GpuField::kUuid, 0, 1},
    {abi::Level::kUvm, "UVM_REGISTER_GPU_VASPACE", GpuField::kUuid, 0, 1},
    {abi::Level::kFrontend, "NV_ESC_ATTACH_GPUS_TO_FD", GpuField::kGpuIdList, 0, 0},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_ATTACH_IDS", GpuField::kGpuIdList, 0, 32},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_DETACH_IDS", GpuField::kGpuIdList, 0, 32},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ID_INFO", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_PCI_INFO", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_GET_UUID_FROM_GPU_ID", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_QUERY_DRAIN_STATE", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_ASYNC_ATTACH_ID", GpuField::kGpuId, 0, 1},
    {abi::Level::kControl, "NV0000_CTRL_CMD_GPU_WAIT_ATTACH_ID", GpuField::kGpuId, 0, 1},
};

// NV0000_CTRL_GPU_INVALID_ID ends a list; NV0000_CTRL_GPU_ATTACH_ALL_PROBED_IDS
// and NV0000_CTRL_GPU_DETACH_ALL_ATTACHED_IDS as the first entry name every
// GPU (ctrl0000gpu.h:64, 414 and 467 at 580.142).
constexpr std::uint32_t kInvalidGpuId = 0xffffffffu;
constexpr std::uint32_t kEveryGpu = 0x0000ffffu;

const GpuNamingCall* Find(abi::Level level, std::string_view name) {
  for (const GpuNamingCall& call : kGpuNamingCalls) {
    if (call.level == level && call.name == name) return &call;
  }
  return nullptr;
}

std::string Named(const gpus::Gpu& gpu) { return "GPU " + std::to_string(gpu.index) + " (" + gpu.uuid + ")"; }

std::optional<std::string> OutsideGpuId(std::uint32_t gpu_id, const GpuScope& scope) {
  if (scope.selection.ByGpuId(gpu_id)) return std::nullopt;
  for (const gpus::Gpu& gpu : scope.machine) {
    if (gpu.gpu_id == gpu_id) return Named(gpu);
  }
  return fmt::format("gpuId {:#x}", gpu_id);
}

std::uint32_t LoadU32(std::span<const std::byte> params, std::size_t offset) {
  std::uint32_t v;
  std::memcpy(&v, params.data() + offset, sizeof v);
  return v;
}

}  // namespace

std::vector<std::pair<abi::Level, std::string_view>> GpuNamingCalls() {
  std::vector<std::pair<abi::Level, std::string_view>> out;
  for (const GpuNamingCall& call : kGpuNamingCalls) out.emplace_back(call.level, call.name);
  return out;
}

std::optional<std::string> GpuOutsideScope(const abi::Entry& entry, std::span<const std::byte> params,
                                           const GpuScope& scope) {
  if (!scope.selection.restricted()) return std::nullopt;
  const GpuNamingCall* call = Find(entry.level, entry.name);
  if (call == nullptr) return std::nullopt;
  switch (call->field) {
    case GpuField::kDeviceInstance: {
      if (params.size() < call->offset + 4) return std::nullopt;
      // The sim's device instances are its GPU indices; the host backend
      // reports none (gpus::Gpu::device_instance), and there the driver's own
      // check refuses (the caller must hold the GPU's node, which only the
      // selected GPUs' are in the workload's /dev).
      const auto instance = static_cast<int>(LoadU32(params, call->offset));
      for (const gpus::Gpu& gpu : scope.machine) {
        if (gpu.device_instance == instance && !scope.selection.ByIndex(gpu.index)) return Named(gpu);
      }
      return std::nullopt;
    }
    case GpuField::kGpuId:
      if (params.size() < call->offset + 4) return std::nullopt;
      return OutsideGpuId(LoadU32(params, call->offset), scope);
    case GpuField::kGpuIdList: {
      const std::size_t available = params.size() < call->offset ? 0 : (params.size() - call->offset) / 4;
      const std::size_t count = call->count == 0 ? available : std::min<std::size_t>(call->count, available);
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t id = LoadU32(params, call->offset + 4 * i);
        if (entry.level == abi::Level::kControl) {
          if (id == kInvalidGpuId) break;
          if (i == 0 && id == kEveryGpu) return std::string("every GPU");
        } else if (id == 0) {
          continue;
        }
        if (auto outside = OutsideGpuId(id, scope)) return outside;
      }
      return std::nullopt;
    }
    case GpuField::kUuid: {
      if (params.size() < call->offset + 16) return std::nullopt;
      std::uint8_t uuid[16];
      std::memcpy(uuid, params.data() + call->offset, sizeof uuid);
      const std::string text = gpus::UuidText(uuid);
      if (scope.selection.ByUuid(text)) return std::nullopt;
      for (const gpus::Gpu& gpu : scope.machine) {
        if (gpu.uuid == text) return Named(gpu);
      }
      return text;
    }
  }
  return std::nullopt;
}

}  // namespace nvgate::proxy
