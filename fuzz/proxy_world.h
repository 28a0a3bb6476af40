// The world the proxy fuzzers run in: the simulated driver's nodes as the
// "workload's" fds 0..N, its memory one arena at a fixed fake address, and one
// Proxy for everything (built once: libFuzzer runs inputs in one process).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <linux/ioctl.h>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "proxy/memory_fakes.h"
#include "proxy/proxy.h"

namespace nvgate::fuzzing {

// The workload's memory: one arena at a fixed fake address.
constexpr std::uint64_t kArenaBase = 0x7f0000000000;

class ArenaMemory : public proxy::TargetMemory {
 public:
  explicit ArenaMemory(std::vector<std::uint8_t>& arena) : arena_(arena) {}
  bool Read(std::uint64_t addr, void* out, std::size_t len) override {
    if (!Inside(addr, len)) return false;
    std::memcpy(out, arena_.data() + (addr - kArenaBase), len);
    return true;
  }
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override {
    if (!Inside(addr, len)) return false;
    std::memcpy(arena_.data() + (addr - kArenaBase), in, len);
    return true;
  }

 private:
  bool Inside(std::uint64_t addr, std::size_t len) const {
    return addr >= kArenaBase && len <= arena_.size() && addr - kArenaBase <= arena_.size() - len;
  }
  std::vector<std::uint8_t>& arena_;
};

// fds 0..7 of the "workload" are the sim's nodes; others are not open.
class NodeFiles : public proxy::TargetFiles {
 public:
  explicit NodeFiles(const std::vector<int>& fds) : fds_(fds) {}
  // This process holds its own files: nothing to add for the driver to see.
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return 0; }
  int Duplicate(int target_fd) override {
    if (target_fd < 0 || target_fd >= static_cast<int>(fds_.size())) return -EBADF;
    return ::fcntl(fds_[target_fd], F_DUPFD_CLOEXEC, 0);
  }
  int Install(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
  // The fuzzer is its own caller.
  proxy::CallerRun RunInCaller(const proxy::Call& call, backend::Backend& backend, std::span<const std::byte> checked,
                               std::span<std::byte> result) override {
    return proxy::RunOnTheCheckedCopy(call, backend, checked, result);
  }

 private:
  const std::vector<int>& fds_;
};

struct World {
  std::unique_ptr<backend::Backend> sim;
  std::vector<int> fds;
  std::vector<abi::DeviceKind> kinds;
  policy::DenialLog denials{[](const policy::Denial&) {}};
  std::unique_ptr<proxy::Proxy> proxy;
};

inline World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->sim = backend::MakeSimBackend({}).value();
    for (const backend::DeviceNode& node : w->sim->Nodes()) {
      w->fds.push_back(::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC));
      w->kinds.push_back(node.kind);
    }
    // As CUDA does: each GPU file acts for nvidiactl and its clients.
    for (std::size_t i = 0; i < w->fds.size(); ++i) {
      if (w->kinds[i] != abi::DeviceKind::kGpu) continue;
      nv::nv_ioctl_register_fd_t link{w->fds[0]};
      w->sim->Ioctl(w->fds[i], abi::DeviceKind::kGpu, _IOC(_IOC_READ | _IOC_WRITE, 'F', nv::kEscRegisterFd, sizeof link),
                    &link, 0);
    }
    w->proxy = std::make_unique<proxy::Proxy>(*abi::TableForVersion("580.159.04"),
                                              caps::CapSet::Everything(), *w->sim, w->denials);
    return w;
  }();
  return *world;
}


}  // namespace nvgate::fuzzing
