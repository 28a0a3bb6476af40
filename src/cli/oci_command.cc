#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "agent/oci_profile.h"
#include "backend/version.h"
#include "caps/caps.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "supervisor/filter.h"

namespace nvgate::cli {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "nvgate oci profile: %s\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int RunOciProfile(const OciProfileOptions& options) {
  agent::OciProfileOptions profile_options;
  profile_options.listener_path = options.listener;
  if (options.caps_metadata) {
    // The agent resolves it under its bound; here it only has to be a list.
    if (auto parsed = caps::ParseList(*options.caps_metadata); !parsed) return Fail("--caps-metadata: " + parsed.error());
    profile_options.listener_metadata = *options.caps_metadata;
  }
  if (options.base) {
    std::ifstream in(*options.base);
    if (!in) return Fail("cannot read --base " + *options.base);
    std::stringstream text;
    text << in.rdbuf();
    auto base = nlohmann::ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (base.is_discarded()) return Fail(*options.base + " is not JSON");
    // A whole config.json works too: its linux.seccomp is the base.
    if (base.is_object() && base.contains("linux") && base["linux"].contains("seccomp")) {
      base = base["linux"]["seccomp"];
    }
    profile_options.base = std::move(base);
  }
  // Which requests are trapped depends on the driver's table: the host's
  // driver, else the newest supported one.
  std::string version = options.driver ? *options.driver
                                       : backend::ReadProcDriverVersion().value_or(abi::SupportedVersions().back());
  auto chosen = ChooseTable(version, std::nullopt);
  if (!chosen) return Fail(chosen.error());
  auto profile = agent::BuildOciProfile(supervisor::TrapRules::FromTable(*chosen->table), profile_options);
  if (!profile) return Fail(profile.error());
  std::string text = profile->dump(2) + "\n";
  if (!options.output) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::ofstream out(*options.output);
  if (!(out << text)) return Fail("cannot write " + *options.output);
  return 0;
}

}  // namespace nvgate::cli
