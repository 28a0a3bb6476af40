#include "cli/abi_report.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

// docs/capabilities.md shows the same counts nvgate computes.
TEST(AbiReport, CapabilitiesDocHasTheCurrentCounts) {
  std::ifstream in(std::filesystem::path(NVGATE_SOURCE_DIR) / "docs/capabilities.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_THAT(doc.str(), ::testing::HasSubstr(SummaryMarkdown(R580())))
      << "regenerate the table with: nvgate abi --driver 580.159.04 --summary-markdown";
}

}  // namespace
}  // namespace nvgate::cli
