// One fuzzer per handler kind (built once per kind with NVGATE_FUZZ_HANDLER set
// to its name): the input picks a table row of that kind and supplies its
// parameter bytes; the fuzzer wraps them in a well-formed call for the row
// (the right node, request, control command, class or function, pointing at
// the parameters), so that every input reaches the handler instead of dying in
// decode as most random requests do. A client, device and subdevice exist, so
// ownership checks pass and the simulated driver gets to run the call.
//
// Input: [row selector: 2 bytes][size for variable-size rows: 2 bytes][parameter bytes...]
#include <linux/ioctl.h>

#include <algorithm>
#include <string_view>

#include "abi/nv_structs.h"
#include "proxy_world.h"

using namespace nvgate;
using namespace nvgate::fuzzing;

namespace {

constexpr std::uint64_t kParamsOffset = 256;  // the row's own parameters, after the wrapping struct
constexpr nv::NvHandle kDevice = 0xf0000001;
constexpr nv::NvHandle kSubdevice = 0xf0000002;

std::vector<const abi::Entry*> RowsOfThisKind() {
  std::vector<const abi::Entry*> rows;
  for (const abi::Entry& e : abi::TableForVersion("580.159.04")->entries()) {
    if (abi::HandlerName(e.handler) == std::string_view(NVGATE_FUZZ_HANDLER)) rows.push_back(&e);
  }
  return rows;
}

std::size_t NodeOf(const World& w, abi::DeviceKind kind) {
  auto it = std::find(w.kinds.begin(), w.kinds.end(), kind);
  return static_cast<std::size_t>(it - w.kinds.begin());
}

proxy::Reply Run(World& w, abi::DeviceKind kind, std::uint32_t request, std::vector<std::uint8_t>& arena) {
  ArenaMemory memory(arena);
  NodeFiles files(w.fds);
  int dup = ::fcntl(w.fds[NodeOf(w, kind)], F_DUPFD_CLOEXEC, 0);
  proxy::Call call{.fd = dup, .device = kind, .request = request, .arg = kArenaBase, .pid = 1};
  proxy::Reply reply = w.proxy->Execute(call, memory, files);
  ::close(dup);
  return reply;
}

template <typename T>
void Put(std::vector<std::uint8_t>& arena, const T& value) {
  std::memcpy(arena.data(), &value, sizeof value);
}

std::uint32_t Rm(std::uint32_t nr, std::uint32_t size) { return _IOC(_IOC_READ | _IOC_WRITE, 'F', nr, size); }

// A client of the proxy's own making, with a device and subdevice under it.
nv::NvHandle Client(World& w) {
  static nv::NvHandle client = [&] {
    std::vector<std::uint8_t> arena(1024);
    Put(arena, nv::NVOS21_PARAMETERS{0, 0, 0, nv::kNv01RootClient, kArenaBase + kParamsOffset, 4, 0});
    Run(w, abi::DeviceKind::kCtl, Rm(nv::kEscRmAlloc, sizeof(nv::NVOS21_PARAMETERS)), arena);
    nv::NVOS21_PARAMETERS root;
    std::memcpy(&root, arena.data(), sizeof root);
    for (auto [parent, handle, cls] : {std::tuple{root.hObjectNew, kDevice, nv::kNv01Device0},
                                       std::tuple{kDevice, kSubdevice, nv::kNv20Subdevice0}}) {
      std::fill(arena.begin(), arena.end(), 0);
      Put(arena, nv::NVOS21_PARAMETERS{root.hObjectNew, parent, handle, cls, kArenaBase + kParamsOffset, 56, 0});
      Run(w, abi::DeviceKind::kCtl, Rm(nv::kEscRmAlloc, sizeof(nv::NVOS21_PARAMETERS)), arena);
    }
    return root.hObjectNew;
  }();
  return client;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<const abi::Entry*> rows = RowsOfThisKind();
  if (size < 4 || rows.empty()) return 0;
  World& w = TheWorld();
  nv::NvHandle client = Client(w);
  const abi::Entry& row = *rows[(data[0] | data[1] << 8) % rows.size()];
  std::uint32_t variable_size = (data[2] | data[3] << 8) & 0x3fff;
  std::vector<std::uint8_t> arena(data + 4, data + size);
  arena.resize(std::max<std::size_t>(arena.size() + kParamsOffset, 2 * kParamsOffset));
  // The row's parameters come after the wrapping struct; the input's first
  // bytes are also the wrapping struct's unchosen fields.
  std::copy(data + 4, data + size, arena.begin() + kParamsOffset);
  std::uint64_t params = kArenaBase + kParamsOffset;
  std::uint32_t params_size = row.param_size ? row.param_size : variable_size;
  // Controls name their object's class in the command's upper half.
  nv::NvHandle parent = (row.key >> 16) == nv::kNv20Subdevice0 ? kSubdevice : kDevice;

  switch (row.level) {
    case abi::Level::kFrontend: {
      std::uint32_t escape_size = row.param_size ? row.param_size : variable_size;
      arena.resize(std::max<std::size_t>(arena.size(), escape_size));
      Run(w, abi::DeviceKind::kCtl, Rm(row.key, escape_size), arena);
      break;
    }
    case abi::Level::kUvm:
      arena.resize(std::max<std::size_t>(arena.size(), row.param_size));
      Run(w, abi::DeviceKind::kUvm, row.key, arena);
      break;
    case abi::Level::kControl:
      Put(arena, nv::NVOS54_PARAMETERS{client, row.key >> 16 == 0 ? client : parent, row.key, 0, params,
                                       params_size, 0});
      Run(w, abi::DeviceKind::kCtl, Rm(nv::kEscRmControl, sizeof(nv::NVOS54_PARAMETERS)), arena);
      break;
    case abi::Level::kAlloc:
      Put(arena, nv::NVOS21_PARAMETERS{client, parent, 0, row.key, params, params_size, 0});
      Run(w, abi::DeviceKind::kCtl, Rm(nv::kEscRmAlloc, sizeof(nv::NVOS21_PARAMETERS)), arena);
      break;
    case abi::Level::kAllocMemory: {
      nv::nv_ioctl_nvos02_parameters_with_fd p{};
      std::memcpy(&p, arena.data(), sizeof p);
      p.params.hRoot = client;
      p.params.hObjectParent = kDevice;
      p.params.hClass = row.key;
      Put(arena, p);
      Run(w, abi::DeviceKind::kGpu, Rm(nv::kEscRmAllocMemory, sizeof p), arena);
      break;
    }
    case abi::Level::kVidHeap: {
      nv::NVOS32_PARAMETERS p;
      arena.resize(std::max<std::size_t>(arena.size(), sizeof p));
      std::memcpy(&p, arena.data(), sizeof p);
      p.hRoot = client;
      p.hObjectParent = parent;
      p.function = row.key;
      Put(arena, p);
      Run(w, abi::DeviceKind::kCtl, Rm(nv::kEscRmVidHeapControl, sizeof p), arena);
      break;
    }
  }
  return 0;
}
