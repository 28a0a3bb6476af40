// The real driver: the supervisor runs each checked call on its duplicate of
// the workload's own file.
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <unistd.h>

#include <linux/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <spdlog/spdlog.h>

#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "backend/version.h"
#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::backend {
namespace {

constexpr unsigned kNvidiaMajor = 195;
constexpr unsigned kCtlMinor = 255;
constexpr unsigned kModesetMinor = 254;
constexpr unsigned kMaxGpuMinor = 247;

// The major of a character device driver named in /proc/devices, or -1.
int DeviceMajor(const std::string& name) {
  std::ifstream in("/proc/devices");
  std::string line;
  bool in_char = false;
  while (std::getline(in, line)) {
    if (line == "Character devices:") in_char = true;
    if (line == "Block devices:") in_char = false;
    std::istringstream fields(line);
    int major;
    std::string driver;
    if (in_char && fields >> major >> driver && driver == name) return major;
  }
  return -1;
}

class HostBackend final : public Backend {
 public:
  HostBackend() : uvm_major_(DeviceMajor("nvidia-uvm")), caps_major_(DeviceMajor("nvidia-caps")) {}

  std::string_view Name() const override { return "host"; }

  Result<std::string> DriverVersion() override {
    fd::OwnedFd fd(::open("/dev/nvidiactl", O_RDWR | O_CLOEXEC));
    if (fd) {
      nv::nv_ioctl_rm_api_version_t v{};
      v.cmd = nv::kRmApiVersionCmdQuery;
      int rc = ::ioctl(fd.get(), _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nv::kEscCheckVersionStr, sizeof v), &v);
      int err = errno;
      fd.reset();
      v.versionString[sizeof v.versionString - 1] = '\0';
      if (rc == 0 && v.versionString[0] != '\0') return std::string(v.versionString);
      spdlog::debug("NV_ESC_CHECK_VERSION_STR query on /dev/nvidiactl failed ({}); reading /proc/driver/nvidia/version",
                    rc == 0 ? "empty answer" : std::strerror(err));
    }
    if (auto version = ReadProcDriverVersion()) return *version;
    return tl::unexpected(
        Error::NotFound("cannot read the NVIDIA driver version from /dev/nvidiactl or /proc/driver/nvidia/version"));
  }

  abi::DeviceKind Classify(const struct stat& st) const override {
    if (!S_ISCHR(st.st_mode)) return abi::DeviceKind::kNotNvidia;
    unsigned major = ::major(st.st_rdev);
    unsigned minor = ::minor(st.st_rdev);
    if (major == kNvidiaMajor) {
      if (minor == kCtlMinor) return abi::DeviceKind::kCtl;
      if (minor == kModesetMinor) return abi::DeviceKind::kModeset;
      if (minor <= kMaxGpuMinor) return abi::DeviceKind::kGpu;
      return abi::DeviceKind::kNotNvidia;
    }
    if (uvm_major_ >= 0 && major == static_cast<unsigned>(uvm_major_)) {
      return minor == 0 ? abi::DeviceKind::kUvm : abi::DeviceKind::kUvmTools;
    }
    if (caps_major_ >= 0 && major == static_cast<unsigned>(caps_major_)) return abi::DeviceKind::kCaps;
    return abi::DeviceKind::kNotNvidia;
  }

  std::vector<DeviceNode> Nodes() const override {
    static const std::regex kNodeName(R"(nvidia(ctl|[0-9]+|-uvm|-uvm-tools|-modeset))");
    std::vector<DeviceNode> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/dev", ec)) {
      std::string name = entry.path().filename();
      struct stat st;
      if (!std::regex_match(name, kNodeName)) continue;
      if (::stat(entry.path().c_str(), &st) != 0) continue;
      abi::DeviceKind kind = Classify(st);
      if (kind != abi::DeviceKind::kNotNvidia) out.push_back({entry.path(), entry.path(), kind});
    }
    return out;
  }

  std::vector<gpus::Gpu> Gpus() const override { return HostGpus(); }

  int Ioctl(int fd, abi::DeviceKind, std::uint32_t request, void* arg, int) override {
    return ::ioctl(fd, request, arg) == 0 ? 0 : -errno;
  }

 private:
  int uvm_major_;
  int caps_major_;
};

}  // namespace

// The driver's GPUs, from /proc/driver/nvidia/gpus/*/information
// (kernel-open/nvidia/nv-procfs.c:139-160 at 580.142). RM's gpuId is the
// PCI domain's low 16 bits, bus and slot (gpuGenerate32BitId,
// src/nvidia/src/kernel/gpu/gpu.c:283 and NVGPU_BUSDEVICE_* in
// src/nvidia/generated/g_gpu_nvoc.h:483-485 at 580.142).
std::vector<gpus::Gpu> HostGpus() {
  std::vector<gpus::Gpu> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
    std::ifstream in(entry.path() / "information");
    std::string line;
    gpus::Gpu gpu;
    gpu.index = -1;
    unsigned domain = 0, bus = 0, slot = 0, function = 0;
    while (std::getline(in, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, colon);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      if (key == "GPU UUID") {
        gpu.uuid = value;
      } else if (key == "Device Minor") {
        gpu.index = std::atoi(value.c_str());
      } else if (key == "Bus Location" &&
                 std::sscanf(value.c_str(), "%x:%x:%x.%x", &domain, &bus, &slot, &function) == 4) {
        char bus_id[32];
        std::snprintf(bus_id, sizeof bus_id, "%04x:%02x:%02x.%x", domain, bus, slot, function);
        gpu.pci_bus_id = bus_id;
        gpu.gpu_id = ((domain & 0xffff) << 16) | ((bus & 0xff) << 8) | (slot & 0xff);
      }
    }
    if (gpu.index >= 0 && !gpu.uuid.empty()) out.push_back(std::move(gpu));
  }
  std::sort(out.begin(), out.end(), [](const gpus::Gpu& a, const gpus::Gpu& b) { return a.index < b.index; });
  return out;
}

Result<std::unique_ptr<Backend>> MakeHostBackend() {
  // Both come with a loaded driver; without them there is nothing to serve.
  for (const char* path : {"/dev/nvidiactl", "/proc/driver/nvidia/version"}) {
    if (::access(path, F_OK) != 0) {
      return tl::unexpected(Error::NotFound(std::string("no NVIDIA driver here (") + path +
                                            " is missing); --backend sim runs on the simulated driver"));
    }
  }
  return std::unique_ptr<Backend>(new HostBackend());
}

}  // namespace nvgate::backend
