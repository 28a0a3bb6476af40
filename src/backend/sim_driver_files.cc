#include "backend/sim_driver_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "backend/sim_gpu.h"
#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::backend {
namespace {

Result<void> MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return tl::unexpected(Error::Errno("cannot create " + path));
  }
  // Workloads may run as another user.
  ::chmod(path.c_str(), 0755);
  return {};
}

Result<void> WriteFile(const std::string& path, std::string_view content) {
  fd::OwnedFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444));
  if (!fd) return tl::unexpected(Error::Errno("cannot create " + path));
  bool ok = ::write(fd.get(), content.data(), content.size()) == static_cast<ssize_t>(content.size());
  int err = errno;
  fd.reset();
  if (!ok) return tl::unexpected(Error::System(err, fmt::format("cannot write {}: {}", path, std::strerror(err))));
  ::chmod(path.c_str(), 0444);
  return {};
}

void Put16(std::array<std::uint8_t, 256>& config, std::size_t at, std::uint16_t v) {
  config[at] = static_cast<std::uint8_t>(v);
  config[at + 1] = static_cast<std::uint8_t>(v >> 8);
}

void Put32(std::array<std::uint8_t, 256>& config, std::size_t at, std::uint32_t v) {
  Put16(config, at, static_cast<std::uint16_t>(v));
  Put16(config, at + 2, static_cast<std::uint16_t>(v >> 16));
}

// PCI class 03 (display), subclass 02 (3D controller), as a data-centre GPU
// without display outputs reports itself.
constexpr std::uint32_t k3dControllerClass = 0x030200;

// The function's standard (type 0) configuration header: the PCI Local Bus
// specification's layout, with the identity and BARs CARD_INFO reports
// (sim_driver.cc); the libraries read the first 48 bytes.
std::array<std::uint8_t, 256> ConfigSpace(unsigned index) {
  std::array<std::uint8_t, 256> config{};
  Put16(config, 0x00, kNvidiaVendorId);
  Put16(config, 0x02, kH100DeviceId);
  Put16(config, 0x04, 0x0006);  // command: memory space and bus master enabled
  Put32(config, 0x08, k3dControllerClass << 8 | kH100RevisionId);
  // BAR0: 32-bit memory; BAR1 (+BAR2): 64-bit prefetchable memory.
  Put32(config, 0x10, static_cast<std::uint32_t>(SimGpuRegAddress(index)));
  std::uint64_t fb = SimGpuFbAddress(index);
  Put32(config, 0x14, static_cast<std::uint32_t>(fb) | 0xc);
  Put32(config, 0x18, static_cast<std::uint32_t>(fb >> 32));
  Put16(config, 0x2c, kNvidiaVendorId);
  Put16(config, 0x2e, kH100SubsystemId);
  return config;
}

// kernel-open/common/inc/nv-chardev-numbers.h:29 and :40 (580.142).
constexpr unsigned kNvMajorDeviceNumber = 195;
constexpr unsigned kNvControlDeviceMinor = 255;

}  // namespace

std::vector<DeviceNode> WithDriverNumbers(std::vector<DeviceNode> nodes) {
  unsigned gpu = 0;
  for (DeviceNode& node : nodes) {
    if (node.kind == abi::DeviceKind::kCtl) node.rdev = makedev(kNvMajorDeviceNumber, kNvControlDeviceMinor);
    if (node.kind == abi::DeviceKind::kGpu) node.rdev = makedev(kNvMajorDeviceNumber, gpu++);
  }
  return nodes;
}

Result<std::vector<DriverFileTree>> WriteSimDriverFiles(const std::string& dir, const std::string& version,
                                                        int gpu_count) {
  const std::string proc = dir + "/proc-driver";
  const std::string module = dir + "/sys-module";
  const std::string pci = dir + "/sys-bus-pci-devices";
  for (const std::string& d : {proc, proc + "/nvidia", module, module + "/nvidia", pci}) {
    if (auto r = MakeDir(d); !r) return tl::unexpected(r.error());
  }
  // kernel-open/nvidia/nv-procfs.c:233 (580.142): "NVRM version: %s" with the
  // module's id string, then the compiler.
  std::string files[][2] = {
      {proc + "/nvidia/version",
       fmt::format("NVRM version: NVIDIA UNIX x86_64 Kernel Module  {}  (nvgate simulated driver)\n"
                   "GCC version:  none (simulated)\n",
                   version)},
      // nv-procfs.c:422: one "Name: value" line per parameter of nv_parms
      // (nv-reg.h:1014). Only the device-file ones, which the libraries read;
      // ModifyDeviceFiles 0: see sim_driver_files.h. Mode 438 is 0666, the
      // driver's default (nv-reg.h:146).
      {proc + "/nvidia/params", "ModifyDeviceFiles: 0\nDeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n"},
      // The kernel's module sysfs: initstate "live" once the module is loaded.
      {module + "/nvidia/initstate", "live\n"},
      {module + "/nvidia/version", version + "\n"},
  };
  for (const auto& [path, content] : files) {
    if (auto r = WriteFile(path, content); !r) return tl::unexpected(r.error());
  }
  for (int i = 0; i < gpu_count; ++i) {
    auto u = static_cast<unsigned>(i);
    const std::string function = fmt::format("{}/0000:{:02x}:00.0", pci, kFirstSimGpuBus + u);
    if (auto r = MakeDir(function); !r) return tl::unexpected(r.error());
    auto config = ConfigSpace(u);
    std::string gpu_files[][2] = {
        {function + "/config", std::string(reinterpret_cast<const char*>(config.data()), config.size())},
        {function + "/vendor", fmt::format("{:#06x}\n", kNvidiaVendorId)},
        {function + "/device", fmt::format("{:#06x}\n", kH100DeviceId)},
        {function + "/class", fmt::format("{:#08x}\n", k3dControllerClass)},
    };
    for (const auto& [path, content] : gpu_files) {
      if (auto r = WriteFile(path, content); !r) return tl::unexpected(r.error());
    }
  }
  return std::vector<DriverFileTree>{{"/proc/driver", proc}, {"/sys/module", module}, {"/sys/bus/pci/devices", pci}};
}

}  // namespace nvgate::backend
