#include <cstddef>
#include <cstdint>
#include <string_view>

#include "abi/facts.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto facts = nvgate::abi::Facts::Parse("fuzz", std::string_view(reinterpret_cast<const char*>(data), size));
  if (facts) {
    if (const nvgate::abi::Table* t = nvgate::abi::TableForVersion("580.159.04")) {
      nvgate::abi::CompareWithFacts(*t, *facts);
      for (const nvgate::abi::Entry& row : t->entries()) nvgate::abi::RowAsFactsHaveIt(row, *facts);
    }
  }
  return 0;
}
