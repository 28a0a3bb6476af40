// Which driver calls name a GPU, and where: the proxy refuses a call that names
// a GPU outside the workload's selection (caps/gpus.h), on its own copy of the
// parameters, before the driver sees them.
//
// The calls are declared in one list (kGpuNamingCalls in the .cc), by the
// table's call name, so that every branch's table row of that name is covered:
//   - NV01_DEVICE_0 (alloc): deviceId, the device instance;
//   - UVM_REGISTER_GPU, UVM_REGISTER_GPU_VASPACE: the GPU's UUID;
//   - NV_ESC_ATTACH_GPUS_TO_FD: its array of gpuIds (zero entries skipped, as
//     the driver skips them);
//   - NV0000_CTRL_CMD_GPU_ATTACH_IDS / DETACH_IDS: their gpuId lists (up to
//     NV0000_CTRL_GPU_INVALID_ID; "all probed/attached" names every GPU);
//   - the NV0000 controls whose first field is a gpuId: GET_ID_INFO(_V2),
//     GET_PCI_INFO, GET_UUID_FROM_GPU_ID, QUERY_DRAIN_STATE, ASYNC_ATTACH_ID,
//     WAIT_ATTACH_ID.
// Every other call on a GPU goes through a device object (NV01_DEVICE_0 and
// what it parents) or a registered UVM GPU, so it cannot reach a GPU these
// refuse.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/abi.h"
#include "caps/gpus.h"

namespace nvgate::proxy {

// The GPUs a workload may use, and the machine's, to name the others.
struct GpuScope {
  gpus::Selection selection;
  std::vector<gpus::Gpu> machine;
};

// What a call names outside the scope, for the denial line ("GPU 0
// (GPU-6e76...)", "gpuId 0x105", "every probed GPU"), or nullopt when it names
// none (or is not a call that names GPUs). `params` is the parameter struct of
// `entry` as copied; a shorter copy names nothing.
std::optional<std::string> GpuOutsideScope(const abi::Entry& entry, std::span<const std::byte> params,
                                           const GpuScope& scope);

// The calls GpuOutsideScope reads, by level and table name.
std::vector<std::pair<abi::Level, std::string_view>> GpuNamingCalls();

}  // namespace nvgate::proxy
