// The simulated driver as a Backend: device node files the workload can open,
// stat and mmap, and the driver model of sim_driver.cc behind them.
//
// The node files are regular files in a directory of their own; the supervisor
// recognises them by (st_dev, st_ino). nvidiactl and each nvidia# are large
// sparse files, so that a workload's mmap of memory it mapped through RM works
// (system memory is mapped through a control file, video memory through a GPU
// file, as with the driver). The driver maps only at file offset 0, so in the
// sim every mapping of a node aliases the same file pages: memory that a test
// writes through one mapping shows through every other.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "backend/sim_driver.h"

namespace nvgate::backend {
namespace {

// Sparse: costs no disk, bounds what one mmap of a node can cover.
constexpr off_t kMappableNodeSize = off_t{1} << 30;

class SimBackend final : public Backend {
 public:
  SimBackend(const SimOptions& options, std::string dir, bool owns_dir)
      : version_(options.driver_version),
        gpu_count_(options.gpu_count),
        dir_(std::move(dir)),
        owns_dir_(owns_dir),
        driver_(options.driver_version, options.gpu_count, [this](int fd) { return ClassifyFd(fd); }) {}

  ~SimBackend() override {
    if (call_log_ >= 0) ::close(call_log_);
    if (owns_dir_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  tl::expected<void, std::string> CreateNodes() {
    auto add = [&](const std::string& name, abi::DeviceKind kind, off_t size) -> tl::expected<void, std::string> {
      std::string path = dir_ + "/" + name;
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      struct stat st;
      if (fd < 0 || ::ftruncate(fd, size) != 0 || ::fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0) ::close(fd);
        return tl::unexpected<std::string>("cannot create the sim's node " + path + ": " + std::strerror(err));
      }
      ::close(fd);
      // Every workload user may open the nodes, as with the driver's 0666 nodes.
      ::chmod(path.c_str(), 0666);
      nodes_.push_back({"/dev/" + name, path, kind});
      files_[{st.st_dev, st.st_ino}] = kind;
      return {};
    };
    for (auto r : {add("nvidiactl", abi::DeviceKind::kCtl, kMappableNodeSize),
                   add("nvidia-uvm", abi::DeviceKind::kUvm, 0),
                   add("nvidia-uvm-tools", abi::DeviceKind::kUvmTools, 0)}) {
      if (!r) return r;
    }
    for (int i = 0; i < gpu_count_; ++i) {
      if (auto r = add("nvidia" + std::to_string(i), abi::DeviceKind::kGpu, kMappableNodeSize); !r) return r;
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
    int rc = driver_.Ioctl(device, request, arg);
    if (call_log_ >= 0) LogCall(device, request, arg, rc);
    return rc;
  }

  tl::expected<void, std::string> OpenCallLog(const std::string& path) {
    call_log_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (call_log_ < 0) {
      return tl::unexpected<std::string>("cannot open the sim's call log " + path + ": " + std::strerror(errno));
    }
    return {};
  }

 private:
  abi::DeviceKind ClassifyFd(int fd) const {
    struct stat st;
    return fd >= 0 && ::fstat(fd, &st) == 0 ? Classify(st) : abi::DeviceKind::kNotNvidia;
  }

  // One line per executed call; RM allocations, shares and controls also name
  // their class, share type or command and client, which is what tests look for.
  void LogCall(abi::DeviceKind device, std::uint32_t request, const void* arg, int rc) {
    std::string line = fmt::format("{} {:#010x} rc={}", abi::DeviceKindName(device), request, rc);
    if (abi::IsFrontend(device) && arg != nullptr) {
      std::uint32_t nr = _IOC_NR(request);
      std::uint32_t size = _IOC_SIZE(request);
      if (nr == nv::kEscRmAlloc && size >= sizeof(nv::NVOS21_PARAMETERS)) {
        const auto* p = static_cast<const nv::NVOS21_PARAMETERS*>(arg);
        line += fmt::format(" alloc class={:#x} client={:#x} status={:#x}", p->hClass, p->hRoot, p->status);
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
        line += fmt::format(" control cmd={:#x} client={:#x} status={:#x}", p->cmd, p->hClient, p->status);
      }
    }
    line += '\n';
    // O_APPEND and one write per line: lines from concurrent calls never interleave.
    [[maybe_unused]] ssize_t written = ::write(call_log_, line.data(), line.size());
  }

  const std::string version_;
  const int gpu_count_;
  const std::string dir_;
  const bool owns_dir_;
  // Written before the backend is shared, read-only afterwards.
  std::vector<DeviceNode> nodes_;
  std::map<std::pair<dev_t, ino_t>, abi::DeviceKind> files_;
  SimDriver driver_;
  int call_log_ = -1;
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
    // Workloads may run as another user; they need to reach the nodes.
    ::chmod(dir.c_str(), 0755);
  }
  auto sim = std::make_unique<SimBackend>(options, dir, owns_dir);
  if (auto r = sim->CreateNodes(); !r) return tl::unexpected(r.error());
  if (!options.call_log.empty()) {
    if (auto r = sim->OpenCallLog(options.call_log); !r) return tl::unexpected(r.error());
  }
  return std::unique_ptr<Backend>(std::move(sim));
}

}  // namespace nvgate::backend
