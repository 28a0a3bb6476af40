// NVIDIA_VISIBLE_DEVICES comes from an untrusted image's environment, and a
// container's device list from its config.json.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "caps/gpus.h"

namespace {

std::vector<nvgate::gpus::Gpu> Machine() {
  std::vector<nvgate::gpus::Gpu> machine;
  for (int i = 0; i < 4; ++i) {
    machine.push_back({.index = i,
                       .gpu_id = 0x100u + static_cast<std::uint32_t>(i),
                       .uuid = "GPU-6e766761-7465-2d73-696d-00000000000" + std::to_string(i),
                       .pci_bus_id = "0000:1" + std::to_string(i) + ":00.0",
                       .device_instance = i});
  }
  return machine;
}

}  // namespace

// The first byte picks the operator's bound (a bit per GPU), the rest is the request.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::vector<nvgate::gpus::Gpu> machine = Machine();
  std::string bound_text;
  for (int i = 0; i < 4; ++i) {
    if (data[0] & (1u << i)) bound_text += (bound_text.empty() ? "" : ",") + std::to_string(i);
  }
  auto bound = nvgate::gpus::ResolveBound(bound_text.empty() ? "none" : bound_text, machine);
  if (!bound) __builtin_trap();
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto selected = nvgate::gpus::Resolve(nvgate::gpus::ParseRequest(text), machine, *bound);
  if (!selected) return 0;
  // A selection never leaves the bound, and "void" gives no GPU.
  for (const nvgate::gpus::Gpu& gpu : selected->gpus()) {
    if (!bound->ByIndex(gpu.index)) __builtin_trap();
  }
  if (!selected->any_nodes() && !selected->gpus().empty()) __builtin_trap();
  return 0;
}
