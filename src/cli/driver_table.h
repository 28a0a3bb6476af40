// Choosing the ABI table for a driver version, shared by the commands.
#pragma once

#include <optional>
#include <string>

#include "abi/abi.h"
#include "backend/backend.h"
#include "error/error.h"

namespace nvgate::cli {

struct ChosenTable {
  const abi::Table* table;
  std::string detected;  // the driver's version
  std::string version;   // the version whose table is used
  std::string warning;  // non-empty when an override was used
};

// The table for `detected`, or, when `abi_override` is given, for that version
// (a supported version, or a branch such as "535" for its newest supported
// version) with a warning. The override must be of the detected version's
// branch: another branch's numbers and sizes differ. An unsupported version
// without an override is an error that lists the supported ones; one newer than
// the newest supported version of its branch names the override that runs it.
Result<ChosenTable> ChooseTable(const std::string& detected, const std::optional<std::string>& abi_override);

// The table for the driver `backend` reaches: ChooseTable on the version it
// reports, with the override's warning logged.
Result<ChosenTable> ChooseTableFor(backend::Backend& backend, const std::optional<std::string>& abi_override);

// Every supported version, grouped by branch: "535: 535.43.02 ...; 550: ...".
std::string SupportedVersionList();

}  // namespace nvgate::cli
