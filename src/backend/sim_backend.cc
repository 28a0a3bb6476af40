// The simulated 580 driver: an in-process model that answers the driver's real
// ABI the way the driver does, so that the whole pipeline (filter,
// notifications, proxy, handlers) runs on machines without a GPU.
//
// Modelled: the version check, card info, the RM object tree (clients, devices,
// subdevices and the engine, memory and event classes of one Hopper GPU) with
// the driver's status codes, a handful of controls with real data, memory
// mapping, and UVM initialisation. Simplifications, each deliberate:
//  - the sim sees only the supervisor's duplicate of a file, so per-file state
//    (UVM initialisation) is kept per node, not per open file;
//  - a GPU node is a sparse regular file, so a workload's mmap of mapped memory
//    works, but every mapping starts at offset 0 of the same file and aliases;
//  - controls nvgate's tables allow but the sim does not model answer
//    NV_ERR_NOT_SUPPORTED, as the driver does for a command it does not know.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "abi/nv_structs.h"
#include "backend/backend.h"

namespace nvgate::backend {
namespace {

using namespace nv;

// Status codes the sim answers with, beyond those nvgate itself uses.
constexpr NvV32 kNvErrIllegalAction = 0x16;
constexpr NvV32 kNvErrInsertDuplicateName = 0x19;
constexpr NvV32 kNvErrInvalidObjectHandle = 0x33;
constexpr NvV32 kNvErrInvalidObjectParent = 0x36;

// The engine, memory and event classes the simulated H100 offers.
constexpr NvV32 kGpuClasses[] = {
    0x0079,  // NV01_EVENT_OS_EVENT
    0x003e,  // NV01_MEMORY_SYSTEM
    0x0040,  // NV01_MEMORY_LOCAL_USER
    0x0070,  // NV01_MEMORY_VIRTUAL
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


constexpr char kGpuName[] = "NVIDIA H100 80GB HBM3 (nvgate sim)";
constexpr std::uint32_t kFirstGpuId = 0x100;
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
    switch (nr) {
      case kEscCheckVersionStr: {
        if (size != sizeof(nv_ioctl_rm_api_version_t)) return -EINVAL;
        auto* v = As<nv_ioctl_rm_api_version_t>(arg);
        bool query = v->cmd == kRmApiVersionCmdQuery;
        bool match = std::strncmp(v->versionString, version_.c_str(), sizeof v->versionString) == 0;
        std::memset(v->versionString, 0, sizeof v->versionString);
        std::memcpy(v->versionString, version_.data(), std::min(version_.size(), sizeof v->versionString - 1));
        v->reply = kRmApiVersionReplyRecognized;
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
      case kEscAttachGpusToFd:
      case kEscWaitOpenComplete:
        return 0;
      case kEscSysParams:
        As<nv_ioctl_sys_params_t>(arg)->memblock_size = 128 << 20;
        return 0;
      case kEscAllocOsEvent:
      case kEscFreeOsEvent:
        As<nv_ioctl_alloc_os_event_t>(arg)->Status = clients_.contains(As<nv_ioctl_alloc_os_event_t>(arg)->hClient)
                                                         ? kNvOk
                                                         : kNvErrInvalidClient;
        return 0;
      case kEscRmAlloc:
        if (size != sizeof(NVOS21_PARAMETERS) && size != sizeof(NVOS64_PARAMETERS)) return -EINVAL;
        Alloc(As<NVOS21_PARAMETERS>(arg), size == sizeof(NVOS64_PARAMETERS));
        return 0;
      case kEscRmFree:
        if (size != sizeof(NVOS00_PARAMETERS)) return -EINVAL;
        Free(As<NVOS00_PARAMETERS>(arg));
        return 0;
      case kEscRmControl:
        if (size != sizeof(NVOS54_PARAMETERS)) return -EINVAL;
        As<NVOS54_PARAMETERS>(arg)->status = Control(*As<NVOS54_PARAMETERS>(arg));
        return 0;
      case kEscRmMapMemory: {
        if (size != sizeof(nv_ioctl_nvos33_parameters_with_fd)) return -EINVAL;
        auto* map = As<nv_ioctl_nvos33_parameters_with_fd>(arg);
        map->params.status = Exists(map->params.hClient, map->params.hMemory) ? kNvOk : kNvErrInvalidObjectHandle;
        map->params.pLinearAddress = 0x1000;  // a cookie, as the driver's: never a user address
        return 0;
      }
      case kEscRmAllocMemory:
      case kEscRmUnmapMemory:
      case kEscRmDupObject:
      case kEscRmShare:
      case kEscRmVidHeapControl:
      case kEscRmUpdateDeviceMappingInfo:
        return 0;
      default:
        return -EINVAL;  // RmIoctl's default: unknown escape
    }
  }

  bool Exists(NvHandle client, NvHandle handle) const {
    auto c = clients_.find(client);
    return c != clients_.end() && (handle == client || c->second.objects.contains(handle));
  }

  NvHandle NewHandle() { return 0xcaf00000 + next_handle_++; }

  void Alloc(NVOS21_PARAMETERS* p, bool long_form) {
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
    auto client = clients_.find(p->hRoot);
    if (client == clients_.end()) {
      *status = kNvErrInvalidClient;
      return;
    }
    auto& objects = client->second.objects;
    bool parent_is_client = p->hObjectParent == p->hRoot;
    auto parent = objects.find(p->hObjectParent);
    if (!parent_is_client && parent == objects.end()) {
      *status = kNvErrInvalidObjectParent;
      return;
    }
    bool known = p->hClass == kNv01Device0 || p->hClass == kNv20Subdevice0 ||
                 std::find(std::begin(kGpuClasses), std::end(kGpuClasses), p->hClass) != std::end(kGpuClasses);
    if (!known) {
      *status = kNvErrInvalidClass;
      return;
    }
    // Devices hang off clients, subdevices off devices, everything else off a device's tree.
    bool parent_ok = p->hClass == kNv01Device0     ? parent_is_client
                     : p->hClass == kNv20Subdevice0 ? !parent_is_client && parent->second.cls == kNv01Device0
                                                    : !parent_is_client;
    if (!parent_ok) {
      *status = kNvErrInvalidObjectParent;
      return;
    }
    NvHandle h = p->hObjectNew != 0 ? p->hObjectNew : NewHandle();
    if (objects.contains(h) || h == p->hRoot) {
      *status = kNvErrInsertDuplicateName;
      return;
    }
    objects[h] = Object{p->hObjectParent, p->hClass};
    p->hObjectNew = h;
    *status = kNvOk;
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
    void* params = reinterpret_cast<void*>(p.params);
    auto expect = [&](std::uint32_t size) { return p.paramsSize == size && params != nullptr; };
    switch (p.cmd) {
      case kNv0000CtrlCmdGpuGetAttachedIds: {
        if (!expect(128)) return kNvErrInvalidArgument;
        auto* ids = static_cast<std::uint32_t*>(params);
        for (int i = 0; i < 32; ++i) ids[i] = i < gpu_count_ ? kFirstGpuId + static_cast<std::uint32_t>(i) : 0xffffffff;
        return kNvOk;
      }
      case kNv0000CtrlCmdGpuGetIdInfoV2: {
        if (!expect(32)) return kNvErrInvalidArgument;
        auto* words = static_cast<std::uint32_t*>(params);  // gpuId, flags, device and subdevice instance
        if (words[0] < kFirstGpuId || words[0] >= kFirstGpuId + static_cast<std::uint32_t>(gpu_count_)) {
          return kNvErrInvalidArgument;
        }
        words[2] = words[0] - kFirstGpuId;
        words[3] = 0;
        return kNvOk;
      }
      case kNv0080CtrlCmdGpuGetClasslistV2: {
        if (!expect(804)) return kNvErrInvalidArgument;
        auto* list = static_cast<std::uint32_t*>(params);
        list[0] = std::size(kGpuClasses);
        std::memcpy(list + 1, kGpuClasses, sizeof kGpuClasses);
        return kNvOk;
      }
      case kNv2080CtrlCmdGpuGetNameString: {
        if (!expect(132)) return kNvErrInvalidArgument;
        auto* bytes = static_cast<std::uint8_t*>(params);
        std::memset(bytes + 4, 0, 128);
        std::memcpy(bytes + 4, kGpuName, sizeof kGpuName);
        return kNvOk;
      }
      case kNv2080CtrlCmdGpuGetInfoV2:
        return expect(564) ? kNvOk : kNvErrInvalidArgument;
      case kNv2080CtrlCmdGrGetInfo: {
        if (!expect(32)) return kNvErrInvalidArgument;
        auto* head = static_cast<std::uint32_t*>(params);
        std::uint64_t list_addr;
        std::memcpy(&list_addr, static_cast<std::uint8_t*>(params) + 8, sizeof list_addr);
        auto* list = reinterpret_cast<std::uint32_t*>(list_addr);  // {index, data} pairs
        if (list == nullptr || head[0] == 0) return kNvErrInvalidArgument;
        for (std::uint32_t i = 0; i < head[0]; ++i) list[2 * i + 1] = 132;  // e.g. SM count
        return kNvOk;
      }
      default:
        return kNvErrNotSupported;
    }
  }

  int Uvm(std::uint32_t request, void* arg) {
    if (request == kUvmInitialize) {
      auto* p = As<UVM_INITIALIZE_PARAMS>(arg);
      p->rmStatus = uvm_initialized_ ? kNvErrIllegalAction : kNvOk;
      uvm_initialized_ = true;
      return 0;
    }
    if (request == kUvmDeinitialize) return 0;
    // Routed UVM numbers are small; the rest reach the driver's test ioctl,
    // which is off: ENOSYS.
    if (request == 0 || request >= 0x100) return -ENOSYS;
    return 0;
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
  bool uvm_initialized_ = false;
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
