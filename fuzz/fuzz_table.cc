// Table files are data; the parser must reject, never crash on, a bad one.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "abi/abi.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto table = nvgate::abi::Table::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!table) return 0;
  for (const nvgate::abi::Entry& e : table->entries()) {
    if (table->Find(e.level, e.key) != &e) __builtin_trap();
    for (const nvgate::abi::LayoutItem& item : e.layout) {
      if (item.offset + 4 > e.param_size) __builtin_trap();
    }
  }
  return 0;
}
