// The simulated 580 driver: an in-process model that answers the driver's real
// ABI the way the driver does, so that the whole pipeline (filter,
// notifications, proxy, handlers) runs on machines without a GPU.
//
// Modelled: the version check, card info, the RM object tree (clients, devices,
// subdevices and the engine, memory and event classes of one Hopper GPU) with
// the driver's status codes, a handful of controls with real data, memory
// mapping, and UVM initialisation. Simplifications, each deliberate:
//  - the sim sees only the supervisor's duplicate of a file, so per-file state
//    (UVM initialisation and its flags) is kept per node kind, not per open
//    file: every workload fd on /dev/nvidia-uvm shares one UVM state;
//  - one GPU's worth of RM answers: any allocated device or subdevice is GPU 0's
//    data, and engine classes accept any parent object of their client;
//  - a GPU node is a sparse regular file, so a workload's mmap of mapped memory
//    works, but every mapping starts at offset 0 of the same file and aliases;
//  - controls nvgate's tables allow but the sim does not model answer
//    NV_ERR_NOT_SUPPORTED, as the driver does for a command it does not know.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <type_traits>

#include "abi/nv_structs.h"
#include "backend/backend.h"

namespace nvgate::backend {
namespace {

using namespace nv;

// The engine, memory and event classes the simulated H100 offers.
constexpr NvV32 kGpuClasses[] = {
    0x0079,  // NV01_EVENT_OS_EVENT
    0x003e,  // NV01_MEMORY_SYSTEM
    0x0040,  // NV01_MEMORY_LOCAL_USER
    0x0070,  // NV01_MEMORY_VIRTUAL
    0x50a0,  // NV50_MEMORY_VIRTUAL
    0x90f1,  // FERMI_VASPACE_A
    0xa06c,  // KEPLER_CHANNEL_GROUP_A
    0x9067,  // FERMI_CONTEXT_SHARE_A
    0xc86f,  // HOPPER_CHANNEL_GPFIFO_A
    0xcbc0,  // HOPPER_COMPUTE_A
    0xcb97,  // HOPPER_A (3D)
    0xc8b5,  // HOPPER_DMA_COPY_A
    0xc761,  // HOPPER_USERMODE_A
    0xb8b0,  // NVB8B0_VIDEO_DECODER
    0xb8d1,  // NVB8D1_VIDEO_NVJPG
    0xb8fa,  // NVB8FA_VIDEO_OFA
    0x83de,  // GT200_DEBUGGER
};

constexpr NvV32 kChannelGpfifoClass = 0xc86f;
constexpr NvV32 kChannelGroupClass = 0xa06c;

constexpr char kGpuName[] = "NVIDIA H100 80GB HBM3 (nvgate sim)";
constexpr std::uint32_t kFirstGpuId = 0x100;
// What GR_GET_INFO answers for every queried index (an H100 SXM's SM count).
constexpr NvU32 kGrInfoValue = 132;
constexpr off_t kGpuNodeSize = 256 << 20;

struct Object {
  NvHandle parent;
  NvV32 cls;
};

struct Client {
  std::map<NvHandle, Object> objects;
};

template <typename T>
T* As(void* arg) {
  return static_cast<T*>(arg);
}

class SimBackend final : public Backend {
 public:
  SimBackend(std::string version, int gpu_count, std::string dir, bool owns_dir)
      : version_(std::move(version)), gpu_count_(gpu_count), dir_(std::move(dir)), owns_dir_(owns_dir) {}

  ~SimBackend() override {
    if (owns_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  tl::expected<void, std::string> CreateNodes() {
    auto add = [&](const std::string& name, abi::DeviceKind kind, off_t size) -> tl::expected<void, std::string> {
      std::string path = dir_ + "/" + name;
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0 || (size > 0 && ::ftruncate(fd, size) != 0)) {
        if (fd >= 0) ::close(fd);
        return tl::unexpected<std::string>("cannot create the sim's node " + path + ": " + std::strerror(errno));
      }
      struct stat st;
      ::fstat(fd, &st);
      ::close(fd);
      ::chmod(path.c_str(), 0666);
      nodes_.push_back({"/dev/" + name, path, kind});
      files_[{st.st_dev, st.st_ino}] = kind;
      return {};
    };
    for (auto r : {add("nvidiactl", abi::DeviceKind::kCtl, 0), add("nvidia-uvm", abi::DeviceKind::kUvm, 0),
                   add("nvidia-uvm-tools", abi::DeviceKind::kUvmTools, 0)}) {
      if (!r) return r;
    }
    for (int i = 0; i < gpu_count_; ++i) {
      if (auto r = add("nvidia" + std::to_string(i), abi::DeviceKind::kGpu, kGpuNodeSize); !r) return r;
    }
    return {};
  }

  std::string_view Name() const override { return "sim"; }
  tl::expected<std::string, std::string> DriverVersion() override { return version_; }

  abi::DeviceKind Classify(const struct stat& st) const override {
    auto it = files_.find({st.st_dev, st.st_ino});
    return it == files_.end() ? abi::DeviceKind::kNotNvidia : it->second;
  }

  std::vector<DeviceNode> Nodes() const override { return nodes_; }

  int Ioctl(int, abi::DeviceKind device, std::uint32_t request, void* arg) override {
    std::lock_guard lock(mu_);
    if (device == abi::DeviceKind::kUvm) return Uvm(request, arg);
    if (device != abi::DeviceKind::kCtl && device != abi::DeviceKind::kGpu) return -ENOTTY;
    return Frontend(_IOC_NR(request), _IOC_SIZE(request), arg);
  }

 private:
  int Frontend(std::uint32_t nr, std::uint32_t size, void* arg) {
    // Fixed-size escapes: the driver refuses any other size before looking at
    // the arguments.
    auto fixed = [&](std::size_t expected) { return size == expected; };
    switch (nr) {
      case kEscCheckVersionStr: {
        if (!fixed(sizeof(nv_ioctl_rm_api_version_t))) return -EINVAL;
        auto* v = As<nv_ioctl_rm_api_version_t>(arg);
        bool query = v->cmd == kRmApiVersionCmdQuery;
        bool match = std::strncmp(v->versionString, version_.c_str(), sizeof v->versionString) == 0;
        // Either way the caller learns the driver's version, to report a mismatch.
        std::memset(v->versionString, 0, sizeof v->versionString);
        std::memcpy(v->versionString, version_.data(), std::min(version_.size(), sizeof v->versionString - 1));
        v->reply = query || match ? kRmApiVersionReplyRecognized : 0;
        return query || match ? 0 : -EINVAL;
      }
      case kEscCardInfo: {
        std::size_t n = size / sizeof(nv_ioctl_card_info_t);
        if (size % sizeof(nv_ioctl_card_info_t) != 0 || n < static_cast<std::size_t>(gpu_count_)) return -EINVAL;
        auto* cards = As<nv_ioctl_card_info_t>(arg);
        std::memset(cards, 0, size);
        for (int i = 0; i < gpu_count_; ++i) {
          cards[i].valid = 1;
          cards[i].pci_info.bus = static_cast<std::uint8_t>(0x18 + i);
          cards[i].pci_info.vendor_id = 0x10de;
          cards[i].pci_info.device_id = 0x2330;
          cards[i].gpu_id = kFirstGpuId + static_cast<std::uint32_t>(i);
          cards[i].minor_number = static_cast<NvU32>(i);
        }
        return 0;
      }
      case kEscRegisterFd:
        return fixed(sizeof(nv_ioctl_register_fd_t)) ? 0 : -EINVAL;
      case kEscAttachGpusToFd:  // an array of GPU ids
        return size % sizeof(NvU32) == 0 ? 0 : -EINVAL;
      case kEscSysParams:  // memblock_size is the caller's input
        return fixed(sizeof(nv_ioctl_sys_params_t)) ? 0 : -EINVAL;
      case kEscWaitOpenComplete:
        if (!fixed(sizeof(nv_ioctl_wait_open_complete_t))) return -EINVAL;
        *As<nv_ioctl_wait_open_complete_t>(arg) = {0, 0};
        return 0;
      case kEscAllocOsEvent:
      case kEscFreeOsEvent:
        if (!fixed(sizeof(nv_ioctl_alloc_os_event_t))) return -EINVAL;
        As<nv_ioctl_alloc_os_event_t>(arg)->Status = kNvOk;
        return 0;
      case kEscRmAlloc:
        if (!fixed(sizeof(NVOS21_PARAMETERS)) && !fixed(sizeof(NVOS64_PARAMETERS))) return -EINVAL;
        Alloc(As<NVOS21_PARAMETERS>(arg), size == sizeof(NVOS64_PARAMETERS));
        return 0;
      case kEscRmFree:
        if (!fixed(sizeof(NVOS00_PARAMETERS))) return -EINVAL;
        Free(As<NVOS00_PARAMETERS>(arg));
        return 0;
      case kEscRmControl:
        if (!fixed(sizeof(NVOS54_PARAMETERS))) return -EINVAL;
        As<NVOS54_PARAMETERS>(arg)->status = Control(*As<NVOS54_PARAMETERS>(arg));
        return 0;
      case kEscRmMapMemory: {
        if (!fixed(sizeof(nv_ioctl_nvos33_parameters_with_fd))) return -EINVAL;
        auto* map = As<nv_ioctl_nvos33_parameters_with_fd>(arg);
        map->params.status = Exists(map->params.hClient, map->params.hMemory) ? kNvOk : kNvErrInvalidObjectHandle;
        map->params.pLinearAddress = 0x1000;  // a cookie, as the driver's: never a user address
        return 0;
      }
      case kEscRmUnmapMemory:
        if (!fixed(sizeof(NVOS34_PARAMETERS))) return -EINVAL;
        As<NVOS34_PARAMETERS>(arg)->status = kNvOk;
        return 0;
      case kEscRmAllocMemory: {
        if (!fixed(sizeof(nv_ioctl_nvos02_parameters_with_fd))) return -EINVAL;
        NVOS02_PARAMETERS& p = As<nv_ioctl_nvos02_parameters_with_fd>(arg)->params;
        p.status = p.hClass == kNv01MemorySystem ? Insert(p.hRoot, p.hObjectParent, p.hObjectNew, p.hClass)
                                                 : kNvErrInvalidClass;
        return 0;
      }
      case kEscRmDupObject: {
        if (!fixed(sizeof(NVOS55_PARAMETERS))) return -EINVAL;
        auto* p = As<NVOS55_PARAMETERS>(arg);
        p->status = Dup(*p);
        return 0;
      }
      case kEscRmShare:
        if (!fixed(sizeof(NVOS57_PARAMETERS))) return -EINVAL;
        As<NVOS57_PARAMETERS>(arg)->status = kNvOk;
        return 0;
      case kEscRmVidHeapControl:
        // The full NVOS32_PARAMETERS; nvgate defines only its head.
        if (size < sizeof(NVOS32_HEAD)) return -EINVAL;
        As<NVOS32_HEAD>(arg)->status = kNvOk;
        return 0;
      case kEscRmUpdateDeviceMappingInfo:
        if (!fixed(sizeof(NVOS56_PARAMETERS))) return -EINVAL;
        As<NVOS56_PARAMETERS>(arg)->status = kNvOk;
        return 0;
      default:
        return -EINVAL;  // RmIoctl's default: unknown escape
    }
  }

  bool Exists(NvHandle client, NvHandle handle) const {
    auto c = clients_.find(client);
    return c != clients_.end() && (handle == client || c->second.objects.contains(handle));
  }

  // The class of `handle` in `client`: the client itself counts as NV01_ROOT.
  NvV32 ClassOf(NvHandle client, NvHandle handle) const {
    if (handle == client) return kNv01Root;
    return clients_.at(client).objects.at(handle).cls;
  }

  NvHandle NewHandle() { return 0xcaf00000 + next_handle_++; }

  // Adds an object under an existing parent (the client or one of its objects).
  NvV32 Insert(NvHandle client, NvHandle parent, NvHandle& handle, NvV32 cls) {
    auto c = clients_.find(client);
    if (c == clients_.end()) return kNvErrInvalidClient;
    if (!Exists(client, parent)) return kNvErrInvalidObjectParent;
    NvHandle h = handle != 0 ? handle : NewHandle();
    if (h == client || c->second.objects.contains(h)) return kNvErrInsertDuplicateName;
    c->second.objects[h] = Object{parent, cls};
    handle = h;
    return kNvOk;
  }

  void Alloc(NVOS21_PARAMETERS* p, bool long_form) {
    // NVOS21 and NVOS64 agree up to pAllocParms; the status moves.
    NvV32* status = long_form ? &reinterpret_cast<NVOS64_PARAMETERS*>(p)->status : &p->status;
    if (p->hClass == kNv01Root || p->hClass == kNv01RootNonPriv || p->hClass == kNv01RootClient) {
      NvHandle h = p->hObjectNew != 0 ? p->hObjectNew : 0xc1d00000 + next_handle_++;
      if (clients_.contains(h)) {
        *status = kNvErrInsertDuplicateName;
        return;
      }
      clients_[h];
      p->hObjectNew = h;
      *status = kNvOk;
      return;
    }
    if (!clients_.contains(p->hRoot)) {
      *status = kNvErrInvalidClient;
      return;
    }
    if (!Exists(p->hRoot, p->hObjectParent)) {
      *status = kNvErrInvalidObjectParent;
      return;
    }
    bool known = p->hClass == kNv01Device0 || p->hClass == kNv20Subdevice0 ||
                 std::find(std::begin(kGpuClasses), std::end(kGpuClasses), p->hClass) != std::end(kGpuClasses);
    if (!known) {
      *status = kNvErrInvalidClass;
      return;
    }
    // Devices hang off clients and subdevices off devices; the engine, memory
    // and event classes take any parent of their client.
    NvV32 parent_class = ClassOf(p->hRoot, p->hObjectParent);
    bool parent_ok = p->hClass == kNv01Device0      ? parent_class == kNv01Root
                     : p->hClass == kNv20Subdevice0 ? parent_class == kNv01Device0
                                                    : true;
    *status = parent_ok ? Insert(p->hRoot, p->hObjectParent, p->hObjectNew, p->hClass) : kNvErrInvalidObjectParent;
  }

  NvV32 Dup(NVOS55_PARAMETERS& p) {
    if (!clients_.contains(p.hClientSrc) || !clients_.at(p.hClientSrc).objects.contains(p.hObjectSrc)) {
      return kNvErrInvalidObjectHandle;
    }
    return Insert(p.hClient, p.hParent, p.hObject, ClassOf(p.hClientSrc, p.hObjectSrc));
  }

  void Free(NVOS00_PARAMETERS* p) {
    auto client = clients_.find(p->hRoot);
    if (client == clients_.end()) {
      p->status = kNvErrInvalidClient;
      return;
    }
    if (p->hObjectOld == p->hRoot) {
      clients_.erase(client);
      p->status = kNvOk;
      return;
    }
    auto& objects = client->second.objects;
    if (!objects.contains(p->hObjectOld)) {
      p->status = kNvErrInvalidObjectHandle;
      return;
    }
    // Freeing an object frees everything below it.
    std::set<NvHandle> doomed = {p->hObjectOld};
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [h, o] : objects) {
        if (doomed.contains(o.parent) && doomed.insert(h).second) grew = true;
      }
    }
    for (NvHandle h : doomed) objects.erase(h);
    p->status = kNvOk;
  }

  NvV32 Control(const NVOS54_PARAMETERS& p) {
    if (!clients_.contains(p.hClient)) return kNvErrInvalidClient;
    if (!Exists(p.hClient, p.hObject)) return kNvErrInvalidObjectHandle;
    // A command belongs to the class in its top 16 bits; an object answers only
    // its own class's commands (a Hopper channel inherits the C36F ones).
    NvV32 cmd_class = p.cmd >> 16;
    NvV32 object_class = ClassOf(p.hClient, p.hObject);
    bool owns = cmd_class == object_class || (cmd_class == 0xc36f && object_class == kChannelGpfifoClass);
    if (!owns) return kNvErrNotSupported;
    void* params = reinterpret_cast<void*>(p.params);
    // Each modelled command checks the size of its parameter struct, as RM does.
    auto with = [&]<typename T>(T*& out) {
      out = static_cast<T*>(params);
      return p.paramsSize == sizeof(T) && params != nullptr;
    };
    switch (p.cmd) {
      case kNv0000CtrlCmdGpuGetAttachedIds: {
        NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS* ids;
        if (!with(ids)) return kNvErrInvalidArgument;
        for (int i = 0; i < 32; ++i) {
          ids->gpuIds[i] = i < gpu_count_ ? kFirstGpuId + static_cast<std::uint32_t>(i) : kInvalidGpuId;
        }
        return kNvOk;
      }
      case kNv0000CtrlCmdGpuGetIdInfoV2: {
        NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS* info;
        if (!with(info)) return kNvErrInvalidArgument;
        if (info->gpuId < kFirstGpuId || info->gpuId >= kFirstGpuId + static_cast<std::uint32_t>(gpu_count_)) {
          return kNvErrInvalidArgument;
        }
        info->deviceInstance = info->gpuId - kFirstGpuId;
        info->subDeviceInstance = 0;
        info->boardId = info->gpuId;
        info->gpuInstance = info->deviceInstance;
        info->numaId = kInvalidGpuId;  // no NUMA node
        return kNvOk;
      }
      case kNv0000CtrlCmdSystemGetBuildVersionV2: {
        NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS* build;
        if (!with(build)) return kNvErrInvalidArgument;
        *build = {};
        std::snprintf(build->driverVersionBuffer, sizeof build->driverVersionBuffer, "%s", version_.c_str());
        std::snprintf(build->versionBuffer, sizeof build->versionBuffer, "%s", version_.c_str());
        std::snprintf(build->driverBranch, sizeof build->driverBranch, "r580_00");
        std::snprintf(build->titleBuffer, sizeof build->titleBuffer, "nvgate simulated driver");
        return kNvOk;
      }
      case kNv0080CtrlCmdGpuGetClasslistV2: {
        NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS* list;
        if (!with(list)) return kNvErrInvalidArgument;
        list->numClasses = std::size(kGpuClasses);
        std::copy(std::begin(kGpuClasses), std::end(kGpuClasses), list->classList);
        return kNvOk;
      }
      case kNv0080CtrlCmdGpuGetNumSubdevices: {
        NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS* n;
        if (!with(n)) return kNvErrInvalidArgument;
        n->numSubDevices = 1;
        return kNvOk;
      }
      case kNv2080CtrlCmdGpuGetNameString: {
        NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS* name;
        if (!with(name)) return kNvErrInvalidArgument;
        std::memset(name->gpuNameString, 0, sizeof name->gpuNameString);
        std::memcpy(name->gpuNameString, kGpuName, sizeof kGpuName);
        return kNvOk;
      }
      case kNv2080CtrlCmdGpuGetInfoV2: {
        NV2080_CTRL_GPU_GET_INFO_V2_PARAMS* info;
        // The driver refuses an empty or oversized list and indexes past the table.
        constexpr NvU32 kMax = std::extent_v<decltype(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS::gpuInfoList)>;
        if (!with(info) || info->gpuInfoListSize == 0 || info->gpuInfoListSize > kMax) return kNvErrInvalidArgument;
        for (NvU32 i = 0; i < info->gpuInfoListSize; ++i) {
          if ((info->gpuInfoList[i].index & 0xffffff) >= kMax) return kNvErrInvalidArgument;
          info->gpuInfoList[i].data = 0;  // every attribute reads "not present / not enabled"
        }
        return kNvOk;
      }
      case kNv2080CtrlCmdGpuGetGidInfo: {
        NV2080_CTRL_GPU_GET_GID_INFO_PARAMS* gid;
        if (!with(gid)) return kNvErrInvalidArgument;
        std::memset(gid->data, 0, sizeof gid->data);
        // A fixed, recognisable UUID: 16 bytes, or its "GPU-..." text.
        static constexpr std::uint8_t kUuid[16] = {0x6e, 0x76, 0x67, 0x61, 0x74, 0x65, 0x2d, 0x73,
                                                   0x69, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        if (gid->flags & kGidFlagsFormatBinary) {
          std::memcpy(gid->data, kUuid, sizeof kUuid);
          gid->length = sizeof kUuid;
        } else {
          int n = std::snprintf(reinterpret_cast<char*>(gid->data), sizeof gid->data,
                                "GPU-6e766761-7465-2d73-696d-0000000000%02x", gid->index & 0xff);
          gid->length = static_cast<NvU32>(n + 1);
        }
        return kNvOk;
      }
      case kNv2080CtrlCmdGrGetInfo: {
        NV2080_CTRL_GR_GET_INFO_PARAMS* gr;
        if (!with(gr)) return kNvErrInvalidArgument;
        // The list is a nested pointer, already copied into our memory.
        auto* list = reinterpret_cast<NV2080_CTRL_GPU_INFO*>(gr->grInfoList);
        if (list == nullptr || gr->grInfoListSize == 0) return kNvErrInvalidArgument;
        for (NvU32 i = 0; i < gr->grInfoListSize; ++i) list[i].data = kGrInfoValue;
        return kNvOk;
      }
      case kNvc36fCtrlCmdGpfifoGetWorkSubmitToken: {
        NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS* token;
        if (!with(token)) return kNvErrInvalidArgument;
        token->workSubmitToken = p.hObject & 0xffff;  // the channel's doorbell id
        return kNvOk;
      }
      case kNva06cCtrlCmdGpfifoSchedule: {
        NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS* schedule;
        return with(schedule) ? kNvOk : kNvErrInvalidArgument;
      }
      default:
        return kNvErrNotSupported;
    }
  }

  int Uvm(std::uint32_t request, void* arg) {
    if (request == kUvmInitialize) {
      auto* p = As<UVM_INITIALIZE_PARAMS>(arg);
      // Re-initialising with the same flags is harmless; other flags conflict.
      p->rmStatus = !uvm_flags_ || *uvm_flags_ == p->flags ? kNvOk : kNvErrInvalidArgument;
      if (!uvm_flags_) uvm_flags_ = p->flags;
      return 0;
    }
    if (request == kUvmDeinitialize) return 0;
    auto answer = [&]<typename T>(T* p) {
      p->rmStatus = uvm_flags_ ? kNvOk : kNvErrIllegalAction;
      return 0;
    };
    switch (request) {
      case kUvmPageableMemAccess: {
        auto* p = As<UVM_PAGEABLE_MEM_ACCESS_PARAMS>(arg);
        p->pageableMemAccess = 0;  // no HMM / ATS on the simulated host
        return answer(p);
      }
      case kUvmRegisterGpu: {
        auto* p = As<UVM_REGISTER_GPU_PARAMS>(arg);
        p->numaEnabled = 0;
        p->numaNodeId = -1;
        return answer(p);
      }
      case kUvmUnregisterGpu: return answer(As<UVM_UNREGISTER_GPU_PARAMS>(arg));
      case kUvmRegisterGpuVaspace: return answer(As<UVM_REGISTER_GPU_VASPACE_PARAMS>(arg));
      case kUvmCreateRangeGroup: {
        auto* p = As<UVM_CREATE_RANGE_GROUP_PARAMS>(arg);
        p->rangeGroupId = next_range_group_++;
        return answer(p);
      }
      case kUvmAllocSemaphorePool: return answer(As<UVM_ALLOC_SEMAPHORE_POOL_PARAMS>(arg));
      case kUvmMapExternalAllocation: return answer(As<UVM_MAP_EXTERNAL_ALLOCATION_PARAMS>(arg));
      case kUvmFree: return answer(As<UVM_FREE_PARAMS>(arg));
      case kUvmMmInitialize: return answer(As<UVM_MM_INITIALIZE_PARAMS>(arg));
      default:
        // The driver's remaining numbers are not modelled; its test ioctls are
        // off in release builds: ENOSYS.
        return -ENOSYS;
    }
  }

  std::string version_;
  int gpu_count_;
  std::string dir_;
  bool owns_dir_;
  std::vector<DeviceNode> nodes_;
  std::map<std::pair<dev_t, ino_t>, abi::DeviceKind> files_;

  std::mutex mu_;
  std::map<NvHandle, Client> clients_;
  std::uint32_t next_handle_ = 1;
  std::optional<NvU64> uvm_flags_;  // set by UVM_INITIALIZE
  NvU64 next_range_group_ = 1;
};

}  // namespace

tl::expected<std::unique_ptr<Backend>, std::string> MakeSimBackend(const SimOptions& options) {
  if (options.gpu_count < 1 || options.gpu_count > 8) {
    return tl::unexpected<std::string>("the simulated driver offers 1 to 8 GPUs");
  }
  std::string dir = options.node_dir;
  bool owns_dir = dir.empty();
  if (owns_dir) {
    char tmpl[] = "/tmp/nvgate-sim-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      return tl::unexpected<std::string>(std::string("cannot create the sim's directory: ") + std::strerror(errno));
    }
    dir = tmpl;
    ::chmod(dir.c_str(), 0755);
  }
  auto sim = std::make_unique<SimBackend>(options.driver_version, options.gpu_count, dir, owns_dir);
  if (auto r = sim->CreateNodes(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<Backend>(std::move(sim));
}

}  // namespace nvgate::backend
