#include "cli/abi_report.h"

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/commands.h"
#include "cli/driver_table.h"

namespace nvgate::cli {
namespace {

using caps::Capability;
using caps::CapSet;

const abi::Table& R580() {
  const abi::Table* t = abi::TableForVersion("580.159.04");
  EXPECT_NE(t, nullptr);
  return *t;
}

int Total(CapSet s) { return CountReachable(R580(), s).total; }
int At(CapSet s, abi::Level l) { return CountReachable(R580(), s).per_level[static_cast<int>(l)]; }

// The segmentation this project exists for.
TEST(AbiReport, UtilityIsSmallerThanCompute) {
  EXPECT_LT(Total({Capability::kUtility}), Total({Capability::kCompute}));
  EXPECT_EQ(At({Capability::kUtility}, abi::Level::kUvm), 0) << "NVML needs no UVM";
}

TEST(AbiReport, VideoAndGraphicsAloneAreUsable) {
  for (CapSet s : {CapSet{Capability::kVideo}, CapSet{Capability::kGraphics}}) {
    const abi::Table& t = R580();
    auto reach = [&](abi::Level l, const char* name) {
      for (const abi::Entry& e : t.entries()) {
        if (e.level == l && e.name == name) return e.mask.Reachable(s);
      }
      return false;
    };
    EXPECT_TRUE(reach(abi::Level::kFrontend, "NV_ESC_RM_CONTROL")) << s.ToString();
    EXPECT_TRUE(reach(abi::Level::kFrontend, "NV_ESC_RM_ALLOC")) << s.ToString();
    EXPECT_TRUE(reach(abi::Level::kFrontend, "NV_ESC_CHECK_VERSION_STR")) << s.ToString();
    EXPECT_TRUE(reach(abi::Level::kAlloc, "NV01_ROOT_CLIENT")) << s.ToString();
    EXPECT_TRUE(reach(abi::Level::kAlloc, "NV01_DEVICE_0")) << s.ToString();
    EXPECT_TRUE(reach(abi::Level::kAlloc, "NV20_SUBDEVICE_0")) << s.ToString();
  }
  EXPECT_GT(At({Capability::kVideo}, abi::Level::kAlloc), At({Capability::kDisplay}, abi::Level::kAlloc));
  EXPECT_GT(At({Capability::kGraphics}, abi::Level::kAlloc), At({Capability::kDisplay}, abi::Level::kAlloc));
}

TEST(AbiReport, SetsGrowMonotonically) {
  EXPECT_LE(Total(CapSet::Default()), Total(CapSet::AllUnprivileged()));
  EXPECT_LE(Total(CapSet::AllUnprivileged()), Total(CapSet::Everything()));
  EXPECT_EQ(Total({}), 0);
}

TEST(AbiReport, DiffListsOnlyTheDifference) {
  auto only = ReachableOnlyWith(R580(), {Capability::kCompute, Capability::kVideo},
                                {Capability::kCompute});
  ASSERT_FALSE(only.empty());
  for (const abi::Entry* e : only) {
    EXPECT_TRUE(e->mask.caps.Has(Capability::kVideo)) << e->name;
    EXPECT_FALSE(e->mask.Reachable({Capability::kCompute})) << e->name;
  }
  EXPECT_TRUE(ReachableOnlyWith(R580(), {Capability::kCompute}, CapSet::Everything()).empty());
}

// Other tools consume this; its shape only changes with a new schema name.
TEST(AbiReport, JsonIsStable) {
  auto j = ReportJson(R580(), "580.159.04", CapSet::Default());
  EXPECT_EQ(j["schema"], "nvgate.abi/1");
  EXPECT_EQ(j["driver"], "580.159.04");
  EXPECT_EQ(j["branch"], "580");
  EXPECT_EQ(j["capabilities"], nlohmann::ordered_json({"compute", "utility"}));
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_THAT(keys, ::testing::ElementsAre("schema", "driver", "branch", "capabilities",
                                           "reachable", "entries", "summary"));
  int listed = 0;
  for (auto& [level, entries] : j["entries"].items()) {
    for (auto& e : entries) {
      ++listed;
      EXPECT_TRUE(e.contains("key") && e.contains("name") && e.contains("caps") &&
                  e.contains("handler") && e.contains("struct") && e.contains("size"));
    }
  }
  EXPECT_EQ(listed, j["reachable"]["total"].get<int>());
  EXPECT_EQ(j["summary"].size(), SummarySets().size());
}

// docs/capabilities.md shows the same counts nvgate computes, for the newest
// version of every branch.
TEST(AbiReport, CapabilitiesDocHasTheCurrentCounts) {
  std::ifstream in(std::filesystem::path(NVGATE_SOURCE_DIR) / "docs/capabilities.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const std::string& branch : abi::SupportedBranches()) {
    std::string version = abi::NewestVersionOfBranch(branch).value();
    EXPECT_THAT(doc.str(), ::testing::HasSubstr("### " + branch + " (" + version + ")\n\n" +
                                                SummaryMarkdown(*abi::TableForVersion(version))))
        << "regenerate the " << branch << " table with: nvgate abi --driver " << version
        << " --summary-markdown";
  }
}

const abi::Table& Table(std::string_view version) {
  const abi::Table* t = abi::TableForVersion(version);
  EXPECT_NE(t, nullptr) << version;
  return *t;
}

bool Lists(const std::vector<const abi::Entry*>& entries, std::string_view name) {
  return std::any_of(entries.begin(), entries.end(),
                     [&](const abi::Entry* e) { return e->name == name; });
}

// 570 numbers the DRAM encryption controls differently and has no skyline
// control; what only the set can reach is listed.
TEST(AbiVersionDiff, ListsAddedRemovedAndChangedRows) {
  VersionDiff diff = DiffVersions(Table("570.211.01"), Table("580.159.04"), CapSet::Everything());
  EXPECT_TRUE(Lists(diff.only_b, "NV2080_CTRL_CMD_GPU_GET_SKYLINE_INFO"));
  EXPECT_FALSE(Lists(diff.only_a, "NV2080_CTRL_CMD_GPU_GET_SKYLINE_INFO"));
  auto changed = [&](std::string_view name) -> const ChangedEntry* {
    for (const ChangedEntry& c : diff.changed) {
      if (c.a->name == name) return &c;
    }
    return nullptr;
  };
  const ChangedEntry* dram = changed("NV2080_CTRL_CMD_FB_QUERY_DRAM_ENCRYPTION_STATUS");
  ASSERT_NE(dram, nullptr);
  EXPECT_THAT(dram->columns, ::testing::ElementsAre("key"));
  const ChangedEntry* map_dma = changed("NV_ESC_RM_MAP_MEMORY_DMA");
  ASSERT_NE(map_dma, nullptr);
  EXPECT_THAT(map_dma->columns, ::testing::ElementsAre("size", "layout"));
  EXPECT_THAT(VersionDiffText(diff, "570.211.01", "580.159.04"),
              ::testing::HasSubstr("size 56 -> 64"));

  VersionDiff video = DiffVersions(Table("570.211.01"), Table("580.159.04"), {Capability::kVideo});
  EXPECT_FALSE(Lists(video.only_b, "NV2080_CTRL_CMD_GPU_GET_SKYLINE_INFO"))
      << "video does not reach it in either version";
  EXPECT_TRUE(Lists(video.only_b, "NVD1B0_VIDEO_DECODER"));

  VersionDiff same = DiffVersions(Table("580.142"), Table("580.159.04"), CapSet::Everything());
  EXPECT_TRUE(same.only_a.empty() && same.only_b.empty() && same.changed.empty());

  auto j = VersionDiffJson(diff, "570.211.01", Table("570.211.01"), "580.159.04",
                           Table("580.159.04"), CapSet::Everything());
  EXPECT_EQ(j["schema"], "nvgate.abi-versions-diff/1");
  EXPECT_EQ(j["a"]["branch"], "570");
  EXPECT_EQ(j["changed"].size(), diff.changed.size());
}

TEST(DriverTable, ExactVersionNeedsNoOverride) {
  auto chosen = ChooseTable("535.288.01", std::nullopt);
  ASSERT_TRUE(chosen) << chosen.error().message;
  EXPECT_EQ(chosen->table->branch(), "535");
  EXPECT_TRUE(chosen->warning.empty());
}

TEST(DriverTable, UnsupportedVersionFailsClosedListingTheSupportedOnes) {
  auto unknown = ChooseTable("581.0.1", std::nullopt);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, ::testing::HasSubstr("581.0.1 is not supported"));
  for (const std::string& v : abi::SupportedVersions()) {
    EXPECT_THAT(unknown.error().message, ::testing::HasSubstr(v));
  }
  EXPECT_EQ(unknown.error().message.find('\n'), std::string::npos);
}

// A version newer than its branch's newest: refused, naming the override, which
// then uses that newest table with a warning.
TEST(DriverTable, NewerVersionOfABranchRunsOnlyWithTheOverride) {
  std::string newest = abi::NewestVersionOfBranch("535").value();
  auto refused = ChooseTable("535.999.01", std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("newer than the newest supported 535 driver, " + newest));
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("--abi-version 535"));

  for (const std::string& override_value : {std::string("535"), newest}) {
    auto chosen = ChooseTable("535.999.01", override_value);
    ASSERT_TRUE(chosen) << chosen.error().message;
    EXPECT_EQ(chosen->version, newest);
    EXPECT_EQ(chosen->table, abi::TableForVersion(newest));
    EXPECT_THAT(chosen->warning, ::testing::HasSubstr("535.999.01 is run with the ABI table of " +
                                                      newest));
  }
}

TEST(DriverTable, OverrideNeverCrossesBranches) {
  auto crossed = ChooseTable("535.288.01", std::string("580.159.04"));
  ASSERT_FALSE(crossed);
  EXPECT_THAT(crossed.error().message, ::testing::HasSubstr("never used for another branch"));
  EXPECT_FALSE(ChooseTable("535.288.01", std::string("536")));
  EXPECT_FALSE(ChooseTable("535.288.01", std::string("535.1.2")));
}

// `nvgate abi` itself, for a version of every branch and across versions.
TEST(AbiCommand, ReportsEveryBranchAndDiffsVersions) {
  for (const std::string& branch : abi::SupportedBranches()) {
    AbiOptions options;
    options.driver = abi::NewestVersionOfBranch(branch);
    options.json = true;
    ::testing::internal::CaptureStdout();
    int status = RunAbi(options);
    auto j = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
    EXPECT_EQ(status, 0);
    EXPECT_EQ(j["branch"], branch);
    EXPECT_GT(j["reachable"]["total"].get<int>(), 100) << branch;
  }
  AbiOptions diff;
  diff.diff_versions = {"590.48.01", "595.45.04"};
  diff.caps = "compute,utility";
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunAbi(diff), 0);
  std::string text = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(text, ::testing::HasSubstr("driver 590.48.01 (table r590) -> 595.45.04 (table r595)"));
  EXPECT_THAT(text, ::testing::HasSubstr("NV2080_CTRL_CMD_GPU_GET_NAME_STRING"));

  AbiOptions unsupported;
  unsupported.diff_versions = {"590.48.01", "596.1.1"};
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunAbi(unsupported), kExitUsage);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), ::testing::HasSubstr("596.1.1 is not supported"));
}

}  // namespace
}  // namespace nvgate::cli
