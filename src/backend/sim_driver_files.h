// What NVIDIA's user-space libraries (libcuda, libnvidia-ml) read about the
// driver before their first call to it, written for the simulated driver so that
// they find it loaded. Each tree is bind-mounted, read-only, over its target in
// the workload's own mount namespace only (supervisor/launch.cc); nothing of it
// is visible outside the sandbox.
//
//   /proc/driver/nvidia/version   "NVRM version: ..." with the simulated version
//   /proc/driver/nvidia/params    the device-file parameters
//   /sys/module/nvidia/initstate  "live": the module is loaded
//   /sys/module/nvidia/version    the simulated version
//   /sys/bus/pci/devices/DDDD:BB:00.0/{config,vendor,device,class}
//                                 one NVIDIA PCI function per simulated GPU
//
// Why ModifyDeviceFiles is 0 in params: the sim's nodes are regular files that
// nvgate bind-mounts under the sandbox's read-only /dev (node_files.h), not
// character devices. With the driver's default (1), the libraries find a node
// that is not the character device 195:N and try to unlink it and mknod a new
// one (as nvidia-modprobe does), which fails on the read-only /dev and stops
// them. NVreg_ModifyDeviceFiles=0 is the driver's own setting for a system
// whose device files are managed by someone else (kernel-open/nvidia/nv-reg.h:89
// at 580.142), which is what nvgate is here: the libraries then open the nodes
// as they find them.
//
// They still insist on character devices with the driver's numbers (below).
// The sandbox gets those, made with mknod on its private /dev, which is
// mounted nodev: the kernel never opens them (there is no driver behind 195:N
// on a machine without a GPU, and a real one must not be reached). The
// supervisor answers the workload's open() of such a path itself with the
// sim's node file (supervisor.cc, HandleOpen), so nvgate keeps classifying the
// files the workload holds by (st_dev, st_ino) of files it created. Where mknod
// is not allowed (an unprivileged user namespace), the node file is bound there
// as before, which our own workloads accept and NVIDIA's libraries do not.
#pragma once

#include <string>
#include <vector>

#include "backend/backend.h"
#include "error/error.h"

namespace nvgate::backend {

// The nodes, each with the character-device number the driver gives it:
// NVIDIA's libraries check the number of nvidiactl and nvidia# before they
// open them (195:255 and 195:N, kernel-open/common/inc/nv-chardev-numbers.h:29
// and :40 at 580.142), and fail with "GPU access blocked by the operating
// system" for a node that is not one. The UVM node keeps no number (its major
// is dynamic, kernel-open/nvidia-uvm/uvm.c:1138) and stays a bound file.
std::vector<DeviceNode> WithDriverNumbers(std::vector<DeviceNode> nodes);

// Writes the trees under `dir` (which must exist) for a driver of `version`
// with `gpu_count` GPUs, and says where each goes in the workload's view.
Result<std::vector<DriverFileTree>> WriteSimDriverFiles(const std::string& dir, const std::string& version,
                                                        int gpu_count);

}  // namespace nvgate::backend
