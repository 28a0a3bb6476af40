#include "cli/driver_table.h"

#include <spdlog/spdlog.h>

namespace nvgate::cli {
namespace {

// The newest supported version of `version`'s branch when `version` is newer
// than it, else nullopt.
std::optional<std::string> NewestOfBranchBefore(const std::string& version) {
  auto newest = abi::NewestVersionOfBranch(abi::BranchOf(version));
  if (newest && abi::CompareVersions(version, *newest) > 0) return newest;
  return std::nullopt;
}

}  // namespace

std::string SupportedVersionList() {
  std::string out;
  for (const std::string& branch : abi::SupportedBranches()) {
    out += (out.empty() ? "" : "; ") + branch + ":";
    for (const std::string& v : abi::SupportedVersions()) {
      if (abi::BranchOf(v) == branch) out += " " + v;
    }
  }
  return out;
}

Result<ChosenTable> ChooseTable(const std::string& detected, const std::optional<std::string>& abi_override) {
  if (abi_override) {
    // A bare branch ("535") means its newest supported version.
    bool is_branch = abi_override->find('.') == std::string::npos;
    std::optional<std::string> version =
        is_branch ? abi::NewestVersionOfBranch(*abi_override) : abi_override;
    const abi::Table* table = version ? abi::TableForVersion(*version) : nullptr;
    if (!table) {
      return tl::unexpected(Error::Usage(
          "--abi-version " + *abi_override +
          " is neither a supported driver version nor a supported branch (supported: " + SupportedVersionList() + ")"));
    }
    if (table->branch() != abi::BranchOf(detected)) {
      return tl::unexpected(Error::Usage("--abi-version " + *abi_override + " is of branch " + table->branch() +
                                         ", driver " + detected + " of branch " + std::string(abi::BranchOf(detected)) +
                                         ": a table is never used for another branch, whose numbers and sizes differ"));
    }
    std::string warning;
    if (*version != detected) {
      warning = "driver " + detected + " is run with the ABI table of " + *version +
                " (--abi-version): commands whose numbers or sizes changed between them will "
                "be misjudged";
    }
    return ChosenTable{table, detected, *version, warning};
  }
  const abi::Table* table = abi::TableForVersion(detected);
  if (!table) {
    if (auto newest = NewestOfBranchBefore(detected)) {
      return tl::unexpected(Error::Unsupported(
          "NVIDIA driver " + detected + " is newer than the newest supported " + std::string(abi::BranchOf(detected)) +
          " driver, " + *newest + "; --abi-version " + std::string(abi::BranchOf(detected)) +
          " runs it with that table at your own risk (supported: " + SupportedVersionList() + ")"));
    }
    return tl::unexpected(Error::Unsupported("NVIDIA driver " + detected +
                                             " is not supported (supported: " + SupportedVersionList() + ")"));
  }
  return ChosenTable{table, detected, detected, ""};
}

Result<ChosenTable> ChooseTableFor(backend::Backend& backend, const std::optional<std::string>& abi_override) {
  auto detected = backend.DriverVersion();
  if (!detected) return tl::unexpected(detected.error());
  auto chosen = ChooseTable(*detected, abi_override);
  if (chosen && !chosen->warning.empty()) spdlog::warn("{}", chosen->warning);
  return chosen;
}

}  // namespace nvgate::cli
