// nvgate's own definitions of the NVIDIA driver's parameter structs and
// constants that handlers, the simulated driver and nvprobe read by field.
//
// Written here from the published ABI facts, not copied from NVIDIA's headers.
// Field names are the driver's, so that abi_facts_test can check every size and
// offset below against src/abi/facts/<version>.facts (see nv_structs_facts.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvgate::nv {

using NvHandle = std::uint32_t;
using NvV32 = std::uint32_t;
using NvU8 = std::uint8_t;
using NvU16 = std::uint16_t;
using NvU32 = std::uint32_t;
using NvU64 = std::uint64_t;
// The driver's NvP64: a user pointer carried as 64 bits, 8-byte aligned.
using NvP64 = std::uint64_t;

// ---- frontend escapes (ioctl nr on nvidiactl / nvidia#) ----
inline constexpr std::uint8_t kIoctlMagic = 'F';
inline constexpr std::uint32_t kEscRmAllocMemory = 0x27;
inline constexpr std::uint32_t kEscRmFree = 0x29;
inline constexpr std::uint32_t kEscRmControl = 0x2a;
inline constexpr std::uint32_t kEscRmAlloc = 0x2b;
inline constexpr std::uint32_t kEscRmDupObject = 0x34;
inline constexpr std::uint32_t kEscRmShare = 0x35;
inline constexpr std::uint32_t kEscRmVidHeapControl = 0x4a;
inline constexpr std::uint32_t kEscRmMapMemory = 0x4e;
inline constexpr std::uint32_t kEscRmUnmapMemory = 0x4f;
inline constexpr std::uint32_t kEscRmUpdateDeviceMappingInfo = 0x5e;
inline constexpr std::uint32_t kEscCardInfo = 200;
inline constexpr std::uint32_t kEscRegisterFd = 201;
inline constexpr std::uint32_t kEscAllocOsEvent = 206;
inline constexpr std::uint32_t kEscFreeOsEvent = 207;
inline constexpr std::uint32_t kEscCheckVersionStr = 210;
inline constexpr std::uint32_t kEscIoctlXferCmd = 211;
inline constexpr std::uint32_t kEscAttachGpusToFd = 212;
inline constexpr std::uint32_t kEscSysParams = 214;
inline constexpr std::uint32_t kEscExportToDmabufFd = 217;
inline constexpr std::uint32_t kEscWaitOpenComplete = 218;

// The largest _IOC_SIZE the frontend accepts (NV_ABSOLUTE_MAX_IOCTL_SIZE).
inline constexpr std::uint32_t kMaxIoctlSize = 16384;
// The largest nested parameter buffer RM copies (RMAPI_PARAM_COPY_MAX_PARAMS_SIZE).
inline constexpr std::uint32_t kMaxParamCopySize = 1u << 20;

// ---- UVM requests (plain numbers on nvidia-uvm) ----
inline constexpr std::uint32_t kUvmInitialize = 0x30000001;
inline constexpr std::uint32_t kUvmDeinitialize = 0x30000002;
inline constexpr std::uint32_t kUvmCreateRangeGroup = 23;
inline constexpr std::uint32_t kUvmRegisterGpuVaspace = 25;
inline constexpr std::uint32_t kUvmRegisterChannel = 27;
inline constexpr std::uint32_t kUvmMapExternalAllocation = 33;
inline constexpr std::uint32_t kUvmFree = 34;
inline constexpr std::uint32_t kUvmRegisterGpu = 37;
inline constexpr std::uint32_t kUvmUnregisterGpu = 38;
inline constexpr std::uint32_t kUvmPageableMemAccess = 39;
inline constexpr std::uint32_t kUvmAllocSemaphorePool = 68;
inline constexpr std::uint32_t kUvmMmInitialize = 75;
inline constexpr NvU64 kUvmInitFlagsMultiProcessSharingMode = 0x2;

// ---- RM status codes (NV_STATUS) ----
inline constexpr NvV32 kNvOk = 0x00;
inline constexpr NvV32 kNvErrInvalidArgument = 0x1f;
inline constexpr NvV32 kNvErrInvalidClass = 0x22;
inline constexpr NvV32 kNvErrInvalidClient = 0x23;
inline constexpr NvV32 kNvErrNotSupported = 0x56;
inline constexpr NvV32 kNvErrIllegalAction = 0x16;
inline constexpr NvV32 kNvErrInsertDuplicateName = 0x19;
inline constexpr NvV32 kNvErrInvalidObjectHandle = 0x33;
inline constexpr NvV32 kNvErrInvalidObjectParent = 0x36;
inline constexpr NvV32 kNvErrGpuUuidNotFound = 0x12;
inline constexpr NvV32 kNvErrInsufficientPermissions = 0x1b;
inline constexpr NvV32 kNvErrInvalidDevice = 0x26;
inline constexpr NvV32 kNvErrInvalidLimit = 0x2e;
inline constexpr NvV32 kNvErrInvalidAddress = 0x1e;
inline constexpr NvV32 kNvErrInvalidFlags = 0x29;
inline constexpr NvV32 kNvErrInvalidState = 0x40;
inline constexpr NvV32 kNvErrNoMemory = 0x51;
inline constexpr NvV32 kNvErrObjectNotFound = 0x57;
inline constexpr NvV32 kNvErrStateInUse = 0x63;
inline constexpr NvV32 kNvErrGeneric = 0xffff;

// ---- RM classes nvgate itself needs to recognise ----
inline constexpr NvV32 kNv01Root = 0x0000;
inline constexpr NvV32 kNv01RootNonPriv = 0x0001;
inline constexpr NvV32 kNv01RootClient = 0x0041;
inline constexpr NvV32 kNv01Device0 = 0x0080;
inline constexpr NvV32 kNv20Subdevice0 = 0x2080;
inline constexpr NvV32 kNv01MemorySystem = 0x003e;
inline constexpr NvV32 kNv01MemoryLocalUser = 0x0040;
inline constexpr NvV32 kNv01MemorySystemOsDescriptor = 0x0071;
inline constexpr NvV32 kNv01MemoryVirtual = 0x0070;
inline constexpr NvV32 kNv50MemoryVirtual = 0x50a0;
inline constexpr NvV32 kNv01Event = 0x0005;
inline constexpr NvV32 kNv01EventOsEvent = 0x0079;
inline constexpr NvV32 kFermiVaspaceA = 0x90f1;
inline constexpr NvV32 kFermiContextShareA = 0x9067;
inline constexpr NvV32 kKeplerChannelGroupA = 0xa06c;
inline constexpr NvV32 kGt200Debugger = 0x83de;
inline constexpr NvV32 kHopperChannelGpfifoA = 0xc86f;
inline constexpr NvV32 kHopperComputeA = 0xcbc0;
inline constexpr NvV32 kHopperA = 0xcb97;
inline constexpr NvV32 kHopperDmaCopyA = 0xc8b5;
inline constexpr NvV32 kHopperUsermodeA = 0xc661;
inline constexpr NvV32 kNvb8b0VideoDecoder = 0xb8b0;
inline constexpr NvV32 kNvb8d1VideoNvjpg = 0xb8d1;
inline constexpr NvV32 kNvb8faVideoOfa = 0xb8fa;

// ---- RM controls the simulated driver and nvprobe use ----
inline constexpr NvV32 kNv0000CtrlCmdGpuGetAttachedIds = 0x201;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetIdInfoV2 = 0x205;
inline constexpr NvV32 kNv0000CtrlCmdSystemGetBuildVersionV2 = 0x13e;
inline constexpr NvV32 kNv0080CtrlCmdGpuGetClasslistV2 = 0x800292;
inline constexpr NvV32 kNv0080CtrlCmdGpuGetNumSubdevices = 0x800280;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetInfoV2 = 0x20800102;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetNameString = 0x20800110;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetGidInfo = 0x2080014a;
// No public header names these two (the driver's generated g_subdevice_nvoc.c
// dispatches them, subdevice_ctrl_gpu_kernel.c implements them); no parameters.
inline constexpr NvV32 kNv2080CtrlCmdGpuAcquireComputeModeReservation = 0x20800145;
inline constexpr NvV32 kNv2080CtrlCmdGpuReleaseComputeModeReservation = 0x20800146;
inline constexpr NvV32 kNv2080CtrlCmdGrGetInfo = 0x20801201;
inline constexpr NvV32 kNvc36fCtrlCmdGpfifoGetWorkSubmitToken = 0xc36f0108;
inline constexpr NvV32 kNva06cCtrlCmdGpfifoSchedule = 0xa06c0101;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetProbedIds = 0x214;
inline constexpr NvV32 kNv2080CtrlCmdFbGetInfoV2 = 0x20801303;
inline constexpr NvV32 kNv2080CtrlCmdBusGetPciInfo = 0x20801801;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetEnginesV2 = 0x20800170;
inline constexpr NvV32 kNv2080CtrlCmdPerfGetCurrentPstate = 0x20802068;

// NV2080_CTRL_GPU_INFO_INDEX_* (GPU_GET_INFO_V2) nvprobe asks for.
inline constexpr NvU32 kNv2080CtrlGpuInfoIndexMinorRevisionExt = 0x04;
// NV0080/NV2080_CTRL_GR_INFO_INDEX_* (GR_GET_INFO) the sim answers; indices at or
// above kNv0080CtrlGrInfoIndexMax are refused.
inline constexpr NvU32 kNv0080CtrlGrInfoIndexShaderPipeCount = 0x07;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexSmVersion = 0x0c;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexMaxWarpsPerSm = 0x0d;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexLitterNumGpcs = 0x14;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexLitterNumTpcPerGpc = 0x17;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexLitterNumSmPerTpc = 0x20;
inline constexpr NvU32 kNv0080CtrlGrInfoIndexMax = 0x39;
inline constexpr NvU32 kNv2080CtrlGrInfoSmVersion9_00 = 0x0900;
// NV2080_CTRL_FB_INFO_INDEX_* (FB_GET_INFO_V2); sizes are in KiB.
inline constexpr NvU32 kNv2080CtrlFbInfoIndexRamSize = 0x07;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexTotalRamSize = 0x08;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexHeapSize = 0x09;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexBusWidth = 0x0b;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexHeapFree = 0x16;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexUsableRamSize = 0x20;
inline constexpr NvU32 kNv2080CtrlFbInfoIndexMax = 0x3b;
// NV2080_ENGINE_TYPE_* (GPU_GET_ENGINES_V2).
// Instances are numbered on from the first: NVDEC0-7 0x13-0x1a, NVENC0-2
// 0x1b-0x1d, NVJPG0-7 0x2b-0x32; OFA1 is 0x3e.
inline constexpr NvU32 kNv2080EngineTypeGraphics = 0x01;
inline constexpr NvU32 kNv2080EngineTypeCopy0 = 0x09;
inline constexpr NvU32 kNv2080EngineTypeBsp = 0x13;
inline constexpr NvU32 kNv2080EngineTypeMsenc = 0x1b;
inline constexpr NvU32 kNv2080EngineTypeNvjpg = 0x2b;
inline constexpr NvU32 kNv2080EngineTypeOfa = 0x33;
inline constexpr NvU32 kNv2080EngineTypeOfa1 = 0x3e;
inline constexpr NvU32 kNv2080EngineTypeLast = 0x54;  // NV2080_ENGINE_TYPE_LAST: valid types lie below it

// NV_CTXSHARE_ALLOCATION_FLAGS_SUBCONTEXT (bits 1:0): SYNC 0, ASYNC 1.
inline constexpr NvU32 kCtxshareFlagsSubcontextSync = 0;
inline constexpr NvU32 kCtxshareFlagsSubcontextAsync = 1;
// NVOS02_FLAGS_MAPPING_NO_MAP (bits 31:30): RM_ALLOC_MEMORY creates no mmap
// context for the new memory.
inline constexpr NvU32 kNvos02FlagsMappingNoMap = 1u << 30;
// NVOS02_FLAGS_ALLOC_NONE (bits 17:16): no memory is allocated.
inline constexpr NvU32 kNvos02FlagsAllocNone = 1u << 16;
inline constexpr NvU32 kNvos02FlagsAllocMask = 3u << 16;
inline constexpr NvU32 kNvos02FlagsMappingMask = 3u << 30;
// NVOS02_FLAGS_LOCATION (bits 11:8, PCI 0), _COHERENCY (15:12: UNCACHED 0,
// CACHED 1, WRITE_BACK 5) and _ALLOC_USER_READ_ONLY (bit 21), which
// RmAllocOsDescriptor reads.
inline constexpr NvU32 kNvos02FlagsLocationMask = 0xfu << 8;
inline constexpr NvU32 kNvos02FlagsCoherencyShift = 12;
inline constexpr NvU32 kNvos02FlagsCoherencyMask = 0xfu << kNvos02FlagsCoherencyShift;
inline constexpr NvU32 kNvos02FlagsCoherencyUncached = 0;
inline constexpr NvU32 kNvos02FlagsCoherencyCached = 1;
inline constexpr NvU32 kNvos02FlagsCoherencyWriteBack = 5;
inline constexpr NvU32 kNvos02FlagsAllocUserReadOnly = 1u << 21;

// NV_ESC_RM_VID_HEAP_CONTROL functions and the one ALLOC_SIZE flag the sim reads.
inline constexpr NvU32 kNvos32FunctionAllocSize = 2;
inline constexpr NvU32 kNvos32FunctionFree = 3;
inline constexpr NvU32 kNvos32AllocFlagsMemoryHandleProvided = 0x4000;

// NV_ESC_RM_FREE
struct NVOS00_PARAMETERS {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvHandle hObjectOld;
  NvV32 status;
};

// NV_ESC_RM_ALLOC_MEMORY (wrapped with the map fd)
struct NVOS02_PARAMETERS {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvHandle hObjectNew;
  NvV32 hClass;
  NvV32 flags;
  alignas(8) NvP64 pMemory;
  NvU64 limit;
  NvV32 status;
};
struct nv_ioctl_nvos02_parameters_with_fd {
  NVOS02_PARAMETERS params;
  int fd;
};

// NV_ESC_RM_ALLOC, the short form
struct NVOS21_PARAMETERS {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvHandle hObjectNew;
  NvV32 hClass;
  alignas(8) NvP64 pAllocParms;
  NvU32 paramsSize;
  NvV32 status;
};

// NV_ESC_RM_ALLOC, the long form with requested access rights
struct NVOS64_PARAMETERS {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvHandle hObjectNew;
  NvV32 hClass;
  alignas(8) NvP64 pAllocParms;
  alignas(8) NvP64 pRightsRequested;
  NvU32 paramsSize;
  NvU32 flags;
  NvV32 status;
};

// NV_ESC_RM_CONTROL
struct NVOS54_PARAMETERS {
  NvHandle hClient;
  NvHandle hObject;
  NvV32 cmd;
  NvU32 flags;
  alignas(8) NvP64 params;
  NvU32 paramsSize;
  NvV32 status;
};
// NVOS54.flags bit: parameters are in a private serialized format.
inline constexpr NvU32 kNvos54FlagsFinnSerialized = 0x1;

// NV_ESC_RM_MAP_MEMORY (wrapped with the fd that receives the mmap context)
struct NVOS33_PARAMETERS {
  NvHandle hClient;
  NvHandle hDevice;
  NvHandle hMemory;
  alignas(8) NvU64 offset;
  NvU64 length;
  NvP64 pLinearAddress;
  NvU32 status;
  NvU32 flags;
};
struct nv_ioctl_nvos33_parameters_with_fd {
  NVOS33_PARAMETERS params;
  int fd;
};

// NV_ESC_RM_UNMAP_MEMORY
struct NVOS34_PARAMETERS {
  NvHandle hClient;
  NvHandle hDevice;
  NvHandle hMemory;
  alignas(8) NvP64 pLinearAddress;
  NvU32 status;
  NvU32 flags;
};

// NV_ESC_RM_DUP_OBJECT
struct NVOS55_PARAMETERS {
  NvHandle hClient;
  NvHandle hParent;
  NvHandle hObject;
  NvHandle hClientSrc;
  NvHandle hObjectSrc;
  NvU32 flags;
  NvU32 status;
};

// NV_ESC_RM_VID_HEAP_CONTROL: the head (up to the status, all the proxy reads),
// the heap totals, and the union of per-function arguments of which the sim
// reads only ALLOC_SIZE's.
struct NVOS32_PARAMETERS {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvU32 function;
  NvHandle hVASpace;
  std::int16_t ivcHeapNumber;
  NvV32 status;
  NvU64 total;
  NvU64 free;
  union {
    struct {
      NvU32 owner;
      NvHandle hMemory;
      NvU32 type;
      NvU32 flags;
      NvU32 attr;
      NvU32 format;
      NvU32 comprCovg;
      NvU32 zcullCovg;
      NvU32 partitionStride;
      NvU32 width;
      NvU32 height;
      alignas(8) NvU64 size;
      NvU64 alignment;
      NvU64 offset;
      NvU64 limit;
      NvP64 address;
      NvU64 rangeBegin;
      NvU64 rangeEnd;
      NvU32 attr2;
      NvU32 ctagOffset;
      std::int32_t numaNode;
    } AllocSize;
    // The largest of the other functions' arguments sets the union's size.
    std::uint8_t other[144];
  } data;
};

// NV_ESC_RM_UPDATE_DEVICE_MAPPING_INFO
struct NVOS56_PARAMETERS {
  NvHandle hClient;
  NvHandle hDevice;
  NvHandle hMemory;
  alignas(8) NvP64 pOldCpuAddress;
  NvP64 pNewCpuAddress;
  NvV32 status;
};

// NV_ESC_RM_SHARE: the share policy (target, access mask, type, action) is
// opaque to nvgate.
// RS_SHARE_POLICY: who else may use an object. RM sees only nvgate's own
// process, so every type but a client of the same workload reaches past it.
struct RS_SHARE_POLICY {
  NvU32 target;
  NvU32 accessMask;  // RS_ACCESS_MASK: one 32-bit limb
  NvU16 type;
  NvU8 action;
};
inline constexpr NvU16 kRsShareTypeAll = 1;
inline constexpr NvU16 kRsShareTypeClient = 3;
inline constexpr NvU8 kRsShareActionFlagRevoke = 1;

struct NVOS57_PARAMETERS {
  NvHandle hClient;
  NvHandle hObject;
  RS_SHARE_POLICY sharePolicy;
  NvU32 status;
};

// NV_ESC_CHECK_VERSION_STR
struct nv_ioctl_rm_api_version_t {
  NvU32 cmd;
  NvU32 reply;
  char versionString[64];
};
inline constexpr NvU32 kRmApiVersionCmdStrict = 0;
inline constexpr NvU32 kRmApiVersionCmdRelaxed = '1';
inline constexpr NvU32 kRmApiVersionCmdQuery = '2';
inline constexpr NvU32 kRmApiVersionReplyRecognized = 1;

// NV_ESC_REGISTER_FD
struct nv_ioctl_register_fd_t {
  int ctl_fd;
};

// NV_ESC_ALLOC_OS_EVENT / NV_ESC_FREE_OS_EVENT
struct nv_ioctl_alloc_os_event_t {
  NvHandle hClient;
  NvHandle hDevice;
  NvU32 fd;
  NvU32 Status;
};

// NV_ESC_SYS_PARAMS
struct nv_ioctl_sys_params_t {
  NvU64 memblock_size;
};

// NV_ESC_IOCTL_XFER_CMD: another escape, its size and a pointer to its
// parameters (for parameters past _IOC_SIZE's 14 bits). nvgate refuses it.
struct nv_ioctl_xfer_t {
  NvU32 cmd;
  NvU32 size;
  alignas(8) NvP64 ptr;
};

// NV_ESC_WAIT_OPEN_COMPLETE
struct nv_ioctl_wait_open_complete_t {
  int rc;
  NvU32 adapterStatus;
};

// NV_ESC_CARD_INFO: an array of these, one per possible GPU.
struct nv_pci_info_t {
  NvU32 domain;
  std::uint8_t bus;
  std::uint8_t slot;
  std::uint8_t function;
  std::uint16_t vendor_id;
  std::uint16_t device_id;
};
struct nv_ioctl_card_info_t {
  std::uint8_t valid;
  nv_pci_info_t pci_info;
  NvU32 gpu_id;
  std::uint16_t interrupt_line;
  alignas(8) NvU64 reg_address;
  NvU64 reg_size;
  NvU64 fb_address;
  NvU64 fb_size;
  NvU32 minor_number;
  std::uint8_t dev_name[10];
};

// UVM_INITIALIZE
struct UVM_INITIALIZE_PARAMS {
  NvU64 flags;
  NvV32 rmStatus;
};

// UVM_MM_INITIALIZE
struct UVM_MM_INITIALIZE_PARAMS {
  std::int32_t uvmFd;
  NvV32 rmStatus;
};

// ---- RM alloc parameters ----

// NV01_DEVICE_0: deviceId picks the GPU; the rest shares or sizes its VA space.
struct NV0080_ALLOC_PARAMETERS {
  NvU32 deviceId;
  NvHandle hClientShare;
  NvHandle hTargetClient;
  NvHandle hTargetDevice;
  NvV32 flags;
  alignas(8) NvU64 vaSpaceSize;
  NvU64 vaStartInternal;
  NvU64 vaLimitInternal;
  NvV32 vaMode;
};

// NV01_EVENT and NV01_EVENT_OS_EVENT: the event's source object is
// hSrcResource in client hParentClient; data is the OS event's key.
struct NV0005_ALLOC_PARAMETERS {
  NvHandle hParentClient;
  NvHandle hSrcResource;
  NvV32 hClass;
  NvV32 notifyIndex;
  NvP64 data;
};

// NV20_SUBDEVICE_0
struct NV2080_ALLOC_PARAMETERS {
  NvU32 subDeviceId;
};

// ---- RM control parameters ----

// NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS: unused slots hold kInvalidGpuId.
struct NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS {
  NvU32 gpuIds[32];
};
inline constexpr NvU32 kInvalidGpuId = 0xffffffff;

// NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2
struct NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS {
  NvU32 gpuId;
  NvU32 gpuFlags;
  NvU32 deviceInstance;
  NvU32 subDeviceInstance;
  NvU32 sliStatus;
  NvU32 boardId;
  NvU32 gpuInstance;
  NvU32 numaId;
};

// NV0000_CTRL_CMD_GPU_GET_PROBED_IDS: unused slots hold kInvalidGpuId.
struct NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS {
  NvU32 gpuIds[32];
  NvU32 excludedGpuIds[32];
  NvU32 gpuFlags[32];
};

// NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2. The facts files do not record
// this struct yet, so its size is pinned here instead.
struct NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS {
  char driverVersionBuffer[256];
  char versionBuffer[256];
  char driverBranch[256];
  char titleBuffer[256];
  NvU32 changelistNumber;
  NvU32 officialChangelistNumber;
};
static_assert(sizeof(NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS) == 1032);

// NV0080_CTRL_CMD_GPU_GET_CLASSLIST_V2
struct NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS {
  NvU32 numClasses;
  NvU32 classList[200];
};

// NV0080_CTRL_CMD_GPU_GET_NUM_SUBDEVICES
struct NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS {
  NvU32 numSubDevices;
};

// NV2080_CTRL_CMD_GPU_GET_INFO_V2 and NV2080_CTRL_CMD_GR_GET_INFO entries.
struct NV2080_CTRL_GPU_INFO {
  NvU32 index;
  NvU32 data;
};
struct NV2080_CTRL_GPU_GET_INFO_V2_PARAMS {
  NvU32 gpuInfoListSize;
  NV2080_CTRL_GPU_INFO gpuInfoList[70];
};

// NV2080_CTRL_CMD_GPU_GET_NAME_STRING
struct NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS {
  NvU32 gpuNameStringFlags;
  std::uint8_t gpuNameString[128];
};

// NV2080_CTRL_CMD_GPU_GET_GID_INFO
struct NV2080_CTRL_GPU_GET_GID_INFO_PARAMS {
  NvU32 index;
  NvU32 flags;
  NvU32 length;
  std::uint8_t data[256];
};
// flags: FORMAT field (bits 1:0) = BINARY asks for the 16 raw bytes.
inline constexpr NvU32 kGidFlagsFormatBinary = 0x2;

// NV2080_CTRL_CMD_GR_GET_INFO: grInfoList points at grInfoListSize
// NV2080_CTRL_GPU_INFO-shaped {index, data} pairs.
struct NV2080_CTRL_GR_GET_INFO_PARAMS {
  NvU32 grInfoListSize;
  alignas(8) NvP64 grInfoList;
  struct {
    NvU32 flags;
    alignas(8) NvU64 route;
  } grRouteInfo;
};

// NV2080_CTRL_CMD_FB_GET_INFO_V2: {index, data} pairs, as GPU_GET_INFO_V2.
struct NV2080_CTRL_FB_INFO {
  NvU32 index;
  NvU32 data;
};
struct NV2080_CTRL_FB_GET_INFO_V2_PARAMS {
  NvU32 fbInfoListSize;
  NV2080_CTRL_FB_INFO fbInfoList[128];
};

// NV2080_CTRL_CMD_BUS_GET_PCI_INFO: ids as PCI config space holds them
// (device id in the high half, vendor id in the low half).
struct NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS {
  NvU32 pciDeviceId;
  NvU32 pciSubSystemId;
  NvU32 pciRevisionId;
  NvU32 pciExtDeviceId;
};

// NV2080_CTRL_CMD_GPU_GET_ENGINES_V2: NV2080_ENGINE_TYPE_* values.
struct NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS {
  NvU32 engineCount;
  NvU32 engineList[84];
};

// NV2080_CTRL_CMD_PERF_GET_CURRENT_PSTATE: one bit per P-state (P0 = 1).
struct NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS {
  NvU32 currPstate;
};

// NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN
struct NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS {
  NvU32 workSubmitToken;
};

// NVA06C_CTRL_CMD_GPFIFO_SCHEDULE (NvBools)
struct NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS {
  std::uint8_t bEnable;
  std::uint8_t bSkipSubmit;
  std::uint8_t bSkipEnable;
};

// KEPLER_CHANNEL_GROUP_A's allocation parameters.
struct NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS {
  NvHandle hObjectError;
  NvHandle hObjectEccError;
  NvHandle hVASpace;
  NvU32 engineType;  // NV2080_ENGINE_TYPE_*: the runlist every channel of the group goes on
  std::uint8_t bIsCallingContextVgpuPlugin;
};

// FERMI_CONTEXT_SHARE_A's allocation parameters.
struct NV_CTXSHARE_ALLOCATION_PARAMETERS {
  NvHandle hVASpace;
  NvU32 flags;
  NvU32 subctxId;
};

struct NV_MEMORY_DESC_PARAMS {
  NvU64 base;
  NvU64 size;
  NvU32 addressSpace;
  NvU32 cacheAttrib;
};

// A GPFIFO channel's allocation parameters (HOPPER_CHANNEL_GPFIFO_A), 580's
// layout; the fields from instanceMem on are the driver's own.
struct NV_CHANNEL_ALLOC_PARAMS {
  NvHandle hObjectError;  // the error notifier's memory, or 0
  NvHandle hObjectBuffer;
  NvU64 gpFifoOffset;  // the GPFIFO's GPU virtual address
  NvU32 gpFifoEntries;
  NvU32 flags;
  NvHandle hContextShare;
  NvHandle hVASpace;
  NvHandle hUserdMemory[8];  // NV_MAX_SUBDEVICES; 0: RM provides USERD
  NvU64 userdOffset[8];
  NvU32 engineType;
  NvU32 cid;
  NvU32 subDeviceId;
  NvHandle hObjectEccError;
  NV_MEMORY_DESC_PARAMS instanceMem;
  NV_MEMORY_DESC_PARAMS userdMem;
  NV_MEMORY_DESC_PARAMS ramfcMem;
  NV_MEMORY_DESC_PARAMS mthdbufMem;
  NvHandle hPhysChannelGroup;
  NvU32 internalFlags;
  NV_MEMORY_DESC_PARAMS errorNotifierMem;
  NV_MEMORY_DESC_PARAMS eccErrorNotifierMem;
  NvU32 ProcessID;
  NvU32 SubProcessID;
  NvU32 encryptIv[3];
  NvU32 decryptIv[3];
  NvU32 hmacNonce[8];
  NvU32 tpcConfigID;
};

// The video engines' object parameters (NV_BSP_, NV_MSENC_, NV_NVJPG_ and
// NV_OFA_ALLOCATION_PARAMETERS share this layout in 580): the driver takes the
// object only when `size` is the struct's own, on engine `engineInstance`.
struct NV_BSP_ALLOCATION_PARAMETERS {
  NvU32 size;
  NvU32 prohibitMultipleInstances;
  NvU32 engineInstance;
};
using NV_MSENC_ALLOCATION_PARAMETERS = NV_BSP_ALLOCATION_PARAMETERS;
using NV_NVJPG_ALLOCATION_PARAMETERS = NV_BSP_ALLOCATION_PARAMETERS;
using NV_OFA_ALLOCATION_PARAMETERS = NV_BSP_ALLOCATION_PARAMETERS;

// ---- UVM parameters (every one ends in an rmStatus the driver writes) ----

// The per-GPU mapping attributes (a UUID and five enums), UVM_MAX_GPUS of them,
// are opaque to nvgate.
inline constexpr std::size_t kUvmPerGpuAttributesSize = 256 * 36;

struct UVM_CREATE_RANGE_GROUP_PARAMS {
  NvU64 rangeGroupId;
  NvV32 rmStatus;
};

struct UVM_REGISTER_GPU_VASPACE_PARAMS {
  std::uint8_t gpuUuid[16];
  std::int32_t rmCtrlFd;
  NvHandle hClient;
  NvHandle hVaSpace;
  NvV32 rmStatus;
};

struct UVM_MAP_EXTERNAL_ALLOCATION_PARAMS {
  NvU64 base;
  NvU64 length;
  NvU64 offset;
  std::uint8_t perGpuAttributes[kUvmPerGpuAttributesSize];
  NvU64 gpuAttributesCount;
  std::int32_t rmCtrlFd;
  NvU32 hClient;
  NvU32 hMemory;
  NvV32 rmStatus;
};

struct UVM_FREE_PARAMS {
  NvU64 base;
  NvU64 length;
  NvV32 rmStatus;
};

struct UVM_REGISTER_GPU_PARAMS {
  std::uint8_t gpu_uuid[16];
  std::uint8_t numaEnabled;
  std::int32_t numaNodeId;
  std::int32_t rmCtrlFd;
  NvHandle hClient;
  NvHandle hSmcPartRef;
  NvV32 rmStatus;
};

struct UVM_UNREGISTER_GPU_PARAMS {
  std::uint8_t gpu_uuid[16];
  NvV32 rmStatus;
};

struct UVM_PAGEABLE_MEM_ACCESS_PARAMS {
  std::uint8_t pageableMemAccess;
  NvV32 rmStatus;
};

struct UVM_ALLOC_SEMAPHORE_POOL_PARAMS {
  NvU64 base;
  NvU64 length;
  std::uint8_t perGpuAttributes[kUvmPerGpuAttributesSize];
  NvU64 gpuAttributesCount;
  NvV32 rmStatus;
};

}  // namespace nvgate::nv
