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

// ---- RM classes nvgate itself needs to recognise ----
inline constexpr NvV32 kNv01Root = 0x0000;
inline constexpr NvV32 kNv01RootNonPriv = 0x0001;
inline constexpr NvV32 kNv01RootClient = 0x0041;
inline constexpr NvV32 kNv01Device0 = 0x0080;
inline constexpr NvV32 kNv20Subdevice0 = 0x2080;
inline constexpr NvV32 kNv01MemorySystem = 0x003e;

// ---- RM controls the simulated driver and nvprobe use ----
inline constexpr NvV32 kNv0000CtrlCmdGpuGetAttachedIds = 0x201;
inline constexpr NvV32 kNv0000CtrlCmdGpuGetIdInfoV2 = 0x205;
inline constexpr NvV32 kNv0000CtrlCmdSystemGetBuildVersionV2 = 0x13e;
inline constexpr NvV32 kNv0080CtrlCmdGpuGetClasslistV2 = 0x800292;
inline constexpr NvV32 kNv0080CtrlCmdGpuGetNumSubdevices = 0x800280;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetInfoV2 = 0x20800102;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetNameString = 0x20800110;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetGidInfo = 0x2080014a;
inline constexpr NvV32 kNv2080CtrlCmdGrGetInfo = 0x20801201;
inline constexpr NvV32 kNvc36fCtrlCmdGpfifoGetWorkSubmitToken = 0xc36f0108;
inline constexpr NvV32 kNva06cCtrlCmdGpfifoSchedule = 0xa06c0101;

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

// NV_ESC_RM_VID_HEAP_CONTROL: only the head, up to the status, is read by nvgate.
struct NVOS32_HEAD {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvU32 function;
  NvHandle hVASpace;
  std::int16_t ivcHeapNumber;
  NvV32 status;
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
struct NVOS57_PARAMETERS {
  NvHandle hClient;
  NvHandle hObject;
  NvU32 sharePolicy[3];
  NvU32 status;
};

// NV_ESC_CHECK_VERSION_STR
struct nv_ioctl_rm_api_version_t {
  NvU32 cmd;
  NvU32 reply;
  char versionString[64];
};
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
