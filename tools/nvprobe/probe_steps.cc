// nvprobe's steps: at the driver level what CUDA, NVML, video and graphics
// users do, recording what succeeded and what was refused.
//
// Its first steps follow CUDA's own initialisation, in CUDA's order, because
// the driver checks who is calling: the GPU file is opened before the device
// is allocated (the driver wants the caller to hold it), linked to the control
// file with REGISTER_FD (clients are named only through the file they belong
// to), and memory mapped through RM is then mmapped by the process itself.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi/nv_structs.h"
#include "tools/nvprobe/probe_steps.h"

namespace nvprobe {
namespace {

using namespace nvgate::nv;

const DriverOps* g_ops = nullptr;
int Ioctl(int fd, unsigned long request, void* arg) { return g_ops->ioctl(fd, request, arg); }
int OpenDev(const char* path) { return g_ops->open(path); }

// The simulated driver's classes (src/backend/sim_backend.cc), tried only when
// the class list control is refused, so that every step still runs.
constexpr NvV32 kFallbackClasses[] = {0xc86f, 0xcbc0, 0xcb97, 0xb8b0, 0xb8d1, 0xb8fa};
// A GPFIFO of 1024 entries, CUDA's size: the driver programs the channel with
// it; nvprobe never submits work through it.
constexpr NvU32 kChannelGpfifoEntries = 1024;

class Probe {
 public:
  bool json = false;
  std::vector<Step> steps;

  void Record(const std::string& cap, const std::string& step, int rc, int err, NvV32 status) {
    Step s{cap, step, "ok", ""};
    if (rc != 0) {
      s.result = err == EINVAL || err == EPERM || err == ENOTTY ? "refused" : "failed";
      s.detail = strerrorname_np(err) ? strerrorname_np(err) : std::to_string(err);
    } else if (status == kNvErrNotSupported) {
      s.result = "refused";
      s.detail = "NV_ERR_NOT_SUPPORTED 0x56";
    } else if (status == kNvErrInvalidClass) {
      s.result = "refused";
      s.detail = "NV_ERR_INVALID_CLASS 0x22";
    } else if (status != kNvOk) {
      s.result = "failed";
      char buf[32];
      std::snprintf(buf, sizeof buf, "NV_STATUS 0x%x", status);
      s.detail = buf;
    }
    if (!json) {
      std::printf("[%-8s] %-40s %s%s%s%s\n", cap.c_str(), step.c_str(), s.result.c_str(),
                  s.detail.empty() ? "" : " (", s.detail.c_str(), s.detail.empty() ? "" : ")");
    }
    steps.push_back(std::move(s));
  }
};

unsigned long Esc(std::uint32_t nr, std::uint32_t size) { return _IOC(_IOC_READ | _IOC_WRITE, kIoctlMagic, nr, size); }

struct Driver {
  int ctl = -1;
  NvHandle client = 0;
  NvHandle next = 0x5c000001;

  int Alloc(NvHandle parent, NvHandle handle, NvV32 cls, void* params, NvU32 size, NvV32* status) {
    NVOS21_PARAMETERS p{client, parent, handle, cls, reinterpret_cast<std::uintptr_t>(params), size, 0};
    int rc = Ioctl(ctl, Esc(kEscRmAlloc, sizeof p), &p);
    *status = p.status;
    return rc;
  }
  int Control(NvHandle object, NvV32 cmd, void* params, NvU32 size, NvV32* status) {
    NVOS54_PARAMETERS p{client, object, cmd, 0, reinterpret_cast<std::uintptr_t>(params), size, 0};
    int rc = Ioctl(ctl, Esc(kEscRmControl, sizeof p), &p);
    *status = p.status;
    return rc;
  }
};

// Class-number families, by the low byte the driver's naming follows.
bool IsChannel(NvV32 c) { return (c & 0xff) == 0x6f && c >= 0xc36f; }
bool IsCompute(NvV32 c) { return (c & 0xff) == 0xc0 && c >= 0xc3c0; }
bool Is3d(NvV32 c) { return (c & 0xff) == 0x97 && c >= 0xc397; }
bool IsDecoder(NvV32 c) { return (c & 0xff) == 0xb0 && c >= 0xb0b0 && c < 0xe000; }
bool IsEncoder(NvV32 c) { return (c & 0xff) == 0xb7 && c >= 0xc0b7; }
bool IsNvjpg(NvV32 c) { return (c & 0xff) == 0xd1 && c >= 0xb8d1; }
bool IsOfa(NvV32 c) { return (c & 0xff) == 0xfa && c >= 0xb8fa; }

// RM maps the memory (the mmap context goes on nvidiactl), then the process
// mmaps nvidiactl itself, writes and reads through the mapping, and unmaps.
void MapAndTouch(Probe& probe, Driver& d, NvHandle device, NvHandle memory, NvU64 length) {
  nv_ioctl_nvos33_parameters_with_fd map;
  std::memset(&map, 0, sizeof map);
  map.params.hClient = d.client;
  map.params.hDevice = device;
  map.params.hMemory = memory;
  map.params.length = length;
  map.fd = d.ctl;
  int rc = Ioctl(d.ctl, Esc(kEscRmMapMemory, sizeof map), &map);
  probe.Record("base", "system memory mapped", rc, errno, map.params.status);
  if (rc != 0 || map.params.status != kNvOk) return;
  void* cpu = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, d.ctl, 0);
  bool touched = false;
  if (cpu != MAP_FAILED) {
    auto* bytes = static_cast<volatile std::uint8_t*>(cpu);
    bytes[0] = 0x5a;
    bytes[length - 1] = 0xa5;
    touched = bytes[0] == 0x5a && bytes[length - 1] == 0xa5;
    ::munmap(cpu, length);
  }
  probe.Record("base", "system memory mmapped and written", touched ? 0 : -1, cpu == MAP_FAILED ? errno : EIO, kNvOk);
  NVOS34_PARAMETERS unmap;
  std::memset(&unmap, 0, sizeof unmap);  // its padding too: a replayed trace compares every byte
  unmap.hClient = d.client;
  unmap.hDevice = device;
  unmap.hMemory = memory;
  unmap.pLinearAddress = map.params.pLinearAddress;
  rc = Ioctl(d.ctl, Esc(kEscRmUnmapMemory, sizeof unmap), &unmap);
  probe.Record("base", "system memory unmapped", rc, errno, unmap.status);
}

// The byte a pageable-copy buffer holds at `i` after the GPU's turn (the
// second pattern), so that whoever reads the pages through the pin can check them.
constexpr NvHandle kPinnedCopyHandle = 0x5c00f001;

constexpr std::uint8_t PinnedPattern(std::size_t i) { return static_cast<std::uint8_t>(i * 131 + 7); }

// What CUDA does for a copy from pageable memory: pins a page-aligned stretch
// of the caller's own malloc'd memory through RM_ALLOC_MEMORY with
// NV01_MEMORY_SYSTEM_OS_DESCRIPTOR (the driver pins pages of the calling
// process: RmAllocOsDescriptor, src/nvidia/arch/nvalloc/unix/src/escape.c at
// 580.142), uses it, and frees it.
void PinPageable(Probe& probe, Driver& d, int gpu, NvHandle device) {
  constexpr std::size_t kBytes = kPinnedCopyBytes;
  constexpr std::size_t kPage = 4096;
  std::vector<std::uint8_t> owner(kBytes + kPage);
  auto at = reinterpret_cast<std::uintptr_t>(owner.data());
  auto* buffer = reinterpret_cast<std::uint8_t*>((at + kPage - 1) & ~(kPage - 1));
  std::memset(buffer, 0x11, kBytes);
  nv_ioctl_nvos02_parameters_with_fd pin;
  std::memset(&pin, 0, sizeof pin);
  pin.params.hRoot = d.client;
  pin.params.hObjectParent = device;
  // A handle of its own, outside d.next's sequence: the later steps' handles
  // stay those of traces recorded without this step.
  pin.params.hObjectNew = kPinnedCopyHandle;
  pin.params.hClass = kNv01MemorySystemOsDescriptor;
  pin.params.flags = (kNvos02FlagsCoherencyCached << kNvos02FlagsCoherencyShift) | kNvos02FlagsMappingNoMap;
  pin.params.pMemory = reinterpret_cast<std::uintptr_t>(buffer);
  pin.params.limit = kBytes - 1;
  pin.fd = -1;
  int rc = Ioctl(gpu, Esc(kEscRmAllocMemory, sizeof pin), &pin);
  probe.Record("compute", "pageable memory pinned (64 MiB)", rc, errno, pin.params.status);
  if (rc != 0 || pin.params.status != kNvOk) return;
  // The pages stay the process's own: what is written now is what the GPU
  // reads through the pin.
  for (std::size_t i = 0; i < kBytes; ++i) buffer[i] = PinnedPattern(i);
  NVOS00_PARAMETERS unpin{d.client, device, pin.params.hObjectNew, 0};
  rc = Ioctl(d.ctl, Esc(kEscRmFree, sizeof unpin), &unpin);
  probe.Record("compute", "pinned memory released", rc, errno, unpin.status);
}

}  // namespace

std::uint64_t PinnedCopyDigest() {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < kPinnedCopyBytes; ++i) hash = (hash ^ PinnedPattern(i)) * 0x100000001b3ull;
  return hash;
}

DriverOps SystemDriverOps() {
  return DriverOps{
      .open = [](const char* path) { return ::open(path, O_RDWR | O_CLOEXEC); },
      .ioctl = [](int fd, unsigned long request, void* arg) { return ::ioctl(fd, request, arg); },
  };
}

int RunProbe(const DriverOps& ops, const ProbeOptions& options, std::vector<Step>& steps) {
  g_ops = &ops;
  Probe probe;
  probe.json = options.json;
  Driver d;
  d.ctl = OpenDev("/dev/nvidiactl");
  if (d.ctl < 0) {
    std::fprintf(stderr, "nvprobe: cannot open /dev/nvidiactl: %s (is an NVIDIA driver, or nvgate, there?)\n",
                 std::strerror(errno));
    return 2;
  }
  int gpu = OpenDev("/dev/nvidia0");
  NvV32 st = 0;
  int rc;
  if (gpu < 0 && !probe.json) std::printf("nvprobe: cannot open /dev/nvidia0: %s\n", std::strerror(errno));

  nv_ioctl_rm_api_version_t version{};
  version.cmd = kRmApiVersionCmdQuery;
  rc = Ioctl(d.ctl, Esc(kEscCheckVersionStr, sizeof version), &version);
  probe.Record("base", std::string("version query ") + (rc == 0 ? version.versionString : ""), rc, errno, kNvOk);

  nv_ioctl_card_info_t cards[32] = {};
  rc = Ioctl(d.ctl, Esc(kEscCardInfo, sizeof cards), cards);
  probe.Record("base", "card info", rc, errno, kNvOk);

  NVOS21_PARAMETERS root{0, 0, 0, kNv01RootClient, 0, 0, 0};
  NvHandle client_param = 0;
  root.pAllocParms = reinterpret_cast<std::uintptr_t>(&client_param);
  root.paramsSize = sizeof client_param;
  rc = Ioctl(d.ctl, Esc(kEscRmAlloc, sizeof root), &root);
  probe.Record("base", "root client", rc, errno, root.status);
  if (rc != 0 || root.status != kNvOk) {
    std::fprintf(stderr, "nvprobe: no RM client, nothing more to probe\n");
    steps = probe.steps;
    return 1;
  }
  d.client = root.hObjectNew;

  if (gpu >= 0) {
    // Calls on the GPU file then act for the control file and its clients.
    nv_ioctl_register_fd_t link{d.ctl};
    rc = Ioctl(gpu, Esc(kEscRegisterFd, sizeof link), &link);
    probe.Record("base", "GPU file linked to nvidiactl", rc, errno, kNvOk);
    NvU32 attach[1] = {cards[0].gpu_id};
    rc = Ioctl(d.ctl, Esc(kEscAttachGpusToFd, sizeof attach), attach);
    probe.Record("base", "GPU attached to nvidiactl", rc, errno, kNvOk);
  }

  NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS ids{};
  rc = d.Control(d.client, kNv0000CtrlCmdGpuGetAttachedIds, &ids, sizeof ids, &st);
  probe.Record("base", "attached GPU ids", rc, errno, st);

  const NvHandle device = d.next++, subdevice = d.next++;
  std::uint32_t device_params[14] = {};  // NV0080_ALLOC_PARAMETERS: deviceId 0 and defaults
  rc = d.Alloc(d.client, device, kNv01Device0, device_params, sizeof device_params, &st);
  probe.Record("base", "device", rc, errno, st);
  std::uint32_t subdevice_params = 0;
  rc = d.Alloc(device, subdevice, kNv20Subdevice0, &subdevice_params, sizeof subdevice_params, &st);
  probe.Record("base", "subdevice", rc, errno, st);

  NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS name{};
  rc = d.Control(subdevice, kNv2080CtrlCmdGpuGetNameString, &name, sizeof name, &st);
  name.gpuNameString[sizeof name.gpuNameString - 1] = 0;
  probe.Record("base",
               std::string("GPU name ") +
                   (rc == 0 && st == kNvOk ? reinterpret_cast<const char*>(name.gpuNameString) : ""),
               rc, errno, st);

  NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS classlist{};
  rc = d.Control(device, kNv0080CtrlCmdGpuGetClasslistV2, &classlist, sizeof classlist, &st);
  probe.Record("base", "class list", rc, errno, st);
  std::vector<NvV32> available(classlist.classList,
                               classlist.classList + std::min<std::uint32_t>(classlist.numClasses, 200));
  if (rc != 0 || st != kNvOk) available.assign(std::begin(kFallbackClasses), std::end(kFallbackClasses));
  auto pick = [&](bool (*family)(NvV32)) {
    NvV32 best = 0;
    for (NvV32 c : available) {
      if (family(c) && c > best) best = c;
    }
    return best;
  };

  NV2080_CTRL_GPU_GET_INFO_V2_PARAMS info{};
  // The driver refuses an empty list; ask one attribute every GPU has.
  info.gpuInfoListSize = 1;
  info.gpuInfoList[0].index = 4;  // NV2080_CTRL_GPU_INFO_INDEX_MINOR_REVISION_EXT
  rc = d.Control(subdevice, kNv2080CtrlCmdGpuGetInfoV2, &info, sizeof info, &st);
  probe.Record("utility", "GPU info (NVML)", rc, errno, st);

  // What cuCtxCreate does under the exclusive compute modes: take the GPU,
  // then give it back.
  rc = d.Control(subdevice, kNv2080CtrlCmdGpuAcquireComputeModeReservation, nullptr, 0, &st);
  probe.Record("compute", "compute-mode reservation", rc, errno, st);
  if (rc == 0 && st == kNvOk) {
    rc = d.Control(subdevice, kNv2080CtrlCmdGpuReleaseComputeModeReservation, nullptr, 0, &st);
    probe.Record("compute", "compute-mode reservation released", rc, errno, st);
  }

  auto alloc_class = [&](const char* cap, const char* what, NvV32 cls, NvHandle parent, void* params = nullptr,
                         std::size_t size = 0) {
    if (cls == 0) {
      if (!probe.json) std::printf("[%-8s] %-40s skipped (not in the class list)\n", cap, what);
      return NvHandle{0};
    }
    // Engine objects take optional parameters whose zeros are the defaults.
    std::uint8_t zeros[512] = {};
    NvHandle h = d.next++;
    int r = d.Alloc(parent, h, cls, params != nullptr ? params : zeros,
                    static_cast<NvU32>(params != nullptr ? size : sizeof zeros), &st);
    char label[80];
    std::snprintf(label, sizeof label, "%s 0x%x", what, cls);
    probe.Record(cap, label, r, errno, st);
    return r == 0 && st == kNvOk ? h : NvHandle{0};
  };
  // The engines this GPU has: a video object goes to one of them by its
  // instance number, and a GPU may lack the first instance (an H200 has no
  // NVDEC0). Without the list, the first instance of each.
  NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS engines{};
  rc = d.Control(subdevice, kNv2080CtrlCmdGpuGetEnginesV2, &engines, sizeof engines, &st);
  probe.Record("base", "engine list", rc, errno, st);
  const bool engines_known = rc == 0 && st == kNvOk;
  // The first engine of a family present, numbered from `first` (and on from
  // `more` for families whose later instances were added after other types).
  auto engine_of = [&](NvU32 first, NvU32 count, NvU32 more = 0) {
    auto instance = [&](NvU32 type) -> NvU32 {
      if (type >= first && type < first + count) return type - first;
      return more != 0 && type == more ? count : ~NvU32{0};
    };
    NvU32 best = ~NvU32{0};
    const NvU32 listed = std::min<NvU32>(engines.engineCount, std::size(engines.engineList));
    for (NvU32 i = 0; engines_known && i < listed; ++i) {
      best = std::min(best, instance(engines.engineList[i]));
    }
    if (best == ~NvU32{0}) best = 0;
    return std::pair<NvU32, NvU32>{best < count ? first + best : more, best};
  };

  // A channel, as CUDA makes one: in a channel group bound to one engine (the
  // driver puts every channel of a group on that engine's runlist), with a
  // context share when asked. Without the group, the channel goes under the
  // device, where the driver makes it a group of its own from the channel's
  // engineType (and allows no context share). nvprobe submits no work, so
  // the channel has no GPFIFO memory of its own and RM provides its USERD.
  // Channel groups, context shares and channels serve every engine, so the
  // table gives them to compute, graphics and video alike: their steps are
  // labelled "channel", not a capability of their own.
  const NvV32 channel_class = pick(IsChannel);
  auto engine_channel = [&](const char* engine, NvU32 engine_type, bool context_share) {
    const char* cap = "channel";
    NV_CHANNEL_GROUP_ALLOCATION_PARAMETERS group_params{};
    group_params.engineType = engine_type;
    std::string what = std::string(engine) + " channel group";
    NvHandle group = alloc_class(cap, what.c_str(), kKeplerChannelGroupA, device, &group_params, sizeof group_params);
    NV_CHANNEL_ALLOC_PARAMS channel_params{};
    if (group != 0 && context_share) {
      // A synchronous subcontext: the driver refuses the 3D class in an
      // asynchronous one (NV_ERR_INVALID_OBJECT from 580.159.04's GSP firmware),
      // and nvprobe puts its compute and 3D objects on this one channel.
      NV_CTXSHARE_ALLOCATION_PARAMETERS share_params{};
      share_params.flags = kCtxshareFlagsSubcontextSync;
      what = std::string(engine) + " context share";
      channel_params.hContextShare =
          alloc_class(cap, what.c_str(), kFermiContextShareA, group, &share_params, sizeof share_params);
      if (channel_params.hContextShare == 0) return NvHandle{0};
    }
    channel_params.gpFifoEntries = kChannelGpfifoEntries;
    channel_params.engineType = engine_type;
    what = std::string(engine) + " GPFIFO channel";
    return alloc_class(cap, what.c_str(), channel_class, group != 0 ? group : device, &channel_params,
                       sizeof channel_params);
  };

  alloc_class("base", "VA space FERMI_VASPACE_A", 0x90f1, device);
  // Engine objects live on a channel. Without one (refused, or outside the
  // capability set) nvprobe still asks, under the device, so that nvgate
  // decides on the class and the driver answers for the parent.
  auto on = [&](NvHandle channel) { return channel != 0 ? channel : device; };
  // A video engine's object, on a channel of that engine instance.
  auto video_object = [&](const char* what, NvV32 cls, const char* engine, std::pair<NvU32, NvU32> type_instance) {
    if (cls == 0) return alloc_class("video", what, cls, device);
    NV_BSP_ALLOCATION_PARAMETERS params{sizeof(NV_BSP_ALLOCATION_PARAMETERS), 0, type_instance.second};
    NvHandle channel = engine_channel(engine, type_instance.first, false);
    return alloc_class("video", what, cls, on(channel), &params, sizeof params);
  };
  const NvHandle gr_channel = engine_channel("GR", kNv2080EngineTypeGraphics, true);
  alloc_class("compute", "compute class", pick(IsCompute), on(gr_channel));
  int uvm = OpenDev("/dev/nvidia-uvm");
  if (uvm >= 0) {
    UVM_INITIALIZE_PARAMS init{0, 0};
    rc = Ioctl(uvm, kUvmInitialize, &init);
    probe.Record("compute", "UVM initialize", rc, errno, init.rmStatus);
    UVM_PAGEABLE_MEM_ACCESS_PARAMS pageable{};
    rc = Ioctl(uvm, kUvmPageableMemAccess, &pageable);
    probe.Record("compute", "UVM pageable memory access query", rc, errno, pageable.rmStatus);
    // UVM registers the GPU by its UUID, through the caller's control file and client.
    NV2080_CTRL_GPU_GET_GID_INFO_PARAMS gid{};
    gid.flags = kGidFlagsFormatBinary;
    rc = d.Control(subdevice, kNv2080CtrlCmdGpuGetGidInfo, &gid, sizeof gid, &st);
    probe.Record("base", "GPU UUID", rc, errno, st);
    UVM_REGISTER_GPU_PARAMS reg{};
    std::memcpy(reg.gpu_uuid, gid.data, sizeof reg.gpu_uuid);
    reg.rmCtrlFd = d.ctl;
    reg.hClient = d.client;
    rc = Ioctl(uvm, kUvmRegisterGpu, &reg);
    probe.Record("compute", "UVM register GPU", rc, errno, reg.rmStatus);
    if (rc == 0 && reg.rmStatus == kNvOk) {
      UVM_UNREGISTER_GPU_PARAMS unreg{};
      std::memcpy(unreg.gpu_uuid, gid.data, sizeof unreg.gpu_uuid);
      rc = Ioctl(uvm, kUvmUnregisterGpu, &unreg);
      probe.Record("compute", "UVM unregister GPU", rc, errno, unreg.rmStatus);
    }
  } else if (!probe.json) {
    std::printf("[%-8s] %-40s skipped (no /dev/nvidia-uvm)\n", "compute", "UVM");
  }

  if (gpu >= 0) {
    // The driver takes RM_ALLOC_MEMORY only on a GPU node, never on nvidiactl.
    // Field by field into a zeroed struct: assigning a whole temporary would
    // copy its padding (bytes 20-23), which is garbage in some builds, and a
    // replayed trace compares every byte the driver reads.
    nv_ioctl_nvos02_parameters_with_fd mem;
    std::memset(&mem, 0, sizeof mem);
    mem.params.hRoot = d.client;
    mem.params.hObjectParent = device;
    mem.params.hObjectNew = d.next++;
    mem.params.hClass = kNv01MemorySystem;
    mem.params.limit = (1 << 20) - 1;
    // Mapped later with RM_MAP_MEMORY, so no mmap context now: one the
    // allocation asked for would have to go on an open nvidiactl named by `fd`
    // (-1 is refused with EINVAL, the memory allocated all the same), and a
    // file holds one context at a time.
    mem.params.flags = kNvos02FlagsMappingNoMap;
    mem.fd = d.ctl;
    rc = Ioctl(gpu, Esc(kEscRmAllocMemory, sizeof mem), &mem);
    probe.Record("base", "system memory 1 MiB", rc, errno, mem.params.status);
    if (rc == 0 && mem.params.status == kNvOk) MapAndTouch(probe, d, device, mem.params.hObjectNew, 1 << 20);
    if (options.pageable_copy) PinPageable(probe, d, gpu, device);
  }

  video_object("video decoder", pick(IsDecoder), "NVDEC", engine_of(kNv2080EngineTypeBsp, 8));
  video_object("video encoder", pick(IsEncoder), "NVENC", engine_of(kNv2080EngineTypeMsenc, 3));
  video_object("JPEG decoder (NVJPG)", pick(IsNvjpg), "NVJPG", engine_of(kNv2080EngineTypeNvjpg, 8));
  video_object("optical flow (OFA)", pick(IsOfa), "OFA", engine_of(kNv2080EngineTypeOfa, 1, kNv2080EngineTypeOfa1));
  // The 3D class runs on the graphics engine, as compute does: on the same channel.
  alloc_class("graphics", "3D class", pick(Is3d), on(gr_channel));

  NVOS00_PARAMETERS free_client{d.client, 0, d.client, 0};
  rc = Ioctl(d.ctl, Esc(kEscRmFree, sizeof free_client), &free_client);
  probe.Record("base", "free client", rc, errno, free_client.status);

  int ok = 0, refused = 0, failed = 0;
  for (const Step& s : probe.steps) {
    ok += s.result == "ok";
    refused += s.result == "refused";
    failed += s.result == "failed";
  }
  if (probe.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Step& s : probe.steps) {
      out.push_back({{"capability", s.capability}, {"step", s.step}, {"result", s.result}, {"detail", s.detail}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("nvprobe: %d ok, %d refused, %d failed\n", ok, refused, failed);
  }
  steps = probe.steps;
  return failed == 0 ? 0 : 1;
}

}  // namespace nvprobe
