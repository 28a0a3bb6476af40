#include "backend/sim_branch.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "abi/nv_structs.h"
#include "abi/nv_structs_libs.h"

namespace nvgate::backend {
namespace {

using namespace nv;

template <typename T>
constexpr ArrayShape Prefix() {
  return {sizeof(T), 0, sizeof(T)};
}

std::optional<ArrayShape> ControlShape(std::uint32_t cmd) {
  switch (cmd) {
    case kNv0000CtrlCmdGpuGetProbedIds: return Prefix<NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS>();
    case kNv0080CtrlCmdGpuGetClasslistV2:
      return ArrayShape{sizeof(NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS),
                        offsetof(NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS, classList),
                        sizeof(NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS)};
    case kNv2080CtrlCmdFbGetInfoV2:
      return ArrayShape{sizeof(NV2080_CTRL_FB_GET_INFO_V2_PARAMS),
                        offsetof(NV2080_CTRL_FB_GET_INFO_V2_PARAMS, fbInfoList),
                        sizeof(NV2080_CTRL_FB_GET_INFO_V2_PARAMS)};
    case kNv2080CtrlCmdGpuGetEnginesV2:
      return ArrayShape{sizeof(NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS),
                        offsetof(NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS, engineList),
                        sizeof(NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS)};
    case kNv2080CtrlCmdGpuGetInfoV2:
      return ArrayShape{sizeof(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS),
                        offsetof(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS, gpuInfoList),
                        sizeof(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS)};
    case kNva06cCtrlCmdGpfifoSchedule: return Prefix<NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS>();
    case kNv0080CtrlCmdGpuGetVirtualizationMode: return Prefix<NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS>();
    case kNv2080CtrlCmdGetGpuFabricProbeInfo: return Prefix<NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS>();
    default: return std::nullopt;
  }
}

std::optional<ArrayShape> UvmShape(std::uint32_t request) {
  switch (request) {
    case kUvmAllocSemaphorePool:
      return ArrayShape{sizeof(UVM_ALLOC_SEMAPHORE_POOL_PARAMS),
                        offsetof(UVM_ALLOC_SEMAPHORE_POOL_PARAMS, perGpuAttributes),
                        offsetof(UVM_ALLOC_SEMAPHORE_POOL_PARAMS, gpuAttributesCount)};
    case kUvmMapExternalAllocation:
      return ArrayShape{sizeof(UVM_MAP_EXTERNAL_ALLOCATION_PARAMS),
                        offsetof(UVM_MAP_EXTERNAL_ALLOCATION_PARAMS, perGpuAttributes),
                        offsetof(UVM_MAP_EXTERNAL_ALLOCATION_PARAMS, gpuAttributesCount)};
    case kUvmFree: return Prefix<UVM_FREE_PARAMS>();
    default: return std::nullopt;
  }
}

// Whether a branch struct of `size` bytes has the shape's head and tail.
bool Fits(const ArrayShape& shape, std::size_t size) {
  return size >= shape.array_offset + (shape.own_size - shape.tail_offset);
}

}  // namespace

OwnLayout::OwnLayout(void* branch_params, std::size_t branch_size, const ArrayShape& shape)
    : branch_(static_cast<std::byte*>(branch_params)), branch_size_(branch_size), shape_(shape), own_(shape.own_size) {
  Copy(true);
}

OwnLayout::~OwnLayout() { Copy(false); }

void OwnLayout::Copy(bool to_own) {
  auto move = [&](std::size_t own_at, std::size_t branch_at, std::size_t len) {
    if (len == 0) return;
    if (to_own) {
      std::memcpy(own_.data() + own_at, branch_ + branch_at, len);
    } else {
      std::memcpy(branch_ + branch_at, own_.data() + own_at, len);
    }
  };
  const std::size_t tail = shape_.own_size - shape_.tail_offset;
  const std::size_t own_array = shape_.tail_offset - shape_.array_offset;
  const std::size_t branch_array = branch_size_ - shape_.array_offset - tail;
  move(0, 0, shape_.array_offset);
  move(shape_.array_offset, shape_.array_offset, std::min(own_array, branch_array));
  move(shape_.tail_offset, branch_size_ - tail, tail);
}

SimBranch::SimBranch(const std::string& version) : table_(abi::TableForVersion(version)) {}

std::unique_ptr<OwnLayout> SimBranch::Control(std::uint32_t cmd, void* params, std::uint32_t size) const {
  auto shape = ControlShape(cmd);
  const abi::Entry* row = table_ ? table_->Find(abi::Level::kControl, cmd) : nullptr;
  if (!shape || params == nullptr || row == nullptr || row->param_size != size || size == shape->own_size ||
      !Fits(*shape, size)) {
    return nullptr;
  }
  return std::make_unique<OwnLayout>(params, size, *shape);
}

std::unique_ptr<OwnLayout> SimBranch::Uvm(std::uint32_t request, void* params) const {
  auto shape = UvmShape(request);
  const abi::Entry* row = table_ ? table_->Find(abi::Level::kUvm, request) : nullptr;
  if (!shape || params == nullptr || row == nullptr || row->param_size == shape->own_size ||
      !Fits(*shape, row->param_size)) {
    return nullptr;
  }
  return std::make_unique<OwnLayout>(params, row->param_size, *shape);
}

}  // namespace nvgate::backend
