// nvgate trace, learn, replay and summary: recording a workload's NVIDIA calls
// and reading the record.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "caps/caps.h"
#include "cli/command_options.h"
#include "cli/commands.h"
#include "cli/driver_table.h"
#include "cli/failure.h"
#include "cli/supervised_run.h"
#include "error/error.h"
#include "trace/analysis.h"
#include "trace/trace.h"

namespace nvgate::cli {
namespace {

// learn with a trace, replay and summary read a trace: their failures are
// statuses of commands that read input, whatever `nvgate learn COMMAND`'s are.
int FailReading(std::string_view command, const Error& error) {
  return Fail("nvgate " + std::string(command), CommandRole::kReadsInput, error);
}

std::string Millis(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

// Writes `text` to `path`, or to stdout without one.
bool Emit(const std::optional<std::string>& path, const std::string& text) {
  if (!path) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return true;
  }
  std::ofstream out(*path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// `nvgate learn X`: a single argument that names a .trace file, or a file that
// is not executable, is a trace (a missing one is an error, not a command to
// run); anything else is a command to run.
bool IsTraceArgument(const std::vector<std::string>& args) {
  if (args.size() != 1) return false;
  if (args[0].ends_with(".trace")) return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(args[0], ec) && ::access(args[0].c_str(), X_OK) != 0;
}

// A trace read up to a line cut short (trace::Trace::cut_short_line) is used,
// with a warning naming the file and the line.
Result<trace::Trace> ReadTraceWarning(std::string_view command, const std::string& path) {
  auto trace = trace::ReadTraceFile(path);
  if (trace && trace->cut_short_line != 0) {
    Print("nvgate " + std::string(command),
          fmt::format("warning: {}: line {} is cut short (the recording stopped in the middle of it); reading the {} "
                      "calls before it",
                      path, trace->cut_short_line, trace->calls.size()));
  }
  return trace;
}

Result<const abi::Table*> TableFor(const std::string& version) {
  const abi::Table* table = abi::TableForVersion(version);
  if (!table) {
    return tl::unexpected(Error::Unsupported("NVIDIA driver " + version +
                                             " is not supported (supported: " + SupportedVersionList() + ")"));
  }
  return table;
}

int PrintLearned(const LearnOptions& options, const trace::LearnResult& result, caps::CapSet bound,
                 const std::string& preface) {
  std::string text = options.json ? trace::LearnToJson(result, bound).dump(2) + "\n"
                                  : preface + trace::LearnToText(result, bound);
  if (!Emit(options.output, text)) return FailReading("learn", Error::System(errno, "cannot write " + *options.output));
  return 0;
}

}  // namespace

void AddTraceCommands(CLI::App& app, std::vector<Command>& commands) {
  auto trace = std::make_shared<TraceOptions>();
  auto learn = std::make_shared<LearnOptions>();
  auto replay = std::make_shared<ReplayOptions>();
  auto summary = std::make_shared<SummaryOptions>();
  CLI::App* trace_cmd =
      app.add_subcommand("trace", "Run a command as 'nvgate run' does and record every NVIDIA call as JSON Lines");
  trace_cmd->add_option("-o,--output", trace->output, "The trace file (format: docs/trace-format.md)")->required();
  trace_cmd->add_flag("--with-params", trace->with_params,
                      "Also record the parameter bytes read from and written to the workload (hex)");
  trace_cmd->add_flag("--observe-only", trace->observe_only,
                      "PROTECTS NOTHING, for trusted workloads only: record each call, then let the "
                      "kernel run it natively (the sim answers under every capability); decisions "
                      "say what --caps would do. Refused where --allowed-caps is configured")
      ->configurable(false);  // never a site default: it turns protection off
  AddRunOptions(trace_cmd, trace->run, /*with_caps=*/true);
  AddCommand(trace_cmd, trace->run);
  trace_cmd->footer(
      "Exit status: the command's own; 125 when nvgate fails before the command starts.\n"
      "--observe-only protects nothing: the workload's calls reach the driver unchecked.\n"
      "Examples:\n"
      "  nvgate trace -o train.trace -- python3 train.py\n"
      "  nvgate trace --observe-only --caps compute,utility -o native.trace -- ./trusted_app\n"
      "  nvgate trace -o probe.trace --with-params --backend sim --caps compute -- nvprobe\n"
      "  nvgate summary probe.trace                     # calls and time by command");
  commands.push_back({trace_cmd, [trace, trace_cmd](const Invocation&) {
                        trace->bound_configured = trace_cmd->get_option("--allowed-caps")->count() > 0;
                        return RunTrace(*trace);
                      }});

  CLI::App* learn_cmd =
      app.add_subcommand("learn", "Find the smallest NVIDIA_DRIVER_CAPABILITIES set a command (or a trace) needs");
  learn_cmd->add_flag("--json", learn->json, "Print JSON (docs/trace-format.md, 'nvgate learn --json')");
  learn_cmd->add_option("-o,--output", learn->output,
                        "Write the report to FILE instead of stdout (which the command shares)");
  AddRunOptions(learn_cmd, learn->run, /*with_caps=*/false);
  learn_cmd->add_option("args", learn->args, "A trace file, or the command and its arguments")
      ->required()
      ->expected(-1);
  learn_cmd->footer(
      "Runs the command with every call within --allowed-caps executed (default: every\n"
      "non-privileged capability), then names the smallest set that allows them all and\n"
      "which calls need each capability. Calls refused even within the bound are listed.\n"
      "A single argument that is a non-executable file is read as a trace instead.\n"
      "Exit status: the command's own (2 for a bad trace); 125 when nvgate fails first.\n"
      "Examples:\n"
      "  nvgate learn -- python3 train.py\n"
      "  nvgate learn --backend sim --allowed-caps compute,utility,video -- nvprobe\n"
      "  nvgate learn --json probe.trace");
  commands.push_back({learn_cmd, [learn](const Invocation&) { return RunLearn(*learn); }});

  CLI::App* replay_cmd =
      app.add_subcommand("replay", "Decide each call of a trace again under another capability set or driver");
  replay_cmd->add_option("trace", replay->trace, "The trace file")->required();
  replay_cmd->add_option("--caps", replay->caps, "Capability list (default: the trace's)");
  replay_cmd->add_option("--driver", replay->driver, "Driver version whose table decides (default: the trace's)");
  replay_cmd->add_flag("--json", replay->json, "Print JSON");
  replay_cmd->footer(
      "One line per call: allowed, or refused and why; CHANGED where the trace's decision\n"
      "differs. Exit status: 0, or 2 for a bad trace or an unsupported driver.\n"
      "Examples:\n"
      "  nvgate replay probe.trace                      # the trace's own caps: nothing changes\n"
      "  nvgate replay probe.trace --caps video         # what video alone would refuse\n"
      "  nvgate replay probe.trace --driver 580.65.06 --json");
  commands.push_back({replay_cmd, [replay](const Invocation&) { return RunReplay(*replay); }});

  CLI::App* summary_cmd = app.add_subcommand("summary", "Count a trace's calls and time by level and command");
  summary_cmd->add_option("trace", summary->trace, "The trace file")->required();
  summary_cmd->add_flag("--json", summary->json, "Print JSON");
  summary_cmd->footer(
      "Examples:\n"
      "  nvgate summary probe.trace\n"
      "  nvgate summary --json probe.trace | jq '.levels'");
  commands.push_back({summary_cmd, [summary](const Invocation&) { return RunSummary(*summary); }});
}

int RunTrace(const TraceOptions& options) {
  if (options.observe_only && options.bound_configured) {
    return Fail("trace",
                Error::Refused("--observe-only lets the kernel run every call and so cannot keep a workload within "
                               "an operator bound; it is refused where one is configured (--allowed-caps, or "
                               "allowed-caps in the config file's [trace] table)"));
  }
  std::ofstream out;
  std::unique_ptr<trace::TraceWriter> writer;
  auto observe = [&](const RunSetup& setup) -> Result<proxy::CallObserver*> {
    if (options.observe_only) {
      spdlog::warn("OBSERVE-ONLY: every NVIDIA call is recorded and then run {}, whatever the "
                   "capabilities; this protects NOTHING. Use it only for trusted workloads.",
                   setup.backend == "host" ? "natively by the kernel"
                                           : "by the " + setup.backend + " backend under every capability");
    }
    out.open(options.output, std::ios::trunc);
    if (!out) return tl::unexpected(Error::System(errno, "cannot write the trace to " + options.output));
    trace::TraceHeader header{.version = trace::kFormatVersion,
                              .nvgate_version = NVGATE_VERSION,
                              .driver_version = setup.driver_version,
                              .backend = setup.backend,
                              .caps = options.observe_only ? setup.requested : setup.enabled,
                              .allowed_caps = setup.allowed,
                              .with_params = options.with_params,
                              .observe_only = options.observe_only,
                              .command = options.run.command,
                              .started = trace::UtcNow()};
    writer = std::make_unique<trace::TraceWriter>(out, header, setup.table);
    return writer.get();
  };
  int status = SuperviseCommand("trace", options.run,
                                options.observe_only ? ExecutedCaps::kObserveOnly : ExecutedCaps::kRequested,
                                observe);
  if (writer) {
    Print("nvgate trace", fmt::format("{} calls written to {}", writer->calls_written(), options.output));
  }
  return status;
}

int RunLearn(const LearnOptions& options) {
  auto bound = caps::ParseAllowed(options.run.allowed_caps);
  if (!bound) return FailReading("learn", bound.error().Prefixed("--allowed-caps: "));
  if (bound->empty()) return FailReading("learn", Error::Usage("--allowed-caps names no capability"));

  if (IsTraceArgument(options.args)) {
    auto trace = ReadTraceWarning("learn", options.args[0]);
    if (!trace) return FailReading("learn", trace.error());
    auto table = TableFor(trace->header.driver_version);
    if (!table) return FailReading("learn", table.error());
    trace::LearnResult result = trace::Learn(**table, *bound, trace->calls);
    std::string preface = "trace of " + trace->header.driver_version + " under " +
                          trace->header.caps.ToString() +
                          " (a workload may take other paths where a call was refused)\n";
    return PrintLearned(options, result, *bound, preface);
  }

  RunOptions run = options.run;
  run.command = options.args;
  run.caps = bound->ToString();
  std::unique_ptr<trace::CallCollector> collector;
  const abi::Table* table = nullptr;
  auto observe = [&](const RunSetup& setup) -> Result<proxy::CallObserver*> {
    table = &setup.table;
    collector = std::make_unique<trace::CallCollector>(setup.table);
    return collector.get();
  };
  int status = SuperviseCommand("learn", run, ExecutedCaps::kAllowedBound, observe);
  if (!collector) return status;  // nvgate failed before the command started
  std::vector<trace::TracedCall> calls = collector->Calls();
  trace::LearnResult result = trace::Learn(*table, *bound, calls);
  std::string preface = "command exited with status " + std::to_string(status) + "\n";
  if (int printed = PrintLearned(options, result, *bound, preface); printed != 0) return printed;
  return status;
}

int RunReplay(const ReplayOptions& options) {
  auto trace = ReadTraceWarning("replay", options.trace);
  if (!trace) return FailReading("replay", trace.error());
  const std::string driver = options.driver.value_or(trace->header.driver_version);
  auto table = TableFor(driver);
  if (!table) return FailReading("replay", table.error());
  caps::CapSet enabled = trace->header.caps;
  if (options.caps) {
    auto parsed = caps::Resolve(*options.caps, caps::CapSet::Everything());
    if (!parsed) return FailReading("replay", parsed.error().Prefixed("--caps: "));
    enabled = *parsed;
  }
  trace::ReplayResult result = trace::Replay(**table, enabled, trace->calls);

  if (options.json) {
    nlohmann::json calls = nlohmann::json::array();
    for (const trace::ReplayedCall& r : result.calls) {
      nlohmann::json c = {{"seq", r.call->seq},
                          {"level", abi::LevelName(r.call->level)},
                          {"key", fmt::format("{:#x}", r.call->key)},
                          {"name", r.call->name},
                          {"traced", trace::DecisionName(trace::PolicyAllowed(*r.call))},
                          {"decision", trace::DecisionName(r.now.allowed)},
                          {"changed", r.changed},
                          {"inner_known", r.now.inner_known}};
      if (!r.now.allowed) {
        c["reason"] = trace::ReasonName(r.now.reason);
        c["message"] = r.now.message;
      }
      calls.push_back(std::move(c));
    }
    nlohmann::json out = {{"driver", driver},
                          {"caps", enabled.ToString()},
                          {"traced_driver", trace->header.driver_version},
                          {"traced_caps", trace->header.caps.ToString()},
                          {"calls", std::move(calls)},
                          {"allowed", result.allowed},
                          {"refused", result.refused},
                          {"changed", result.changed},
                          {"undetermined", result.undetermined}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (const trace::ReplayedCall& r : result.calls) {
    std::printf("%5llu %-12s %-10s %-44s %s%s%s%s\n", static_cast<unsigned long long>(r.call->seq),
                std::string(abi::LevelName(r.call->level)).c_str(), fmt::format("{:#x}", r.call->key).c_str(),
                r.call->name.empty() ? "(no table row)" : r.call->name.c_str(),
                std::string(trace::DecisionName(r.now.allowed)).c_str(),
                r.now.allowed ? "" : (" (" + std::string(trace::ReasonName(r.now.reason)) + ")").c_str(),
                r.changed ? "  CHANGED" : "", r.now.inner_known ? "" : "  (inner command not in the trace)");
  }
  std::printf("\n%zu calls under %s (driver %s): %llu allowed, %llu refused; %llu changed from the "
              "trace (recorded under %s, driver %s)%s\n",
              result.calls.size(), enabled.ToString().c_str(), driver.c_str(),
              static_cast<unsigned long long>(result.allowed), static_cast<unsigned long long>(result.refused),
              static_cast<unsigned long long>(result.changed), trace->header.caps.ToString().c_str(),
              trace->header.driver_version.c_str(),
              result.undetermined == 0
                  ? ""
                  : (", " + std::to_string(result.undetermined) + " undetermined").c_str());
  return 0;
}

int RunSummary(const SummaryOptions& options) {
  auto trace = ReadTraceWarning("summary", options.trace);
  if (!trace) return FailReading("summary", trace.error());
  trace::Summary s = trace::Summarize(trace->calls);
  auto row_json = [](const trace::SummaryRow& r) {
    return nlohmann::json{{"calls", r.calls},       {"allowed", r.allowed},
                          {"refused", r.refused},   {"total_us", r.total_us},
                          {"driver_us", r.driver_us}};
  };
  if (options.json) {
    nlohmann::json levels = nlohmann::json::object();
    for (const auto& [level, row] : s.by_level) levels[std::string(abi::LevelName(level))] = row_json(row);
    nlohmann::json commands = nlohmann::json::array();
    for (const trace::SummaryRow& r : s.rows) {
      nlohmann::json c = row_json(r);
      c["level"] = abi::LevelName(r.level);
      c["key"] = fmt::format("{:#x}", r.key);
      c["name"] = r.name;
      commands.push_back(std::move(c));
    }
    nlohmann::json out = {{"driver", trace->header.driver_version},
                          {"caps", trace->header.caps.ToString()},
                          {"calls", s.calls},
                          {"allowed", s.allowed},
                          {"refused", s.refused},
                          {"total_us", s.total_us},
                          {"driver_us", s.driver_us},
                          {"span_us", s.span_us},
                          {"levels", std::move(levels)},
                          {"commands", std::move(commands)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("driver %s, capabilities %s\n", trace->header.driver_version.c_str(),
              trace->header.caps.ToString().c_str());
  std::printf("%llu calls (%llu allowed, %llu refused); %s in nvgate, %s of it in the driver; "
              "%s from the first call to the last\n\n",
              static_cast<unsigned long long>(s.calls), static_cast<unsigned long long>(s.allowed),
              static_cast<unsigned long long>(s.refused), Millis(s.total_us).c_str(),
              Millis(s.driver_us).c_str(), Millis(s.span_us).c_str());
  std::printf("%-12s %-10s %-44s %7s %7s %7s %12s %12s\n", "level", "key", "name", "calls", "allowed",
              "refused", "total", "driver");
  for (const auto& [level, r] : s.by_level) {
    std::printf("%-12s %-10s %-44s %7llu %7llu %7llu %12s %12s\n",
                std::string(abi::LevelName(level)).c_str(), "*", "(all)",
                static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.allowed),
                static_cast<unsigned long long>(r.refused), Millis(r.total_us).c_str(),
                Millis(r.driver_us).c_str());
  }
  std::printf("\n");
  for (const trace::SummaryRow& r : s.rows) {
    std::printf("%-12s %-10s %-44s %7llu %7llu %7llu %12s %12s\n",
                std::string(abi::LevelName(r.level)).c_str(), fmt::format("{:#x}", r.key).c_str(),
                r.name.empty() ? "(no table row)" : r.name.c_str(), static_cast<unsigned long long>(r.calls),
                static_cast<unsigned long long>(r.allowed), static_cast<unsigned long long>(r.refused),
                Millis(r.total_us).c_str(), Millis(r.driver_us).c_str());
  }
  return 0;
}

}  // namespace nvgate::cli
