#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

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

void AddDoctorCommand(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor", "Check whether nvgate can run here (kernel, privileges, driver) and say how to fix what is missing");
  cmd->add_flag("--json", options->json, "Print stable JSON (schema nvgate.doctor/1, docs/install.md)");
  cmd->footer(
      "One line per check: ok, info, warn or fail, what was found, and the fix.\n"
      "Exit status: 0 the host backend (the real driver) is usable; 1 only the simulated\n"
      "driver (--backend sim) is usable; 2 neither is.\n"
      "Examples:\n"
      "  nvgate doctor                                   # the report, for people\n"
      "  nvgate doctor --json | jq '.backends.host'      # for scripts\n"
      "  nvgate doctor >/dev/null; echo $?               # 0, 1 or 2, as above");
  commands.push_back({cmd, [options](const Invocation& invocation) {
                        options->config_problem = invocation.config_problem;
                        return RunDoctor(*options);
                      }});
}

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
