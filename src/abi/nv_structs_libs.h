// Driver structs of the controls that NVIDIA's own user-space libraries
// (libnvidia-ml, libcuda) make and nvgate's own workloads do not, for the
// simulated driver's answers to them (src/backend/sim_controls_libs.cc). Same
// rules as nv_structs.h: the driver's layout, checked against every facts file
// (abi/facts_test.cc, NVGATE_FOR_EACH_LIBRARY_STRUCT).
#pragma once

#include <cstddef>
#include <cstdint>

#include "abi/nv_structs.h"

namespace nvgate::nv {

inline constexpr NvV32 kNv0000CtrlCmdSystemGetBuildVersion = 0x101;
inline constexpr NvV32 kNv0000CtrlCmdClientSetInheritedSharePolicy = 0xd04;
inline constexpr NvV32 kNv0000CtrlCmdSyncGpuBoostGroupInfo = 0xa04;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetIdInfo = 0x202;
inline constexpr NvV32 kNv0080CtrlCmdGpuGetVirtualizationMode = 0x800289;
inline constexpr NvV32 kNv0080CtrlCmdHostGetCapsV2 = 0x801402;
inline constexpr NvV32 kNv2080CtrlCmdTimerGetGpuCpuTimeCorrelationInfo = 0x20800406;
inline constexpr NvV32 kNv2080CtrlCmdMcGetArchInfo = 0x20801701;
inline constexpr NvV32 kNv2080CtrlCmdBusGetInfoV2 = 0x20801823;
inline constexpr NvV32 kNv2080CtrlCmdBusGetPciBarInfo = 0x20801803;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetSimulationInfo = 0x20800119;
inline constexpr NvV32 kNv2080CtrlCmdGetGpuFabricProbeInfo = 0x208001a3;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetMemopEnable = 0x27b;
inline constexpr NvV32 kNv2080CtrlCmdGrGetGpcMask = 0x2080122a;
inline constexpr NvV32 kNv2080CtrlCmdGrGetTpcMask = 0x2080122b;
inline constexpr NvV32 kNv2080CtrlCmdGrGetCapsV2 = 0x20801227;
inline constexpr NvV32 kNv2080CtrlCmdCeGetAllCaps = 0x20802a0a;
inline constexpr NvV32 kNv2080CtrlCmdGrGetSmIssueRateModifier = 0x20801230;
inline constexpr NvV32 kNv2080CtrlCmdGrGetGlobalSmOrder = 0x2080121b;
inline constexpr NvV32 kNv0080CtrlCmdFbGetCapsV2 = 0x801307;
inline constexpr NvV32 kNv0000CtrlCmdClientGetAddrSpaceType = 0xd01;
inline constexpr NvV32 kNv2080CtrlCmdGspGetFeatures = 0x20803601;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetShortNameString = 0x20800111;
inline constexpr NvV32 kNv50ThirdPartyP2p = 0x503c;
inline constexpr NvV32 kNv503cCtrlCmdRegisterVaSpace = 0x503c0102;
inline constexpr NvV32 kNv0080CtrlCmdFifoGetChannellist = 0x80170d;
inline constexpr NvV32 kNv906fCtrlGetClassEngineid = 0x906f0101;
inline constexpr NvV32 kNvc36fCtrlGetClassEngineid = 0xc36f0101;  // 535 and 550 only
inline constexpr NvV32 kNv0000CtrlCmdGpuAttachIds = 0x215;
inline constexpr NvV32 kNv0000CtrlCmdGpuDetachIds = 0x216;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetPciInfo = 0x21b;
inline constexpr NvV32 kNv0000CtrlCmdGpuQueryDrainState = 0x279;
inline constexpr NvV32 kNv0000CtrlCmdGpuAsyncAttachId = 0x289;
inline constexpr NvV32 kNv0000CtrlCmdGpuWaitAttachId = 0x290;

inline constexpr NvV32 kNvErrInvalidParamStruct = 0x3a;
inline constexpr NvV32 kNvErrInsufficientResources = 0x1a;
inline constexpr NvV32 kNvErrUvmAddressInUse = 0x68;

// NV0000_CTRL_GPU_ATTACH_ALL_PROBED_IDS / DETACH_ALL_ATTACHED_IDS in gpuIds[0].
inline constexpr NvU32 kNv0000CtrlGpuAllIds = 0xffff;

// NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION: three strings of sizeOfStrings
// bytes each, at pointers the proxy has rewritten to its own copies.
struct NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_PARAMS {
  NvU32 sizeOfStrings;
  alignas(8) NvP64 pDriverVersionBuffer;
  alignas(8) NvP64 pVersionBuffer;
  alignas(8) NvP64 pTitleBuffer;
  NvU32 changelistNumber;
  NvU32 officialChangelistNumber;
};

// NV0000_CTRL_CMD_CLIENT_SET_INHERITED_SHARE_POLICY
struct NV0000_CTRL_CLIENT_SET_INHERITED_SHARE_POLICY_PARAMS {
  RS_SHARE_POLICY sharePolicy;
};
inline constexpr NvU16 kRsShareTypeMax = 8;  // RS_SHARE_TYPE_MAX, rs_access.h:251

// NV0000_CTRL_CMD_SYNC_GPU_BOOST_GROUP_INFO: the count, then 16 groups of
// {gpuCount, gpuIds[32], boostGroupId, bBridgeless}.
struct NV0000_SYNC_GPU_BOOST_GROUP_INFO_PARAMS {
  NvU32 groupCount;
  std::uint8_t pBoostGroups[16 * 140];
};

// NV0000_CTRL_CMD_GPU_GET_ID_INFO (V2 with the name pointer, which nvgate's
// table requires to be NULL).
struct NV0000_CTRL_GPU_GET_ID_INFO_PARAMS {
  NvU32 gpuId;
  NvU32 gpuFlags;
  NvU32 deviceInstance;
  NvU32 subDeviceInstance;
  alignas(8) NvP64 szName;
  NvU32 sliStatus;
  NvU32 boardId;
  NvU32 gpuInstance;
  std::int32_t numaId;
};

// NV0000_CTRL_CMD_GPU_ATTACH_IDS: a list ended by kInvalidGpuId.
struct NV0000_CTRL_GPU_ATTACH_IDS_PARAMS {
  NvU32 gpuIds[32];
  NvU32 failedId;
};

// NV0000_CTRL_CMD_GPU_ASYNC_ATTACH_ID and NV0000_CTRL_CMD_GPU_WAIT_ATTACH_ID
struct NV0000_CTRL_GPU_ASYNC_ATTACH_ID_PARAMS {
  NvU32 gpuId;
};
struct NV0000_CTRL_GPU_WAIT_ATTACH_ID_PARAMS {
  NvU32 gpuId;
};

// NV0000_CTRL_CMD_GPU_DETACH_IDS
struct NV0000_CTRL_GPU_DETACH_IDS_PARAMS {
  NvU32 gpuIds[32];
};

// NV0000_CTRL_CMD_GPU_GET_PCI_INFO
struct NV0000_CTRL_GPU_GET_PCI_INFO_PARAMS {
  NvU32 gpuId;
  NvU32 domain;
  std::uint16_t bus;
  std::uint16_t slot;
};

// NV0000_CTRL_CMD_GPU_QUERY_DRAIN_STATE
struct NV0000_CTRL_GPU_QUERY_DRAIN_STATE_PARAMS {
  NvU32 gpuId;
  NvU32 drainState;
  NvU32 flags;
};

// NV0080_CTRL_CMD_GPU_GET_VIRTUALIZATION_MODE (580; 535 lacks isGridBuild:
// backend/sim_branch.cc).
struct NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS {
  NvU32 virtualizationMode;
  std::uint8_t isGridBuild;
};

// NV0080_CTRL_CMD_HOST_GET_CAPS_V2
struct NV0080_CTRL_HOST_GET_CAPS_V2_PARAMS {
  std::uint8_t capsTbl[3];
};

// NV2080_CTRL_CMD_TIMER_GET_GPU_CPU_TIME_CORRELATION_INFO
struct NV2080_CTRL_TIMER_GPU_CPU_TIME_SAMPLE {
  alignas(8) NvU64 cpuTime;
  alignas(8) NvU64 gpuTime;
};
struct NV2080_CTRL_TIMER_GET_GPU_CPU_TIME_CORRELATION_INFO_PARAMS {
  std::uint8_t cpuClkId;  // source in bits 3:0, processor in bits 7:4
  std::uint8_t sampleCount;
  NV2080_CTRL_TIMER_GPU_CPU_TIME_SAMPLE samples[16];
};

// NV2080_CTRL_CMD_MC_GET_ARCH_INFO
struct NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS {
  NvU32 architecture;
  NvU32 implementation;
  NvU32 revision;
  std::uint8_t subRevision;
};
inline constexpr NvU32 kNv2080CtrlMcArchInfoArchitectureGh100 = 0x180;
inline constexpr NvU32 kNv2080CtrlMcArchInfoImplementationGh100 = 0x0;

// NV2080_CTRL_CMD_BUS_GET_INFO_V2: a list of {index, data}, the same 52
// entries (NV2080_CTRL_BUS_INFO_MAX_LIST_SIZE) in 535, 550 and 580.
struct NV2080_CTRL_BUS_INFO {
  NvU32 index;
  NvU32 data;
};
struct NV2080_CTRL_BUS_GET_INFO_V2_PARAMS {
  NvU32 busInfoListSize;
  NV2080_CTRL_BUS_INFO busInfoList[52];
};
// ctrl2080bus.h (580.142): the indices and values the sim answers.
inline constexpr NvU32 kNv2080CtrlBusInfoIndexType = 0x00;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexIntline = 0x01;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexCaps = 0x02;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexPcieGpuLinkCaps = 0x03;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexPcieDownstreamLinkCaps = 0x06;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexCoherentDmaFlags = 0x0b;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexNoncoherentDmaFlags = 0x0c;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexGpuGartFlags = 0x0e;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexBusNumber = 0x0f;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexDeviceNumber = 0x10;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexInterfaceType = 0x13;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexDomainNumber = 0x2c;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexPcieGenInfo = 0x2d;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexGpuInterfaceType = 0x2e;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexSysmemConnectionType = 0x33;
inline constexpr NvU32 kNv2080CtrlBusInfoIndexMax = 0x33;
inline constexpr NvU32 kNv2080CtrlBusInfoTypePciExpress = 3;
inline constexpr NvU32 kNv2080CtrlBusInfoDmaFlagsCtxdma = 1u << 0;
inline constexpr NvU32 kNv2080CtrlBusInfoDmaFlagsGpugart = 1u << 2;
inline constexpr NvU32 kNv2080CtrlBusInfoGpuGartFlagsUnified = 1u << 1;
inline constexpr NvU32 kNv2080CtrlBusInfoSysmemConnectionTypePcie = 0;

// NV2080_CTRL_CMD_BUS_GET_PCI_BAR_INFO: NV2080_CTRL_BUS_MAX_PCI_BARS (8) BARs.
struct NV2080_CTRL_BUS_PCI_BAR_INFO {
  NvU32 flags;
  NvU32 barSize;  // MiB
  alignas(8) NvU64 barSizeBytes;
  alignas(8) NvU64 barOffset;
};
struct NV2080_CTRL_BUS_GET_PCI_BAR_INFO_PARAMS {
  NvU32 pciBarCount;
  alignas(8) NV2080_CTRL_BUS_PCI_BAR_INFO pciBarInfo[8];
};

// NV2080_CTRL_CMD_GPU_GET_SIMULATION_INFO
struct NV2080_CTRL_GPU_GET_SIMULATION_INFO_PARAMS {
  NvU32 type;
};
inline constexpr NvU32 kNv2080CtrlGpuGetSimulationInfoTypeNone = 0;

// NV0000_CTRL_CMD_GPU_GET_MEMOP_ENABLE
struct NV0000_CTRL_GPU_GET_MEMOP_ENABLE_PARAMS {
  NvU32 enableMask;
};

// NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO (580; 535 ends after fabricCaps,
// 550 after fabricHealthMask: backend/sim_branch.cc).
struct NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS {
  std::uint8_t state;
  NvV32 status;
  std::uint8_t clusterUuid[16];
  std::uint16_t fabricPartitionId;
  alignas(8) NvU64 fabricCaps;
  NvU32 fabricCliqueId;
  NvU32 fabricHealthMask;
  std::uint8_t fabricHealthSummary;
};
inline constexpr std::uint8_t kNv2080CtrlGpuFabricProbeStateUnsupported = 0;

// NV2080_CTRL_GR_ROUTE_INFO: which GR engine, under MIG (the sim has none).
struct NV2080_CTRL_GR_ROUTE_INFO {
  NvU32 flags;
  alignas(8) NvU64 route;
};

// NV2080_CTRL_CMD_GR_GET_GPC_MASK and NV2080_CTRL_CMD_GR_GET_TPC_MASK
struct NV2080_CTRL_GR_GET_GPC_MASK_PARAMS {
  NV2080_CTRL_GR_ROUTE_INFO grRouteInfo;
  NvU32 gpcMask;
};
struct NV2080_CTRL_GR_GET_TPC_MASK_PARAMS {
  NV2080_CTRL_GR_ROUTE_INFO grRouteInfo;
  NvU32 gpcId;
  NvU32 tpcMask;
};

// NV2080_CTRL_CMD_GR_GET_CAPS_V2 (NV0080_CTRL_GR_GET_CAPS_V2_PARAMS):
// NV0080_CTRL_GR_CAPS_TBL_SIZE (23) bytes of caps.
struct NV2080_CTRL_GR_GET_CAPS_V2_PARAMS {
  std::uint8_t capsTbl[23];
  NV2080_CTRL_GR_ROUTE_INFO grRouteInfo;
  std::uint8_t bCapsPopulated;
};

// NV2080_CTRL_CMD_CE_GET_ALL_CAPS: two bytes of caps per copy engine and a
// mask of those present. 550 and 580: NV2080_CTRL_MAX_CES (64) engines and a
// 64-bit mask; 535: NV2080_CTRL_MAX_PCES (32) and a 32-bit mask
// (src/abi/facts/535.261.03.facts: 68 bytes), which the sim writes itself
// (sim_controls_libs.cc).
struct NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS {
  std::uint8_t capsTbl[64][2];
  alignas(8) NvU64 present;
};
inline constexpr std::size_t kCeGetAllCapsParams535Size = 68;

// NV2080_CTRL_CMD_GR_GET_SM_ISSUE_RATE_MODIFIER
struct NV2080_CTRL_GR_GET_SM_ISSUE_RATE_MODIFIER_PARAMS {
  NV2080_CTRL_GR_ROUTE_INFO grRouteInfo;
  std::uint8_t imla0, fmla16, dp, fmla32, ffma, imla1, imla2, imla3, imla4;
};

// NV2080_CTRL_CMD_GR_GET_GLOBAL_SM_ORDER (580): 512 entries of nine NvU16.
// 535 and 550 have six (no ugpuId, physicalCpcId, virtualTpcId): 6168 bytes
// (src/abi/facts/535.261.03.facts, 550.163.01.facts), which the sim writes
// itself (sim_controls_libs.cc).
struct NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS {
  struct {
    std::uint16_t gpcId, localTpcId, localSmId, globalTpcId, virtualGpcId, migratableTpcId, ugpuId, physicalCpcId,
        virtualTpcId;
  } globalSmId[512];
  std::uint16_t numSm;
  std::uint16_t numTpc;
  NV2080_CTRL_GR_ROUTE_INFO grRouteInfo;
};
inline constexpr std::size_t kGrGetGlobalSmOrderParams550Size = 6168;

// NV0080_CTRL_CMD_FB_GET_CAPS_V2: NV0080_CTRL_FB_CAPS_TBL_SIZE (3) bytes.
struct NV0080_CTRL_FB_GET_CAPS_V2_PARAMS {
  std::uint8_t capsTbl[3];
};

// NV0000_CTRL_CMD_CLIENT_GET_ADDR_SPACE_TYPE
struct NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS {
  NvHandle hObject;
  NvU32 mapFlags;
  NvU32 addrSpaceType;
};
inline constexpr NvU32 kNv0000CtrlClientGetAddrSpaceTypeSysmem = 1;
inline constexpr NvU32 kNv0000CtrlClientGetAddrSpaceTypeVidmem = 2;
inline constexpr NvU32 kNv0000CtrlClientGetAddrSpaceTypeRegmem = 3;

// HOPPER_USERMODE_A's allocation parameters (NV_HOPPER_USERMODE_A_PARAMS).
struct NV_HOPPER_USERMODE_A_PARAMS {
  std::uint8_t bBar1Mapping;
  std::uint8_t bPriv;
};

// NV2080_CTRL_CMD_GSP_GET_FEATURES
struct NV2080_CTRL_GSP_GET_FEATURES_PARAMS {
  NvU32 gspFeatures;
  std::uint8_t bValid;
  std::uint8_t bDefaultGspRmGpu;
  std::uint8_t firmwareVersion[64];
};
inline constexpr NvU32 kNv2080CtrlGspGetFeaturesUvmEnabled = 1u << 0;

// NV2080_CTRL_CMD_GPU_GET_SHORT_NAME_STRING
struct NV2080_CTRL_GPU_GET_SHORT_NAME_STRING_PARAMS {
  std::uint8_t gpuShortNameString[64];
};

// NV50_THIRD_PARTY_P2P's allocation parameters and NV503C_CTRL_CMD_REGISTER_VA_SPACE
struct NV503C_ALLOC_PARAMETERS {
  NvU32 flags;  // TYPE in bits 1:0
};
inline constexpr NvU32 kNv503cAllocParametersFlagsTypeProprietary = 0;
inline constexpr NvU32 kNv503cAllocParametersFlagsTypeBar1 = 1;
inline constexpr NvU32 kNv503cAllocParametersFlagsTypeNvlink = 2;
struct NV503C_CTRL_REGISTER_VA_SPACE_PARAMS {
  NvHandle hVASpace;
  alignas(8) NvU64 vaSpaceToken;
};

// UVM_CREATE_EXTERNAL_RANGE
inline constexpr std::uint32_t kUvmCreateExternalRange = 73;
struct UVM_CREATE_EXTERNAL_RANGE_PARAMS {
  NvU64 base;
  NvU64 length;
  NvV32 rmStatus;
};

// NV_MEMORY_ALLOCATION_PARAMS (580; 535 ends before numaNode, 120 bytes: the
// sim reads and writes nothing past `limit`).
struct NV_MEMORY_ALLOCATION_PARAMS {
  NvU32 owner, type, flags, width, height;
  std::int32_t pitch;
  NvU32 attr, attr2, format, comprCovg, zcullCovg;
  alignas(8) NvU64 rangeLo;
  NvU64 rangeHi, size, alignment, offset, limit;
  NvP64 address;
  NvU32 ctagOffset;
  NvHandle hVASpace;
  NvU32 internalflags, tag;
  std::int32_t numaNode;
};

// NV0080_CTRL_CMD_FIFO_GET_CHANNELLIST: two lists of numChannels NvU32, at
// pointers the proxy has rewritten to its own copies.
struct NV0080_CTRL_FIFO_GET_CHANNELLIST_PARAMS {
  NvU32 numChannels;
  alignas(8) NvP64 pChannelHandleList;
  alignas(8) NvP64 pChannelList;
};
inline constexpr NvU32 kNv0080CtrlFifoGetChannellistInvalidChannel = 0xffffffff;

// NV906F_CTRL_GET_CLASS_ENGINEID (and NVC36F's, the same struct)
struct NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS {
  NvHandle hObject;
  NvU32 classEngineID;
  NvU32 classID;
  NvU32 engineID;
};

}  // namespace nvgate::nv

#define NVGATE_FOR_EACH_LIBRARY_STRUCT(NV_STRUCT, NV_FIELD)                                                   \
  NV_STRUCT(NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_PARAMS, "NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_PARAMS")       \
  NV_STRUCT(NV0000_CTRL_CLIENT_SET_INHERITED_SHARE_POLICY_PARAMS,                                             \
            "NV0000_CTRL_CLIENT_SET_INHERITED_SHARE_POLICY_PARAMS")                                           \
  NV_STRUCT(NV0000_SYNC_GPU_BOOST_GROUP_INFO_PARAMS, "NV0000_SYNC_GPU_BOOST_GROUP_INFO_PARAMS")               \
  NV_STRUCT(NV0000_CTRL_GPU_GET_ID_INFO_PARAMS, "NV0000_CTRL_GPU_GET_ID_INFO_PARAMS")                         \
  NV_FIELD(NV0000_CTRL_GPU_GET_ID_INFO_PARAMS, "NV0000_CTRL_GPU_GET_ID_INFO_PARAMS", szName)                  \
  NV_STRUCT(NV0000_CTRL_GPU_ATTACH_IDS_PARAMS, "NV0000_CTRL_GPU_ATTACH_IDS_PARAMS")                           \
  NV_STRUCT(NV0000_CTRL_GPU_DETACH_IDS_PARAMS, "NV0000_CTRL_GPU_DETACH_IDS_PARAMS")                           \
  NV_STRUCT(NV0000_CTRL_GPU_ASYNC_ATTACH_ID_PARAMS, "NV0000_CTRL_GPU_ASYNC_ATTACH_ID_PARAMS")                 \
  NV_STRUCT(NV0000_CTRL_GPU_WAIT_ATTACH_ID_PARAMS, "NV0000_CTRL_GPU_WAIT_ATTACH_ID_PARAMS")                   \
  NV_STRUCT(NV0000_CTRL_GPU_GET_PCI_INFO_PARAMS, "NV0000_CTRL_GPU_GET_PCI_INFO_PARAMS")                       \
  NV_STRUCT(NV0000_CTRL_GPU_QUERY_DRAIN_STATE_PARAMS, "NV0000_CTRL_GPU_QUERY_DRAIN_STATE_PARAMS")             \
  NV_STRUCT(NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS, "NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS") \
  NV_STRUCT(NV0080_CTRL_HOST_GET_CAPS_V2_PARAMS, "NV0080_CTRL_HOST_GET_CAPS_V2_PARAMS")                       \
  NV_STRUCT(NV2080_CTRL_TIMER_GET_GPU_CPU_TIME_CORRELATION_INFO_PARAMS,                                       \
            "NV2080_CTRL_TIMER_GET_GPU_CPU_TIME_CORRELATION_INFO_PARAMS")                                     \
  NV_STRUCT(NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS, "NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS")                       \
  NV_STRUCT(NV2080_CTRL_BUS_GET_INFO_V2_PARAMS, "NV2080_CTRL_BUS_GET_INFO_V2_PARAMS")                         \
  NV_STRUCT(NV2080_CTRL_BUS_GET_PCI_BAR_INFO_PARAMS, "NV2080_CTRL_BUS_GET_PCI_BAR_INFO_PARAMS")               \
  NV_STRUCT(NV2080_CTRL_GPU_GET_SIMULATION_INFO_PARAMS, "NV2080_CTRL_GPU_GET_SIMULATION_INFO_PARAMS")         \
  NV_STRUCT(NV0000_CTRL_GPU_GET_MEMOP_ENABLE_PARAMS, "NV0000_CTRL_GPU_GET_MEMOP_ENABLE_PARAMS")               \
  NV_STRUCT(NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS, "NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GR_GET_GPC_MASK_PARAMS, "NV2080_CTRL_GR_GET_GPC_MASK_PARAMS")                         \
  NV_STRUCT(NV2080_CTRL_GR_GET_TPC_MASK_PARAMS, "NV2080_CTRL_GR_GET_TPC_MASK_PARAMS")                         \
  NV_STRUCT(NV2080_CTRL_GR_GET_CAPS_V2_PARAMS, "NV2080_CTRL_GR_GET_CAPS_V2_PARAMS")                           \
  NV_STRUCT(NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS, "NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS")                         \
  NV_STRUCT(NV2080_CTRL_GR_GET_SM_ISSUE_RATE_MODIFIER_PARAMS, "NV2080_CTRL_GR_GET_SM_ISSUE_RATE_MODIFIER_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS, "NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS")           \
  NV_STRUCT(NV0080_CTRL_FB_GET_CAPS_V2_PARAMS, "NV0080_CTRL_FB_GET_CAPS_V2_PARAMS")                           \
  NV_STRUCT(NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS, "NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS")   \
  NV_STRUCT(NV_HOPPER_USERMODE_A_PARAMS, "NV_HOPPER_USERMODE_A_PARAMS")                                       \
  NV_STRUCT(NV2080_CTRL_GSP_GET_FEATURES_PARAMS, "NV2080_CTRL_GSP_GET_FEATURES_PARAMS")                       \
  NV_STRUCT(NV2080_CTRL_GPU_GET_SHORT_NAME_STRING_PARAMS, "NV2080_CTRL_GPU_GET_SHORT_NAME_STRING_PARAMS")     \
  NV_STRUCT(NV503C_ALLOC_PARAMETERS, "NV503C_ALLOC_PARAMETERS")                                               \
  NV_STRUCT(NV503C_CTRL_REGISTER_VA_SPACE_PARAMS, "NV503C_CTRL_REGISTER_VA_SPACE_PARAMS")                     \
  NV_STRUCT(UVM_CREATE_EXTERNAL_RANGE_PARAMS, "UVM_CREATE_EXTERNAL_RANGE_PARAMS")                             \
  NV_STRUCT(NV_MEMORY_ALLOCATION_PARAMS, "NV_MEMORY_ALLOCATION_PARAMS")                                       \
  NV_STRUCT(NV0080_CTRL_FIFO_GET_CHANNELLIST_PARAMS, "NV0080_CTRL_FIFO_GET_CHANNELLIST_PARAMS")               \
  NV_STRUCT(NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS, "NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS")
