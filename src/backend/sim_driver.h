// The simulated 580 driver's model: RM, the frontend escapes and UVM, answering
// the driver's real ABI the way the driver does. The Backend in sim_backend.cc
// owns the node files and hands every call here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <sys/types.h>

#include "abi/device.h"
#include "abi/nv_structs.h"
#include "abi/nv_structs_libs.h"
#include "backend/node_files.h"
#include "backend/open_file_marks.h"
#include "backend/sim_branch.h"
#include "fd/owned_fd.h"

namespace nvgate::backend {

class SimDriver {
 public:
  // `identify` names the sim node an fd refers to (kNotNvidia for any other
  // file): the driver checks the fd each call is made on, the fds its
  // parameters carry (REGISTER_FD's ctl_fd, the fd that receives a mapping,
  // UVM's rmCtrlFd) and the files its caller holds (osIsGpuAccessible).
  SimDriver(std::string version, int gpu_count, std::function<NodeId(int fd)> identify);
  ~SimDriver();

  // One ioctl on `fd`, an open file of the node of kind `device`: 0 or -errno,
  // parameters updated in place as the driver would copy them out. The caller
  // is the calling thread's process, as for the driver (its fd table, pid and
  // capabilities). Thread-safe.
  int Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg);

  // The same call made by workload thread `tid` itself, with its parameters at
  // `arg` in that thread's memory: read and written there as nvidia_ioctl's
  // copy_from_user and copy_to_user would (kernel-open/nvidia/nv.c:2444, 2774
  // at 580.142), and current->mm is that thread's, for the one rule that looks
  // at it: host-memory pinning. What Backend::IoctlAsCaller runs. `params`
  // receives the parameters as the driver left them.
  int IoctlAsCaller(int fd, abi::DeviceKind device, std::uint32_t request, std::uint64_t arg, pid_t tid,
                    std::vector<std::byte>& params);

  // Where the sim notes what no call's parameters show: each pin and unpin of
  // host memory, with the process whose memory it was and, at the unpin, a
  // digest of what the pages held (what the GPU would have read through the
  // pin). Set before the first call.
  void SetNotes(std::function<void(const std::string&)> notes) { notes_ = std::move(notes); }

  // Whether the RM client `client` exists and was allocated by a caller with
  // CAP_SYS_ADMIN (the driver's RS_PRIV_LEVEL_USER_ROOT); for the call log.
  std::optional<bool> ClientIsAdmin(nv::NvHandle client);

  // An RM client that exists from the start and belongs to nobody the workload
  // knows: it stands for another sandbox's client on a shared driver, which
  // nvgate must never let a workload name.
  static constexpr nv::NvHandle kOtherTenantClient = 0xc1000001;

  // The 16-byte UUID of GPU `index` (what GPU_GET_GID_INFO answers in binary
  // form and UVM_REGISTER_GPU expects).
  static std::vector<std::uint8_t> GpuUuid(int index);

 private:
  struct Object {
    nv::NvHandle parent;
    nv::NvV32 cls;
    int gpu;             // the GPU the object belongs to, -1 for none
    nv::NvU64 size = 0;  // memory objects: their size in bytes
    // Channel groups and channels: the NV2080 engine type they are bound to.
    nv::NvU32 engine = 0;
    // Channels: the engine whose runlist their first engine object put them on, 0 for none yet.
    nv::NvU32 runlist = 0;
    // Channels: their channel ID on their engine's runlist.
    nv::NvU32 chid = 0;
    // HOPPER_USERMODE_A: allocated for a BAR1 mapping (bBar1Mapping).
    bool bar1_mapping = false;
    // NV50_THIRD_PARTY_P2P: the VA spaces registered with it, and their tokens.
    std::map<nv::NvHandle, nv::NvU32> p2p_va_spaces{};
    // RM_SHARE policies: the clients it was shared with, or everyone.
    std::set<nv::NvHandle> shared_with{};
    bool shared_with_all = false;
    // NV01_MEMORY_SYSTEM_OS_DESCRIPTOR: whose memory was pinned, from where
    // (its size is `size`).
    pid_t pinned_process = 0;
    nv::NvU64 pinned_begin = 0;
  };
  struct Client {
    std::map<nv::NvHandle, Object> objects;
    // The open file the client belongs to (the driver's pOSInfo), 0 for none.
    std::uint64_t os_info = 0;
    pid_t proc_id = 0;   // the allocating process (ProcID)
    bool admin = false;  // allocated by a caller with CAP_SYS_ADMIN
  };
  struct Mapping {
    nv::NvHandle client;
    nv::NvHandle memory;
    pid_t process;  // the process that created the mapping
  };
  // The driver's per-file state (nv_linux_file_private_t and what RM and UVM
  // hang on it), for one open file description.
  struct OpenFile {
    NodeId node;
    // REGISTER_FD: the control file this file speaks for, and the reference
    // the driver keeps on it until this file is released.
    std::uint64_t ctl_link = 0;
    fd::OwnedFd ctl_link_fd{};
    bool gpus_attached = false;      // ATTACH_GPUS_TO_FD done
    std::optional<nv::NvU64> uvm_flags{};  // UVM_INITIALIZE done, with these flags
    std::set<int> uvm_gpus{};          // UVM_REGISTER_GPU
    std::map<nv::NvU64, nv::NvU64> uvm_ranges{};  // external VA ranges: base -> end
  };
  // The file a call is made on, and who RM takes the caller to be.
  struct Caller {
    std::uint64_t file;
    OpenFile* state;
    std::uint64_t os_info;  // the control file RM checks clients against
    pid_t process;          // current: the calling process, whose memory a pin takes
  };

  int Frontend(Caller& caller, abi::DeviceKind device, std::uint32_t nr, std::uint32_t size, void* arg);
  int VersionCheck(nv::nv_ioctl_rm_api_version_t& v) const;
  int CardInfo(void* arg, std::uint32_t size) const;
  int AttachGpus(Caller& caller, const void* arg, std::uint32_t size) const;
  int RegisterFd(Caller& caller, const nv::nv_ioctl_register_fd_t& r);
  nv::NvV32 Alloc(const Caller& caller, nv::NVOS21_PARAMETERS& p, nv::NvP64 params);
  nv::NvV32 ChannelEngine(const nv::NVOS21_PARAMETERS& p, nv::NvP64 params, nv::NvU32& engine) const;
  nv::NvV32 EngineObjectRunlist(const nv::NVOS21_PARAMETERS& p, nv::NvP64 params, nv::NvU32& runlist) const;
  nv::NvV32 AllocMemory(const Caller& caller, nv::NVOS02_PARAMETERS& p);
  nv::NvV32 AllocOsDescriptor(const Caller& caller, nv::NVOS02_PARAMETERS& p);
  void Unpin(const Object& object);
  nv::NvV32 VidHeap(const Caller& caller, nv::NVOS32_PARAMETERS& p);
  nv::NvV32 HeapAlloc(int gpu, nv::NvU64& size, nv::NvU64 alignment, nv::NvU64& offset);
  nv::NvV32 Free(const Caller& caller, const nv::NVOS00_PARAMETERS& p);
  nv::NvV32 Dup(const Caller& caller, nv::NVOS55_PARAMETERS& p);
  nv::NvV32 Share(const Caller& caller, const nv::NVOS57_PARAMETERS& p);
  nv::NvV32 Map(const Caller& caller, nv::nv_ioctl_nvos33_parameters_with_fd& p);
  nv::NvV32 Unmap(const Caller& caller, const nv::NVOS34_PARAMETERS& p);
  nv::NvV32 UpdateMappingInfo(const Caller& caller, const nv::NVOS56_PARAMETERS& p);
  nv::NvV32 Control(const Caller& caller, const nv::NVOS54_PARAMETERS& p);
  nv::NvV32 ClientControl(const nv::NVOS54_PARAMETERS& p, void* params);
  nv::NvV32 AddrSpaceType(nv::NvHandle client, nv::NV0000_CTRL_CLIENT_GET_ADDR_SPACE_TYPE_PARAMS& p) const;
  nv::NvV32 DeviceControl(const nv::NVOS54_PARAMETERS& p, void* params);
  nv::NvU32 FreeChid(int gpu, nv::NvU32 engine) const;
  nv::NvV32 SubdeviceControl(const nv::NVOS54_PARAMETERS& p, int gpu, void* params);
  int Uvm(OpenFile& file, std::uint32_t request, void* arg);

  // The caller's file, marked and its state created on first sight; released
  // files' state torn down first. nullopt: not a node of this sim.
  std::optional<Caller> CallerOf(int fd, abi::DeviceKind device);
  void TearDownReleasedFiles();
  void ReleaseFile(std::uint64_t id);
  // rmclientValidate: the client exists and belongs to the caller's file.
  nv::NvV32 ValidateClient(const Caller& caller, nv::NvHandle client) const;
  // osIsGpuAccessible: the calling process holds an open file of GPU `gpu`.
  bool CallerHoldsGpu(int gpu) const;

  const Object* Find(nv::NvHandle client, nv::NvHandle handle) const;
  nv::NvV32 ClassOf(nv::NvHandle client, nv::NvHandle handle) const;
  nv::NvV32 Insert(nv::NvHandle client, nv::NvHandle& handle, const Object& object);
  nv::NvHandle NewHandle() { return 0xcaf00000 + next_handle_++; }
  int GpuOfUuid(const std::uint8_t* uuid) const;

  const std::string version_;
  const int gpu_count_;
  const std::function<NodeId(int fd)> identify_;
  const SimBranch branch_;  // the layouts of version_'s branch where they differ from 580's

  std::mutex mu_;
  std::map<nv::NvHandle, Client> clients_;
  std::uint32_t next_handle_ = 1;
  std::map<nv::NvU64, Mapping> mappings_;  // by the cookie RM_MAP_MEMORY returned
  nv::NvU64 next_cookie_ = 0x10000;
  std::vector<nv::NvU64> vidmem_used_;  // per GPU, by VID_HEAP_CONTROL ALLOC_SIZE
  std::vector<nv::NvHandle> compute_reservation_;  // per GPU: the client holding it, 0 for none
  nv::NvU64 memblock_size_ = 0;         // SYS_PARAMS: set once
  OpenFileMarks marks_;
  std::map<std::uint64_t, OpenFile> files_;  // by their mark
  nv::NvU64 next_range_group_ = 1;
  std::function<void(const std::string&)> notes_;
};

}  // namespace nvgate::backend
