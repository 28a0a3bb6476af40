// Backends execute driver calls that the proxy has already checked and copied.
//
//   host: the real driver, through the supervisor's duplicate of the workload's file;
//   sim:  an in-process model of the 580 driver that answers like the real one, for
//         machines without a GPU (tests, CI, the README demo).
//
// Both speak the driver's real ABI: `arg` points at the driver's own parameter
// struct in the supervisor's memory, with nested pointers rewritten to
// supervisor memory by the proxy.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/device.h"
#include "caps/gpus.h"
#include "error/error.h"

namespace nvgate::backend {

// A device node the workload should find under /dev.
struct DeviceNode {
  std::string dev_path;     // where the workload opens it: "/dev/nvidiactl"
  std::string source_path;  // what is bind-mounted there: the host node, or the sim's file
  abi::DeviceKind kind;
  // Nonzero for the sim (node_files.cc): the workload finds a character device
  // with the driver's own number at dev_path, on a nodev mount the kernel
  // never opens, and the supervisor answers its open() with source_path.
  dev_t rdev = 0;
};

// A directory of driver files the workload should find over `target` (a
// directory outside /dev: "/proc/driver"), bound read-only in its own mount
// namespace. Only the sim has any (sim_driver_files.h).
struct DriverFileTree {
  std::string target;
  std::string source_dir;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view Name() const = 0;

  // The driver version this backend runs ("580.159.04"), or an error saying why
  // it could not be read.
  virtual Result<std::string> DriverVersion() = 0;

  // What NVIDIA file an open file is, from the supervisor's fstat of its duplicate.
  virtual abi::DeviceKind Classify(const struct stat& st) const = 0;

  // The NVIDIA device nodes this backend serves.
  virtual std::vector<DeviceNode> Nodes() const = 0;

  // The GPUs this backend drives, in index order; empty where it cannot tell
  // (a replayed trace), where only "all", "none" and "void" select.
  virtual std::vector<gpus::Gpu> Gpus() const { return {}; }

  // The driver files the workload should see besides the nodes; the real
  // driver's are already there.
  virtual std::vector<DriverFileTree> DriverFiles() const { return {}; }

  // Executes one driver call on `fd` (the supervisor's duplicate of the workload's
  // file). `request` is the ioctl request re-encoded by the proxy from what it
  // decoded; `tid` the workload thread that made the call (0 when not known),
  // which only the replay backend uses. Returns 0 or -errno, as the ioctl
  // would. Thread-safe.
  virtual int Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg, int tid) = 0;

  // A call the driver runs on its caller's own memory (abi::Handler::
  // kCallerMemory: host-memory pinning takes pages of current->mm), as the
  // workload thread `tid` that made it: its parameters at `arg` in that
  // thread's memory, read and written there as the driver's own copies would
  // be. nullopt where the backend cannot run a call as another process: the
  // host's driver, for which the workload's own call runs instead
  // (supervisor/caller_run.h). Else 0 or -errno, as the ioctl would return.
  virtual std::optional<int> IoctlAsCaller(int /*fd*/, abi::DeviceKind /*device*/, std::uint32_t /*request*/,
                                           std::uint64_t /*arg*/, pid_t /*tid*/) {
    return std::nullopt;
  }
};

// The real driver. Fails when no NVIDIA driver is loaded.
Result<std::unique_ptr<Backend>> MakeHostBackend();

struct SimOptions {
  std::string driver_version = "580.159.04";
  int gpu_count = 1;
  // Directory for the sim's device node files; a fresh temporary one when empty.
  std::string node_dir;
  // When set, one line per call the simulated driver executes is appended here
  // (format in docs/security.md): what tests check to prove a refused call never
  // reached the driver.
  std::string call_log;
};
Result<std::unique_ptr<Backend>> MakeSimBackend(const SimOptions& options);

// The GPUs a sim of `gpu_count` GPUs drives (its Backend::Gpus()), known
// without making one: the shim resolves containers' GPU names with it.
std::vector<gpus::Gpu> SimGpus(int gpu_count);
// The GPUs of the host's driver (the host backend's Gpus()); empty without one.
std::vector<gpus::Gpu> HostGpus();

}  // namespace nvgate::backend
