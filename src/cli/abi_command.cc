#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

#include "backend/version.h"
#include "caps/caps.h"
#include "cli/abi_report.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "cli/failure.h"
#include "error/error.h"

namespace nvgate::cli {
namespace {

int Fail(const Error& error) { return cli::Fail("abi", error); }

// A report needs no GPU: without a driver on this host it describes the
// newest supported version.
std::string DefaultDriverVersion() {
  if (auto host = backend::ReadProcDriverVersion()) return *host;
  return abi::SupportedVersions().back();
}

}  // namespace

void AddAbiCommand(CLI::App& app, std::vector<Command>& commands) {
  auto options = std::make_shared<AbiOptions>();
  CLI::App* cmd =
      app.add_subcommand("abi", "Print the driver commands a capability set can reach (the attack-surface report)");
  cmd->add_option("--driver", options->driver,
                  "Driver version whose table to use (default: the host's driver, else the "
                  "newest supported)");
  cmd->add_option("--caps", options->caps, "Capability list, as NVIDIA_DRIVER_CAPABILITIES (default: compute,utility)");
  cmd->add_flag("--json", options->json, "Print stable JSON (schema in docs/abi-json.md)");
  cmd->add_option("--diff", options->diff, "Show what capability set A reaches that B does not, and the reverse")
      ->expected(2)
      ->type_name("CAPS_A CAPS_B");
  cmd->add_flag("--summary-markdown", options->summary_markdown, "Print only the per-set count table, as Markdown");
  cmd->add_option("--diff-versions", options->diff_versions,
                  "Show what changed in the reachable commands between two driver versions "
                  "(with --caps: for that set; default: every capability)")
      ->expected(2)
      ->type_name("VERSION_A VERSION_B");
  cmd->add_option("--abi-version", options->abi_version,
                  "Use this version's table, or this branch's newest, for --driver (warns)");
  cmd->footer(
      "Examples:\n"
      "  nvgate abi                                  # default set, host or newest driver\n"
      "  nvgate abi --driver 580.159.04 --caps compute,utility --json\n"
      "  nvgate abi --diff all compute,utility       # what 'all' adds\n"
      "  nvgate abi --diff-versions 570.211.01 580.159.04 --caps compute");
  commands.push_back({cmd, [options](const Invocation&) { return RunAbi(*options); }});
}

int RunAbi(const AbiOptions& options) {
  auto parse = [](const std::string& text) { return caps::Resolve(text, caps::CapSet::Everything()); };

  if (!options.diff_versions.empty()) {
    std::array<const abi::Table*, 2> tables{};
    for (std::size_t i = 0; i < tables.size(); ++i) {
      const std::string& v = options.diff_versions[i];
      tables[i] = abi::TableForVersion(v);
      if (!tables[i]) {
        return Fail(
            Error::Unsupported("NVIDIA driver " + v + " is not supported (supported: " + SupportedVersionList() + ")"));
      }
    }
    auto enabled = options.caps ? parse(*options.caps) : Result<caps::CapSet>(caps::CapSet::Everything());
    if (!enabled) return Fail(enabled.error());
    VersionDiff diff = DiffVersions(*tables[0], *tables[1], *enabled);
    const std::string& a = options.diff_versions[0];
    const std::string& b = options.diff_versions[1];
    if (options.json) {
      std::printf("%s\n",
                  VersionDiffJson(diff, a, *tables[0], b, *tables[1], *enabled).dump(2).c_str());
    } else {
      std::printf("driver %s (table r%s) -> %s (table r%s), capabilities %s\n%s", a.c_str(),
                  tables[0]->branch().c_str(), b.c_str(), tables[1]->branch().c_str(),
                  enabled->ToString().c_str(), VersionDiffText(diff, a, b).c_str());
    }
    return 0;
  }

  std::string detected = options.driver ? *options.driver : DefaultDriverVersion();
  auto chosen = ChooseTable(detected, options.abi_version);
  if (!chosen) return Fail(chosen.error());
  if (!chosen->warning.empty()) Print("nvgate abi", "warning: " + chosen->warning);
  const abi::Table* table = chosen->table;
  const std::string& version = chosen->version;

  if (!options.diff.empty()) {
    auto a = parse(options.diff[0]);
    if (!a) return Fail(a.error());
    auto b = parse(options.diff[1]);
    if (!b) return Fail(b.error());
    if (options.json) {
      std::printf("%s\n", DiffJson(*table, version, *a, *b).dump(2).c_str());
    } else {
      std::printf("driver %s, table r%s\n%s", version.c_str(), table->branch().c_str(),
                  DiffText(*table, *a, *b).c_str());
    }
    return 0;
  }
  if (options.summary_markdown) {
    std::printf("%s", SummaryMarkdown(*table).c_str());
    return 0;
  }

  auto enabled = options.caps ? parse(*options.caps) : Result<caps::CapSet>(caps::CapSet::Default());
  if (!enabled) return Fail(enabled.error());
  if (options.json) {
    std::printf("%s\n", ReportJson(*table, version, *enabled).dump(2).c_str());
    return 0;
  }
  std::printf("driver %s, table r%s, capabilities %s\n\n%s\nreachable entries per capability set:\n%s",
              version.c_str(), table->branch().c_str(), enabled->ToString().c_str(),
              ListText(*table, *enabled).c_str(), SummaryMarkdown(*table).c_str());
  return 0;
}

}  // namespace nvgate::cli
