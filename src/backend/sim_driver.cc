// The simulated 580 driver. What it models and where it simplifies:
//
//  - Escapes check their size and their node the way the driver does (RM
//    objects and controls on nvidiactl only, RM_ALLOC_MEMORY on a GPU node only,
//    OS events and WAIT_OPEN_COMPLETE on either); a refusal there is -EINVAL.
//  - The RM object tree: clients, devices (one per GPU, by deviceId), subdevices
//    and the engine, memory and event classes of an H100, each with the parents
//    the driver's resource list allows (engine classes: a channel only), with
//    the driver's NV_STATUS codes.
//  - Channels and engines: a channel group names the engine its channels run
//    on, and a channel under the device does so itself; a channel in a group
//    may repeat the group's engine and no other. A channel's first engine
//    object puts it on that engine's runlist and later objects must run there
//    (a copy object on a graphics channel runs on its partner copy engine). A
//    video object names its engine instance in its parameters, whose size
//    field must be right. Not modelled: the GPFIFO, USERD and error-notifier
//    memory a channel is given (the sim takes them unchecked), context shares'
//    subcontexts (580.159.04 refuses the 3D class in an asynchronous one with
//    NV_ERR_INVALID_OBJECT, an answer of the GSP firmware), and engines the
//    GPU lacks behind a channel group or channel (the driver takes those too).
//  - Alloc parameters: as RM, the size is the class's own and the caller's
//    paramsSize is not checked; a class whose parameters are required refuses a
//    NULL pointer with NV_ERR_INVALID_ARGUMENT.
//  - Controls: a useful set with real data; any other command answers
//    NV_ERR_NOT_SUPPORTED, as RM does for a command the object's class lacks.
//  - Who is calling, as the driver sees it (each rule cites the driver source
//    where it is applied below). The sim runs in its caller's process, so it
//    applies the rules to its real caller:
//      * per open file (open_file_marks.h): RM clients belong to the file they
//        were allocated through, or the control file it was linked to with
//        REGISTER_FD, and may be named only through it (strict client
//        validation); REGISTER_FD links once and keeps its reference on the
//        control file; ATTACH_GPUS_TO_FD once per file; UVM's va_space and GPU
//        registrations per file of nvidia-uvm. When a file's last reference
//        goes, its clients (with their objects and mappings) and its state are
//        torn down.
//      * per process: a client's ProcID for creating an mmap context; unmap and
//        UPDATE_DEVICE_MAPPING_INFO find only the caller's process's mappings;
//        RM_DUP_OBJECT follows the default PID share policy and RM_SHARE's
//        client and all-clients policies (UVM_REGISTER_GPU would dup the
//        caller's MIG partition from its client, but the sim has no MIG).
//      * the caller's fd table: allocating a device and UVM_REGISTER_GPU need an
//        open file of that GPU in the calling process (osIsGpuAccessible).
//      * the caller's memory: host-memory pinning (NV01_MEMORY_SYSTEM_OS_DESCRIPTOR)
//        takes pages of the calling process's memory (current->mm); the sim
//        checks them there and notes whose they were (SetNotes). Called
//        through Ioctl, that process is the sim's own; IoctlAsCaller makes it
//        the workload thread that made the call.
//      * the caller's capabilities: a client allocated with CAP_SYS_ADMIN is an
//        administrator's (RS_PRIV_LEVEL_USER_ROOT); the sim records it (the call
//        log shows it) but offers no control or class that needs it.
//    Embedded clients RM follows (NV0080 hClientShare and hTargetClient) must
//    name existing clients, of any owner, as RM allows.
//  - RM_ALLOC_MEMORY of system memory to be mapped at once needs an nvidiactl
//    fd for its mmap context, else EINVAL with the memory allocated.
//  - Not modelled: the one-shot mmap context a file holds until its mmap (the
//    workload's mmap of a sim node is native; the driver answers a second
//    context on the same file NV_ERR_STATE_IN_USE), the security-token share policy
//    and PID or GPU share targets, privileged controls and classes, and the
//    per-file state of nvidia-uvm-tools, nvidia-modeset and nvidia-caps.
#include "backend/sim_driver.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <type_traits>

#include <fmt/format.h>

#include "backend/sim_controls_libs.h"
#include "backend/sim_gpu.h"

namespace nvgate::backend {
namespace {

using namespace nv;

constexpr char kGpuName[] = "NVIDIA H100 80GB HBM3 (nvgate sim)";
constexpr char kDriverTitle[] = "nvgate simulated driver";
constexpr NvU32 kFirstGpuId = kFirstSimGpuId;
constexpr NvU64 kFbSize = 80ull << 30;
// The part of the framebuffer RM keeps for itself; the rest is the heap.
constexpr NvU64 kFbReserved = 1ull << 30;
constexpr NvU64 kHeapAlignment = 64 << 10;
constexpr NvU32 kMaxDevices = 32;  // NV_MAX_DEVICES
constexpr NvU64 kUsermodeRegionSize = 64 << 10;  // DRF_SIZE(NVC361)

// Which kinds of parent an allocated class accepts.
enum ParentKind : unsigned {
  kAnyParent = 0,
  kClientParent = 1u << 0,
  kDeviceParent = 1u << 1,
  kSubdeviceParent = 1u << 2,
  kChannelGroupParent = 1u << 3,
  kChannelParent = 1u << 4,
};
// The engines of the simulated H100 (GPU_GET_ENGINES_V2), by NV2080 engine type.
constexpr NvU32 kSimEngines[] = {kNv2080EngineTypeGraphics, kNv2080EngineTypeCopy0, kNv2080EngineTypeBsp,
                                 kNv2080EngineTypeNvjpg, kNv2080EngineTypeOfa};

bool SimHasEngine(NvU32 type) {
  return std::find(std::begin(kSimEngines), std::end(kSimEngines), type) != std::end(kSimEngines);
}

// RM_ENGINE_TYPE_IS_VALID after gpuGetRmEngineType: any type between NULL and
// NV2080_ENGINE_TYPE_LAST, whether or not the GPU has that engine.
bool ValidEngineType(NvU32 type) { return type > 0 && type < kNv2080EngineTypeLast; }

struct ClassInfo {
  NvV32 cls;
  unsigned parents;
  bool params_required;
};

// The classes the simulated H100 offers (and its class list reports), with the
// parents src/nvidia/src/kernel/rmapi/resource_list.h gives them (engine
// classes: KernelChannel only, e.g. lines 2059-2062 for HOPPER_COMPUTE_A,
// 1646-1649 for NVB8B0), checked by src/nvidia/src/kernel/rmapi/alloc_free.c:829-840.
constexpr ClassInfo kClasses[] = {
    {kNv01Event, kAnyParent, true},
    {kNv01EventOsEvent, kAnyParent, true},
    {kNv01MemorySystem, kDeviceParent, true},
    {kNv01MemoryLocalUser, kDeviceParent | kSubdeviceParent, true},
    {kNv01MemoryVirtual, kDeviceParent, true},
    {kNv50MemoryVirtual, kDeviceParent, true},
    {kFermiVaspaceA, kDeviceParent | kSubdeviceParent, true},
    {kKeplerChannelGroupA, kDeviceParent, true},
    {kFermiContextShareA, kChannelGroupParent, true},
    {kHopperChannelGpfifoA, kDeviceParent | kChannelGroupParent, true},
    {kHopperComputeA, kChannelParent, false},
    {kHopperA, kChannelParent, false},
    {kHopperDmaCopyA, kChannelParent, false},
    {kHopperUsermodeA, kSubdeviceParent, false},
    {kNvb8b0VideoDecoder, kChannelParent, false},
    {kNvb8d1VideoNvjpg, kChannelParent, false},
    {kNvb8faVideoOfa, kChannelParent, false},
    {kGt200Debugger, kDeviceParent, true},
    // resource_list.h:439-450: under a subdevice, parameters optional; its
    // controls go to the GSP firmware (GspForwardedAnswer). An H200's class
    // list names it (docs/gpu-validation.md, run 2).
    {abi::kBinapiClass, kSubdeviceParent, false},
    // resource_list.h:757-766: under a subdevice, parameters optional.
    {kNv50ThirdPartyP2p, kSubdeviceParent, false},
};

const ClassInfo* FindClass(NvV32 cls) {
  for (const ClassInfo& c : kClasses) {
    if (c.cls == cls) return &c;
  }
  return nullptr;
}

ParentKind KindOfClass(NvV32 cls) {
  switch (cls) {
    case kNv01Root: return kClientParent;
    case kNv01Device0: return kDeviceParent;
    case kNv20Subdevice0: return kSubdeviceParent;
    case kKeplerChannelGroupA: return kChannelGroupParent;
    case kHopperChannelGpfifoA: return kChannelParent;
    default: return kAnyParent;
  }
}

// The video classes, whose parameters name their engine: the NV2080 type of
// their first instance; 0 for any other class.
NvU32 VideoEngineFamily(NvV32 cls) {
  switch (cls) {
    case kNvb8b0VideoDecoder: return kNv2080EngineTypeBsp;
    case kNvb8d1VideoNvjpg: return kNv2080EngineTypeNvjpg;
    case kNvb8faVideoOfa: return kNv2080EngineTypeOfa;
    default: return 0;
  }
}

bool IsMemoryClass(NvV32 cls) { return cls == kNv01MemorySystem || cls == kNv01MemoryLocalUser; }

bool IsRootClass(NvV32 cls) { return cls == kNv01Root || cls == kNv01RootNonPriv || cls == kNv01RootClient; }

// A control command belongs to the class in its top 16 bits. Objects also answer
// the commands of the classes they derive from (a Hopper channel is a C36F one)
// and those every channel exports (NV906F's: src/nvidia/generated/
// g_kernel_channel_nvoc.c:258 at 580.142).
bool Answers(NvV32 object_class, NvV32 cmd_class) {
  if (cmd_class == object_class) return true;
  return object_class == kHopperChannelGpfifoA && (cmd_class == 0xc36f || cmd_class == 0x906f);
}

// The NV2080 engine an engine object on a channel runs on, as
// gpuXlateEngDescToClientEngineId names its engine descriptor: graphics for
// compute and 3D, the sim's one copy engine for copies, the video engines'
// first instance.
NvU32 ObjectEngine(NvV32 cls) {
  if (NvU32 family = VideoEngineFamily(cls); family != 0) return family;
  return cls == kHopperDmaCopyA ? kNv2080EngineTypeCopy0 : kNv2080EngineTypeGraphics;
}

// GR_GET_INFO answers of an H100 SXM (132 of 144 SMs enabled).
NvU32 GrInfo(NvU32 index) {
  switch (index) {
    case kNv0080CtrlGrInfoIndexShaderPipeCount: return 66;
    case kNv0080CtrlGrInfoIndexSmVersion: return kNv2080CtrlGrInfoSmVersion9_00;
    case kNv0080CtrlGrInfoIndexMaxWarpsPerSm: return 64;
    case kNv0080CtrlGrInfoIndexLitterNumGpcs: return 8;
    case kNv0080CtrlGrInfoIndexLitterNumTpcPerGpc: return 9;
    case kNv0080CtrlGrInfoIndexLitterNumSmPerTpc: return 2;
    default: return 0;
  }
}

template <typename T>
T* As(void* arg) {
  return static_cast<T*>(arg);
}

// The driver's os_is_administrator(): CAP_SYS_ADMIN in the caller's effective
// set (kernel-open/nvidia/os-interface.c, capable(CAP_SYS_ADMIN)). A
// capability inside a user namespace of its own would not count; the sim
// reads the thread's effective set, which is what nvgate's supervisor holds.
bool CallerIsAdministrator() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

constexpr NvU64 kPageSize = 4096;

// Reads (or, with `write`, writes) `buf` at `addr` in process or thread `pid`.
bool CopyWithProcess(pid_t pid, std::uint64_t addr, std::span<std::byte> buf, bool write) {
  if (buf.empty()) return true;
  iovec local{buf.data(), buf.size()};
  iovec remote{reinterpret_cast<void*>(addr), buf.size()};
  ssize_t n = write ? ::process_vm_writev(pid, &local, 1, &remote, 1, 0)
                    : ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(buf.size());
}

// /proc/TID/status's Tgid, or `tid` itself when it cannot be read.
pid_t ThreadGroupOf(pid_t tid) {
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Tgid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 5));
  }
  return tid;
}

// Whether [begin, begin+size) is mapped in `pid`'s memory (writable too, when
// asked): what pin_user_pages needs of every page (FOLL_WRITE without
// FOLL_FORCE for a writable pin). Device mappings (VM_IO, VM_PFNMAP) are not
// told apart: the driver's os_lookup_user_io_memory fallback for them
// (escape.c:167-175) is not modelled.
bool MappedIn(pid_t pid, NvU64 begin, NvU64 size, bool writable) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  NvU64 covered = begin;
  const NvU64 end = begin + size;
  std::string line;
  while (covered < end && std::getline(maps, line)) {
    unsigned long lo = 0;
    unsigned long hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
    if (hi <= covered) continue;
    if (lo > covered || perms[0] != 'r' || (writable && perms[1] != 'w')) return false;
    covered = hi;
  }
  return covered >= end;
}

// FNV-1a over [begin, begin+size) of `pid`'s memory; nullopt once unreadable.
std::optional<std::uint64_t> DigestOf(pid_t pid, NvU64 begin, NvU64 size) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  std::vector<std::byte> chunk(1u << 20);
  for (NvU64 at = 0; at < size; at += chunk.size()) {
    std::span<std::byte> part(chunk.data(), static_cast<std::size_t>(std::min<NvU64>(chunk.size(), size - at)));
    if (!CopyWithProcess(pid, begin + at, part, false)) return std::nullopt;
    for (std::byte b : part) hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001b3ull;
  }
  return hash;
}

}  // namespace

SimDriver::SimDriver(std::string version, int gpu_count, std::function<NodeId(int fd)> identify)
    : version_(std::move(version)),
      gpu_count_(gpu_count),
      identify_(std::move(identify)),
      branch_(version_),
      vidmem_used_(static_cast<std::size_t>(gpu_count), 0),
      compute_reservation_(static_cast<std::size_t>(gpu_count), 0) {
  // Another process's client on another file: no caller of this sim can name
  // it as its own (no file matches), and its ProcID is nobody's here.
  clients_[kOtherTenantClient].proc_id = -1;
}

SimDriver::~SimDriver() = default;

std::optional<bool> SimDriver::ClientIsAdmin(NvHandle client) {
  std::lock_guard lock(mu_);
  auto c = clients_.find(client);
  if (c == clients_.end()) return std::nullopt;
  return c->second.admin;
}

std::optional<SimDriver::Caller> SimDriver::CallerOf(int fd, abi::DeviceKind device) {
  NodeId node = identify_(fd);
  if (node.kind != device) return std::nullopt;
  bool is_new = false;
  std::optional<std::uint64_t> id = marks_.Identify(fd, is_new);
  if (!id) return std::nullopt;
  OpenFile& file = files_[*id];
  if (is_new) file = OpenFile{.node = node};
  // Calls on a file linked by REGISTER_FD act for the control file
  // (src/nvidia/arch/nvalloc/unix/src/escape.c:308-310, clientOSInfo).
  return Caller{*id, &file, file.ctl_link != 0 ? file.ctl_link : *id, ::getpid()};
}

// The driver's release callback runs when a file's last reference goes
// (kernel-open/nvidia/nv.c, nvidia_close -> rm_cleanup_file_private in
// src/nvidia/arch/nvalloc/unix/src/osapi.c:2858-2935): it frees every RM
// client allocated through the file and drops the file's UVM and REGISTER_FD
// state. The sim finds released files at the start of each call.
void SimDriver::TearDownReleasedFiles() {
  for (bool released = true; released;) {
    released = false;
    std::vector<std::uint64_t> gone;
    for (const auto& [id, file] : files_) {
      if (!marks_.Alive(id)) gone.push_back(id);
    }
    for (std::uint64_t id : gone) {
      // Dropping a REGISTER_FD reference can release its control file in turn.
      released |= static_cast<bool>(files_[id].ctl_link_fd);
      ReleaseFile(id);
    }
  }
}

void SimDriver::ReleaseFile(std::uint64_t id) {
  for (auto c = clients_.begin(); c != clients_.end();) {
    if (c->second.os_info == id) {
      NvHandle client = c->first;
      std::erase_if(mappings_, [&](const auto& m) { return m.second.client == client; });
      c = clients_.erase(c);
    } else {
      ++c;
    }
  }
  files_.erase(id);
  marks_.Forget(id);
}

// rmclientValidate with PDB_PROP_SYS_VALIDATE_CLIENT_HANDLE_STRICT
// (src/nvidia/src/kernel/rmapi/client.c:738-765): a user client may only be
// named through the file it was allocated on (pOSInfo == clientOSInfo).
NvV32 SimDriver::ValidateClient(const Caller& caller, NvHandle client) const {
  auto c = clients_.find(client);
  if (c == clients_.end() || c->second.os_info != caller.os_info) return kNvErrInvalidClient;
  return kNvOk;
}

// osIsGpuAccessible -> nv_is_gpu_accessible (kernel-open/nvidia/nv.c:5762-5791):
// iterate_fd over current->files for an open file of that GPU's device node.
// The sim is its caller's process, so it looks at its own fd table, less the
// probes it keeps for its own bookkeeping (open_file_marks.h).
bool SimDriver::CallerHoldsGpu(int gpu) const {
  std::vector<int> probes = marks_.ProbeFds();
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  bool found = false;
  while (const dirent* e = ::readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (e->d_name[0] == '.' || fd == ::dirfd(dir) || std::find(probes.begin(), probes.end(), fd) != probes.end()) {
      continue;
    }
    NodeId node = identify_(fd);
    if (node.kind == abi::DeviceKind::kGpu && node.gpu == gpu) {
      found = true;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

std::vector<std::uint8_t> SimDriver::GpuUuid(int index) {
  // "nvgate-sim", then the GPU's index: recognisable in nvidia-smi -L style output.
  return {0x6e, 0x76, 0x67, 0x61, 0x74, 0x65, 0x2d, 0x73, 0x69, 0x6d, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(index)};
}

int SimDriver::GpuOfUuid(const std::uint8_t* uuid) const {
  for (int i = 0; i < gpu_count_; ++i) {
    if (std::memcmp(GpuUuid(i).data(), uuid, 16) == 0) return i;
  }
  return -1;
}

int SimDriver::Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg) {
  std::lock_guard lock(mu_);
  TearDownReleasedFiles();
  // The driver is always called on one of its own files; anything else is a
  // bug in whoever called the sim.
  std::optional<Caller> caller = CallerOf(fd, device);
  if (!caller) return -EBADF;
  switch (device) {
    case abi::DeviceKind::kCtl:
    case abi::DeviceKind::kGpu:
      return Frontend(*caller, device, _IOC_NR(request), _IOC_SIZE(request), arg);
    case abi::DeviceKind::kUvm:
      if (auto own = branch_.Uvm(request, arg)) return Uvm(*caller->state, request, own->data());
      return Uvm(*caller->state, request, arg);
    case abi::DeviceKind::kUvmTools:
      return -EINVAL;  // no tools command is modelled: refused as an unknown one
    default:
      return -ENOTTY;
  }
}

int SimDriver::IoctlAsCaller(int fd, abi::DeviceKind device, std::uint32_t request, std::uint64_t arg, pid_t tid,
                             std::vector<std::byte>& params) {
  params.assign(_IOC_SIZE(request), std::byte{0});
  if (!CopyWithProcess(tid, arg, params, false)) return -EFAULT;
  int rc;
  {
    std::lock_guard lock(mu_);
    TearDownReleasedFiles();
    std::optional<Caller> caller = CallerOf(fd, device);
    if (!caller || !abi::IsFrontend(device)) return -EBADF;
    caller->process = ThreadGroupOf(tid);
    rc = Frontend(*caller, device, _IOC_NR(request), _IOC_SIZE(request), params.data());
  }
  if (!CopyWithProcess(tid, arg, params, true)) return -EFAULT;
  return rc;
}

int SimDriver::Frontend(Caller& caller, abi::DeviceKind device, std::uint32_t nr, std::uint32_t size, void* arg) {
  const bool ctl = device == abi::DeviceKind::kCtl;
  // Most escapes accept exactly their struct, and only on one kind of node.
  auto fits = [&]<typename T>(T*& out, bool node_ok) {
    out = static_cast<T*>(arg);
    return size == sizeof(T) && node_ok;
  };
  switch (nr) {
    case kEscCheckVersionStr: {
      nv_ioctl_rm_api_version_t* v;
      return fits(v, ctl) ? VersionCheck(*v) : -EINVAL;
    }
    case kEscCardInfo:
      return ctl ? CardInfo(arg, size) : -EINVAL;
    case kEscAttachGpusToFd:
      return ctl ? AttachGpus(caller, arg, size) : -EINVAL;
    case kEscRegisterFd: {
      nv_ioctl_register_fd_t* r;
      return fits(r, true) ? RegisterFd(caller, *r) : -EINVAL;
    }
    case kEscSysParams: {
      nv_ioctl_sys_params_t* p;
      if (!fits(p, ctl)) return -EINVAL;
      // The memory block size is set once; a different one later is refused.
      if (memblock_size_ == 0) memblock_size_ = p->memblock_size;
      return memblock_size_ == p->memblock_size ? 0 : -EBUSY;
    }
    case kEscWaitOpenComplete: {
      nv_ioctl_wait_open_complete_t* w;
      if (!fits(w, true)) return -EINVAL;
      *w = {0, 0};
      return 0;
    }
    case kEscAllocOsEvent:
    case kEscFreeOsEvent: {
      nv_ioctl_alloc_os_event_t* e;
      if (!fits(e, true)) return -EINVAL;
      e->Status = kNvOk;
      return 0;
    }
    case kEscRmAlloc: {
      if (size != sizeof(NVOS21_PARAMETERS) && size != sizeof(NVOS64_PARAMETERS)) return -EINVAL;
      auto* p = As<NVOS21_PARAMETERS>(arg);
      // OS events may be allocated through a GPU file; everything else on nvidiactl.
      bool event = p->hClass == kNv01Event || p->hClass == kNv01EventOsEvent;
      if (!ctl && !event) return -EINVAL;
      // NVOS21 and NVOS64 agree up to pAllocParms; the status moves.
      NvV32 status = Alloc(caller, *p, p->pAllocParms);
      if (size == sizeof(NVOS64_PARAMETERS)) {
        As<NVOS64_PARAMETERS>(arg)->status = status;
      } else {
        p->status = status;
      }
      return 0;
    }
    case kEscRmFree: {
      NVOS00_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = Free(caller, *p);
      return 0;
    }
    case kEscRmControl: {
      NVOS54_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = Control(caller, *p);
      return 0;
    }
    case kEscRmAllocMemory: {
      nv_ioctl_nvos02_parameters_with_fd* p;
      if (!fits(p, !ctl)) return -EINVAL;
      p->params.status = AllocMemory(caller, p->params);
      // src/nvidia/arch/nvalloc/unix/src/escape.c:338-358: system memory to
      // be mapped at once gets its mmap context now, on the file `fd` names,
      // which must be an open nvidiactl (kernel-open/nvidia/nv-usermap.c:45-47,
      // kernel-open/nvidia/nv.c:4081-4099), for a client of the calling process
      // (src/nvidia/arch/nvalloc/unix/src/osapi.c:2378). Otherwise the ioctl
      // fails with EINVAL (nv.c:2758-2759) though the memory was allocated and
      // its status says NV_OK (so on 580.159.04 with fd -1).
      const NvU32 flags = p->params.flags;
      const bool mapped_now = p->params.hClass == kNv01MemorySystem &&
                              (flags & kNvos02FlagsAllocMask) != kNvos02FlagsAllocNone &&
                              (flags & kNvos02FlagsMappingMask) != kNvos02FlagsMappingNoMap;
      if (p->params.status == kNvOk && mapped_now &&
          (identify_(p->fd).kind != abi::DeviceKind::kCtl || clients_.at(p->params.hRoot).proc_id != ::getpid())) {
        return -EINVAL;
      }
      return 0;
    }
    case kEscRmVidHeapControl: {
      NVOS32_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = VidHeap(caller, *p);
      return 0;
    }
    case kEscRmMapMemory: {
      nv_ioctl_nvos33_parameters_with_fd* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->params.status = Map(caller, *p);
      return 0;
    }
    case kEscRmUnmapMemory: {
      NVOS34_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = Unmap(caller, *p);
      return 0;
    }
    case kEscRmDupObject: {
      NVOS55_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = Dup(caller, *p);
      return 0;
    }
    case kEscRmShare: {
      NVOS57_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = Share(caller, *p);
      return 0;
    }
    case kEscRmUpdateDeviceMappingInfo: {
      NVOS56_PARAMETERS* p;
      if (!fits(p, ctl)) return -EINVAL;
      p->status = UpdateMappingInfo(caller, *p);
      return 0;
    }
    default:
      return -EINVAL;  // the driver's answer to an escape it does not know
  }
}

int SimDriver::VersionCheck(nv_ioctl_rm_api_version_t& v) const {
  // The driver always says it recognised the request, and on a mismatch hands
  // back its own version so that the caller can report it.
  v.reply = kRmApiVersionReplyRecognized;
  auto own = [&] {
    std::memset(v.versionString, 0, sizeof v.versionString);
    std::memcpy(v.versionString, version_.data(), std::min(version_.size(), sizeof v.versionString - 1));
  };
  if (v.cmd == kRmApiVersionCmdQuery) {
    own();
    return 0;
  }
  std::string_view theirs(v.versionString, strnlen(v.versionString, sizeof v.versionString));
  bool match = v.cmd == kRmApiVersionCmdRelaxed
                   ? theirs.substr(0, theirs.find('.')) == std::string_view(version_).substr(0, version_.find('.'))
                   : theirs == version_;
  if (match) return 0;
  own();
  return -EINVAL;
}

int SimDriver::CardInfo(void* arg, std::uint32_t size) const {
  std::size_t n = size / sizeof(nv_ioctl_card_info_t);
  auto* cards = As<nv_ioctl_card_info_t>(arg);
  std::memset(cards, 0, n * sizeof(nv_ioctl_card_info_t));
  if (n < static_cast<std::size_t>(gpu_count_)) return -EINVAL;
  for (int i = 0; i < gpu_count_; ++i) {
    auto u = static_cast<std::uint32_t>(i);
    cards[i].valid = 1;
    cards[i].pci_info.bus = static_cast<std::uint8_t>(kFirstSimGpuBus + i);
    cards[i].pci_info.vendor_id = kNvidiaVendorId;
    cards[i].pci_info.device_id = kH100DeviceId;
    cards[i].gpu_id = kFirstGpuId + u;
    cards[i].reg_address = SimGpuRegAddress(u);
    cards[i].reg_size = kSimGpuRegSize;
    cards[i].fb_address = SimGpuFbAddress(u);
    cards[i].fb_size = kSimGpuFbSize;  // BAR1
    cards[i].minor_number = u;
  }
  return 0;
}

// kernel-open/nvidia/nv.c:2532-2580: once per file, then every nonzero id
// must be a GPU of the system.
int SimDriver::AttachGpus(Caller& caller, const void* arg, std::uint32_t size) const {
  if (size == 0 || size % sizeof(NvU32) != 0) return -EINVAL;
  if (caller.state->gpus_attached) return -EINVAL;
  const auto* ids = static_cast<const NvU32*>(arg);
  for (std::size_t i = 0; i < size / sizeof(NvU32); ++i) {
    // Zero entries are skipped; any other must be a GPU of the system.
    if (ids[i] != 0 && (ids[i] < kFirstGpuId || ids[i] >= kFirstGpuId + static_cast<NvU32>(gpu_count_))) {
      return -EINVAL;
    }
  }
  caller.state->gpus_attached = true;
  return 0;
}

// REGISTER_FD (src/nvidia/arch/nvalloc/unix/src/escape.c:844-927): ctl_fd is
// looked up in the caller's fd table and must be a control file; a file links
// once, never to itself or to a file that is itself linked; the driver keeps
// its reference on the control file until this file is released. Every
// failure is -EINVAL at the ioctl.
int SimDriver::RegisterFd(Caller& caller, const nv_ioctl_register_fd_t& r) {
  if (caller.state->ctl_link != 0) return -EINVAL;
  if (identify_(r.ctl_fd).kind != abi::DeviceKind::kCtl) return -EINVAL;
  bool is_new = false;
  std::optional<std::uint64_t> ctl = marks_.Identify(r.ctl_fd, is_new);
  if (!ctl || *ctl == caller.file) return -EINVAL;
  OpenFile& ctl_file = files_[*ctl];
  if (is_new) ctl_file = OpenFile{.node = identify_(r.ctl_fd)};
  if (ctl_file.ctl_link != 0) return -EINVAL;
  fd::OwnedFd reference(::fcntl(r.ctl_fd, F_DUPFD_CLOEXEC, 0));
  if (!reference) return -ENOMEM;
  caller.state->ctl_link = *ctl;
  caller.state->ctl_link_fd = std::move(reference);
  return 0;
}

const SimDriver::Object* SimDriver::Find(NvHandle client, NvHandle handle) const {
  auto c = clients_.find(client);
  if (c == clients_.end()) return nullptr;
  auto o = c->second.objects.find(handle);
  return o == c->second.objects.end() ? nullptr : &o->second;
}

// The class of `handle` in `client`: the client itself counts as NV01_ROOT.
NvV32 SimDriver::ClassOf(NvHandle client, NvHandle handle) const {
  if (handle == client) return kNv01Root;
  const Object* o = Find(client, handle);
  return o == nullptr ? ~NvV32{0} : o->cls;
}

NvV32 SimDriver::Insert(NvHandle client, NvHandle& handle, const Object& object) {
  auto c = clients_.find(client);
  if (c == clients_.end()) return kNvErrInvalidClient;
  if (object.parent != client && !c->second.objects.contains(object.parent)) return kNvErrInvalidObjectParent;
  NvHandle h = handle != 0 ? handle : NewHandle();
  if (h == client || c->second.objects.contains(h)) return kNvErrInsertDuplicateName;
  c->second.objects.emplace(h, object);
  handle = h;
  return kNvOk;
}

NvV32 SimDriver::Alloc(const Caller& caller, NVOS21_PARAMETERS& p, NvP64 params) {
  if (IsRootClass(p.hClass)) {
    // Every user client becomes NV01_ROOT_CLIENT; a zero handle gets one made up.
    p.hClass = kNv01RootClient;
    NvHandle h = p.hObjectNew != 0 ? p.hObjectNew : 0xc1d00000 + next_handle_++;
    if (clients_.contains(h)) return kNvErrInsertDuplicateName;
    // rmclientConstruct (src/nvidia/src/kernel/rmapi/client.c:91-112) records
    // the file (pOSInfo), the privilege level (escape.c:304) and the process.
    Client& client = clients_[h];
    client.os_info = caller.os_info;
    client.proc_id = ::getpid();
    client.admin = CallerIsAdministrator();
    p.hObjectNew = h;
    return kNvOk;
  }
  const ClassInfo* info = FindClass(p.hClass);
  const bool device = p.hClass == kNv01Device0, subdevice = p.hClass == kNv20Subdevice0;
  if (info == nullptr && !device && !subdevice) return kNvErrInvalidClass;
  // RM copies the class's own parameter size; a device always needs its id.
  if (params == 0 && (device || (info != nullptr && info->params_required))) return kNvErrInvalidArgument;
  if (NvV32 s = ValidateClient(caller, p.hRoot); s != kNvOk) return s;
  NvV32 parent_class = ClassOf(p.hRoot, p.hObjectParent);
  if (parent_class == ~NvV32{0}) return kNvErrInvalidObjectParent;
  unsigned allowed = device ? kClientParent : subdevice ? kDeviceParent : info->parents;
  if (allowed != kAnyParent && (allowed & KindOfClass(parent_class)) == 0) return kNvErrInvalidObjectParent;

  Object object{p.hObjectParent, p.hClass, -1};
  if (p.hObjectParent != p.hRoot) object.gpu = Find(p.hRoot, p.hObjectParent)->gpu;
  if (device) {
    const auto* device_params = reinterpret_cast<const NV0080_ALLOC_PARAMETERS*>(params);
    // src/nvidia/src/kernel/gpu/device.c:119-122: an instance without a GPU
    // is an invalid class.
    NvU32 id = device_params->deviceId;
    if (id >= kMaxDevices || id >= static_cast<NvU32>(gpu_count_)) return kNvErrInvalidClass;
    // The VA-space share client and the target client are looked up as
    // clients of RM (device.c:99-100, deviceSetClientShare): any client,
    // whoever allocated it, which is why nvgate checks them itself.
    for (NvHandle other : {device_params->hClientShare, device_params->hTargetClient}) {
      if (other != 0 && !clients_.contains(other)) return kNvErrInvalidClient;
    }
    // device.c:140-149: a user caller must hold an open file of that GPU.
    if (!CallerHoldsGpu(static_cast<int>(id))) return kNvErrInsufficientPermissions;
    object.gpu = static_cast<int>(id);
  }
  // An event's source lives in hParentClient, the allocating client when 0
  // (src/nvidia/src/kernel/rmapi/event.c:62-70); any client of RM, whoever
  // allocated it.
  if ((p.hClass == kNv01Event || p.hClass == kNv01EventOsEvent) && params != 0) {
    NvHandle parent_client = reinterpret_cast<const NV0005_ALLOC_PARAMETERS*>(params)->hParentClient;
    if (parent_client != 0 && !clients_.contains(parent_client)) return kNvErrInvalidClient;
  }
  // One subdevice per simulated device (no SLI).
  if (subdevice && params != 0 && reinterpret_cast<const NV2080_ALLOC_PARAMETERS*>(params)->subDeviceId != 0) {
    return kNvErrInvalidArgument;
  }
  if (p.hClass == kKeplerChannelGroupA || p.hClass == kHopperChannelGpfifoA) {
    if (NvV32 s = ChannelEngine(p, params, object.engine); s != kNvOk) return s;
  }
  if (p.hClass == kHopperChannelGpfifoA) object.chid = FreeChid(object.gpu, object.engine);
  // src/nvidia/src/kernel/gpu/fifo/usermode_api.c:61-97 (580.142): the
  // doorbell page mapped through BAR1 when asked, else through BAR0.
  if (p.hClass == kHopperUsermodeA && params != 0) {
    object.bar1_mapping = reinterpret_cast<const NV_HOPPER_USERMODE_A_PARAMS*>(params)->bBar1Mapping != 0;
  }
  // src/nvidia/src/kernel/gpu/bus/third_party_p2p.c:94-135 (580.142): the
  // type in the flags, PROPRIETARY (0) without parameters. BAR1 is for a GPU
  // whose CPU mappings are not coherent, as a PCIe card's; NVLINK needs
  // coherent ones; PROPRIETARY is not supported; type 3 is no type.
  if (p.hClass == kNv50ThirdPartyP2p) {
    NvU32 type = params == 0 ? kNv503cAllocParametersFlagsTypeProprietary
                             : reinterpret_cast<const NV503C_ALLOC_PARAMETERS*>(params)->flags & 0x3;
    if (type == kNv503cAllocParametersFlagsTypeNvlink) return kNvErrInvalidState;
    if (type == kNv503cAllocParametersFlagsTypeProprietary) return kNvErrNotSupported;
    if (type != kNv503cAllocParametersFlagsTypeBar1) return kNvErrInvalidArgument;
  }
  // Video memory allocated as an object (src/nvidia/src/kernel/mem_mgr/
  // video_mem.c:533, vidmemConstruct) comes from the same heap as
  // VID_HEAP_CONTROL's; its size, offset and limit are written back as there.
  if (p.hClass == kNv01MemoryLocalUser) {
    auto* memory = reinterpret_cast<NV_MEMORY_ALLOCATION_PARAMS*>(params);
    if (NvV32 s = HeapAlloc(object.gpu, memory->size, memory->alignment, memory->offset); s != kNvOk) return s;
    object.size = memory->size;
    memory->limit = memory->offset + memory->size - 1;
  }
  // System memory allocated as an object: its pages (4 KiB, RM_PAGE_SIZE, for
  // the default page size), the limit written back
  // (src/nvidia/src/kernel/mem_mgr/system_mem.c:144-252).
  if (p.hClass == kNv01MemorySystem) {
    auto* memory = reinterpret_cast<NV_MEMORY_ALLOCATION_PARAMS*>(params);
    if (memory->size == 0) return kNvErrInvalidArgument;
    object.size = (memory->size + 4095) / 4096 * 4096;
    memory->limit = object.size - 1;
  }
  NvU32 runlist = 0;
  if (info != nullptr && info->parents == kChannelParent) {
    if (NvV32 s = EngineObjectRunlist(p, params, runlist); s != kNvOk) return s;
  }
  NvV32 s = Insert(p.hRoot, p.hObjectNew, object);
  if (s == kNvOk && runlist != 0) clients_.at(p.hRoot).objects.at(p.hObjectParent).runlist = runlist;
  return s;
}

// A new channel's ID: the lowest one no channel on the same runlist holds
// (src/nvidia/src/kernel/gpu/fifo/kernel_fifo.c:569, kfifoChidMgrAllocChid,
// growing up; Ampere on has a channel RAM per runlist).
NvU32 SimDriver::FreeChid(int gpu, NvU32 engine) const {
  std::set<NvU32> taken;
  for (const auto& [handle, client] : clients_) {
    for (const auto& [h, o] : client.objects) {
      if (o.cls == kHopperChannelGpfifoA && o.gpu == gpu && o.engine == engine) taken.insert(o.chid);
    }
  }
  NvU32 chid = 0;
  while (taken.contains(chid)) ++chid;
  return chid;
}

// The engine a channel group, or a channel, is bound to.
NvV32 SimDriver::ChannelEngine(const NVOS21_PARAMETERS& p, NvP64 params, NvU32& engine) const {
  if (p.hClass == kKeplerChannelGroupA) {
    // src/nvidia/src/kernel/gpu/fifo/kernel_channel_group_api.c:161-170: with a
    // channel RAM per runlist (Ampere on) a group must name a valid engine, the
    // one whose runlist its channels go on.
    engine = reinterpret_cast<const NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS*>(params)->engineType;
    return ValidEngineType(engine) ? kNvOk : kNvErrInvalidArgument;
  }
  const NvU32 wanted = reinterpret_cast<const NV_CHANNEL_ALLOC_PARAMS*>(params)->engineType;
  if (ClassOf(p.hRoot, p.hObjectParent) == kNv01Device0) {
    // src/nvidia/src/kernel/gpu/fifo/kernel_channel.c:353-394: a channel under
    // the device gets a channel group of its own, made with the channel's
    // engineType, which the group's construct checks as above.
    engine = wanted;
    return ValidEngineType(engine) ? kNvOk : kNvErrInvalidArgument;
  }
  // kernel_channel.c:698-746: in a group, a channel's own engineType may be
  // left out (NULL); given, it must be the group's.
  engine = Find(p.hRoot, p.hObjectParent)->engine;
  return !ValidEngineType(wanted) || wanted == engine ? kNvOk : kNvErrInvalidArgument;
}

// An engine object on a channel (a ChannelDescendant): the engine that runs
// it, whose runlist the channel is then on, if the channel can be.
NvV32 SimDriver::EngineObjectRunlist(const NVOS21_PARAMETERS& p, NvP64 params, NvU32& runlist) const {
  const Object& channel = *Find(p.hRoot, p.hObjectParent);
  NvU32 engine = kNv2080EngineTypeGraphics;  // compute and 3D
  if (NvU32 family = VideoEngineFamily(p.hClass); family != 0) {
    // The video classes name their engine in their parameters
    // (src/nvidia/src/kernel/gpu/nvdec/kernel_nvdec_engdesc.c:68-77 and 96-131,
    // nvjpg/kernel_nvjpg_engdesc.c:59-68, ofa/kernel_ofa_engdesc.c:61-70): no
    // parameters, or a size other than the struct's, is no engine, and
    // channel_descendant.c:159-201 answers a class without an engine, or one
    // the GPU lacks, NV_ERR_INVALID_CLASS (on 580.159.04 an H200, which has no
    // NVDEC0, answers so for a decoder on instance 0).
    const auto* video = reinterpret_cast<const NV_BSP_ALLOCATION_PARAMETERS*>(params);
    if (video == nullptr || video->size != sizeof(NV_BSP_ALLOCATION_PARAMETERS)) return kNvErrInvalidClass;
    // The sim has the first instance of each video engine only.
    engine = video->engineInstance == 0 ? family : 0;
    if (!SimHasEngine(engine)) return kNvErrInvalidClass;
  } else if (p.hClass == kHopperDmaCopyA && channel.engine != kNv2080EngineTypeGraphics) {
    // A copy object on a graphics channel runs on the graphics engine's
    // partner copy engine, on its runlist (channel_descendant.c:132-145).
    engine = kNv2080EngineTypeCopy0;
  }
  // src/nvidia/src/kernel/gpu/fifo/channel_descendant.c:242-251 and
  // arch/maxwell/kernel_fifo_gm107.c:409-417: the first engine object puts
  // the channel on its engine's runlist (whatever engineType the channel was
  // given: on 580.159.04 a compute object goes on a fresh NVDEC channel); an
  // object of an engine on another runlist is then NV_ERR_INVALID_STATE.
  if (channel.runlist != 0 && channel.runlist != engine) return kNvErrInvalidState;
  runlist = engine;
  return kNvOk;
}

NvV32 SimDriver::AllocMemory(const Caller& caller, NVOS02_PARAMETERS& p) {
  // src/nvidia/arch/nvalloc/unix/src/escape.c:328-331 at 580.142.
  if (p.hClass == kNv01MemorySystemOsDescriptor) return AllocOsDescriptor(caller, p);
  // Of the rest of the legacy allocation path only plain system memory is modelled.
  if (p.hClass != kNv01MemorySystem) return kNvErrInvalidClass;
  if (NvV32 s = ValidateClient(caller, p.hRoot); s != kNvOk) return s;
  if (ClassOf(p.hRoot, p.hObjectParent) != kNv01Device0) return kNvErrInvalidObjectParent;
  Object object{p.hObjectParent, p.hClass, Find(p.hRoot, p.hObjectParent)->gpu, p.limit + 1};
  return Insert(p.hRoot, p.hObjectNew, object);
}

// RmAllocOsDescriptor and RmCreateOsDescriptor
// (src/nvidia/arch/nvalloc/unix/src/escape.c:134-270 at 580.142): the flags,
// then the pin of pMemory..pMemory+limit in current->mm
// (kernel-open/nvidia/os-mlock.c:216-308: every page or none), then RM's
// allocation, which unpins again when it fails (escape.c:181-191).
NvV32 SimDriver::AllocOsDescriptor(const Caller& caller, NVOS02_PARAMETERS& p) {
  const NvU32 coherency = (p.flags & kNvos02FlagsCoherencyMask) >> kNvos02FlagsCoherencyShift;
  if ((p.flags & kNvos02FlagsLocationMask) != 0 ||
      (p.flags & kNvos02FlagsMappingMask) != kNvos02FlagsMappingNoMap) {
    return kNvErrInvalidFlags;  // escape.c:212-218
  }
  if (coherency != kNvos02FlagsCoherencyCached && coherency != kNvos02FlagsCoherencyWriteBack &&
      coherency != kNvos02FlagsCoherencyUncached) {
    return kNvErrInvalidFlags;  // escape.c:222-231
  }
  if ((p.pMemory & (kPageSize - 1)) != 0) return kNvErrNotSupported;  // escape.c:142-146
  if (p.limit + 1 == 0) return kNvErrInvalidLimit;                     // escape.c:149-153
  const NvU64 size = p.limit + 1;
  const bool writable = (p.flags & kNvos02FlagsAllocUserReadOnly) == 0;  // escape.c:159, 264-265
  // os-mlock.c:224, 252-304: pin_user_pages on current->mm, all or nothing.
  if (!MappedIn(caller.process, p.pMemory, size, writable)) return kNvErrInvalidAddress;
  if (NvV32 s = ValidateClient(caller, p.hRoot); s != kNvOk) return s;
  // resource_list.h:557-561: a Device is its only parent.
  if (ClassOf(p.hRoot, p.hObjectParent) != kNv01Device0) return kNvErrInvalidObjectParent;
  Object object{p.hObjectParent, p.hClass, Find(p.hRoot, p.hObjectParent)->gpu, size};
  object.pinned_process = caller.process;
  object.pinned_begin = p.pMemory;
  if (NvV32 s = Insert(p.hRoot, p.hObjectNew, object); s != kNvOk) return s;
  if (notes_) {
    notes_(fmt::format("pin pid={} begin={:#x} bytes={:#x} writable={}", caller.process, p.pMemory, size,
                       writable ? 1 : 0));
  }
  return kNvOk;
}

// os_unlock_user_pages (os-mlock.c:311-329): what the GPU read through the pin
// is what the pages hold now.
void SimDriver::Unpin(const Object& object) {
  if (!notes_) return;
  std::optional<std::uint64_t> digest = DigestOf(object.pinned_process, object.pinned_begin, object.size);
  notes_(fmt::format("unpin pid={} begin={:#x} bytes={:#x} fnv={}", object.pinned_process, object.pinned_begin,
                     object.size, digest ? fmt::format("{:#018x}", *digest) : std::string("gone")));
}

NvV32 SimDriver::VidHeap(const Caller& caller, NVOS32_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hRoot); s != kNvOk) return s;
  NvV32 parent_class = ClassOf(p.hRoot, p.hObjectParent);
  if (parent_class != kNv01Device0 && parent_class != kNv20Subdevice0) return kNvErrInvalidObjectParent;
  if (p.function != kNvos32FunctionAllocSize) return kNvErrNotSupported;  // the other functions are not modelled
  auto& a = p.data.AllocSize;
  int gpu = Find(p.hRoot, p.hObjectParent)->gpu;
  NvU64 size = a.size, offset = 0;
  NvU64& used = vidmem_used_[static_cast<std::size_t>(gpu)];
  const NvU64 used_before = used;
  if (NvV32 s = HeapAlloc(gpu, size, a.alignment, offset); s != kNvOk) return s;
  NvHandle h = (a.flags & kNvos32AllocFlagsMemoryHandleProvided) != 0 ? a.hMemory : 0;
  if (NvV32 s = Insert(p.hRoot, h, Object{p.hObjectParent, kNv01MemoryLocalUser, gpu, size}); s != kNvOk) {
    used = used_before;
    return s;
  }
  a.hMemory = h;
  a.size = size;
  a.offset = offset;
  a.limit = offset + size - 1;
  p.total = kFbSize - kFbReserved;
  p.free = p.total - used;
  return kNvOk;
}

// The heap's allocator: a size rounded up to the heap's alignment, at the
// next offset the alignment allows; nothing is given back.
NvV32 SimDriver::HeapAlloc(int gpu, NvU64& size, NvU64 alignment, NvU64& offset) {
  if (size == 0) return kNvErrInvalidArgument;
  NvU64& used = vidmem_used_[static_cast<std::size_t>(gpu)];
  const NvU64 align = std::max(alignment, kHeapAlignment);
  offset = (kFbReserved + used + align - 1) / align * align;
  size = (size + kHeapAlignment - 1) / kHeapAlignment * kHeapAlignment;
  if (offset + size > kFbSize) return kNvErrNoMemory;
  used = offset + size - kFbReserved;
  return kNvOk;
}

NvV32 SimDriver::Free(const Caller& caller, const NVOS00_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hRoot); s != kNvOk) return s;
  auto client = clients_.find(p.hRoot);
  auto& objects = client->second.objects;
  std::set<NvHandle> doomed;
  if (p.hObjectOld == p.hRoot) {
    for (const auto& [h, o] : objects) doomed.insert(h);
  } else {
    if (!objects.contains(p.hObjectOld)) return kNvErrInvalidObjectHandle;
    // Freeing an object frees everything below it.
    doomed.insert(p.hObjectOld);
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [h, o] : objects) {
        if (doomed.contains(o.parent) && doomed.insert(h).second) grew = true;
      }
    }
  }
  std::erase_if(mappings_, [&](const auto& m) { return m.second.client == p.hRoot && doomed.contains(m.second.memory); });
  for (NvHandle h : doomed) {
    if (objects.at(h).pinned_process != 0) Unpin(objects.at(h));
  }
  if (p.hObjectOld == p.hRoot) {
    clients_.erase(client);
  } else {
    for (NvHandle h : doomed) objects.erase(h);
  }
  return kNvOk;
}

NvV32 SimDriver::Dup(const Caller& caller, NVOS55_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  auto source_client = clients_.find(p.hClientSrc);
  if (source_client == clients_.end()) return kNvErrInvalidClient;
  const Object* source = Find(p.hClientSrc, p.hObjectSrc);
  if (source == nullptr) return kNvErrInvalidObjectHandle;
  // Who may dup: the object's own client, a client it was shared with
  // (RM_SHARE), or, by the default policy every object inherits, any client of
  // the same process (src/nvidia/src/kernel/rmapi/sharing.c:346-351, type PID;
  // checked in client_resource.c:217-229). Anything else lacks the right.
  const Client& destination = clients_.at(p.hClient);
  bool allowed = p.hClientSrc == p.hClient || source->shared_with_all || source->shared_with.contains(p.hClient) ||
                 source_client->second.proc_id == destination.proc_id;
  if (!allowed) return kNvErrInsufficientPermissions;
  Object copy = *source;
  copy.parent = p.hParent;
  copy.shared_with.clear();
  copy.shared_with_all = false;
  return Insert(p.hClient, p.hObject, copy);
}

// RM_SHARE (src/nvidia/src/kernel/rmapi/sharing.c): adds or revokes a policy
// on the caller's own object.
NvV32 SimDriver::Share(const Caller& caller, const NVOS57_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  auto& objects = clients_.at(p.hClient).objects;
  auto object = objects.find(p.hObject);
  if (object == objects.end()) return kNvErrInvalidObjectHandle;
  const bool revoke = (p.sharePolicy.action & kRsShareActionFlagRevoke) != 0;
  switch (p.sharePolicy.type) {
    case kRsShareTypeAll:
      object->second.shared_with_all = !revoke;
      break;
    case kRsShareTypeClient:
      if (revoke) {
        object->second.shared_with.erase(p.sharePolicy.target);
      } else {
        object->second.shared_with.insert(p.sharePolicy.target);
      }
      break;
    default:
      break;  // the other types (token, pid, GPU, SMC) are accepted and not modelled
  }
  return kNvOk;
}

NvV32 SimDriver::Map(const Caller& caller, nv_ioctl_nvos33_parameters_with_fd& w) {
  NVOS33_PARAMETERS& p = w.params;
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  // Creating the mmap context is for the client's own process only
  // (src/nvidia/arch/nvalloc/unix/src/osapi.c:2378).
  if (clients_.at(p.hClient).proc_id != ::getpid()) return kNvErrInvalidClient;
  // The device may also be the client itself (a mapping of system memory).
  NvV32 device_class = ClassOf(p.hClient, p.hDevice);
  if (device_class != kNv01Root && device_class != kNv01Device0 && device_class != kNv20Subdevice0) {
    return kNvErrInvalidObjectHandle;
  }
  const Object* memory = Find(p.hClient, p.hMemory);
  const bool usermode = memory != nullptr && memory->cls == kHopperUsermodeA;
  if (memory == nullptr || !(IsMemoryClass(memory->cls) || usermode)) return kNvErrInvalidObjectHandle;
  // The usermode doorbell page is a memory too: the NVC361 register range
  // (src/nvidia/src/kernel/gpu/fifo/arch/volta/kernel_fifo_gv100.c:155-174 and
  // :353-376), 64 KiB, mapped through the GPU's file whether through BAR0 or BAR1.
  const NvU64 size = usermode ? kUsermodeRegionSize : memory->size;
  if (p.length == 0 || p.offset >= size || p.length > size - p.offset) return kNvErrInvalidLimit;
  // The mapping context goes on the file the caller will mmap at offset 0:
  // system memory through a control file, video memory (BAR1) through a GPU file.
  abi::DeviceKind wanted = memory->cls == kNv01MemorySystem ? abi::DeviceKind::kCtl : abi::DeviceKind::kGpu;
  if (identify_(w.fd).kind != wanted) return kNvErrInvalidArgument;
  // A cookie, as the driver's: never a user address, unique per mapping.
  NvU64 cookie = next_cookie_;
  next_cookie_ += (p.length + 0xfff) & ~NvU64{0xfff};
  mappings_[cookie] = Mapping{p.hClient, p.hMemory, ::getpid()};
  p.pLinearAddress = cookie;
  return kNvOk;
}

// A user unmap finds only the mappings its own process made
// (src/nvidia/src/kernel/rmapi/mapping_cpu.c:1080-1082 picks
// serverutilMappingFilterCurrentUserProc, rs_utils.c:325-331); none found is
// NV_ERR_OBJECT_NOT_FOUND (rs_resource.c, refFindCpuMappingWithFilter).
NvV32 SimDriver::Unmap(const Caller& caller, const NVOS34_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  auto m = mappings_.find(p.pLinearAddress);
  if (m == mappings_.end() || m->second.client != p.hClient || m->second.memory != p.hMemory ||
      m->second.process != ::getpid()) {
    return kNvErrObjectNotFound;
  }
  mappings_.erase(m);
  return kNvOk;
}

// UPDATE_DEVICE_MAPPING_INFO looks the mapping of hMemory up with the same
// filter as unmap and records its new address, under which it is unmapped
// from then on (src/nvidia/arch/nvalloc/unix/src/osapi.c:1001-1020).
NvV32 SimDriver::UpdateMappingInfo(const Caller& caller, const NVOS56_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  auto m = mappings_.find(p.pOldCpuAddress);
  if (m == mappings_.end() || m->second.client != p.hClient || m->second.memory != p.hMemory ||
      m->second.process != ::getpid()) {
    return kNvErrObjectNotFound;
  }
  auto node = mappings_.extract(m);
  node.key() = p.pNewCpuAddress;
  mappings_.insert(std::move(node));
  return kNvOk;
}

namespace {

// A control the kernel module hands to the GSP firmware unread
// (abi::IsGspForwardedControl): a legacy GSS control on any of a GPU's objects
// (src/nvidia/interface/deprecated/rmapi_deprecated_control.c:130-134), any
// control on an NV2081_BINAPI object (src/nvidia/src/kernel/rmapi/
// binary_api.c:62). A privileged legacy one is refused below administrator
// (rmapi_gss_legacy_control.c:56). The firmware's answers are not in the open
// source; the sim gives those an H200's firmware gave CUDA (580.159.04,
// docs/gpu-validation.md, run 2): NV_OK and the parameters as they came, at the
// size CUDA passed. Any other: NV_ERR_NOT_SUPPORTED, the sim knowing no answer.
NvV32 GspForwardedAnswer(const NVOS54_PARAMETERS& p) {
  if ((p.cmd & abi::kGssLegacyPrivilegedBits) == abi::kGssLegacyPrivilegedBits && !CallerIsAdministrator()) {
    return kNvErrInsufficientPermissions;
  }
  struct Seen {
    NvU32 cmd;
    NvU32 size;
  };
  constexpr Seen kSeenAnswered[] = {{0x20810108, 992}, {0x20808159, 332}, {0x20808162, 1}};
  for (const Seen& seen : kSeenAnswered) {
    if (p.cmd == seen.cmd && p.paramsSize == seen.size) return kNvOk;
  }
  return kNvErrNotSupported;
}

}  // namespace

NvV32 SimDriver::Control(const Caller& caller, const NVOS54_PARAMETERS& p) {
  if (NvV32 s = ValidateClient(caller, p.hClient); s != kNvOk) return s;
  NvV32 object_class = ClassOf(p.hClient, p.hObject);
  if (object_class == ~NvV32{0}) return kNvErrInvalidObjectHandle;
  if ((p.cmd & abi::kGssLegacyBit) != 0 && Find(p.hClient, p.hObject)->gpu >= 0) return GspForwardedAnswer(p);
  if (object_class == abi::kBinapiClass) return GspForwardedAnswer(p);
  if (!Answers(object_class, p.cmd >> 16)) return kNvErrNotSupported;
  void* params = reinterpret_cast<void*>(p.params);
  if (p.paramsSize != 0 && params == nullptr) return kNvErrInvalidArgument;
  if (auto own = branch_.Control(p.cmd, params, p.paramsSize)) {
    NVOS54_PARAMETERS in_own_layout = p;
    in_own_layout.params = reinterpret_cast<NvP64>(own->data());
    in_own_layout.paramsSize = own->size();
    return Control(caller, in_own_layout);
  }
  const Object* object = Find(p.hClient, p.hObject);
  const SimSystem system{gpu_count_, version_, kDriverTitle};
  if (auto answer = LibraryControl(system, object_class, object ? object->gpu : -1, p, params)) return *answer;
  switch (object_class) {
    case kNv01Root: return ClientControl(p, params);
    case kNv01Device0: return DeviceControl(p, params);
    case kNv20Subdevice0: return SubdeviceControl(p, Find(p.hClient, p.hObject)->gpu, params);
    default: break;
  }
  // Channel and channel-group commands: accepted with their own sizes.
  switch (p.cmd) {
    // src/nvidia/src/kernel/gpu/fifo/kernel_channel.c:2937-3000 and
    // arch/maxwell/kernel_channel_gm107.c:50-89 (550.163.01; 580.142 the
    // same): an engine object of this channel, its class (the class field of
    // SET_OBJECT, bits 15:0) and its engine. Handle 0 and handles that are no
    // child of the channel are NV_ERR_OBJECT_NOT_FOUND, the client's own
    // handle NV_ERR_INVALID_ARGUMENT.
    case kNv906fCtrlGetClassEngineid:
    case kNvc36fCtrlGetClassEngineid: {
      if (p.paramsSize != sizeof(NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS)) return kNvErrInvalidArgument;
      auto* id = As<NV906F_CTRL_GET_CLASS_ENGINEID_PARAMS>(params);
      if (id->hObject == 0) return kNvErrObjectNotFound;
      if (id->hObject == p.hClient) return kNvErrInvalidArgument;
      const Object* child = Find(p.hClient, id->hObject);
      if (child == nullptr || child->parent != p.hObject) return kNvErrObjectNotFound;
      id->classID = child->cls;
      id->classEngineID = child->cls & 0xffff;
      id->engineID = ObjectEngine(child->cls);
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/bus/third_party_p2p_ctrl.c:35-61 and
    // third_party_p2p.c:344-398 (580.142): the VA space gets the first free
    // token from 0xfe00; one registered already is NV_ERR_INSERT_DUPLICATE_NAME.
    case kNv503cCtrlCmdRegisterVaSpace: {
      if (p.paramsSize != sizeof(NV503C_CTRL_REGISTER_VA_SPACE_PARAMS)) return kNvErrInvalidArgument;
      auto* va = As<NV503C_CTRL_REGISTER_VA_SPACE_PARAMS>(params);
      auto& spaces = clients_.at(p.hClient).objects.at(p.hObject).p2p_va_spaces;
      if (spaces.contains(va->hVASpace)) return kNvErrInsertDuplicateName;
      NvU32 token = 0xfe00;
      for (bool taken = true; taken && token < 0xff00;) {
        taken = std::any_of(spaces.begin(), spaces.end(), [&](const auto& s) { return s.second == token; });
        if (taken) ++token;
      }
      if (token == 0xff00) return kNvErrInsufficientResources;
      spaces[va->hVASpace] = token;
      va->vaSpaceToken = token;
      return kNvOk;
    }
    case kNvc36fCtrlCmdGpfifoGetWorkSubmitToken: {
      if (p.paramsSize != sizeof(NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS)) return kNvErrInvalidArgument;
      // The doorbell id the channel rings: unique per channel.
      As<NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS>(params)->workSubmitToken = p.hObject & 0xffff;
      return kNvOk;
    }
    case kNva06cCtrlCmdGpfifoSchedule:
      return p.paramsSize == sizeof(NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS) ? kNvOk : kNvErrInvalidArgument;
    default:
      return kNvErrNotSupported;
  }
}

// Checks a control's parameter size, as RM does before running it.
#define SIM_PARAMS(type, name)                                 \
  if (p.paramsSize != sizeof(type)) return kNvErrInvalidArgument; \
  auto* name = static_cast<type*>(params)

// src/nvidia/src/kernel/rmapi/client_resource.c:4950-5030 (580.142): where a
// mapping of the object would point. An object of no client's is
// clientGetResourceRef's NV_ERR_OBJECT_NOT_FOUND; memory answers its memory's
// address space (src/nvidia/src/kernel/mem_mgr/mem.c:112-150: system memory,
// video memory; the usermode doorbell is BAR0-reflected register space, or
// BAR1-reflected video memory when allocated for a BAR1 mapping,
// usermode_api.c:84-97). Other objects are not modelled.
NvV32 SimDriver::AddrSpaceType(NvHandle client, NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS& p) const {
  const Object* object = Find(client, p.hObject);
  if (object == nullptr) return kNvErrObjectNotFound;
  switch (object->cls) {
    case kNv01MemorySystem: p.addrSpaceType = kNv0000CtrlClientGetAddrSpaceTypeSysmem; return kNvOk;
    case kNv01MemoryLocalUser: p.addrSpaceType = kNv0000CtrlClientGetAddrSpaceTypeVidmem; return kNvOk;
    case kHopperUsermodeA:
      p.addrSpaceType =
          object->bar1_mapping ? kNv0000CtrlClientGetAddrSpaceTypeVidmem : kNv0000CtrlClientGetAddrSpaceTypeRegmem;
      return kNvOk;
    default: return kNvErrNotSupported;
  }
}

NvV32 SimDriver::ClientControl(const NVOS54_PARAMETERS& p, void* params) {
  switch (p.cmd) {
    case kNv0000CtrlCmdClientGetAddrSpaceType: {
      SIM_PARAMS(NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS, type);
      return AddrSpaceType(p.hClient, *type);
    }
    case kNv0000CtrlCmdGpuGetAttachedIds: {
      SIM_PARAMS(NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS, ids);
      for (int i = 0; i < 32; ++i) {
        ids->gpuIds[i] = i < gpu_count_ ? kFirstGpuId + static_cast<NvU32>(i) : kInvalidGpuId;
      }
      return kNvOk;
    }
    case kNv0000CtrlCmdGpuGetProbedIds: {
      SIM_PARAMS(NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS, ids);
      for (int i = 0; i < 32; ++i) {
        ids->gpuIds[i] = i < gpu_count_ ? kFirstGpuId + static_cast<NvU32>(i) : kInvalidGpuId;
        ids->excludedGpuIds[i] = kInvalidGpuId;
        ids->gpuFlags[i] = 0;
      }
      return kNvOk;
    }
    case kNv0000CtrlCmdGpuGetIdInfoV2: {
      SIM_PARAMS(NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS, info);
      if (info->gpuId < kFirstGpuId || info->gpuId >= kFirstGpuId + static_cast<NvU32>(gpu_count_)) {
        return kNvErrInvalidArgument;
      }
      info->gpuFlags = 0;
      info->deviceInstance = info->gpuId - kFirstGpuId;
      info->subDeviceInstance = 0;
      info->sliStatus = 0;
      info->boardId = info->gpuId;
      info->gpuInstance = info->deviceInstance;
      info->numaId = kInvalidGpuId;  // no NUMA node
      return kNvOk;
    }
    case kNv0000CtrlCmdSystemGetBuildVersionV2: {
      SIM_PARAMS(NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS, build);
      *build = {};
      std::snprintf(build->driverVersionBuffer, sizeof build->driverVersionBuffer, "%s", version_.c_str());
      std::snprintf(build->versionBuffer, sizeof build->versionBuffer, "%s", version_.c_str());
      std::snprintf(build->driverBranch, sizeof build->driverBranch, "r%s_00",
                    version_.substr(0, version_.find('.')).c_str());
      std::snprintf(build->titleBuffer, sizeof build->titleBuffer, "%s", kDriverTitle);
      return kNvOk;
    }
    default:
      return kNvErrNotSupported;
  }
}

NvV32 SimDriver::DeviceControl(const NVOS54_PARAMETERS& p, void* params) {
  switch (p.cmd) {
    // src/nvidia/src/kernel/gpu/fifo/kernel_fifo_ctrl.c:56-100 (580.142): an
    // empty list is NV_ERR_INVALID_ARGUMENT; each handle a channel of the
    // calling client gets its channel ID, any other
    // NV0080_CTRL_FIFO_GET_CHANNELLIST_INVALID_CHANNEL.
    case kNv0080CtrlCmdFifoGetChannellist: {
      SIM_PARAMS(NV0080_CTRL_FIFO_GET_CHANNELLIST_PARAMS, list);
      if (list->numChannels == 0) return kNvErrInvalidArgument;
      // Both lists are embedded parameters RM copies in
      // (src/nvidia/src/kernel/rmapi/embedded_param_copy.c:290-306); a null
      // pointer with a size is NV_ERR_INVALID_ARGUMENT there
      // (src/nvidia/src/kernel/rmapi/param_copy.c:43-51).
      if (list->pChannelHandleList == 0 || list->pChannelList == 0) return kNvErrInvalidArgument;
      const auto* handles = reinterpret_cast<const NvU32*>(list->pChannelHandleList);
      auto* chids = reinterpret_cast<NvU32*>(list->pChannelList);
      for (NvU32 i = 0; i < list->numChannels; ++i) {
        const Object* channel = Find(p.hClient, handles[i]);
        chids[i] = channel != nullptr && channel->cls == kHopperChannelGpfifoA ? channel->chid
                                                                               : kNv0080CtrlFifoGetChannellistInvalidChannel;
      }
      return kNvOk;
    }
    case kNv0080CtrlCmdGpuGetClasslistV2: {
      SIM_PARAMS(NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS, list);
      *list = {};
      for (const ClassInfo& c : kClasses) list->classList[list->numClasses++] = c.cls;
      return kNvOk;
    }
    case kNv0080CtrlCmdGpuGetNumSubdevices: {
      SIM_PARAMS(NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS, n);
      n->numSubDevices = 1;
      return kNvOk;
    }
    default:
      return kNvErrNotSupported;
  }
}

NvV32 SimDriver::SubdeviceControl(const NVOS54_PARAMETERS& p, int gpu, void* params) {
  switch (p.cmd) {
    case kNv2080CtrlCmdGpuGetNameString: {
      SIM_PARAMS(NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS, name);
      std::memset(name->gpuNameString, 0, sizeof name->gpuNameString);
      std::memcpy(name->gpuNameString, kGpuName, sizeof kGpuName);
      return kNvOk;
    }
    case kNv2080CtrlCmdGpuGetInfoV2: {
      SIM_PARAMS(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS, info);
      // The driver refuses an empty or oversized list and indices past its table.
      constexpr NvU32 kMax = std::extent_v<decltype(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS::gpuInfoList)>;
      if (info->gpuInfoListSize == 0 || info->gpuInfoListSize > kMax) return kNvErrInvalidArgument;
      for (NvU32 i = 0; i < info->gpuInfoListSize; ++i) {
        if ((info->gpuInfoList[i].index & 0xffffff) >= kMax) return kNvErrInvalidArgument;
        info->gpuInfoList[i].data = 0;  // every attribute reads "not present / not enabled"
      }
      return kNvOk;
    }
    case kNv2080CtrlCmdGpuGetGidInfo: {
      SIM_PARAMS(NV2080_CTRL_GPU_GET_GID_INFO_PARAMS, gid);
      std::memset(gid->data, 0, sizeof gid->data);
      std::vector<std::uint8_t> uuid = GpuUuid(gpu);
      if ((gid->flags & 0x3) == kGidFlagsFormatBinary) {
        std::memcpy(gid->data, uuid.data(), uuid.size());
        gid->length = static_cast<NvU32>(uuid.size());
      } else {
        char* out = reinterpret_cast<char*>(gid->data);
        int n = std::sprintf(out, "GPU-");
        for (std::size_t i = 0; i < uuid.size(); ++i) {
          n += std::sprintf(out + n, "%s%02x", i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", uuid[i]);
        }
        gid->length = static_cast<NvU32>(n + 1);
      }
      return kNvOk;
    }
    case kNv2080CtrlCmdGrGetInfo: {
      SIM_PARAMS(NV2080_CTRL_GR_GET_INFO_PARAMS, gr);
      // The list is a nested pointer, already copied into our memory.
      auto* list = reinterpret_cast<NV2080_CTRL_GPU_INFO*>(gr->grInfoList);
      if (list == nullptr || gr->grInfoListSize == 0 || gr->grInfoListSize > kNv0080CtrlGrInfoIndexMax) {
        return kNvErrInvalidArgument;
      }
      for (NvU32 i = 0; i < gr->grInfoListSize; ++i) {
        if (list[i].index >= kNv0080CtrlGrInfoIndexMax) return kNvErrInvalidArgument;
        list[i].data = GrInfo(list[i].index);
      }
      return kNvOk;
    }
    case kNv2080CtrlCmdFbGetInfoV2: {
      SIM_PARAMS(NV2080_CTRL_FB_GET_INFO_V2_PARAMS, fb);
      constexpr NvU32 kMax = std::extent_v<decltype(NV2080_CTRL_FB_GET_INFO_V2_PARAMS::fbInfoList)>;
      if (fb->fbInfoListSize > kMax) return kNvErrInvalidArgument;
      const NvU64 heap = kFbSize - kFbReserved, used = vidmem_used_[static_cast<std::size_t>(gpu)];
      for (NvU32 i = 0; i < fb->fbInfoListSize; ++i) {
        NV2080_CTRL_FB_INFO& e = fb->fbInfoList[i];
        if (e.index > kNv2080CtrlFbInfoIndexMax) return kNvErrInvalidArgument;
        switch (e.index) {  // sizes in KiB
          case kNv2080CtrlFbInfoIndexRamSize:
          case kNv2080CtrlFbInfoIndexTotalRamSize: e.data = static_cast<NvU32>(kFbSize >> 10); break;
          case kNv2080CtrlFbInfoIndexHeapSize:
          case kNv2080CtrlFbInfoIndexUsableRamSize: e.data = static_cast<NvU32>(heap >> 10); break;
          case kNv2080CtrlFbInfoIndexHeapFree: e.data = static_cast<NvU32>((heap - used) >> 10); break;
          case kNv2080CtrlFbInfoIndexBusWidth: e.data = 5120; break;  // HBM3, five stacks
          default: e.data = 0;
        }
      }
      return kNvOk;
    }
    case kNv2080CtrlCmdBusGetPciInfo: {
      SIM_PARAMS(NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS, pci);
      pci->pciDeviceId = NvU32{kH100DeviceId} << 16 | kNvidiaVendorId;
      pci->pciSubSystemId = NvU32{kH100SubsystemId} << 16 | kNvidiaVendorId;
      pci->pciRevisionId = kH100RevisionId;
      pci->pciExtDeviceId = kH100DeviceId;
      return kNvOk;
    }
    case kNv2080CtrlCmdGpuGetEnginesV2: {
      SIM_PARAMS(NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS, engines);
      *engines = {};
      engines->engineCount = std::size(kSimEngines);
      std::copy(std::begin(kSimEngines), std::end(kSimEngines), engines->engineList);
      return kNvOk;
    }
    // src/nvidia/src/kernel/gpu/subdevice/subdevice_ctrl_gpu_kernel.c:2150-2241,
    // in the default compute mode (RULES_NONE): any client may take the
    // reservation; only its holder may give it back.
    case kNv2080CtrlCmdGpuAcquireComputeModeReservation:
      if (p.paramsSize != 0) return kNvErrInvalidArgument;
      compute_reservation_[static_cast<std::size_t>(gpu)] = p.hClient;
      return kNvOk;
    case kNv2080CtrlCmdGpuReleaseComputeModeReservation: {
      if (p.paramsSize != 0) return kNvErrInvalidArgument;
      NvHandle& holder = compute_reservation_[static_cast<std::size_t>(gpu)];
      if (holder != p.hClient) return kNvErrStateInUse;
      holder = 0;
      return kNvOk;
    }
    case kNv2080CtrlCmdPerfGetCurrentPstate: {
      SIM_PARAMS(NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS, pstate);
      pstate->currPstate = 1;  // P0
      return kNvOk;
    }
    default:
      return kNvErrNotSupported;
  }
}

#undef SIM_PARAMS

// UVM keeps a va_space per open file of nvidia-uvm (kernel-open/nvidia-uvm/uvm.c,
// uvm_open / uvm_release).
int SimDriver::Uvm(OpenFile& file, std::uint32_t request, void* arg) {
  // Every routed command answers in its rmStatus and returns 0. Those other than
  // the two initialisations need an initialised file first.
  auto answer = [&]<typename T>(T* p, auto&& run) {
    p->rmStatus = file.uvm_flags ? run(*p) : kNvErrIllegalAction;
    return 0;
  };
  switch (request) {
    case kUvmInitialize: {
      auto* p = As<UVM_INITIALIZE_PARAMS>(arg);
      // A second initialisation is accepted only with the same flags.
      p->rmStatus = !file.uvm_flags || *file.uvm_flags == p->flags ? kNvOk : kNvErrInvalidArgument;
      if (!file.uvm_flags) file.uvm_flags = p->flags;
      return 0;
    }
    case kUvmDeinitialize:
      return 0;
    case kUvmMmInitialize: {
      auto* p = As<UVM_MM_INITIALIZE_PARAMS>(arg);
      p->rmStatus = identify_(p->uvmFd).kind == abi::DeviceKind::kUvm ? kNvOk : kNvErrInvalidArgument;
      return 0;
    }
    case kUvmPageableMemAccess:
      return answer(As<UVM_PAGEABLE_MEM_ACCESS_PARAMS>(arg), [](auto& p) {
        p.pageableMemAccess = 0;  // no HMM or ATS (and never in multi-process sharing mode)
        return kNvOk;
      });
    case kUvmRegisterGpu:
      return answer(As<UVM_REGISTER_GPU_PARAMS>(arg), [&](auto& p) {
        int gpu = GpuOfUuid(p.gpu_uuid);
        if (gpu < 0) return kNvErrGpuUuidNotFound;
        // src/nvidia/src/kernel/rmapi/nv_gpu_ops.c:7570-7573: the caller must
        // hold an open file of that GPU (osIsGpuAccessible).
        if (!CallerHoldsGpu(gpu)) return kNvErrInsufficientPermissions;
        // The caller's control file and client name its MIG partition, and RM
        // reads them only when MIG is in use (src/nvidia/src/kernel/rmapi/
        // nv_gpu_ops.c:7697-7717); the sim has no MIG, so they are not used, and
        // CUDA passes rmCtrlFd -1 and hClient 0 (seen on an H200, 580.159.04).
        file.uvm_gpus.insert(gpu);
        p.numaEnabled = 0;
        p.numaNodeId = -1;
        return kNvOk;
      });
    case kUvmUnregisterGpu:
      return answer(As<UVM_UNREGISTER_GPU_PARAMS>(arg), [&](auto& p) {
        return file.uvm_gpus.erase(GpuOfUuid(p.gpu_uuid)) == 1 ? kNvOk : kNvErrInvalidDevice;
      });
    case kUvmRegisterGpuVaspace:
      return answer(As<UVM_REGISTER_GPU_VASPACE_PARAMS>(arg), [&](auto& p) {
        if (!file.uvm_gpus.contains(GpuOfUuid(p.gpuUuid))) return kNvErrInvalidDevice;
        if (identify_(p.rmCtrlFd).kind != abi::DeviceKind::kCtl) return kNvErrInvalidArgument;
        return ClassOf(p.hClient, p.hVaSpace) == kFermiVaspaceA ? kNvOk : kNvErrInvalidObjectHandle;
      });
    case kUvmCreateRangeGroup:
      return answer(As<UVM_CREATE_RANGE_GROUP_PARAMS>(arg), [&](auto& p) {
        p.rangeGroupId = next_range_group_++;
        return kNvOk;
      });
    // Accepted without a model of the managed address space.
    case kUvmAllocSemaphorePool:
      return answer(As<UVM_ALLOC_SEMAPHORE_POOL_PARAMS>(arg), [](auto&) { return kNvOk; });
    case kUvmMapExternalAllocation:
      return answer(As<UVM_MAP_EXTERNAL_ALLOCATION_PARAMS>(arg), [](auto&) { return kNvOk; });
    // kernel-open/nvidia-uvm/uvm_map_external.c:590-620 (580.142): a range
    // 4K-aligned, not at 0, not empty, not wrapping (uvm_api.h:176-183), else
    // NV_ERR_INVALID_ADDRESS; one overlapping a range of the file's
    // va_space is NV_ERR_UVM_ADDRESS_IN_USE (uvm_range_tree.c:113).
    case kUvmCreateExternalRange:
      return answer(As<UVM_CREATE_EXTERNAL_RANGE_PARAMS>(arg), [&](auto& p) {
        constexpr NvU64 k4k = 4096;
        const NvU64 end = p.base + p.length;
        if (p.base % k4k != 0 || p.length % k4k != 0 || p.base == 0 || p.length == 0 || end < p.base) {
          return kNvErrInvalidAddress;
        }
        auto next = file.uvm_ranges.lower_bound(p.base);
        const bool overlaps_next = next != file.uvm_ranges.end() && next->first < end;
        const bool overlaps_previous = next != file.uvm_ranges.begin() && std::prev(next)->second > p.base;
        if (overlaps_next || overlaps_previous) return kNvErrUvmAddressInUse;
        file.uvm_ranges[p.base] = end;
        return kNvOk;
      });
    // Accepted without a model of the rest of the managed address space; an
    // external range that starts at `base` goes with it.
    case kUvmFree:
      return answer(As<UVM_FREE_PARAMS>(arg), [&](auto& p) {
        file.uvm_ranges.erase(p.base);
        return kNvOk;
      });
    default:
      // Unrouted numbers fall through to the test ioctls, which a release
      // driver turns off: ENOSYS.
      return -ENOSYS;
  }
}

}  // namespace nvgate::backend
