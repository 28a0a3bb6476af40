// Reading the NVIDIA driver version from /proc/driver/nvidia/version.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nvgate::backend {

// The version in the text of /proc/driver/nvidia/version, e.g. "580.159.04" from
// "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...".
std::optional<std::string> ParseProcDriverVersion(std::string_view text);

// The loaded driver's version, when a driver is loaded.
std::optional<std::string> ReadProcDriverVersion();

}  // namespace nvgate::backend
