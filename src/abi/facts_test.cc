// Parity between nvgate's ABI tables and struct definitions and the facts
// extracted from NVIDIA's headers (tools/nvfacts). A changed number, size or
// offset on either side fails here.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/facts.h"
#include "abi/nv_structs.h"
#include "abi/nv_structs_facts.h"

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
    EXPECT_TRUE(facts) << facts.error();
    if (facts) out.emplace(tag, std::move(*facts));
  }
  return out;
}

const std::map<std::string, Facts>& AllFacts() {
  static const auto facts = LoadAllFacts();
  return facts;
}

// Every supported version's table agrees with the facts of that version, for
// every version whose headers were published.
TEST(FactsParity, TablesMatchDriverHeaders) {
  int checked = 0;
  for (const std::string& version : SupportedVersions()) {
    auto facts = AllFacts().find(version);
    if (facts == AllFacts().end()) continue;
    const Table* table = TableForVersion(version);
    ASSERT_NE(table, nullptr);
    std::vector<std::string> mismatches = CompareWithFacts(*table, facts->second);
    EXPECT_THAT(mismatches, ::testing::IsEmpty()) << version;
    ++checked;
  }
  EXPECT_GE(checked, 1) << "no facts file for any supported version";
}

TEST(FactsParity, EveryTableHasFacts) {
  std::set<std::string> branches_with_facts;
  for (const std::string& version : SupportedVersions()) {
    if (AllFacts().contains(version)) branches_with_facts.insert(TableForVersion(version)->branch());
  }
  for (const std::string& version : SupportedVersions()) {
    EXPECT_TRUE(branches_with_facts.contains(TableForVersion(version)->branch()))
        << "branch of " << version << " has no facts";
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

// nvgate's own struct definitions (src/abi/nv_structs.h) against every facts file.
TEST(FactsParity, OwnStructsMatchDriverHeaders) {
  ASSERT_FALSE(AllFacts().empty());
  for (const auto& [tag, facts] : AllFacts()) {
    auto check_size = [&](const char* driver, std::size_t ours) {
      auto it = facts.sizes.find(driver);
      if (it == facts.sizes.end()) {
        ADD_FAILURE() << tag << ": no size fact for " << driver;
      } else {
        EXPECT_EQ(it->second, ours) << tag << ": sizeof " << driver;
      }
    };
    auto check_offset = [&](const char* driver, const char* field, std::size_t ours) {
      std::string key = std::string(driver) + "." + field;
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
#undef NV_STRUCT
#undef NV_FIELD
  }
}

}  // namespace
}  // namespace nvgate::abi
