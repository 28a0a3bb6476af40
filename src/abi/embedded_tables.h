// The table files compiled into the binary (generated from src/abi/data).
#pragma once

#include <string_view>
#include <vector>

namespace nvgate::abi {

struct EmbeddedTable {
  std::string_view file;  // "r580.tsv"
  std::string_view text;
};

const std::vector<EmbeddedTable>& EmbeddedTables();

}  // namespace nvgate::abi
