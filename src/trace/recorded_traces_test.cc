// Every committed trace (tests/data/traces, real-driver ones in real/) decided
// again with today's tables: a failure names the call whose decision changed.
#include <algorithm>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trace/regression.h"
#include "trace/trace.h"

namespace nvgate::trace {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kTraces = std::filesystem::path(NVGATE_SOURCE_DIR) / "tests/data/traces";

std::vector<std::filesystem::path> CommittedTraces() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kTraces)) {
    if (e.is_regular_file() && e.path().extension() == ".trace") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Trace Read(const std::filesystem::path& path) {
  auto trace = ReadTraceFile(path.string());
  EXPECT_TRUE(trace) << path << ": " << trace.error().message;
  return trace ? *trace : Trace{};
}

TEST(RecordedTraces, EveryCommittedTraceIsDecidedAsRecorded) {
  std::vector<std::filesystem::path> traces = CommittedTraces();
  ASSERT_FALSE(traces.empty()) << "no trace under " << kTraces;
  for (const std::filesystem::path& path : traces) {
    Trace trace = Read(path);
    ASSERT_FALSE(trace.calls.empty()) << path;
    for (const std::string& regression : Regressions(trace)) {
      ADD_FAILURE() << std::filesystem::relative(path, kTraces).string() << ": " << regression;
    }
  }
}

// The committed sim trace, doctored: one allowed call recorded as refused and
// one refused call recorded as allowed. Both are named.
TEST(RecordedTraces, ADecisionThatChangedIsNamed) {
  Trace trace = Read(kTraces / "nvprobe-sim-compute.trace");
  auto allowed = std::find_if(trace.calls.begin(), trace.calls.end(),
                              [](const TracedCall& c) { return c.allowed && c.name == "UVM_INITIALIZE"; });
  auto refused = std::find_if(trace.calls.begin(), trace.calls.end(),
                              [](const TracedCall& c) { return c.name == "NVB8B0_VIDEO_DECODER"; });
  ASSERT_NE(allowed, trace.calls.end());
  ASSERT_NE(refused, trace.calls.end());
  ASSERT_FALSE(refused->allowed);
  ASSERT_TRUE(Regressions(trace).empty());

  allowed->allowed = false;
  allowed->reason = Reason::kMissingCapability;
  refused->allowed = true;
  refused->reason = Reason::kNone;
  std::vector<std::string> found = Regressions(trace);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_THAT(found[0] + found[1], HasSubstr("UVM_INITIALIZE was refused under compute, now allowed"));
  EXPECT_THAT(found[0] + found[1], HasSubstr("NVB8B0_VIDEO_DECODER was allowed under compute, now refused "
                                             "(missing_capability)"));
}

TEST(RecordedTraces, ATraceOfAnUnknownDriverIsARegression) {
  Trace trace = Read(kTraces / "nvprobe-sim-compute.trace");
  trace.header.driver_version = "1.2.3";
  std::vector<std::string> found = Regressions(trace);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0], HasSubstr("driver 1.2.3 has no table"));
}

}  // namespace
}  // namespace nvgate::trace
