// Choosing the ABI table for a driver version, shared by the commands.
#pragma once

#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "abi/abi.h"

namespace nvgate::cli {

struct ChosenTable {
  const abi::Table* table;
  std::string version;  // the version whose table is used
  std::string warning;  // non-empty when an override was used
};

// The table for `detected`, or, when `abi_override` is given, for that version
// whatever was detected (with a warning). An unsupported version is an error
// that lists the supported ones.
tl::expected<ChosenTable, std::string> ChooseTable(const std::string& detected,
                                                   const std::optional<std::string>& abi_override);

std::string SupportedVersionList();

}  // namespace nvgate::cli
