#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/commands.h"
#include "cli/doctor.h"
#include "cli/failure.h"

namespace nvgate::cli {
namespace {

// Colour only for a person at a terminal: never in a pipe or a file, and not
// when NO_COLOR (no-color.org) is set or the terminal says it cannot.
bool StdoutWantsColour() {
  if (!isatty(STDOUT_FILENO)) return false;
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  const char* term = std::getenv("TERM");
  return !term || std::strcmp(term, "dumb") != 0;
}

}  // namespace

int RunDoctor(const DoctorOptions& options) {
  // Only the report goes to stdout: --json output must stay parseable.
  Logger();
  DoctorReport report = Judge(GatherMachineFacts());
  if (options.config_problem) {
    report.checks.insert(report.checks.begin(),
                         {"configuration", CheckStatus::kFail, *options.config_problem + " (doctor ran on its defaults)",
                          "fix the file; nvgate config show prints what nvgate reads"});
  }
  if (options.json) {
    std::printf("%s\n", DoctorJson(report).dump(2).c_str());
  } else {
    std::printf("%s", DoctorText(report, StdoutWantsColour()).c_str());
  }
  return report.exit_status;
}

}  // namespace nvgate::cli
