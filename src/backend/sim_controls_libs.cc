#include "backend/sim_controls_libs.h"

#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <iterator>

#include "abi/nv_structs_libs.h"
#include "backend/sim_gpu.h"

namespace nvgate::backend {
namespace {

using namespace nv;

// A control's parameter size is checked before it runs (as sim_driver.cc's
// SIM_PARAMS; RM: the control's paramSize in its export table).
template <typename T>
T* Params(const NVOS54_PARAMETERS& p, void* params) {
  return p.paramsSize == sizeof(T) ? static_cast<T*>(params) : nullptr;
}

bool IsGpuId(const SimSystem& system, NvU32 id) {
  return id >= kFirstSimGpuId && id < kFirstSimGpuId + static_cast<NvU32>(system.gpu_count);
}

std::optional<NvV32> RootControl(const SimSystem& system, const NVOS54_PARAMETERS& p, void* params) {
  switch (p.cmd) {
    // src/nvidia/src/kernel/rmapi/client_resource.c:1483 (580.142): the probed
    // GPU's domain, bus and device; NV_ERR_INVALID_ARGUMENT for any other id
    // (gpumgrGetProbedGpuDomainBusDevice).
    case kNv0000CtrlCmdGpuGetPciInfo: {
      auto* pci = Params<NV0000_CTRL_GPU_GET_PCI_INFO_PARAMS>(p, params);
      if (pci == nullptr) return kNvErrInvalidArgument;
      if (!IsGpuId(system, pci->gpuId)) return kNvErrInvalidArgument;
      pci->domain = 0;
      pci->bus = static_cast<std::uint16_t>(kFirstSimGpuBus + (pci->gpuId - kFirstSimGpuId));
      pci->slot = 0;
      return kNvOk;
    }
    // src/nvidia/interface/deprecated/rmapi_deprecated_control.c:441 (580.142):
    // GET_BUILD_VERSION_V2's strings; with any pointer NULL, only the size each
    // needs (the longest, with its NUL); a size under that is
    // NV_ERR_INVALID_PARAM_STRUCT; else each string is copied out.
    case kNv0000CtrlCmdSystemGetBuildVersion: {
      auto* build = Params<NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_PARAMS>(p, params);
      if (build == nullptr) return kNvErrInvalidArgument;
      const std::string_view strings[] = {system.version, system.version, system.title};
      const NvP64 buffers[] = {build->pDriverVersionBuffer, build->pVersionBuffer, build->pTitleBuffer};
      NvU32 needed = 0;
      for (std::string_view text : strings) needed = std::max(needed, static_cast<NvU32>(text.size() + 1));
      if (std::find(std::begin(buffers), std::end(buffers), NvP64{0}) != std::end(buffers)) {
        build->sizeOfStrings = needed;
        return kNvOk;
      }
      if (build->sizeOfStrings < needed) return kNvErrInvalidParamStruct;
      for (std::size_t i = 0; i < std::size(buffers); ++i) {
        auto* out = reinterpret_cast<char*>(buffers[i]);
        std::memcpy(out, strings[i].data(), strings[i].size());
        out[strings[i].size()] = '\0';
      }
      build->changelistNumber = 0;
      build->officialChangelistNumber = 0;
      return kNvOk;
    }
    // client_resource.c:5094: the client's share policy for objects it will
    // own, set through SHARE_OBJECT on the client (:5125: a type past
    // RS_SHARE_TYPE_MAX is NV_ERR_INVALID_ARGUMENT). Sharing is not modelled
    // (as RM_SHARE in sim_driver.cc); the answer is the driver's.
    case kNv0000CtrlCmdClientSetInheritedSharePolicy: {
      auto* share = Params<NV0000_CTRL_CLIENT_SET_INHERITED_SHARE_POLICY_PARAMS>(p, params);
      if (share == nullptr || share->sharePolicy.type >= kRsShareTypeMax) return kNvErrInvalidArgument;
      return kNvOk;
    }
    // client_resource.c:4880 and src/nvidia/src/kernel/power/gpu_boost_mgr.c:224:
    // the sync GPU boost groups an administrator made; the sim has none.
    case kNv0000CtrlCmdSyncGpuBoostGroupInfo: {
      auto* boost = Params<NV0000_SYNC_GPU_BOOST_GROUP_INFO_PARAMS>(p, params);
      if (boost == nullptr) return kNvErrInvalidArgument;
      *boost = {};
      return kNvOk;
    }
    // client_resource.c:1393 and gpu_mgr.c:2677: GET_ID_INFO_V2's answer
    // (sim_driver.cc) without the name.
    case kNv0000CtrlCmdGpuGetIdInfo: {
      auto* info = Params<NV0000_CTRL_GPU_GET_ID_INFO_PARAMS>(p, params);
      if (info == nullptr || !IsGpuId(system, info->gpuId)) return kNvErrInvalidArgument;
      info->gpuFlags = 0;
      info->deviceInstance = info->gpuId - kFirstSimGpuId;
      info->subDeviceInstance = 0;
      info->sliStatus = 0;
      info->boardId = info->gpuId;
      info->gpuInstance = info->deviceInstance;
      info->numaId = -1;  // NV0000_CTRL_NO_NUMA_NODE
      return kNvOk;
    }
    // client_resource.c:1558: ATTACH_ALL_PROBED_IDS, or a list ended by an
    // invalid id whose every entry is a probed GPU.
    case kNv0000CtrlCmdGpuAttachIds: {
      auto* ids = Params<NV0000_CTRL_GPU_ATTACH_IDS_PARAMS>(p, params);
      if (ids == nullptr) return kNvErrInvalidArgument;
      if (ids->gpuIds[0] == kNv0000CtrlGpuAllIds) return kNvOk;
      for (NvU32 id : ids->gpuIds) {
        if (id == kInvalidGpuId) break;
        if (!IsGpuId(system, id)) {
          ids->failedId = id;
          return kNvErrInvalidArgument;
        }
      }
      return kNvOk;
    }
    // client_resource.c:1613: the id must be a probed GPU; the attach itself
    // happens in user space. :1660: waiting has nothing to do in RM.
    case kNv0000CtrlCmdGpuAsyncAttachId: {
      auto* id = Params<NV0000_CTRL_GPU_ASYNC_ATTACH_ID_PARAMS>(p, params);
      if (id == nullptr || !IsGpuId(system, id->gpuId)) return kNvErrInvalidArgument;
      return kNvOk;
    }
    case kNv0000CtrlCmdGpuWaitAttachId:
      return Params<NV0000_CTRL_GPU_WAIT_ATTACH_ID_PARAMS>(p, params) ? kNvOk : kNvErrInvalidArgument;
    // client_resource.c:1690: DETACH_ALL_ATTACHED_IDS, or attached ids (every
    // simulated GPU is attached: the sim has no detached state).
    case kNv0000CtrlCmdGpuDetachIds: {
      auto* ids = Params<NV0000_CTRL_GPU_DETACH_IDS_PARAMS>(p, params);
      if (ids == nullptr) return kNvErrInvalidArgument;
      if (ids->gpuIds[0] == kNv0000CtrlGpuAllIds) return kNvOk;
      for (NvU32 id : ids->gpuIds) {
        if (id == kInvalidGpuId) break;
        if (!IsGpuId(system, id)) return kNvErrInvalidArgument;
      }
      return kNvOk;
    }
    // client_resource.c:4723: the GPU's drain state; the sim's GPUs are never
    // being drained (NV0000_CTRL_GPU_DRAIN_STATE_DISABLED, no flags).
    case kNv0000CtrlCmdGpuQueryDrainState: {
      auto* drain = Params<NV0000_CTRL_GPU_QUERY_DRAIN_STATE_PARAMS>(p, params);
      if (drain == nullptr) return kNvErrInvalidArgument;
      if (!IsGpuId(system, drain->gpuId)) return kNvErrInvalidArgument;
      drain->drainState = 0;
      drain->flags = 0;
      return kNvOk;
    }
    // client_resource.c:5255-5271: stream memory operations are enabled only by
    // the RmStreamMemOps registry key (src/nvidia/src/kernel/core/system.c:749-755),
    // which the sim's driver was not given.
    case kNv0000CtrlCmdGpuGetMemopEnable: {
      auto* memop = Params<NV0000_CTRL_GPU_GET_MEMOP_ENABLE_PARAMS>(p, params);
      if (memop == nullptr) return kNvErrInvalidArgument;
      memop->enableMask = 0;
      return kNvOk;
    }
    default:
      return std::nullopt;
  }
}

std::optional<NvV32> DeviceControl(const NVOS54_PARAMETERS& p, void* params) {
  switch (p.cmd) {
    // src/nvidia/src/kernel/gpu/device_ctrl.c:197 (580.142): a GPU that is
    // neither a vGPU nor passed through, on a host that is no vGPU hypervisor:
    // NV0080_CTRL_GPU_VIRTUALIZATION_MODE_NONE; isGridBuild is
    // os_is_grid_supported(), false but for GRID drivers.
    case kNv0080CtrlCmdGpuGetVirtualizationMode: {
      auto* mode = Params<NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS>(p, params);
      if (mode == nullptr) return kNvErrInvalidArgument;
      mode->virtualizationMode = 0;
      mode->isGridBuild = 0;
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/bus/kern_bus_ctrl.c:158 and kern_bus.c:895
    // (580.142): on an x86 host whose chipset is I/O coherent and whose host
    // bridge is no NVIDIA one, neither EXPLICIT_CACHE_FLUSH_REQD nor
    // CPU_WRITE_WAR_BUG_420495: an empty table.
    case kNv0080CtrlCmdHostGetCapsV2: {
      auto* caps = Params<NV0080_CTRL_HOST_GET_CAPS_V2_PARAMS>(p, params);
      if (caps == nullptr) return kNvErrInvalidArgument;
      *caps = {};
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/mem_mgr/mem_mgr_ctrl.c:247-263 and :58-140
    // (580.142), one GPU: always RENDER_TO_SYSMEM, BLOCKLINEAR,
    // BLOCKLINEAR_GOBS_512 and, not being a vGPU, PARTIAL_UNMAP; from the
    // memory system's properties on a Hopper GPU (the H200 answered them):
    // SUPPORT_CACHED_SYSMEM (GPU cache enabled), GENERIC_PAGE_KIND and
    // VIDMEM_ALLOCS_ARE_CLEARED (scrub on free). No scanout from sysmem, no
    // sysmem compression, no ECC or PLC workarounds (0x0b 0x81 0x12).
    case kNv0080CtrlCmdFbGetCapsV2: {
      auto* caps = Params<NV0080_CTRL_FB_GET_CAPS_V2_PARAMS>(p, params);
      if (caps == nullptr) return kNvErrInvalidArgument;
      caps->capsTbl[0] = 0x01 | 0x02 | 0x08;
      caps->capsTbl[1] = 0x01 | 0x80;
      caps->capsTbl[2] = 0x02 | 0x10;
      return kNvOk;
    }
    default:
      return std::nullopt;
  }
}

NvU64 ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<NvU64>(ts.tv_sec) * 1000000000u + static_cast<NvU64>(ts.tv_nsec);
}

// One BUS_GET_INFO entry of GPU `gpu`: src/nvidia/src/kernel/gpu/bus/
// kern_bus_ctrl.c:282-577 (getBusInfos, 580.142; the same cases at 535.261.03
// :270 and 550.163.01 :273). nullopt: an index the sim has no answer for.
std::optional<NvU32> BusInfo(int gpu, NvU32 index) {
  switch (index) {
    // gpuGetBusIntfType_HAL of a discrete GPU: PCI Express
    // (src/nvidia/generated/g_gpu_nvoc.h:4633; the H200 answered 3).
    case kNv2080CtrlBusInfoIndexType:
    case kNv2080CtrlBusInfoIndexInterfaceType:
    case kNv2080CtrlBusInfoIndexGpuInterfaceType:
      return kNv2080CtrlBusInfoTypePciExpress;
    // kern_bus_ctrl.c:47-58: CHIP_INTEGRATED only for Tegra or a GPU without
    // framebuffer.
    case kNv2080CtrlBusInfoIndexCaps:
      return 0;
    // kern_bus_ctrl.c:411-444 with src/nvidia/src/kernel/gpu/bif/kernel_bif.c:356-359
    // and mem_mgr/arch/maxwell/virt_mem_allocator_gm107.c:3071-3077: on an I/O
    // coherent chipset (the x86 host HOST_GET_CAPS_V2 assumes) both the
    // context DMA and the GPU GART snoop (the H200 answered 5).
    case kNv2080CtrlBusInfoIndexCoherentDmaFlags:
      return kNv2080CtrlBusInfoDmaFlagsCtxdma | kNv2080CtrlBusInfoDmaFlagsGpugart;
    // kern_bus_ctrl.c:506-514: UNIFIED, always.
    case kNv2080CtrlBusInfoIndexGpuGartFlags:
      return kNv2080CtrlBusInfoGpuGartFlagsUnified;
    // kern_bus_ctrl.c:515-540 and :549-553: the function's bus, device and
    // domain (0000:BB:00.0, sim_gpu.h).
    case kNv2080CtrlBusInfoIndexBusNumber:
      return NvU32{kFirstSimGpuBus} + static_cast<NvU32>(gpu);
    case kNv2080CtrlBusInfoIndexDeviceNumber:
    case kNv2080CtrlBusInfoIndexDomainNumber:
      return 0;
    // kern_bus_ctrl.c:554-568: neither NVLink nor C2C to system memory.
    case kNv2080CtrlBusInfoIndexSysmemConnectionType:
      return kNv2080CtrlBusInfoSysmemConnectionTypePcie;
    // kernel_bif.c:1051-1080 (kbifControlGetPCIEInfo): read from the PCIe
    // capability registers of the GPU and the port above it, hardware the
    // sim has none of: the H200's answers (x16 at 32 GT/s, Gen5; no
    // downstream port).
    case kNv2080CtrlBusInfoIndexPcieGpuLinkCaps:
      return 0x457905;
    case kNv2080CtrlBusInfoIndexPcieGenInfo:
      return 0x444000;
    case kNv2080CtrlBusInfoIndexPcieDownstreamLinkCaps:
      return 0;
    default:
      return std::nullopt;
  }
}

// The GPCs and TPCs the GPU's fuses leave enabled, which the firmware reports
// at boot (src/nvidia/src/kernel/gpu/gr/kernel_graphics_manager.c:578-629, the
// legacy static info from GSP): the H200's, a GH100 with the H100 SXM's 132
// SMs as the sim's (docs/gpu-validation.md, run 2): 8 GPCs, 9 TPCs in two of
// them and 8 in the others, 66 TPCs.
constexpr NvU32 kSimGpcMask = 0xff;
constexpr NvU32 kSimTpcMasks[] = {0x1ff, 0x1bf, 0x1bf, 0x1bf, 0x1bf, 0x1ff, 0x1bf, 0x1bf};

// The graphics engine's caps table, which the firmware reports at boot
// (kernel_graphics.c:2599-2617 copies it from the static info): the H200's.
constexpr std::uint8_t kSimGrCaps[23] = {0xb0, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10,
                                         0x01, 0x08, 0x00, 0x10, 0x10, 0x00, 0x80, 0x00, 0x04, 0x40, 0x00};

// The caps of the sim's one copy engine, CE0 (GPU_GET_ENGINES_V2 lists
// NV2080_ENGINE_TYPE_COPY0 only): what the firmware reports for its physical
// engines (src/nvidia/src/kernel/gpu/ce/kernel_ce_shared.c:314-320), as for
// the H200's CE0: GRCE, SHARED, SYSMEM, P2P, BL_SIZE_GT_64K, and both
// pipelined and non-pipelined block-linear copies. RM adds NVLink caps only
// with NVLink (arch/pascal/kernel_ce_gp100.c:319-322); the sim has none.
constexpr std::uint8_t kSimCe0Caps[2] = {0xe3, 0x03};

// The order in which the firmware numbers the SMs, from its static info
// (src/nvidia/src/kernel/gpu/gr/kernel_graphics.c:3127-3176 copies it): the
// H200's, for the TPC masks above. One row per TPC, by global TPC id, whose two
// SMs (local SM 0 and 1) are consecutive global SMs: {gpcId, localTpcId,
// virtualGpcId, migratableTpcId, ugpuId, physicalCpcId, virtualTpcId}.
struct SimTpcOrder {
  std::uint16_t gpc, local_tpc, virtual_gpc, migratable_tpc, ugpu, physical_cpc, virtual_tpc;
};
constexpr SimTpcOrder kSimTpcOrder[] = {
    {1, 0, 0, 0, 0, 0, 0}, {2, 0, 1, 0, 1, 0, 0}, {3, 0, 2, 0, 1, 0, 0}, {4, 0, 3, 0, 1, 0, 0}, {5, 0, 4, 0, 0, 0, 0}, {6, 0, 5, 0, 0, 0, 0},
    {0, 0, 6, 0, 0, 0, 0}, {7, 0, 7, 0, 1, 0, 0}, {1, 3, 0, 1, 0, 1, 1}, {2, 3, 1, 1, 1, 1, 1}, {3, 3, 2, 1, 1, 1, 1}, {4, 3, 3, 1, 1, 1, 1},
    {5, 3, 4, 1, 0, 1, 1}, {6, 3, 5, 1, 0, 1, 1}, {0, 3, 6, 1, 0, 1, 1}, {7, 3, 7, 1, 1, 1, 1}, {1, 6, 0, 2, 0, 2, 2}, {2, 6, 1, 2, 1, 2, 2},
    {3, 6, 2, 2, 1, 2, 2}, {4, 6, 3, 2, 1, 2, 2}, {5, 6, 4, 2, 0, 2, 2}, {6, 6, 5, 2, 0, 2, 2}, {0, 6, 6, 2, 0, 2, 2}, {7, 6, 7, 2, 1, 2, 2},
    {1, 1, 0, 3, 0, 0, 3}, {2, 1, 1, 3, 1, 0, 3}, {3, 1, 2, 3, 1, 0, 3}, {4, 1, 3, 3, 1, 0, 3}, {5, 1, 4, 3, 0, 0, 3}, {6, 1, 5, 3, 0, 0, 3},
    {0, 1, 6, 3, 0, 0, 3}, {7, 1, 7, 3, 1, 0, 3}, {2, 4, 1, 4, 1, 1, 4}, {3, 4, 2, 4, 1, 1, 4}, {4, 4, 3, 4, 1, 1, 4}, {5, 4, 4, 4, 0, 1, 4},
    {6, 4, 5, 4, 0, 1, 4}, {0, 4, 6, 4, 0, 1, 4}, {7, 4, 7, 4, 1, 1, 4}, {2, 7, 1, 5, 1, 2, 5}, {3, 7, 2, 5, 1, 2, 5}, {4, 7, 3, 5, 1, 2, 5},
    {5, 7, 4, 5, 0, 2, 5}, {6, 7, 5, 5, 0, 2, 5}, {0, 7, 6, 5, 0, 2, 5}, {7, 7, 7, 5, 1, 2, 5}, {2, 2, 1, 6, 1, 0, 6}, {3, 2, 2, 6, 1, 0, 6},
    {4, 2, 3, 6, 1, 0, 6}, {5, 2, 4, 6, 0, 0, 6}, {6, 2, 5, 6, 0, 0, 6}, {0, 2, 6, 6, 0, 0, 6}, {7, 2, 7, 6, 1, 0, 6}, {2, 5, 1, 7, 1, 1, 7},
    {3, 5, 2, 7, 1, 1, 7}, {4, 5, 3, 7, 1, 1, 7}, {5, 5, 4, 7, 0, 1, 7}, {6, 5, 5, 7, 0, 1, 7}, {0, 5, 6, 7, 0, 1, 7}, {7, 5, 7, 7, 1, 1, 7},
    {0, 8, 6, 8, 0, 2, 8}, {7, 8, 7, 8, 1, 2, 8}, {1, 4, 11, 0, 0, 1, 4}, {1, 7, 14, 0, 0, 2, 5}, {1, 2, 17, 0, 0, 0, 6}, {1, 5, 19, 0, 0, 1, 7}
};
static_assert(std::size(kSimTpcOrder) == 66);

std::optional<NvV32> SubdeviceControl(const SimSystem& system, int gpu, const NVOS54_PARAMETERS& p, void* params) {
  switch (p.cmd) {
    // kern_bus_ctrl.c:606-621 (580.142): an empty list or one past
    // NV2080_CTRL_BUS_INFO_MAX_LIST_SIZE is NV_ERR_INVALID_ARGUMENT. An index
    // past NV2080_CTRL_BUS_INFO_INDEX_MAX is the driver's
    // NV_ERR_INVALID_ARGUMENT (:570-575), one the sim does not model
    // NV_ERR_NOT_SUPPORTED; either ends the list, as getBusInfos' `break`
    // does, the entries before it keeping their answers.
    // kern_bus_ctrl.c:623-659 (580.142): totalPciBars BARs, then zeros.
    // src/nvidia/src/kernel/gpu/bus/arch/maxwell/kern_bus_gm107.c:4703-4723:
    // a discrete GPU has BUS_NUM_BARS (4): registers, framebuffer aperture,
    // instance memory and I/O, at the addresses the OS gave the function; their
    // sizes come from the firmware (kern_bus.c:571-597): those of sim_gpu.h,
    // and no I/O BAR, as on the H200.
    case kNv2080CtrlCmdBusGetPciBarInfo: {
      auto* bars = Params<NV2080_CTRL_BUS_GET_PCI_BAR_INFO_PARAMS>(p, params);
      if (bars == nullptr) return kNvErrInvalidArgument;
      const auto index = static_cast<unsigned>(gpu);
      const NvU64 offsets[] = {SimGpuRegAddress(index), SimGpuFbAddress(index), SimGpuInstAddress(index), 0};
      const NvU64 sizes[] = {kSimGpuRegSize, kSimGpuFbSize, kSimGpuInstSize, 0};
      *bars = {};
      bars->pciBarCount = std::size(offsets);
      for (std::size_t i = 0; i < std::size(offsets); ++i) {
        bars->pciBarInfo[i].barSize = static_cast<NvU32>(sizes[i] >> 20);
        bars->pciBarInfo[i].barSizeBytes = sizes[i];
        bars->pciBarInfo[i].barOffset = offsets[i];
      }
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/subdevice/subdevice_ctrl_gpu_kernel.c:1327-1346
    // (580.142): silicon, not a simulator (the model is of a real H100).
    case kNv2080CtrlCmdGpuGetSimulationInfo: {
      auto* simulation = Params<NV2080_CTRL_GPU_GET_SIMULATION_INFO_PARAMS>(p, params);
      if (simulation == nullptr) return kNvErrInvalidArgument;
      simulation->type = kNv2080CtrlGpuGetSimulationInfoTypeNone;
      return kNvOk;
    }
    // subdevice_ctrl_gpu_kernel.c:3290-3311 and src/nvidia/src/kernel/gpu/
    // gpu_fabric_probe.c:1052-1069: without an NVSwitch fabric (a PCIe card:
    // no NVLink, gpu.c:206-243 leaves fabricProbeRetryDelay 0) the probe is
    // unsupported, and nothing else is written.
    case kNv2080CtrlCmdGetGpuFabricProbeInfo: {
      auto* probe = Params<NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS>(p, params);
      if (probe == nullptr) return kNvErrInvalidArgument;
      probe->state = kNv2080CtrlGpuFabricProbeStateUnsupported;
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/gr/kernel_graphics.c:3447-3480 and 3494-3530
    // (580.142): without MIG the legacy masks; a GPC past
    // LITTER_NUM_GPCS has mask 0 (kernel_graphics_manager.c:625-626, with NV_OK).
    case kNv2080CtrlCmdGrGetGpcMask: {
      auto* gpcs = Params<NV2080_CTRL_GR_GET_GPC_MASK_PARAMS>(p, params);
      if (gpcs == nullptr) return kNvErrInvalidArgument;
      gpcs->gpcMask = kSimGpcMask;
      return kNvOk;
    }
    case kNv2080CtrlCmdGrGetTpcMask: {
      auto* tpcs = Params<NV2080_CTRL_GR_GET_TPC_MASK_PARAMS>(p, params);
      if (tpcs == nullptr) return kNvErrInvalidArgument;
      tpcs->tpcMask = tpcs->gpcId < std::size(kSimTpcMasks) ? kSimTpcMasks[tpcs->gpcId] : 0;
      return kNvOk;
    }
    // kernel_graphics.c:2965-3001 (580.142): a table already populated is
    // left as it is; otherwise filled and marked populated.
    case kNv2080CtrlCmdGrGetCapsV2: {
      auto* caps = Params<NV2080_CTRL_GR_GET_CAPS_V2_PARAMS>(p, params);
      if (caps == nullptr) return kNvErrInvalidArgument;
      if (!caps->bCapsPopulated) {
        std::memcpy(caps->capsTbl, kSimGrCaps, sizeof kSimGrCaps);
        caps->bCapsPopulated = 1;
      }
      return kNvOk;
    }
    // kernel_ce_shared.c:283-335 (580.142): everything cleared, then each
    // engine's caps and its bit in `present`. 535's struct is shorter and its
    // mask 32 bits (nv_structs_libs.h); CE0's caps and bit sit at the start
    // of the table and of the mask in both.
    case kNv2080CtrlCmdCeGetAllCaps: {
      const bool r535 = p.paramsSize == kCeGetAllCapsParams535Size;
      if (params == nullptr || (!r535 && p.paramsSize != sizeof(NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS))) {
        return kNvErrInvalidArgument;
      }
      auto* bytes = static_cast<std::uint8_t*>(params);
      std::memset(bytes, 0, p.paramsSize);
      std::memcpy(bytes, kSimCe0Caps, sizeof kSimCe0Caps);
      bytes[r535 ? kCeGetAllCapsParams535Size - sizeof(NvU32) : offsetof(NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS, present)] = 1;
      return kNvOk;
    }
    // kernel_graphics.c:3189-3236 (580.142): the firmware's modifiers; the
    // H200's are all 0.
    case kNv2080CtrlCmdGrGetSmIssueRateModifier: {
      auto* rate = Params<NV2080_CTRL_GR_GET_SM_ISSUE_RATE_MODIFIER_PARAMS>(p, params);
      if (rate == nullptr) return kNvErrInvalidArgument;
      rate->imla0 = rate->fmla16 = rate->dp = rate->fmla32 = rate->ffma = 0;
      rate->imla1 = rate->imla2 = rate->imla3 = rate->imla4 = 0;
      return kNvOk;
    }
    // kernel_graphics.c:3127-3176 (580.142): numSm entries, then the counts;
    // entries past numSm are left as they came. In 535's and 550's layout an
    // entry has six fields (nv_structs_libs.h).
    case kNv2080CtrlCmdGrGetGlobalSmOrder: {
      using Order = NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS;
      const bool six_fields = p.paramsSize == kGrGetGlobalSmOrderParams550Size;
      if (params == nullptr || (!six_fields && p.paramsSize != sizeof(Order))) return kNvErrInvalidArgument;
      const std::size_t fields = six_fields ? 6 : 9;
      auto* words = static_cast<std::uint16_t*>(params);
      std::uint16_t sm = 0;
      for (std::uint16_t tpc = 0; tpc < std::size(kSimTpcOrder); ++tpc) {
        const SimTpcOrder& t = kSimTpcOrder[tpc];
        for (std::uint16_t local_sm = 0; local_sm < 2; ++local_sm, ++sm) {
          const std::uint16_t entry[] = {t.gpc,  t.local_tpc,    local_sm,     tpc, t.virtual_gpc, t.migratable_tpc,
                                         t.ugpu, t.physical_cpc, t.virtual_tpc};
          std::memcpy(words + sm * fields, entry, fields * sizeof(std::uint16_t));
        }
      }
      words[512 * fields] = sm;
      words[512 * fields + 1] = static_cast<std::uint16_t>(std::size(kSimTpcOrder));
      return kNvOk;
    }
    // Routed to the firmware (RMCTRL_FLAGS_ROUTE_TO_PHYSICAL in its flags,
    // src/nvidia/generated/g_subdevice_nvoc.c:9436, 580.142; the kernel's own
    // subdevice_ctrl_gpu_kernel.c:3570-3578 answers only for a vGPU): the
    // H200's firmware said valid, UVM enabled, GSP-RM the default, and its
    // version, which is the driver's.
    case kNv2080CtrlCmdGspGetFeatures: {
      auto* gsp = Params<NV2080_CTRL_GSP_GET_FEATURES_PARAMS>(p, params);
      if (gsp == nullptr) return kNvErrInvalidArgument;
      *gsp = {};
      gsp->gspFeatures = kNv2080CtrlGspGetFeaturesUvmEnabled;
      gsp->bValid = 1;
      gsp->bDefaultGspRmGpu = 1;
      std::memcpy(gsp->firmwareVersion, system.version.data(),
                  std::min(system.version.size(), sizeof gsp->firmwareVersion - 1));
      return kNvOk;
    }
    // subdevice_ctrl_gpu_kernel.c:3607-3618 and src/nvidia/src/kernel/gpu/
    // gpu_gspclient.c:293-304 (580.142): the short name in the firmware's
    // static info; the H200's firmware, a GH100 as the sim's, named it so.
    case kNv2080CtrlCmdGpuGetShortNameString: {
      auto* name = Params<NV2080_CTRL_GPU_GET_SHORT_NAME_STRING_PARAMS>(p, params);
      if (name == nullptr) return kNvErrInvalidArgument;
      constexpr char kShortName[] = "GH100GL-A";
      *name = {};
      std::memcpy(name->gpuShortNameString, kShortName, sizeof kShortName);
      return kNvOk;
    }
    case kNv2080CtrlCmdBusGetInfoV2: {
      auto* bus = Params<NV2080_CTRL_BUS_GET_INFO_V2_PARAMS>(p, params);
      if (bus == nullptr || bus->busInfoListSize == 0 || bus->busInfoListSize > std::size(bus->busInfoList)) {
        return kNvErrInvalidArgument;
      }
      for (NvU32 i = 0; i < bus->busInfoListSize; ++i) {
        NV2080_CTRL_BUS_INFO& entry = bus->busInfoList[i];
        std::optional<NvU32> data = BusInfo(gpu, entry.index);
        entry.data = data.value_or(0);
        if (!data) return entry.index > kNv2080CtrlBusInfoIndexMax ? kNvErrInvalidArgument : kNvErrNotSupported;
      }
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/subdevice/subdevice_ctrl_timer_kernel.c:301
    // (580.142): at most 16 samples; the CPU's clocks (processor 0) only, the
    // GSP's being NV_ERR_NOT_SUPPORTED where RM is no firmware client (the
    // sim has no GSP); OSTIME in microseconds, PLATFORM_API (the OS's
    // monotonic performance counter, osGetPerformanceCounter) in
    // nanoseconds. The GPU time is the sim's PTIMER, which RM keeps in
    // nanoseconds of wall-clock time (tmrGetPtimerOffsetNs). TSC and any other
    // source: NV_ERR_NOT_SUPPORTED here (the driver reads the TSC on some GPUs).
    case kNv2080CtrlCmdTimerGetGpuCpuTimeCorrelationInfo: {
      auto* t = Params<NV2080_CTRL_TIMER_GET_GPU_CPU_TIME_CORRELATION_INFO_PARAMS>(p, params);
      if (t == nullptr || t->sampleCount > std::size(t->samples)) return kNvErrInvalidArgument;
      const unsigned source = t->cpuClkId & 0xf, processor = t->cpuClkId >> 4;
      if (processor == 1) return kNvErrNotSupported;
      if (processor != 0) return kNvErrInvalidArgument;
      if (source != 1 && source != 3) return kNvErrNotSupported;
      for (unsigned i = 0; i < t->sampleCount; ++i) {
        t->samples[i].cpuTime = source == 1 ? ClockNs(CLOCK_REALTIME) / 1000 : ClockNs(CLOCK_MONOTONIC);
        t->samples[i].gpuTime = ClockNs(CLOCK_REALTIME);
      }
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/mc/kernel_mc.c:47 (580.142): PMC_BOOT_0's
    // architecture and implementation (GH100, ctrl2080mc.h:79 and :118), and its
    // major and minor revision (A1, the revision the PCI function reports).
    case kNv2080CtrlCmdMcGetArchInfo: {
      auto* arch = Params<NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS>(p, params);
      if (arch == nullptr) return kNvErrInvalidArgument;
      arch->architecture = kNv2080CtrlMcArchInfoArchitectureGh100;
      arch->implementation = kNv2080CtrlMcArchInfoImplementationGh100;
      arch->revision = kH100RevisionId;
      arch->subRevision = 0;
      return kNvOk;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<NvV32> LibraryControl(const SimSystem& system, NvV32 object_class, int gpu, const NVOS54_PARAMETERS& p,
                                    void* params) {
  switch (object_class) {
    case kNv01Root: return RootControl(system, p, params);
    case kNv01Device0: return DeviceControl(p, params);
    case kNv20Subdevice0: return SubdeviceControl(system, gpu, p, params);
    default: return std::nullopt;
  }
}

}  // namespace nvgate::backend
