// nvgate trace, learn, replay, summary and run --audit end to end on the
// simulated driver, with nvprobe as the workload and the committed trace of it
// (tests/data/traces) as the reference.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <stdlib.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"

namespace nvgate {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::string kCommittedTrace =
    std::string(NVGATE_SOURCE_DIR) + "/tests/data/traces/nvprobe-sim-compute.trace";

// A directory of this process's own keeps concurrent test runs (two checkouts,
// or ctest -j) off each other's files; it goes when the process ends.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nvgate-trace-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path TempFile(const std::string& name) {
  static const TempDirectory directory;
  return directory.path() / name;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<Json> TraceLines(const std::filesystem::path& path) {
  std::vector<Json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
  return lines;
}

testing::ProgramResult Nvgate(std::vector<std::string> args) {
  args.insert(args.begin(), NVGATE_BINARY);
  return testing::RunProgram(args);
}

// What a trace decided, call by call: level, key and decision.
std::vector<std::string> Decisions(const std::vector<Json>& trace_lines) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i < trace_lines.size(); ++i) {
    const Json& c = trace_lines[i];
    out.push_back(c["level"].get<std::string>() + " " + c["key"].get<std::string>() + " " +
                  c["decision"].get<std::string>());
  }
  return out;
}

TEST(Learn, NamesTheCapabilitiesNvprobeNeeds) {
  auto report = TempFile("learn.json");
  auto r = Nvgate({"learn", "--json", "-o", report.string(), "--backend", "sim", "--", NVPROBE_BINARY});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("nvprobe: 41 ok, 0 refused, 0 failed")) << "ran with the whole bound";
  Json j = Json::parse(ReadFile(report));
  // GPU info (NVML) is the base tier on 580: utility is not needed.
  EXPECT_EQ(j["caps"], "compute,graphics,video");
  EXPECT_EQ(j["needed_by"]["graphics"][0]["name"], "HOPPER_A");
  EXPECT_EQ(j["needed_by"]["video"].size(), 3u);
  std::set<std::string> compute;
  for (const Json& use : j["needed_by"]["compute"]) compute.insert(use["name"]);
  EXPECT_TRUE(compute.contains("UVM_INITIALIZE"));
  EXPECT_TRUE(compute.contains("HOPPER_COMPUTE_A"));
  EXPECT_TRUE(j["refused"].empty());
}

TEST(Learn, CallsOutsideTheBoundAreRefusedAndReported) {
  auto r = Nvgate({"learn", "--allowed-caps", "compute,utility", "--backend", "sim", "--", NVPROBE_BINARY});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("smallest capability set: compute\n"));
  EXPECT_THAT(r.out, HasSubstr("refused under every set within the bound"));
  EXPECT_THAT(r.out, HasSubstr("NVB8B0_VIDEO_DECODER"));
  EXPECT_THAT(r.err, HasSubstr("denied: pid")) << "nothing outside the bound executes";
}

TEST(Learn, FromTheCommittedTrace) {
  auto r = Nvgate({"learn", "--json", kCommittedTrace});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["caps"], "compute,graphics,video");
}

TEST(Replay, CommittedTraceGivesTheDecisionsOfTheLiveRunThatRecordedIt) {
  std::vector<Json> committed = TraceLines(kCommittedTrace);
  ASSERT_GT(committed.size(), 1u);
  auto r = Nvgate({"replay", "--json", kCommittedTrace});
  ASSERT_EQ(r.status, 0) << r.err;
  Json replayed = Json::parse(r.out);
  EXPECT_EQ(replayed["changed"], 0);
  ASSERT_EQ(replayed["calls"].size(), committed.size() - 1);
  for (std::size_t i = 0; i < replayed["calls"].size(); ++i) {
    EXPECT_EQ(replayed["calls"][i]["decision"], committed[i + 1]["decision"]) << committed[i + 1].dump();
  }

  // The same run today decides the same calls the same way.
  auto live = TempFile("live.trace");
  auto run = Nvgate({"trace", "-o", live.string(), "--backend", "sim", "--caps",
                     committed[0]["caps"].get<std::string>(), "--", NVPROBE_BINARY, "--json"});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(Decisions(TraceLines(live)), Decisions(committed));
}

TEST(Replay, AnotherCapabilitySetChangesDecisions) {
  auto r = Nvgate({"replay", kCommittedTrace, "--caps", "video"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NVB8B0_VIDEO_DECODER                         allowed  CHANGED"));
  EXPECT_THAT(r.out, HasSubstr("HOPPER_COMPUTE_A                             refused (missing_capability)  CHANGED"));
  EXPECT_THAT(r.out, HasSubstr("calls under video (driver 580.159.04)"));
}

TEST(Replay, ErrorsAreClear) {
  auto not_a_trace = Nvgate({"replay", NVGATE_SOURCE_DIR "/README.md"});
  EXPECT_EQ(not_a_trace.status, 2);
  EXPECT_THAT(not_a_trace.err, HasSubstr("line 1: not valid JSON"));
  auto driver = Nvgate({"replay", kCommittedTrace, "--driver", "999.1"});
  EXPECT_EQ(driver.status, 2);
  EXPECT_THAT(driver.err, HasSubstr("NVIDIA driver 999.1 is not supported"));
}

// nvprobe's steps and their results (ok, refused, failed) from its --json output.
std::vector<std::string> ProbeResults(const std::string& out) {
  std::vector<std::string> results;
  for (const Json& step : Json::parse(out)) {
    results.push_back(step["step"].get<std::string>() + ": " + step["result"].get<std::string>());
  }
  return results;
}

TEST(ReplayBackend, NvprobeGetsTheResultsOfTheLiveRunThatRecordedTheTrace) {
  auto live = Nvgate({"run", "--backend", "sim", "--caps", "compute", "--", NVPROBE_BINARY, "--json"});
  ASSERT_EQ(live.status, 0) << live.err;
  auto replayed = Nvgate({"run", "--backend", "replay", "--replay-trace", kCommittedTrace, "--caps", "compute", "--",
                          NVPROBE_BINARY, "--json"});
  ASSERT_EQ(replayed.status, 0) << replayed.err;
  EXPECT_THAT(replayed.err, ::testing::Not(HasSubstr("replay:")));
  EXPECT_EQ(ProbeResults(replayed.out), ProbeResults(live.out));
  EXPECT_EQ(ProbeResults(replayed.out).size(), 41u);
}

// The trace nvgate recorded of nvprobe under compute,utility on an NVIDIA H200
// (driver 580.159.04, docs/gpu-validation.md, run 2): replayed here, with no
// GPU, nvprobe gets the real driver's answers and the same results, every step
// ok but the video and 3D objects, which compute,utility does not reach.
TEST(ReplayBackend, NvprobeReplaysTheRealDriversTrace) {
  const std::string real =
      std::string(NVGATE_SOURCE_DIR) + "/tests/data/traces/real/nvprobe-580.159.04-compute,utility.trace";
  // Recorded before nvprobe had its pageable-copy step.
  auto replayed = Nvgate({"run", "--backend", "replay", "--replay-trace", real, "--caps", "compute,utility", "--",
                          NVPROBE_BINARY, "--json", "--no-pageable-copy"});
  ASSERT_EQ(replayed.status, 0) << replayed.err;
  EXPECT_THAT(replayed.err, ::testing::Not(HasSubstr("replay:")));
  std::vector<std::string> refused;
  for (const std::string& result : ProbeResults(replayed.out)) {
    if (!result.ends_with(": ok")) refused.push_back(result);
  }
  EXPECT_THAT(refused, ::testing::ElementsAre("video decoder 0xb8b0: refused", "JPEG decoder (NVJPG) 0xb8d1: refused",
                                              "optical flow (OFA) 0xb8fa: refused", "3D class 0xcb97: refused"));
  EXPECT_EQ(ProbeResults(replayed.out).size(), 39u);
}

TEST(ReplayBackend, ACallRefusedWhenRecordedAndAllowedNowIsADivergence) {
  auto r = Nvgate({"run", "--backend", "replay", "--replay-trace", kCommittedTrace, "--caps", "compute,video", "--",
                   NVPROBE_BINARY});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("nvgate run: the workload diverged from the replayed trace"));
  EXPECT_THAT(r.err, HasSubstr("call 32: expected seq 32 nvidiactl alloc 0xa06c KEPLER_CHANNEL_GROUP_A via "
                               "NV_ESC_RM_ALLOC, 32 bytes, got nvidiactl alloc 0xb8b0 NVB8B0_VIDEO_DECODER"));
  EXPECT_THAT(r.err, HasSubstr("refused when it was recorded under compute"));
  EXPECT_THAT(r.out, HasSubstr("video decoder 0xb8b0                     failed (EIO)"))
      << "the call fails; no answer is made up";
}

TEST(ReplayBackend, AnotherProgramIsADivergence) {
  // Without compute, the channel allocs are refused and nvprobe skips UVM:
  // the trace expects them.
  auto fewer = Nvgate({"run", "--backend", "replay", "--replay-trace", kCommittedTrace, "--caps", "utility", "--",
                       NVPROBE_BINARY});
  EXPECT_EQ(fewer.status, 125);
  EXPECT_THAT(fewer.err, HasSubstr("call 16: expected seq 15 nvidiactl alloc 0xa06c KEPLER_CHANNEL_GROUP_A via "
                                   "NV_ESC_RM_ALLOC, 32 bytes, got nvidia-gpu alloc_memory 0x3e NV01_MEMORY_SYSTEM"));
  // A program that makes no driver call at all leaves the trace unanswered.
  auto none = Nvgate({"run", "--backend", "replay", "--replay-trace", kCommittedTrace, "--caps", "compute", "--",
                      "/bin/true"});
  EXPECT_EQ(none.status, 125);
  EXPECT_THAT(none.err, HasSubstr("the workload made 0 calls; 36 more recorded driver calls were never made, the "
                                  "first seq 0 nvidiactl frontend 0xd2 NV_ESC_CHECK_VERSION_STR"));
}

TEST(ReplayBackend, NeedsATraceWithParametersAndTheOptionsTogether) {
  auto without_params = TempFile("without-params.trace");
  auto recorded = Nvgate({"trace", "-o", without_params.string(), "--backend", "sim", "--caps", "compute", "--",
                          NVPROBE_BINARY});
  ASSERT_EQ(recorded.status, 0) << recorded.err;
  auto r = Nvgate({"run", "--backend", "replay", "--replay-trace", without_params.string(), "--", NVPROBE_BINARY});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("recorded without --with-params"));

  auto no_trace = Nvgate({"run", "--backend", "replay", "--", NVPROBE_BINARY});
  EXPECT_EQ(no_trace.status, 125);
  EXPECT_THAT(no_trace.err, HasSubstr("--backend replay and --replay-trace FILE go together"));
  auto missing = Nvgate({"run", "--backend", "replay", "--replay-trace", "/nonexistent.trace", "--", NVPROBE_BINARY});
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("cannot open /nonexistent.trace"));
}

TEST(ReplayBackend, TraceOfAReplayIsTheTraceReplayed) {
  auto again = TempFile("replayed.trace");
  auto r = Nvgate({"trace", "-o", again.string(), "--with-params", "--backend", "replay", "--replay-trace",
                   kCommittedTrace, "--caps", "compute", "--", NVPROBE_BINARY, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<Json> lines = TraceLines(again);
  EXPECT_EQ(lines[0]["backend"], "replay");
  EXPECT_EQ(Decisions(lines), Decisions(TraceLines(kCommittedTrace)));
}

TEST(Trace, HeaderAndFieldsAreTheDocumentedOnes) {
  std::string doc = ReadFile(NVGATE_SOURCE_DIR "/docs/trace-format.md");
  std::set<std::string> documented;
  std::regex field("`([a-z_]+)`");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), field); it != std::sregex_iterator(); ++it) {
    documented.insert((*it)[1]);
  }
  std::vector<Json> lines = TraceLines(kCommittedTrace);
  const Json& header = lines[0];
  EXPECT_EQ(header["format"], "nvgate-trace");
  EXPECT_EQ(header["version"], 1);
  for (const auto& [key, value] : header.items()) EXPECT_TRUE(documented.contains(key)) << key;
  std::set<std::string> seen;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    for (const auto& [key, value] : lines[i].items()) {
      seen.insert(key);
      EXPECT_TRUE(documented.contains(key)) << "undocumented field " << key;
    }
    for (const char* always : {"seq", "start_us", "duration_us", "pid", "tid", "device", "request", "level",
                               "key", "name", "reached_by", "size", "decision", "return", "errno"}) {
      EXPECT_TRUE(lines[i].contains(always)) << always << " missing in " << lines[i].dump();
    }
  }
  for (const char* sometimes : {"via", "reason", "message", "driver_return", "driver_us", "status", "in", "out"}) {
    EXPECT_TRUE(seen.contains(sometimes)) << "the committed trace has no " << sometimes;
  }
}

TEST(Trace, SummaryCountsByLevelAndCommand) {
  auto r = Nvgate({"summary", "--json", kCommittedTrace});
  ASSERT_EQ(r.status, 0) << r.err;
  Json s = Json::parse(r.out);
  EXPECT_EQ(s["calls"], 40);
  EXPECT_EQ(s["refused"], 4);
  EXPECT_EQ(s["levels"]["alloc"]["refused"], 4);
  EXPECT_EQ(s["levels"]["uvm"]["calls"], 4);
}

TEST(Run, AuditExecutesWithinTheBoundAndLogsWhatWouldBeDenied) {
  auto r = Nvgate({"run", "--audit", "--backend", "sim", "--caps", "compute", "--allowed-caps",
                   "compute,video", "--", NVPROBE_BINARY});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("AUDIT MODE"));
  EXPECT_THAT(r.out, HasSubstr("video decoder 0xb8b0                     ok"));
  EXPECT_THAT(r.err, HasSubstr("audit: would deny pid"));
  EXPECT_THAT(r.err, HasSubstr("NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied"));
  EXPECT_THAT(r.err, HasSubstr("denied: pid")) << "graphics is outside the bound: refused for real";
  EXPECT_THAT(r.err, HasSubstr("HOPPER_A"));
}

// On the sim the kernel cannot run the calls (its nodes are plain files), so
// the proxy answers them under every capability: nvprobe gets all it asks
// for, and the trace says which calls nvgate run --caps compute would refuse.
TEST(TraceObserveOnly, RecordsEveryCallAndRunsItWhateverTheCapabilities) {
  auto trace_file = TempFile("observe-only.trace");
  auto r = Nvgate({"trace", "--observe-only", "--with-params", "-o", trace_file.string(), "--backend", "sim",
                   "--caps", "compute", "--", NVPROBE_BINARY});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("OBSERVE-ONLY"));
  EXPECT_THAT(r.err, HasSubstr("protects NOTHING"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("denied:")));
  EXPECT_THAT(r.out, HasSubstr("nvprobe: 41 ok, 0 refused, 0 failed"));
  EXPECT_THAT(r.out, HasSubstr("video decoder 0xb8b0                     ok"));

  std::vector<Json> lines = TraceLines(trace_file);
  ASSERT_GT(lines.size(), 1u);
  EXPECT_EQ(lines[0]["observe_only"], true);
  EXPECT_EQ(lines[0]["caps"], "compute");
  bool video_seen = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i]["name"] != "NVB8B0_VIDEO_DECODER") continue;
    video_seen = true;
    EXPECT_EQ(lines[i]["decision"], "refused") << "what nvgate run --caps compute would decide";
    EXPECT_EQ(lines[i]["reason"], "missing_capability");
    EXPECT_TRUE(lines[i].contains("in")) << "parameters recorded";
  }
  EXPECT_TRUE(video_seen);

  // The trace reads as any other: replay and learn take it.
  auto replay = Nvgate({"replay", "--json", trace_file.string()});
  ASSERT_EQ(replay.status, 0) << replay.err;
  EXPECT_EQ(Json::parse(replay.out)["changed"], 0);
  auto learn = Nvgate({"learn", "--json", trace_file.string()});
  ASSERT_EQ(learn.status, 0) << learn.err;
  EXPECT_EQ(Json::parse(learn.out)["caps"], "compute,graphics,video");
}

TEST(TraceObserveOnly, IsRefusedUnderAnOperatorBound) {
  auto trace_file = TempFile("observe-only-bound.trace");
  std::filesystem::remove(trace_file);
  auto r = Nvgate({"trace", "--observe-only", "--allowed-caps", "compute,utility", "-o", trace_file.string(),
                   "--backend", "sim", "--", NVPROBE_BINARY});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("refused where one is configured"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("nvprobe:"))) << "the workload never started";
  EXPECT_FALSE(std::filesystem::exists(trace_file));

  auto config = TempFile("observe-only-bound.toml");
  std::ofstream(config) << "[trace]\nallowed-caps = \"compute\"\n";
  auto configured = Nvgate({"--config", config.string(), "trace", "--observe-only", "-o", trace_file.string(),
                            "--backend", "sim", "--", NVPROBE_BINARY});
  EXPECT_EQ(configured.status, 125) << configured.err;
  EXPECT_THAT(configured.err, HasSubstr("refused where one is configured"));
  // Nor can a config file turn it on: it is not a site default.
  auto turned_on = TempFile("observe-only-on.toml");
  std::ofstream(turned_on) << "[trace]\nobserve-only = true\n";
  auto from_config = Nvgate({"--config", turned_on.string(), "trace", "-o", trace_file.string(), "--backend",
                             "sim", "--", NVPROBE_BINARY});
  EXPECT_EQ(from_config.status, 125) << from_config.err;
  EXPECT_THAT(from_config.err, HasSubstr("[trace] observe-only: cannot be set in a configuration file"));
  EXPECT_FALSE(std::filesystem::exists(trace_file));
}

TEST(TraceObserveOnly, HelpSaysItProtectsNothing) {
  auto r = Nvgate({"trace", "--help"});
  ASSERT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("PROTECTS NOTHING"));
  EXPECT_THAT(r.out, HasSubstr("--observe-only protects nothing"));
}

TEST(Help, EveryNewCommandHasAnExample) {
  for (const char* command : {"trace", "learn", "replay", "summary", "run"}) {
    auto r = Nvgate({command, "--help"});
    EXPECT_EQ(r.status, 0) << command;
    EXPECT_THAT(r.out, HasSubstr("Examples:\n  nvgate " + std::string(command))) << command;
  }
}

}  // namespace
}  // namespace nvgate
