// Test helper: the driver calls test workloads make, through the driver's real
// ABI (raw ioctls on the device nodes), for workloads run under `nvgate run`.
#pragma once

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "abi/nv_structs.h"

namespace nvgate::testing {

constexpr unsigned long Frontend(std::uint32_t nr, std::uint32_t size) {
  return _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nr, size);
}

// Opens a device node or exits with status 3, naming it.
inline int OpenNode(const char* path) {
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::printf("open_%s=%s\n", path, std::strerror(errno));
    std::exit(3);
  }
  return fd;
}

// "ok:" and the version, or "errno:" and the errno name.
inline std::string QueryVersion(int ctl, unsigned long request) {
  nv::nv_ioctl_rm_api_version_t v{};
  v.cmd = nv::kRmApiVersionCmdQuery;
  if (::ioctl(ctl, request, &v) != 0) return std::string("errno:") + strerrorname_np(errno);
  return std::string("ok:") + v.versionString;
}

// NV_ESC_RM_ALLOC; the RM status, or 0xffffffff when the ioctl itself failed.
inline std::uint32_t Alloc(int ctl, nv::NvHandle client, nv::NvHandle parent, nv::NvHandle handle, nv::NvV32 cls,
                           void* params, nv::NvU32 params_size) {
  nv::NVOS21_PARAMETERS p{.hRoot = client, .hObjectParent = parent, .hObjectNew = handle, .hClass = cls,
                          .pAllocParms = reinterpret_cast<std::uintptr_t>(params), .paramsSize = params_size,
                          .status = 0};
  if (::ioctl(ctl, Frontend(nv::kEscRmAlloc, sizeof p), &p) != 0) return 0xffffffff;
  return p.status;
}

// A new RM client, or exits with status 3.
inline nv::NvHandle AllocClient(int ctl) {
  nv::NvHandle client = 0;
  nv::NVOS21_PARAMETERS p{.hRoot = 0, .hObjectParent = 0, .hObjectNew = 0, .hClass = nv::kNv01RootClient,
                          .pAllocParms = reinterpret_cast<std::uintptr_t>(&client), .paramsSize = sizeof client,
                          .status = 0};
  if (::ioctl(ctl, Frontend(nv::kEscRmAlloc, sizeof p), &p) != 0 || p.status != nv::kNvOk) {
    std::printf("client=failed errno=%d status=0x%x\n", errno, p.status);
    std::exit(3);
  }
  return p.hObjectNew;
}

// NV_ESC_RM_CONTROL; the RM status, or 0xffffffff when the ioctl itself failed.
inline std::uint32_t Control(int ctl, nv::NvHandle client, nv::NvHandle object, nv::NvV32 cmd, void* params,
                             nv::NvU32 size) {
  nv::NVOS54_PARAMETERS p{.hClient = client, .hObject = object, .cmd = cmd, .flags = 0,
                          .params = reinterpret_cast<std::uintptr_t>(params), .paramsSize = size, .status = 0};
  if (::ioctl(ctl, Frontend(nv::kEscRmControl, sizeof p), &p) != 0) return 0xffffffff;
  return p.status;
}

}  // namespace nvgate::testing
