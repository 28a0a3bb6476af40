#include "policy/policy.h"

#include <cerrno>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/nv_structs.h"

namespace nvgate::policy {
namespace {

using caps::Capability;
using ::testing::HasSubstr;

const abi::Table& TestTable() {
  static const abi::Table t =
      abi::Table::Parse(
          "#branch\t1\n#versions\t1.0\n"
          "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\t-\t32\t-\n"
          "frontend\tNV_ESC_IOCTL_XFER_CMD\t0xd3\t-\tdeny\t-\t16\t-\n"
          "uvm\tUVM_INITIALIZE\t0x30000001\tcompute\tuvm_initialize\t-\t16\t-\n"
          "control\tNV2080_CTRL_CMD_GPU_GET_INFO_V2\t0x20800102\tbase\tsimple\t-\t8\t-\n"
          "control\tNV2080_CTRL_CMD_GPU_GET_ENCODER_CAPACITY\t0x2080016c\tvideo\tsimple\t-\t8\t-\n"
          "alloc\tNVB8B0_VIDEO_DECODER\t0xb8b0\tvideo\tsimple\t-\t0\t-\n"
          "alloc\tHOPPER_A\t0xcb97\tgraphics\tsimple\t-\t0\t-\n"
          "alloc_memory\tNV01_MEMORY_SYSTEM_OS_DESCRIPTOR\t0x71\t-\tdeny\t-\t0\t-\n")
          .value();
  return t;
}

TEST(Decide, AllowsWhatTheMaskReaches) {
  auto d = Decide(TestTable(), abi::Level::kAlloc, 0xb8b0, {Capability::kVideo});
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.entry->name, "NVB8B0_VIDEO_DECODER");
  EXPECT_TRUE(Decide(TestTable(), abi::Level::kFrontend, 0x2a, {Capability::kGraphics}).allowed())
      << "base tier";
}

// The driver's own answers, so libraries degrade as they would under gVisor.
TEST(Decide, DeniedAnswersFollowTheLevel) {
  caps::CapSet compute{Capability::kCompute};
  auto alloc = Decide(TestTable(), abi::Level::kAlloc, 0xb8b0, compute);
  EXPECT_EQ(alloc.verdict, Verdict::kMissingCapability);
  EXPECT_EQ(alloc.answer.error, 0);
  EXPECT_EQ(alloc.answer.status, nv::kNvErrInvalidClass);

  auto control = Decide(TestTable(), abi::Level::kControl, 0x2080016c, compute);
  EXPECT_EQ(control.answer.error, 0);
  EXPECT_EQ(control.answer.status, nv::kNvErrNotSupported);

  auto uvm = Decide(TestTable(), abi::Level::kUvm, 0x30000001, {Capability::kVideo});
  EXPECT_EQ(uvm.answer.error, EINVAL);

  auto unknown = Decide(TestTable(), abi::Level::kFrontend, 0x99, caps::CapSet::Everything());
  EXPECT_EQ(unknown.verdict, Verdict::kUnknown);
  EXPECT_EQ(unknown.answer.error, EINVAL);

  auto unknown_control = Decide(TestTable(), abi::Level::kControl, 0x20808000, caps::CapSet::Everything());
  EXPECT_EQ(unknown_control.verdict, Verdict::kUnknown);
  EXPECT_EQ(unknown_control.answer.status, nv::kNvErrNotSupported);
}

TEST(Decide, DenyRowsHoldForEverySet) {
  auto xfer = Decide(TestTable(), abi::Level::kFrontend, 0xd3, caps::CapSet::Everything());
  EXPECT_EQ(xfer.verdict, Verdict::kNeverAllowed);
  auto osdesc = Decide(TestTable(), abi::Level::kAllocMemory, 0x71, caps::CapSet::Everything());
  EXPECT_EQ(osdesc.verdict, Verdict::kNeverAllowed);
  EXPECT_EQ(osdesc.answer.status, nv::kNvErrInvalidClass);
}

TEST(Decide, EmptySetReachesNothing) {
  for (const abi::Entry& e : TestTable().entries()) {
    EXPECT_FALSE(Decide(TestTable(), e.level, e.key, {}).allowed()) << e.name;
  }
}

TEST(Describe, NamesTheCallAndTheCapabilityThatWouldAllowIt) {
  caps::CapSet compute{Capability::kCompute};
  auto d = Decide(TestTable(), abi::Level::kAlloc, 0xb8b0, compute);
  std::string line = Describe(d, abi::Level::kAlloc, 0xb8b0, compute);
  EXPECT_EQ(line,
            "video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied; enable with "
            "NVIDIA_DRIVER_CAPABILITIES=compute,video");
  auto unknown = Decide(TestTable(), abi::Level::kControl, 0x20808000, compute);
  EXPECT_THAT(Describe(unknown, abi::Level::kControl, 0x20808000, compute),
              HasSubstr("control 0x20808000 denied"));
  auto never = Decide(TestTable(), abi::Level::kFrontend, 0xd3, compute);
  EXPECT_THAT(Describe(never, abi::Level::kFrontend, 0xd3, compute),
              HasSubstr("NV_ESC_IOCTL_XFER_CMD (frontend 0xd3) denied; no capability allows it"));
}

TEST(Policy, DeniedCapabilityAndCallNameAreWhatTheLineNames) {
  caps::CapSet compute{Capability::kCompute};
  auto video = Decide(TestTable(), abi::Level::kAlloc, 0xb8b0, compute);
  EXPECT_EQ(DeniedCapability(video), "video");
  EXPECT_EQ(CallName(video, abi::Level::kAlloc), "NVB8B0_VIDEO_DECODER");
  // No key in the name: a workload spraying unknown keys adds no new names.
  auto unknown = Decide(TestTable(), abi::Level::kControl, 0x20808000, compute);
  EXPECT_EQ(DeniedCapability(unknown), "unknown");
  EXPECT_EQ(CallName(unknown, abi::Level::kControl), "unknown control");
  auto never = Decide(TestTable(), abi::Level::kFrontend, 0xd3, compute);
  EXPECT_EQ(DeniedCapability(never), "never");
  EXPECT_EQ(CallName(never, abi::Level::kFrontend), "NV_ESC_IOCTL_XFER_CMD");
}

Denial At(int pid, abi::Level level, std::string line) {
  return {.pid = pid, .level = level, .key = 0xb8b0, .line = std::move(line), .capability = "video",
          .call = "NVB8B0_VIDEO_DECODER"};
}

// Issue 22: a workload whose hundred children make the same refused call got a
// line per child; now one line per call, and counts.
TEST(DenialLog, OneLinePerCallAndEveryDenialCounted) {
  std::vector<std::string> lines;
  int every = 0;
  DenialLog log([&](const Denial& d) { lines.push_back(d.line); }, [&](const Denial&) { ++every; });
  EXPECT_TRUE(log.Report(At(10, abi::Level::kAlloc, "a")));
  EXPECT_FALSE(log.Report(At(10, abi::Level::kAlloc, "a")));
  for (int child = 100; child < 200; ++child) EXPECT_FALSE(log.Report(At(child, abi::Level::kAlloc, "b")));
  EXPECT_TRUE(log.Report(At(10, abi::Level::kControl, "c")));
  EXPECT_THAT(lines, ::testing::ElementsAre("a", "c"));
  EXPECT_EQ(every, 103);
  std::vector<DenialCount> summary = log.Summary();
  ASSERT_EQ(summary.size(), 2u);
  EXPECT_EQ(summary[0].level, abi::Level::kAlloc);
  EXPECT_EQ(summary[0].call, "NVB8B0_VIDEO_DECODER");
  EXPECT_EQ(summary[0].capability, "video");
  EXPECT_EQ(summary[0].count, 102u);
  EXPECT_EQ(summary[0].processes, 101u);
  EXPECT_EQ(summary[1].level, abi::Level::kControl);
  EXPECT_EQ(summary[1].count, 1u);
}

TEST(DenialLog, ProcessesAreCountedOnlyUpToABound) {
  DenialLog log([](const Denial&) {});
  const int forks = static_cast<int>(DenialLog::kMaxCountedProcesses) + 50;
  for (int pid = 1; pid <= forks; ++pid) log.Report(At(pid, abi::Level::kAlloc, "a"));
  EXPECT_EQ(log.Summary()[0].count, static_cast<std::uint64_t>(forks));
  EXPECT_EQ(log.Summary()[0].processes, DenialLog::kMaxCountedProcesses);
}

}  // namespace
}  // namespace nvgate::policy
