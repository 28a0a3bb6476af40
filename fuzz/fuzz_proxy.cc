// The proxy decodes untrusted parameters: escape structs, control and alloc
// params, nested lists, fds. Fuzzed end to end against the simulated driver,
// so ASan also catches a buffer the proxy sized wrongly for the driver.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/abi.h"
#include "backend/backend.h"
#include "proxy/proxy.h"

namespace {

using namespace nvgate;

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
  int Duplicate(int target_fd) override {
    if (target_fd < 0 || target_fd >= static_cast<int>(fds_.size())) return -EBADF;
    return ::fcntl(fds_[target_fd], F_DUPFD_CLOEXEC, 0);
  }
  int Install(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

 private:
  const std::vector<int>& fds_;
};

struct World {
  std::unique_ptr<backend::Backend> sim;
  std::vector<int> fds;
  std::vector<abi::DeviceKind> kinds;
  policy::DenialLog denials{[](const std::string&) {}};
  std::unique_ptr<proxy::Proxy> proxy;
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    w->sim = backend::MakeSimBackend({}).value();
    for (const backend::DeviceNode& node : w->sim->Nodes()) {
      w->fds.push_back(::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC));
      w->kinds.push_back(node.kind);
    }
    w->proxy = std::make_unique<proxy::Proxy>(*abi::TableForVersion("580.159.04"),
                                              caps::CapSet::Everything(), *w->sim, w->denials);
    return w;
  }();
  return *world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  World& w = TheWorld();
  std::size_t node = data[0] % w.fds.size();
  std::uint32_t request;
  std::uint32_t offset;
  std::memcpy(&request, data + 1, 4);
  std::memcpy(&offset, data + 5, 4);
  std::vector<std::uint8_t> arena(data + 9, data + size);
  arena.resize(std::max<std::size_t>(arena.size(), 64));
  ArenaMemory memory(arena);
  NodeFiles files(w.fds);
  int dup = ::fcntl(w.fds[node], F_DUPFD_CLOEXEC, 0);
  proxy::Call call{.fd = dup, .device = w.kinds[node], .request = request,
                   .arg = kArenaBase + (offset % arena.size()), .pid = 1};
  w.proxy->Execute(call, memory, files);
  ::close(dup);
  return 0;
}
