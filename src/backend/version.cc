#include "backend/version.h"

#include <fstream>
#include <regex>
#include <sstream>

namespace nvgate::backend {

std::optional<std::string> ParseProcDriverVersion(std::string_view text) {
  // Only the NVRM line names the kernel module's version; the GCC line that
  // follows has version-like numbers of its own.
  std::string first_line(text.substr(0, text.find('\n')));
  if (first_line.find("NVRM version:") == std::string::npos) return std::nullopt;
  static const std::regex kVersion(R"((?:^|\s)(\d+\.\d+(?:\.\d+)?)(?:\s|$))");
  std::smatch match;
  if (!std::regex_search(first_line, match, kVersion)) return std::nullopt;
  return match[1].str();
}

std::optional<std::string> ReadProcDriverVersion() {
  std::ifstream in("/proc/driver/nvidia/version");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return ParseProcDriverVersion(text.str());
}

}  // namespace nvgate::backend
