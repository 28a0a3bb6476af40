#include <cstdio>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/doctor.h"

namespace nvgate::cli {

int RunDoctor(const DoctorOptions& options) {
  // Only the report goes to stdout: --json output must stay parseable.
  spdlog::set_default_logger(spdlog::stderr_color_mt("nvgate"));
  spdlog::set_pattern("nvgate: %v");
  DoctorReport report = Judge(GatherMachineFacts());
  if (options.json) {
    std::printf("%s\n", DoctorJson(report).dump(2).c_str());
  } else {
    std::printf("%s", DoctorText(report).c_str());
  }
  return report.exit_status;
}

}  // namespace nvgate::cli
