#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/embedded_tables.h"
#include "abi/nv_structs.h"

namespace nvgate::abi {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kHeader = "#branch\t999\n#versions\t999.1.2 999.10.0\n";

tl::expected<Table, std::string> ParseWith(std::string_view rows) {
  return Table::Parse(std::string(kHeader) + std::string(rows));
}

TEST(TableParse, ReadsEveryColumn) {
  auto t = ParseWith(
      "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\tNVOS54_PARAMETERS\t32\tclient:hClient@0\n"
      "control\tNV2080_CTRL_CMD_GR_GET_INFO\t0x20801201\tcompute,utility\tsimple\tP\t16\t"
      "inout:grInfoList@8:grInfoListSize@0:8\n"
      "alloc\tNVB8B0_VIDEO_DECODER\t0xb8b0\tvideo\tsimple\t-\t0\t-\n"
      "frontend\tNV_ESC_IOCTL_XFER_CMD\t0xd3\t-\tdeny\t-\t16\t-\n");
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->branch(), "999");
  EXPECT_THAT(t->versions(), ::testing::ElementsAre("999.1.2", "999.10.0"));
  ASSERT_EQ(t->entries().size(), 4u);

  const Entry* ctl = t->Find(Level::kFrontend, 0x2a);
  ASSERT_NE(ctl, nullptr);
  EXPECT_EQ(ctl->handler, Handler::kRmControl);
  EXPECT_TRUE(ctl->mask.base);
  ASSERT_EQ(ctl->layout.size(), 1u);
  EXPECT_EQ(ctl->layout[0].kind, LayoutItem::Kind::kClient);

  const Entry* gr = t->Find(Level::kControl, 0x20801201);
  ASSERT_NE(gr, nullptr);
  ASSERT_EQ(gr->layout.size(), 1u);
  EXPECT_EQ(gr->layout[0].kind, LayoutItem::Kind::kInOut);
  EXPECT_EQ(gr->layout[0].offset, 8u);
  EXPECT_EQ(gr->layout[0].count_offset, 0u);
  EXPECT_EQ(gr->layout[0].elem_size, 8u);
  EXPECT_EQ(gr->layout[0].field, "grInfoList");
  EXPECT_EQ(gr->mask.caps, (caps::CapSet{caps::Capability::kCompute, caps::Capability::kUtility}));

  EXPECT_TRUE(t->Find(Level::kFrontend, 0xd3)->mask.Never());
  EXPECT_EQ(t->Find(Level::kControl, 0xb8b0), nullptr) << "levels are separate key spaces";
}

TEST(TableParse, MaskReachability) {
  Mask base{.caps = {}, .base = true};
  EXPECT_TRUE(base.Reachable({caps::Capability::kDisplay}));
  EXPECT_FALSE(base.Reachable({})) << "the base tier needs a non-empty set";
  Mask video{.caps = {caps::Capability::kVideo}, .base = false};
  EXPECT_TRUE(video.Reachable({caps::Capability::kVideo, caps::Capability::kCompute}));
  EXPECT_FALSE(video.Reachable({caps::Capability::kCompute}));
  EXPECT_EQ(video.ToString(), "video");
  EXPECT_EQ(Mask{}.ToString(), "-");
}

struct BadRow {
  std::string row;
  std::string error;
  int line = 3;  // after the two header lines
};

class TableParseErrors : public ::testing::TestWithParam<BadRow> {};

TEST_P(TableParseErrors, NamesTheProblemAndLine) {
  auto t = ParseWith(GetParam().row);
  ASSERT_FALSE(t);
  EXPECT_THAT(t.error(), HasSubstr("line " + std::to_string(GetParam().line)));
  EXPECT_THAT(t.error(), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TableParseErrors,
    ::testing::Values(
        BadRow{"frontend\tX\t0x1\tbase\tsimple\t-\t0\n", "8 tab-separated"},
        BadRow{"frontend\tX\t12\tbase\tsimple\t-\t0\t-\n", "not 0x-hex"},
        BadRow{"frontend\tX\t0x1\tbase,Compute\tsimple\t-\t0\t-\n", "unknown capability \"Compute\""},
        BadRow{"frontend\tX\t0x1\tbase\tteleport\t-\t0\t-\n", "unknown handler"},
        BadRow{"nowhere\tX\t0x1\tbase\tsimple\t-\t0\t-\n", "unknown level"},
        BadRow{"uvm\tX\t0x1\tbase\trm_control\t-\t0\t-\n", "does not belong"},
        BadRow{"frontend\tX\t0x1\tcompute\tdeny\t-\t0\t-\n", "deny row"},
        BadRow{"frontend\tX\t0x1\t-\tsimple\t-\t0\t-\n", "deny row"},
        BadRow{"control\tX\t0x1\tcompute\tsimple\tS\t8\tinout:p@8:n@0:4\n", "outside"},
        BadRow{"control\tX\t0x1\tcompute\tsimple\tS\t16\tfd:nooffset\n", "name@offset"},
        BadRow{"control\tX\t0x1\tcompute\tsimple\tS\t16\twarp:x@0\n", "unknown layout item"},
        BadRow{"frontend\tX\t0x1\tbase\tsimple\t-\t20000\t-\n", "_IOC_SIZE"},
        BadRow{"frontend\tX\t0x1\tbase\tsimple\t-\t0\t-\nfrontend\tY\t0x1\tbase\tsimple\t-\t0\t-\n",
               "duplicate", 4}));

TEST(TableParse, RequiresHeaders) {
  EXPECT_THAT(Table::Parse("frontend\tX\t0x1\tbase\tsimple\t-\t0\t-\n").error(),
              HasSubstr("#branch"));
  EXPECT_THAT(Table::Parse("#branch\t1\n").error(), HasSubstr("#versions"));
}

TEST(EmbeddedTables, EveryOneParses) {
  ASSERT_FALSE(EmbeddedTables().empty());
  for (const EmbeddedTable& embedded : EmbeddedTables()) {
    auto t = Table::Parse(embedded.text);
    EXPECT_TRUE(t) << embedded.file << ": " << t.error();
  }
}

TEST(EmbeddedTables, VersionLookupIsExact) {
  ASSERT_NE(TableForVersion("580.159.04"), nullptr);
  EXPECT_EQ(TableForVersion("580.159"), nullptr);
  EXPECT_EQ(TableForVersion("580.159.04.1"), nullptr);
  EXPECT_EQ(TableForVersion("999.0.0"), nullptr);
  std::vector<std::string> versions = SupportedVersions();
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(versions.front(), "580.65.06") << "numeric order, not lexical";
}

// The 580 table's shape: every level is present, every reachable frontend
// escape has a size the filter can trap on, and nothing is reachable without a
// capability.
TEST(EmbeddedTables, R580Shape) {
  const Table* t = TableForVersion("580.159.04");
  ASSERT_NE(t, nullptr);
  std::map<Level, int> per_level;
  for (const Entry& e : t->entries()) {
    ++per_level[e.level];
    EXPECT_FALSE(e.mask.Reachable({})) << e.name << " reachable with no capability";
  }
  EXPECT_GE(per_level[Level::kFrontend], 24);
  EXPECT_GE(per_level[Level::kUvm], 31);
  // gVisor's 213 less the five commands the driver's headers do not name
  // (docs/capabilities.md): a row must be checkable against the facts.
  EXPECT_GE(per_level[Level::kControl], 208);
  EXPECT_GE(per_level[Level::kAlloc], 98);
  EXPECT_GE(per_level[Level::kAllocMemory], 1);
  EXPECT_GE(per_level[Level::kVidHeap], 1);
}

// nvgate's own constants (nv_structs.h) name the same numbers as the table,
// whose numbers abi_facts_test checks against the driver's headers.
TEST(EmbeddedTables, OwnConstantsMatchTheTable) {
  const Table* t = TableForVersion("580.159.04");
  ASSERT_NE(t, nullptr);
  auto key = [&](Level level, std::string_view name) -> std::optional<std::uint32_t> {
    for (const Entry& e : t->entries()) {
      if (e.level == level && e.name == name) return e.key;
    }
    return std::nullopt;
  };
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_RM_CONTROL"), nv::kEscRmControl);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_RM_ALLOC"), nv::kEscRmAlloc);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_RM_FREE"), nv::kEscRmFree);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_RM_ALLOC_MEMORY"), nv::kEscRmAllocMemory);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_RM_MAP_MEMORY"), nv::kEscRmMapMemory);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_CHECK_VERSION_STR"), nv::kEscCheckVersionStr);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_CARD_INFO"), nv::kEscCardInfo);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_IOCTL_XFER_CMD"), nv::kEscIoctlXferCmd);
  EXPECT_EQ(key(Level::kFrontend, "NV_ESC_EXPORT_TO_DMABUF_FD"), nv::kEscExportToDmabufFd);
  EXPECT_EQ(key(Level::kUvm, "UVM_INITIALIZE"), nv::kUvmInitialize);
  EXPECT_EQ(key(Level::kUvm, "UVM_DEINITIALIZE"), nv::kUvmDeinitialize);
  EXPECT_EQ(key(Level::kAlloc, "NV01_ROOT_CLIENT"), nv::kNv01RootClient);
  EXPECT_EQ(key(Level::kAlloc, "NV01_DEVICE_0"), nv::kNv01Device0);
  EXPECT_EQ(key(Level::kAlloc, "NV20_SUBDEVICE_0"), nv::kNv20Subdevice0);
  EXPECT_EQ(key(Level::kAllocMemory, "NV01_MEMORY_SYSTEM"), nv::kNv01MemorySystem);
  EXPECT_EQ(key(Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS"), nv::kNv0000CtrlCmdGpuGetAttachedIds);
  EXPECT_EQ(key(Level::kControl, "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2"), nv::kNv0000CtrlCmdGpuGetIdInfoV2);
  EXPECT_EQ(key(Level::kControl, "NV0080_CTRL_CMD_GPU_GET_CLASSLIST_V2"), nv::kNv0080CtrlCmdGpuGetClasslistV2);
  EXPECT_EQ(key(Level::kControl, "NV2080_CTRL_CMD_GPU_GET_INFO_V2"), nv::kNv2080CtrlCmdGpuGetInfoV2);
  EXPECT_EQ(key(Level::kControl, "NV2080_CTRL_CMD_GPU_GET_NAME_STRING"), nv::kNv2080CtrlCmdGpuGetNameString);
  EXPECT_EQ(key(Level::kControl, "NV2080_CTRL_CMD_GR_GET_INFO"), nv::kNv2080CtrlCmdGrGetInfo);
}

}  // namespace
}  // namespace nvgate::abi
