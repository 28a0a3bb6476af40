// Parity between nvgate's ABI tables and struct definitions and the facts
// extracted from NVIDIA's headers (tools/nvfacts). A changed number, size or
// offset on either side fails here.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/facts.h"
#include "abi/nv_structs.h"
#include "abi/nv_structs_facts.h"
#include "abi/nv_structs_libs.h"

namespace nvgate::abi {
namespace {

std::map<std::string, Facts> LoadAllFacts() {
  std::map<std::string, Facts> out;
  std::filesystem::path dir = std::filesystem::path(NVGATE_SOURCE_DIR) / "src/abi/facts";
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (file.path().extension() != ".facts") continue;
    std::ifstream in(file.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string tag = file.path().stem().string();
    auto facts = Facts::Parse(tag, text.str());
    EXPECT_TRUE(facts) << facts.error().message;
    if (facts) out.emplace(tag, std::move(*facts));
  }
  return out;
}

const std::map<std::string, Facts>& AllFacts() {
  static const auto facts = LoadAllFacts();
  return facts;
}

// Supported versions whose headers this project has no facts for: gVisor lists
// them, but open-gpu-kernel-modules had no tag for them when the facts were
// extracted. They use the table of their branch unchecked.
const std::set<std::string> kVersionsWithoutFacts = {"580.159.03", "580.159.04"};

// Every facts file is of a supported version, and is checked against the table
// that version uses (a delta's table for every branch but the base).
TEST(FactsParity, TablesMatchDriverHeaders) {
  ASSERT_FALSE(AllFacts().empty());
  std::set<std::string> branches;
  for (const auto& [tag, facts] : AllFacts()) {
    const Table* table = TableForVersion(tag);
    ASSERT_NE(table, nullptr) << tag << ".facts is of a version without a table";
    std::vector<std::string> mismatches = CompareWithFacts(*table, facts);
    EXPECT_THAT(mismatches, ::testing::IsEmpty()) << tag << " (table r" << table->branch() << ")";
    branches.insert(table->branch());
  }
  EXPECT_EQ(branches.size(), SupportedBranches().size()) << "a branch without facts";
}

TEST(FactsParity, EverySupportedVersionHasFacts) {
  for (const std::string& version : SupportedVersions()) {
    if (kVersionsWithoutFacts.contains(version)) continue;
    EXPECT_TRUE(AllFacts().contains(version)) << "no src/abi/facts/" << version << ".facts";
  }
}

// The check itself must catch a changed number, size or offset.
TEST(FactsParity, DetectsChangedRows) {
  Facts facts;
  facts.tag = "test";
  facts.values = {{"NV_ESC_RM_CONTROL", 0x2a}};
  facts.sizes = {{"NVOS54_PARAMETERS", 32}};
  facts.offsets = {{"NVOS54_PARAMETERS.hClient", 0}};
  auto table = [](std::string_view row) {
    return Table::Parse("#branch\t1\n#versions\t1.0\n" + std::string(row)).value();
  };
  EXPECT_THAT(CompareWithFacts(table("frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\t"
                                     "NVOS54_PARAMETERS\t32\tclient:hClient@0\n"),
                               facts),
              ::testing::IsEmpty());
  EXPECT_THAT(CompareWithFacts(table("frontend\tNV_ESC_RM_CONTROL\t0x2b\tbase\trm_control\t"
                                     "NVOS54_PARAMETERS\t32\tclient:hClient@0\n"),
                               facts),
              ::testing::ElementsAre(::testing::HasSubstr("driver's number is 0x2a")));
  EXPECT_THAT(CompareWithFacts(table("frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\t"
                                     "NVOS54_PARAMETERS\t40\tclient:hClient@0\n"),
                               facts),
              ::testing::ElementsAre(::testing::HasSubstr("sizeof(NVOS54_PARAMETERS) is 32")));
  EXPECT_THAT(CompareWithFacts(table("frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\t"
                                     "NVOS54_PARAMETERS\t32\tclient:hClient@4\n"),
                               facts),
              ::testing::ElementsAre(::testing::HasSubstr("driver has it at 0")));
  EXPECT_THAT(CompareWithFacts(table("frontend\tNV_ESC_NOPE\t0x2a\tbase\trm_control\t-\t0\t-\n"),
                               facts),
              ::testing::ElementsAre(::testing::HasSubstr("no such name")));
}

// A command no header names is checked against the driver's dispatch table
// entry (a dispatch fact): its key against the methodId, its size against the
// paramSize.
TEST(FactsParity, ChecksRowsOnlyTheDispatchTableNames) {
  auto facts = Facts::Parse("test", "# a comment\n"
                                    "dispatch\tNV2080_CTRL_CMD_GPU_ACQUIRE_COMPUTE_MODE_RESERVATION"
                                    "\t0x20800145\t0\n");
  ASSERT_TRUE(facts) << facts.error().message;
  ASSERT_TRUE(facts->dispatch.contains("NV2080_CTRL_CMD_GPU_ACQUIRE_COMPUTE_MODE_RESERVATION"));
  auto table = [](std::string_view key, std::string_view size) {
    return Table::Parse("#branch\t1\n#versions\t1.0\ncontrol\t"
                        "NV2080_CTRL_CMD_GPU_ACQUIRE_COMPUTE_MODE_RESERVATION\t" +
                        std::string(key) + "\tcompute\tsimple\t-\t" + std::string(size) +
                        "\t-\n")
        .value();
  };
  EXPECT_THAT(CompareWithFacts(table("0x20800145", "0"), *facts), ::testing::IsEmpty());
  EXPECT_THAT(CompareWithFacts(table("0x20800146", "0"), *facts),
              ::testing::ElementsAre(::testing::HasSubstr("the driver dispatches 0x20800145")));
  EXPECT_THAT(CompareWithFacts(table("0x20800145", "8"), *facts),
              ::testing::ElementsAre(::testing::HasSubstr("dispatch entry has paramSize 0")));
  auto row = table("0x20800146", "8").entries().front();
  auto as_facts = RowAsFactsHaveIt(row, *facts);
  ASSERT_TRUE(as_facts);
  EXPECT_EQ(as_facts->key, 0x20800145u);
  EXPECT_EQ(as_facts->param_size, 0u);

  EXPECT_FALSE(Facts::Parse("test", "dispatch\tNAME\t0x20800145\n"));
  EXPECT_FALSE(Facts::Parse("test", "dispatch\tNAME\t0x20800145\tzero\n"));
  EXPECT_FALSE(Facts::Parse("test", "value\tNAME\t0x5\t0\n"));
}

// The parts of nvgate's own struct definitions (nv_structs.h) that only the
// simulated driver (src/backend/sim_driver.cc) and nvprobe read. Both model one
// driver, 580, and these structs differ in other branches (for example
// NV2080_CTRL_GPU_GET_INFO_V2_PARAMS is 516 bytes in 535, 564 in 580;
// UVM_FREE_PARAMS 16 bytes from 590 on), so they are checked against the 580
// facts only (so are the structs of nv_structs_libs.h that differ, for the
// controls NVIDIA's libraries make). The proxy never reads them: it copies those commands by the size
// its table gives for the driver's branch (SimulatedDriverStructsStayOutOfTheProxy).
const std::set<std::string, std::less<>> kOnlyTheSimulatedDriverReads = {
    "NV0000_CTRL_GPU_ASYNC_ATTACH_ID_PARAMS",  // not in 535
    "NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS",
    "NV0000_CTRL_GPU_WAIT_ATTACH_ID_PARAMS",  // not in 535
    "NV0080_CTRL_GPU_GET_VIRTUALIZATION_MODE_PARAMS",
    "NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS",
    "NV2080_CTRL_CE_GET_ALL_CAPS_PARAMS",  // 68 bytes in 535
    "NV2080_CTRL_CMD_GET_GPU_FABRIC_PROBE_INFO_PARAMS",
    "NV2080_CTRL_FB_GET_INFO_V2_PARAMS",
    "NV2080_CTRL_GR_GET_GLOBAL_SM_ORDER_PARAMS",  // 6168 bytes in 535 and 550
    "NV_MEMORY_ALLOCATION_PARAMS",  // 120 bytes in 535 (no numaNode)
    "NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS",
    "NV2080_CTRL_GPU_GET_INFO_V2_PARAMS",
    "NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS",
    "NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS",
    "NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS",
    "NV_CHANNEL_ALLOC_PARAMS",  // 304 bytes in 535.43, 360 in later 535s
    "NV_OFA_ALLOCATION_PARAMETERS",  // 8 bytes in 535
    "NVOS32_PARAMETERS.data.AllocSize.numaNode",
    "UVM_ALLOC_SEMAPHORE_POOL_PARAMS",
    "UVM_FREE_PARAMS",
    "UVM_MAP_EXTERNAL_ALLOCATION_PARAMS",
    "nv_ioctl_wait_open_complete_t",
};
constexpr std::string_view kSimulatedBranch = "580";

bool CheckedIn(std::string_view tag, std::string_view driver_struct, std::string_view key) {
  bool simulated_only = kOnlyTheSimulatedDriverReads.contains(driver_struct) ||
                        kOnlyTheSimulatedDriverReads.contains(key);
  return !simulated_only || BranchOf(tag) == kSimulatedBranch;
}

// nvgate's own struct definitions (src/abi/nv_structs.h) against every facts
// file: what the proxy relies on in every branch, what only the simulated 580
// driver reads in 580.
TEST(FactsParity, OwnStructsMatchDriverHeaders) {
  ASSERT_FALSE(AllFacts().empty());
  for (const auto& [tag, facts] : AllFacts()) {
    auto check_size = [&](const char* driver, std::size_t ours) {
      if (!CheckedIn(tag, driver, driver)) return;
      auto it = facts.sizes.find(driver);
      if (it == facts.sizes.end()) {
        ADD_FAILURE() << tag << ": no size fact for " << driver;
      } else {
        EXPECT_EQ(it->second, ours) << tag << ": sizeof " << driver;
      }
    };
    auto check_offset = [&](const char* driver, const char* field, std::size_t ours) {
      std::string key = std::string(driver) + "." + field;
      if (!CheckedIn(tag, driver, key)) return;
      auto it = facts.offsets.find(key);
      if (it == facts.offsets.end()) {
        ADD_FAILURE() << tag << ": no offset fact for " << key;
      } else {
        EXPECT_EQ(it->second, ours) << tag << ": offsetof " << key;
      }
    };
#define NV_STRUCT(ours, driver) check_size(driver, sizeof(nv::ours));
#define NV_FIELD(ours, driver, field) check_offset(driver, #field, offsetof(nv::ours, field));
    NVGATE_FOR_EACH_NV_STRUCT(NV_STRUCT, NV_FIELD)
    NVGATE_FOR_EACH_LIBRARY_STRUCT(NV_STRUCT, NV_FIELD)
#undef NV_STRUCT
#undef NV_FIELD
  }
}

// The 580-only check above is sound only while the proxy and the supervisor
// never name those structs.
TEST(FactsParity, SimulatedDriverStructsStayOutOfTheProxy) {
  for (std::string_view dir : {"src/proxy", "src/supervisor"}) {
    for (const auto& file :
         std::filesystem::directory_iterator(std::filesystem::path(NVGATE_SOURCE_DIR) / dir)) {
      std::ifstream in(file.path());
      std::stringstream text;
      text << in.rdbuf();
      for (const std::string& name : kOnlyTheSimulatedDriverReads) {
        if (name.find('.') != std::string::npos) continue;  // a field; the proxy reads the struct's head
        EXPECT_EQ(text.str().find(name), std::string::npos)
            << file.path() << " reads " << name << ", whose layout differs between branches";
      }
    }
  }
}

}  // namespace
}  // namespace nvgate::abi
