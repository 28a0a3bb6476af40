// The configuration file's reader (src/cli/config_file.h): any bytes give
// CLI11 items or a CLI::ConfigError naming a line, never a crash, a hang or
// another exception. The app has the shapes nvgate's has: top-level options, a
// command's table, a nested command's ([oci-runtime]), a flag and a
// non-configurable option.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/config_file.h"

namespace {

CLI::App& App() {
  static CLI::App* app = [] {
    auto* a = new CLI::App("fuzz");
    static std::string log_level, caps, backend, runtime, socket;
    static bool json = false, audit = false;
    a->add_option("--log-level", log_level);
    CLI::App* run = a->add_subcommand("run");
    run->add_option("--caps", caps);
    run->add_option("--backend", backend);
    run->add_flag("--audit", audit)->configurable(false);
    CLI::App* oci = a->add_subcommand("oci");
    CLI::App* oci_runtime = oci->add_subcommand("runtime");
    oci_runtime->add_option("--runtime", runtime);
    oci_runtime->add_option("--socket", socket);
    a->add_subcommand("doctor")->add_flag("--json", json);
    return a;
  }();
  return *app;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    nvgate::cli::ConfigFile(App()).from_config(in);
  } catch (const CLI::ConfigError&) {
  }
  return 0;
}
