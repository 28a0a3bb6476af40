#include "cli/driver_table.h"

namespace nvgate::cli {

std::string SupportedVersionList() {
  std::string out;
  for (const std::string& v : abi::SupportedVersions()) out += (out.empty() ? "" : " ") + v;
  return out;
}

tl::expected<ChosenTable, std::string> ChooseTable(const std::string& detected,
                                                   const std::optional<std::string>& abi_override) {
  if (abi_override) {
    const abi::Table* table = abi::TableForVersion(*abi_override);
    if (!table) {
      return tl::unexpected<std::string>("--abi-version " + *abi_override +
                                         " is not a supported driver version (supported: " +
                                         SupportedVersionList() + ")");
    }
    std::string warning;
    if (*abi_override != detected) {
      warning = "driver " + detected + " is run with the ABI table of " + *abi_override +
                " (--abi-version): commands whose numbers or sizes changed between them will "
                "be misjudged";
    }
    return ChosenTable{table, *abi_override, warning};
  }
  const abi::Table* table = abi::TableForVersion(detected);
  if (!table) {
    return tl::unexpected<std::string>(
        "NVIDIA driver " + detected + " is not supported (supported: " + SupportedVersionList() +
        "); --abi-version VERSION runs it with another version's table at your own risk");
  }
  return ChosenTable{table, detected, ""};
}

}  // namespace nvgate::cli
