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
inline constexpr NvU64 kUvmInitFlagsMultiProcessSharingMode = 0x2;

// ---- RM status codes (NV_STATUS) ----
inline constexpr NvV32 kNvOk = 0x00;
inline constexpr NvV32 kNvErrInvalidArgument = 0x1f;
inline constexpr NvV32 kNvErrInvalidClass = 0x22;
inline constexpr NvV32 kNvErrInvalidClient = 0x23;
inline constexpr NvV32 kNvErrNotSupported = 0x56;

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
inline constexpr NvV32 kNv0080CtrlCmdGpuGetClasslistV2 = 0x800292;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetInfoV2 = 0x20800102;
inline constexpr NvV32 kNv2080CtrlCmdGpuGetNameString = 0x20800110;
inline constexpr NvV32 kNv2080CtrlCmdGrGetInfo = 0x20801201;

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

// NV_ESC_RM_VID_HEAP_CONTROL: only the head is read by nvgate.
struct NVOS32_HEAD {
  NvHandle hRoot;
  NvHandle hObjectParent;
  NvU32 function;
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

}  // namespace nvgate::nv
