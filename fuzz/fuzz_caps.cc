// NVIDIA_DRIVER_CAPABILITIES comes from an untrusted image's environment.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "caps/caps.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = nvgate::caps::ParseList(text);
  auto resolved = nvgate::caps::Resolve(text, nvgate::caps::CapSet::AllUnprivileged());
  // A resolved set never exceeds the bound it was resolved under.
  if (resolved && !resolved->IsSubsetOf(nvgate::caps::CapSet::AllUnprivileged())) __builtin_trap();
  if (parsed && !parsed->all && resolved && !parsed->named.empty() && *resolved != parsed->named) {
    __builtin_trap();
  }
  return 0;
}
