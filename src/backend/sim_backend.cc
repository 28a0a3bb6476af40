// The simulated driver as a Backend: device node files the workload can open,
// stat and mmap (node_files.h), the driver's /proc and /sys files that NVIDIA's
// libraries look for (sim_driver_files.h), and the driver model of
// sim_driver.cc behind them.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "backend/node_files.h"
#include "backend/sim_driver.h"
#include "backend/sim_driver_files.h"
#include "backend/sim_gpu.h"
#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::backend {
namespace {

class SimBackend final : public Backend {
 public:
  SimBackend(const SimOptions& options, std::unique_ptr<NodeFiles> nodes, std::string files_dir,
             std::vector<DriverFileTree> files)
      : version_(options.driver_version),
        nodes_(std::move(nodes)),
        files_dir_(std::move(files_dir)),
        files_(std::move(files)),
        gpu_count_(options.gpu_count),
        driver_(options.driver_version, options.gpu_count,
                [this](int fd) { return nodes_->IdentifyFd(fd); }) {}

  ~SimBackend() override {
    call_log_.reset();
    std::error_code ec;
    std::filesystem::remove_all(files_dir_, ec);
  }

  std::string_view Name() const override { return "sim"; }
  Result<std::string> DriverVersion() override { return version_; }

  abi::DeviceKind Classify(const struct stat& st) const override { return nodes_->Classify(st); }

  std::vector<DeviceNode> Nodes() const override { return WithDriverNumbers(nodes_->nodes()); }

  std::vector<DriverFileTree> DriverFiles() const override { return files_; }

  std::vector<gpus::Gpu> Gpus() const override { return SimGpus(gpu_count_); }

  int Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg, int) override {
    int rc = driver_.Ioctl(fd, device, request, arg);
    if (call_log_) LogCall(device, request, arg, rc);
    return rc;
  }

  std::optional<int> IoctlAsCaller(int fd, abi::DeviceKind device, std::uint32_t request, std::uint64_t arg,
                                   pid_t tid) override {
    std::vector<std::byte> params;
    int rc = driver_.IoctlAsCaller(fd, device, request, arg, tid, params);
    if (call_log_) LogCall(device, request, params.data(), rc, fmt::format(" in_caller tid={}", tid), tid);
    return rc;
  }

  Result<void> OpenCallLog(const std::string& path) {
    call_log_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!call_log_) {
      return tl::unexpected(
          Error::Errno("cannot open the sim's call log " + path));
    }
    driver_.SetNotes([this](const std::string& note) { WriteLine(note); });
    return {};
  }

 private:
  // One line per call the driver was handed, whatever it answered; RM
  // allocations, shares and controls also name their class, share type or
  // command and client, which is what tests look for. Each ends with the
  // process that made the call, the one a driver takes for its caller: the
  // supervisor's, but for a call run as the workload's thread (IoctlAsCaller:
  // `how` says so, and `caller` is that thread).
  void LogCall(abi::DeviceKind device, std::uint32_t request, const void* arg, int rc, std::string_view how = "",
               pid_t caller = ::getpid()) {
    std::string line = fmt::format("{} {:#010x} rc={}", abi::DeviceKindName(device), request, rc);
    if (abi::IsFrontend(device) && arg != nullptr) {
      std::uint32_t nr = _IOC_NR(request);
      std::uint32_t size = _IOC_SIZE(request);
      if (nr == nv::kEscRmAlloc && size >= sizeof(nv::NVOS21_PARAMETERS)) {
        const auto* p = static_cast<const nv::NVOS21_PARAMETERS*>(arg);
        line += fmt::format(" alloc class={:#x} client={:#x} status={:#x}", p->hClass, p->hRoot, p->status);
        line += EmbeddedClients(p->hClass, p->pAllocParms);
        if (p->hClass == nv::kNv01RootClient && p->status == nv::kNvOk) {
          // The privilege RM gave the new client: what its caller's
          // capabilities made it (docs/security.md, invariant 8).
          std::optional<bool> admin = driver_.ClientIsAdmin(p->hObjectNew);
          if (admin) line += *admin ? " priv=admin" : " priv=user";
        }
      } else if (nr == nv::kEscRmAllocMemory && size == sizeof(nv::nv_ioctl_nvos02_parameters_with_fd)) {
        const auto* p = static_cast<const nv::nv_ioctl_nvos02_parameters_with_fd*>(arg);
        line += fmt::format(" alloc_memory class={:#x} client={:#x} status={:#x}", p->params.hClass,
                            p->params.hRoot, p->params.status);
      } else if (nr == nv::kEscRmShare && size == sizeof(nv::NVOS57_PARAMETERS)) {
        const auto* p = static_cast<const nv::NVOS57_PARAMETERS*>(arg);
        line += fmt::format(" share type={} target={:#x} client={:#x} status={:#x}", p->sharePolicy.type,
                            p->sharePolicy.target, p->hClient, p->status);
      } else if (nr == nv::kEscExportToDmabufFd && size >= 8) {
        // nv_ioctl_export_to_dma_buf_fd_t: the fd, then the client.
        std::uint32_t client;
        std::memcpy(&client, static_cast<const std::byte*>(arg) + 4, sizeof client);
        line += fmt::format(" export client={:#x}", client);
      } else if (nr == nv::kEscRmControl && size == sizeof(nv::NVOS54_PARAMETERS)) {
        const auto* p = static_cast<const nv::NVOS54_PARAMETERS*>(arg);
        // The size and whether a pointer came with it: what the route for
        // malformed parameters checks against the table.
        line += fmt::format(" control cmd={:#x} client={:#x} params={} params_size={:#x} status={:#x}", p->cmd,
                            p->hClient, p->params == 0 ? "null" : "set", p->paramsSize, p->status);
      }
    }
    if (device == abi::DeviceKind::kUvm && arg != nullptr) line += UvmClient(request, arg);
    line += how;
    line += fmt::format(" caller_pid={}", caller);
    WriteLine(line);
  }

  void WriteLine(std::string line) const {
    line += '\n';
    // O_APPEND and one write per line: lines from concurrent calls never interleave.
    [[maybe_unused]] ssize_t written = ::write(call_log_.get(), line.data(), line.size());
  }

  // The other clients an allocation's parameters name, which RM follows: the
  // tests look for any client of another tenant anywhere in a line.
  static std::string EmbeddedClients(nv::NvV32 cls, nv::NvP64 params) {
    if (params == 0) return "";
    if (cls == nv::kNv01Device0) {
      const auto* d = reinterpret_cast<const nv::NV0080_ALLOC_PARAMETERS*>(params);
      return fmt::format(" share_client={:#x} target_client={:#x}", d->hClientShare, d->hTargetClient);
    }
    if (cls == nv::kNv01Event || cls == nv::kNv01EventOsEvent) {
      const auto* e = reinterpret_cast<const nv::NV0005_ALLOC_PARAMETERS*>(params);
      return fmt::format(" parent_client={:#x}", e->hParentClient);
    }
    return "";
  }

  // The RM client a UVM call names (UVM reaches RM through it), where its
  // struct has one: offsets as in src/abi/data/r580.tsv.
  static std::string UvmClient(std::uint32_t request, const void* arg) {
    std::size_t at = 0;
    switch (request) {
      case nv::kUvmRegisterGpu: at = offsetof(nv::UVM_REGISTER_GPU_PARAMS, hClient); break;
      case nv::kUvmRegisterGpuVaspace: at = offsetof(nv::UVM_REGISTER_GPU_VASPACE_PARAMS, hClient); break;
      case nv::kUvmRegisterChannel: at = 20; break;  // UVM_REGISTER_CHANNEL_PARAMS.hClient
      case nv::kUvmMapExternalAllocation: at = offsetof(nv::UVM_MAP_EXTERNAL_ALLOCATION_PARAMS, hClient); break;
      default: return "";
    }
    std::uint32_t client;
    std::memcpy(&client, static_cast<const std::byte*>(arg) + at, sizeof client);
    return fmt::format(" uvm client={:#x}", client);
  }

  const std::string version_;
  const std::unique_ptr<NodeFiles> nodes_;
  const std::string files_dir_;
  const std::vector<DriverFileTree> files_;
  const int gpu_count_;
  SimDriver driver_;
  fd::OwnedFd call_log_;
};

}  // namespace

// The identities the sim's driver model answers with (sim_gpu.h, SimDriver::GpuUuid).
std::vector<gpus::Gpu> SimGpus(int gpu_count) {
  std::vector<gpus::Gpu> out;
  for (int i = 0; i < gpu_count; ++i) {
    std::vector<std::uint8_t> uuid = SimDriver::GpuUuid(i);
    char bus_id[32];
    std::snprintf(bus_id, sizeof bus_id, "0000:%02x:00.0", (kFirstSimGpuBus + i) & 0xff);
    out.push_back({.index = i,
                   .gpu_id = kFirstSimGpuId + static_cast<std::uint32_t>(i),
                   .uuid = gpus::UuidText(std::span<const std::uint8_t, 16>(uuid.data(), 16)),
                   .pci_bus_id = bus_id,
                   .device_instance = i});
  }
  return out;
}

Result<std::unique_ptr<Backend>> MakeSimBackend(const SimOptions& options) {
  if (options.gpu_count < 1 || options.gpu_count > 8) {
    return tl::unexpected(Error::Usage("the simulated driver offers 1 to 8 GPUs"));
  }
  // The sim is a version nvgate has a table for, whose sizes it then speaks.
  if (abi::TableForVersion(options.driver_version) == nullptr) {
    return tl::unexpected(Error::Unsupported("the simulated driver cannot be " + options.driver_version +
                                             ", which is not a driver version nvgate has an ABI table for"));
  }
  auto nodes = NodeFiles::Create("sim", options.node_dir, options.gpu_count);
  if (!nodes) return tl::unexpected(nodes.error());
  std::string files_dir = "/tmp/nvgate-sim-files-XXXXXX";
  if (::mkdtemp(files_dir.data()) == nullptr) {
    return tl::unexpected(
        Error::Errno("cannot create the sim's driver files"));
  }
  ::chmod(files_dir.c_str(), 0755);
  auto files = WriteSimDriverFiles(files_dir, options.driver_version, options.gpu_count);
  if (!files) {
    std::error_code ec;
    std::filesystem::remove_all(files_dir, ec);
    return tl::unexpected(files.error().Prefixed("cannot create the sim's driver files: "));
  }
  auto sim = std::make_unique<SimBackend>(options, std::move(*nodes), std::move(files_dir), std::move(*files));
  if (!options.call_log.empty()) {
    if (auto r = sim->OpenCallLog(options.call_log); !r) return tl::unexpected(r.error());
  }
  return std::unique_ptr<Backend>(std::move(sim));
}

}  // namespace nvgate::backend
