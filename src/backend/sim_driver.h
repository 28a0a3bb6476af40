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

#include "abi/device.h"
#include "abi/nv_structs.h"
#include "backend/sim_branch.h"

namespace nvgate::backend {

class SimDriver {
 public:
  // `classify` names the sim node an fd refers to (kNotNvidia for any other
  // file): the driver checks the fds its parameters carry (REGISTER_FD's ctl_fd,
  // the fd that receives a mapping, UVM's rmCtrlFd).
  SimDriver(std::string version, int gpu_count, std::function<abi::DeviceKind(int fd)> classify);

  // One ioctl on a file of kind `device`: 0 or -errno, parameters updated in
  // place as the driver would copy them out. Thread-safe.
  int Ioctl(abi::DeviceKind device, std::uint32_t request, void* arg);

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
  };
  struct Client {
    std::map<nv::NvHandle, Object> objects;
  };
  struct Mapping {
    nv::NvHandle client;
    nv::NvHandle memory;
  };

  int Frontend(abi::DeviceKind device, std::uint32_t nr, std::uint32_t size, void* arg);
  int VersionCheck(nv::nv_ioctl_rm_api_version_t& v) const;
  int CardInfo(void* arg, std::uint32_t size) const;
  int AttachGpus(const void* arg, std::uint32_t size) const;
  nv::NvV32 Alloc(nv::NVOS21_PARAMETERS& p, nv::NvP64 params);
  nv::NvV32 AllocMemory(nv::NVOS02_PARAMETERS& p);
  nv::NvV32 VidHeap(nv::NVOS32_PARAMETERS& p);
  nv::NvV32 Free(const nv::NVOS00_PARAMETERS& p);
  nv::NvV32 Dup(nv::NVOS55_PARAMETERS& p);
  nv::NvV32 Map(nv::nv_ioctl_nvos33_parameters_with_fd& p);
  nv::NvV32 Unmap(const nv::NVOS34_PARAMETERS& p);
  nv::NvV32 Control(const nv::NVOS54_PARAMETERS& p);
  nv::NvV32 ClientControl(const nv::NVOS54_PARAMETERS& p, void* params);
  nv::NvV32 DeviceControl(const nv::NVOS54_PARAMETERS& p, void* params);
  nv::NvV32 SubdeviceControl(const nv::NVOS54_PARAMETERS& p, int gpu, void* params);
  int Uvm(std::uint32_t request, void* arg);

  const Object* Find(nv::NvHandle client, nv::NvHandle handle) const;
  nv::NvV32 ClassOf(nv::NvHandle client, nv::NvHandle handle) const;
  nv::NvV32 Insert(nv::NvHandle client, nv::NvHandle& handle, const Object& object);
  nv::NvHandle NewHandle() { return 0xcaf00000 + next_handle_++; }
  int GpuOfUuid(const std::uint8_t* uuid) const;

  const std::string version_;
  const int gpu_count_;
  const std::function<abi::DeviceKind(int fd)> classify_;
  const SimBranch branch_;  // the layouts of version_'s branch where they differ from 580's

  std::mutex mu_;
  std::map<nv::NvHandle, Client> clients_;
  std::uint32_t next_handle_ = 1;
  std::map<nv::NvU64, Mapping> mappings_;  // by the cookie RM_MAP_MEMORY returned
  nv::NvU64 next_cookie_ = 0x10000;
  std::vector<nv::NvU64> vidmem_used_;  // per GPU, by VID_HEAP_CONTROL ALLOC_SIZE
  nv::NvU64 memblock_size_ = 0;         // SYS_PARAMS: set once
  // UVM state. The driver keeps it per open file; the sim sees only the
  // supervisor's short-lived duplicates, so it keeps one state for the node.
  std::optional<nv::NvU64> uvm_flags_;
  std::set<int> uvm_gpus_;
  nv::NvU64 next_range_group_ = 1;
};

}  // namespace nvgate::backend
