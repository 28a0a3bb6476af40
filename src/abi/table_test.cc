#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/embedded_tables.h"
#include "abi/nv_structs.h"
#include "error/error.h"

namespace nvgate::abi {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kHeader = "#branch\t999\n#versions\t999.1.2 999.10.0\n";

Result<Table> ParseWith(std::string_view rows) { return Table::Parse(std::string(kHeader) + std::string(rows)); }

TEST(TableParse, ReadsEveryColumn) {
  auto t = ParseWith(
      "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\tNVOS54_PARAMETERS\t32\tclient:hClient@0\n"
      "control\tNV2080_CTRL_CMD_GR_GET_INFO\t0x20801201\tcompute,utility\tsimple\tP\t16\t"
      "inout:grInfoList@8:grInfoListSize@0:8\n"
      "alloc\tNVB8B0_VIDEO_DECODER\t0xb8b0\tvideo\tsimple\t-\t0\t-\n"
      "frontend\tNV_ESC_IOCTL_XFER_CMD\t0xd3\t-\tdeny\t-\t16\t-\n");
  ASSERT_TRUE(t) << t.error().message;
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
  EXPECT_THAT(t.error().message, HasSubstr("line " + std::to_string(GetParam().line)));
  EXPECT_THAT(t.error().message, HasSubstr(GetParam().error));
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
        // The driver checks a privileged GSS control or BINAPI object against its
        // caller's privilege, which is the supervisor's: only a deny row may name one.
        BadRow{"control\tX\t0x2080c159\tcompute\tsimple\t-\t8\t-\n", "privileged"},
        BadRow{"alloc\tX\t0x2082\tcompute\tsimple\t-\t4\t-\n", "privileged"},
        BadRow{"control\tX\t0x20820101\tcompute\tsimple\t-\t4\t-\n", "privileged"},
        // Forwarded to the firmware unread: a fixed size, no struct, no layout.
        BadRow{"control\tX\t0x20808159\tcompute\tsimple\t-\t0\t-\n", "GSP firmware"},
        BadRow{"control\tX\t0x20810108\tcompute\tsimple\tS\t8\t-\n", "GSP firmware"},
        BadRow{"control\tX\t0x20810108\tcompute\tsimple\t-\t16\tclient:h@0\n", "GSP firmware"},
        BadRow{"frontend\tX\t0x1\tbase\tsimple\t-\t0\t-\nfrontend\tY\t0x1\tbase\tsimple\t-\t0\t-\n",
               "duplicate", 4}));

TEST(TableParse, GspForwardedControlsAndPrivilegedDenyRows) {
  auto t = ParseWith("control\tGSS_LEGACY_0x20808159\t0x20808159\tcompute\tsimple\t-\t332\t-\n"
                     "control\tX\t0x2080c159\t-\tdeny\t-\t0\t-\n"
                     "alloc\tNV2082_BINAPI_PRIVILEGED\t0x2082\t-\tdeny\t-\t0\t-\n");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(IsGspForwardedControl(Level::kControl, 0x20808159));
  EXPECT_TRUE(IsGspForwardedControl(Level::kControl, 0x20810108));
  EXPECT_FALSE(IsGspForwardedControl(Level::kControl, 0x20800159));
  EXPECT_FALSE(IsGspForwardedControl(Level::kAlloc, 0x2081));
}

TEST(TableParse, RequiresHeaders) {
  EXPECT_THAT(Table::Parse("frontend\tX\t0x1\tbase\tsimple\t-\t0\t-\n").error().message,
              HasSubstr("#branch"));
  EXPECT_THAT(Table::Parse("#branch\t1\n").error().message, HasSubstr("#versions"));
}

// A delta and the base it applies to.
constexpr std::string_view kBase =
    "#branch\t900\n#versions\t900.1\n"
    "frontend\tNV_ESC_RM_CONTROL\t0x2a\tbase\trm_control\tNVOS54_PARAMETERS\t32\t-\n"
    "control\tGET_INFO\t0x100\tcompute\tsimple\tGET_INFO_PARAMS\t16\tinout:list@8:count@0:4\n"
    "control\tGONE_LATER\t0x101\tutility\tsimple\t-\t0\t-\n"
    "alloc\tNEW_CLASS_A\t0xc0c0\tvideo\tsimple\t-\t0\t-\n";
constexpr std::string_view kDeltaHeader =
    "#base\t900\n#branch\t800\n#versions\t800.9.1 800.10.2 800.100.3\n";

Result<std::vector<Table>> DeltaWith(std::string_view lines) {
  return Table::ParseDelta(Table::Parse(kBase).value(),
                           std::string(kDeltaHeader) + std::string(lines));
}

TEST(DeltaParse, RemovesChangesAndAddsForTheWholeBranch) {
  auto tables = DeltaWith(
      "remove\t*\tcontrol\tGONE_LATER\n"
      "change\t*\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\tGET_INFO_PARAMS\t12\t"
      "inout:list@4:count@0:4\n"
      "add\t*\tcontrol\tOLD_ONLY\t0x1ff\tgraphics\tsimple\tOLD_PARAMS\t8\t-\n");
  ASSERT_TRUE(tables) << tables.error().message;
  ASSERT_EQ(tables->size(), 1u);
  const Table& t = tables->front();
  EXPECT_EQ(t.branch(), "800");
  EXPECT_EQ(t.base(), "900");
  EXPECT_THAT(t.versions(), ::testing::ElementsAre("800.9.1", "800.10.2", "800.100.3"));
  EXPECT_EQ(t.Find(Level::kControl, 0x101), nullptr);
  const Entry* info = t.Find(Level::kControl, 0x100);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->param_size, 12u);
  EXPECT_EQ(info->layout[0].offset, 4u);
  ASSERT_NE(t.FindByName(Level::kControl, "OLD_ONLY"), nullptr);
  EXPECT_EQ(t.FindByName(Level::kControl, "OLD_ONLY")->key, 0x1ffu);
  EXPECT_NE(t.Find(Level::kAlloc, 0xc0c0), nullptr) << "untouched rows carry over";
  EXPECT_EQ(t.entries().size(), 4u);
}

// A struct that changed within the branch: the versions before and after the
// change get separate tables, in numeric version order.
TEST(DeltaParse, RangesSplitTheBranch) {
  auto tables = DeltaWith(
      "change\t800.9.1..800.10.2\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\tGET_INFO_PARAMS\t"
      "12\tinout:list@4:count@0:4\n"
      "remove\t800.9.1..800.9.1\talloc\tNEW_CLASS_A\n");
  ASSERT_TRUE(tables) << tables.error().message;
  ASSERT_EQ(tables->size(), 3u);
  std::map<std::string, const Table*> by_version;
  for (const Table& t : *tables) {
    for (const std::string& v : t.versions()) by_version[v] = &t;
  }
  ASSERT_EQ(by_version.size(), 3u);
  EXPECT_EQ(by_version["800.9.1"]->FindByName(Level::kControl, "GET_INFO")->param_size, 12u);
  EXPECT_EQ(by_version["800.9.1"]->Find(Level::kAlloc, 0xc0c0), nullptr);
  EXPECT_EQ(by_version["800.10.2"]->FindByName(Level::kControl, "GET_INFO")->param_size, 12u);
  EXPECT_NE(by_version["800.10.2"]->Find(Level::kAlloc, 0xc0c0), nullptr);
  EXPECT_EQ(by_version["800.100.3"]->FindByName(Level::kControl, "GET_INFO")->param_size, 16u)
      << "800.100.3 is after 800.10.2 numerically";
}

struct BadDelta {
  std::string lines;
  std::string error;
  int line = 4;  // after the three header lines
};

class DeltaParseErrors : public ::testing::TestWithParam<BadDelta> {};

TEST_P(DeltaParseErrors, NamesTheProblemAndLine) {
  auto tables = DeltaWith(GetParam().lines);
  ASSERT_FALSE(tables);
  EXPECT_THAT(tables.error().message, HasSubstr("line " + std::to_string(GetParam().line)));
  EXPECT_THAT(tables.error().message, HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Lines, DeltaParseErrors,
    ::testing::Values(
        BadDelta{"rename\t*\tcontrol\tGET_INFO\n", "unknown delta operation"},
        BadDelta{"remove\t*\tcontrol\n", "remove needs 4"},
        BadDelta{"change\t*\tcontrol\tGET_INFO\t0x100\tcompute\n", "change needs 10"},
        BadDelta{"remove\t800.9.1\tcontrol\tGET_INFO\n", "neither * nor FIRST..LAST"},
        BadDelta{"remove\t800.9.1..800.11.0\tcontrol\tGET_INFO\n", "800.11.0 of range"},
        BadDelta{"remove\t800.100.3..800.9.1\tcontrol\tGET_INFO\n", "ends before it starts"},
        BadDelta{"remove\t*\tcontrol\tNO_SUCH\n", "NO_SUCH is not a control row"},
        BadDelta{"remove\t*\talloc\tGET_INFO\n", "not a alloc row"},
        BadDelta{"add\t*\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\t-\t0\t-\n",
                 "which the base table has"},
        BadDelta{"change\t*\tcontrol\tGONE_LATER\t0x101\tutility\tsimple\t-\t0\t-\n",
                 "equals the base row"},
        BadDelta{"change\t*\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\t-\t0\tfd:x@8\n",
                 "outside"},
        BadDelta{"change\t*\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\tS\t4\t-\n"
                 "remove\t800.10.2..800.100.3\tcontrol\tGET_INFO\n",
                 "already changed for 800.10.2 by line 4", 5},
        BadDelta{"add\t*\tcontrol\tCLASH\t0x101\tcompute\tsimple\t-\t0\t-\n",
                 "duplicate control key for CLASH"},
        BadDelta{"change\t*\tcontrol\tGET_INFO\t0x100\tcompute\tsimple\tOTHER_NAME\t4\t-\n"
                 "change\t*\tcontrol\tGONE_LATER\t0x100\tutility\tsimple\t-\t0\t-\n",
                 "duplicate control key for GONE_LATER", 5}));

TEST(DeltaParse, RequiresHeadersAndTheRightBase) {
  const Table base = Table::Parse(kBase).value();
  EXPECT_THAT(Table::ParseDelta(base, "#branch\t800\n#versions\t800.1\n").error().message,
              HasSubstr("#base"));
  EXPECT_THAT(Table::ParseDelta(base, "#base\t580\n").error().message, HasSubstr("base 580 is not"));
  EXPECT_THAT(Table::ParseDelta(base, "#base\t900\nremove\t*\tcontrol\tGET_INFO\n").error().message,
              HasSubstr("must come before"));
  EXPECT_THAT(Table::Parse(std::string(kDeltaHeader)).error().message, HasSubstr("delta"));
}

TEST(Versions, CompareNumerically) {
  EXPECT_LT(CompareVersions("580.65.06", "580.105.08"), 0);
  EXPECT_GT(CompareVersions("580.142", "580.126.20"), 0);
  EXPECT_LT(CompareVersions("580.142", "580.142.1"), 0);
  EXPECT_EQ(CompareVersions("535.288.01", "535.288.01"), 0);
  EXPECT_EQ(BranchOf("535.288.01"), "535");
  EXPECT_EQ(BranchOf("535"), "535");
}

TEST(EmbeddedTables, EveryOneBuilds) {
  ASSERT_FALSE(EmbeddedTables().empty());
  std::map<std::string, const Table*> full;
  for (const EmbeddedTable& embedded : EmbeddedTables()) {
    if (embedded.text.starts_with("#base")) continue;
    auto t = Table::Parse(embedded.text);
    ASSERT_TRUE(t) << embedded.file << ": " << t.error().message;
    full[t->branch()] = TableForVersion(t->versions().front());
  }
  for (const EmbeddedTable& embedded : EmbeddedTables()) {
    if (!embedded.text.starts_with("#base")) continue;
    std::string_view base = embedded.text.substr(6, embedded.text.find('\n') - 6);
    ASSERT_TRUE(full.contains(std::string(base))) << embedded.file;
    auto tables = Table::ParseDelta(*full[std::string(base)], embedded.text);
    EXPECT_TRUE(tables) << embedded.file << ": " << tables.error().message;
  }
}

// Each supported version has exactly one table, of its own branch, and the
// branches NVIDIA ships next to 580 are all there.
TEST(EmbeddedTables, EveryVersionHasOneTableOfItsBranch) {
  std::map<std::string, int> tables_per_version;
  for (const std::string& branch : SupportedBranches()) {
    for (const std::string& v : SupportedVersions()) {
      if (BranchOf(v) != branch) continue;
      const Table* t = TableForVersion(v);
      ASSERT_NE(t, nullptr) << v;
      EXPECT_EQ(t->branch(), branch) << v;
      EXPECT_EQ(t->base(), branch == "580" ? "" : "580") << v;
      ++tables_per_version[v];
    }
  }
  EXPECT_EQ(tables_per_version.size(), SupportedVersions().size()) << "a version listed twice";
  EXPECT_THAT(SupportedBranches(),
              ::testing::ElementsAre("535", "550", "570", "575", "580", "590", "595"));
  EXPECT_EQ(NewestVersionOfBranch("580"), "580.159.04");
  EXPECT_EQ(NewestVersionOfBranch("581"), std::nullopt);
}

TEST(EmbeddedTables, VersionLookupIsExact) {
  ASSERT_NE(TableForVersion("580.159.04"), nullptr);
  EXPECT_EQ(TableForVersion("580.159"), nullptr);
  EXPECT_EQ(TableForVersion("580.159.04.1"), nullptr);
  EXPECT_EQ(TableForVersion("999.0.0"), nullptr);
  std::vector<std::string> versions = SupportedVersions();
  ASSERT_FALSE(versions.empty());
  auto at = [&](std::string_view v) { return std::find(versions.begin(), versions.end(), v); };
  EXPECT_LT(at("580.65.06"), at("580.105.08")) << "numeric order, not lexical";
  EXPECT_LT(at("535.288.01"), at("550.40.07"));
  EXPECT_EQ(versions.front(), "535.43.02");
}

// The 580 table's shape: every level is present, every reachable frontend
// escape has a size the filter can trap on, and nothing is reachable without a
// capability.
// What real workloads on an H200 (580.159.04, docs/gpu-validation.md) showed
// the tags must be, in every supported version: Vulkan and EGL under graphics
// alone make the GPU attach and architecture controls; every engine object needs
// a channel, so graphics and video reach channels as compute does; nvidia-smi
// and cuInit need GSP-forwarded controls at the sizes they passed.
TEST(EmbeddedTables, TagsTheRealDriverShowed) {
  const caps::CapSet graphics{caps::Capability::kGraphics};
  const caps::CapSet video{caps::Capability::kVideo};
  const caps::CapSet utility{caps::Capability::kUtility};
  const caps::CapSet compute{caps::Capability::kCompute};
  for (const std::string& version : SupportedVersions()) {
    const Table* t = TableForVersion(version);
    ASSERT_NE(t, nullptr) << version;
    for (std::uint32_t control : {0x215u, 0x216u, 0x288u, 0x20801701u}) {
      const Entry* e = t->Find(Level::kControl, control);
      if (e == nullptr) {
        EXPECT_NE(t->branch(), "580") << version << " " << std::hex << control;  // 535 has no 0x288
        continue;
      }
      EXPECT_TRUE(e->mask.base) << version << " " << e->name;
    }
    for (const char* name : {"KEPLER_CHANNEL_GROUP_A", "HOPPER_CHANNEL_GPFIFO_A", "FERMI_CONTEXT_SHARE_A"}) {
      const Entry* e = t->FindByName(Level::kAlloc, name);
      ASSERT_NE(e, nullptr) << version << " " << name;
      EXPECT_TRUE(e->mask.Reachable(graphics) && e->mask.Reachable(video) && e->mask.Reachable(compute))
          << version << " " << name;
      EXPECT_FALSE(e->mask.Reachable(utility)) << version << " " << name;
    }
    const Entry* gss = t->Find(Level::kControl, 0x20808159);
    ASSERT_NE(gss, nullptr) << version;
    EXPECT_EQ(gss->param_size, 332u);
    EXPECT_TRUE(gss->mask.Reachable(compute));
    EXPECT_FALSE(gss->mask.Reachable(utility));
    const Entry* power = t->Find(Level::kControl, 0x2080a618);
    ASSERT_NE(power, nullptr) << version;
    EXPECT_TRUE(power->mask.Reachable(utility));
    EXPECT_EQ(t->Find(Level::kControl, 0x2080c159), nullptr) << "a privileged legacy control never has a row";
  }
}

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
  // gVisor's 213 less the three commands that neither the driver's headers nor
  // its dispatch tables name checkably (docs/capabilities.md): a row must be
  // checkable against the facts.
  EXPECT_GE(per_level[Level::kControl], 210);
  EXPECT_GE(per_level[Level::kAlloc], 98);
  EXPECT_GE(per_level[Level::kAllocMemory], 1);
  EXPECT_GE(per_level[Level::kVidHeap], 1);
}

// Rows CUDA's start-up needs that no header scan would add: the compute-mode
// reservation pair (no parameters, as the driver's dispatch tables have them)
// and NV01_EVENT, taken exactly as NV01_EVENT_OS_EVENT (the driver allocates
// the one as the other, so a handle item added to one belongs in the other).
// Every driver branch dispatches them, so every version's table has them.
TEST(EmbeddedTables, ComputeModeReservationAndEventInEveryVersion) {
  for (const std::string& v : SupportedVersions()) {
    const Table* t = TableForVersion(v);
    ASSERT_NE(t, nullptr) << v;
    for (std::uint32_t cmd : {0x20800145u, 0x20800146u}) {
      const Entry* e = t->Find(Level::kControl, cmd);
      ASSERT_NE(e, nullptr) << v << " " << std::hex << cmd;
      EXPECT_EQ(e->handler, Handler::kSimple) << v << " " << e->name;
      EXPECT_EQ(e->param_struct, "") << v << " " << e->name;
      EXPECT_EQ(e->param_size, 0u) << v << " " << e->name;
      EXPECT_EQ(e->mask.ToString(), "compute,utility") << v << " " << e->name;
    }
    const Entry* event = t->FindByName(Level::kAlloc, "NV01_EVENT");
    const Entry* os_event = t->FindByName(Level::kAlloc, "NV01_EVENT_OS_EVENT");
    ASSERT_NE(event, nullptr) << v;
    ASSERT_NE(os_event, nullptr) << v;
    EXPECT_EQ(event->key, 0x5u) << v;
    EXPECT_EQ(event->mask.ToString(), os_event->mask.ToString()) << v;
    EXPECT_EQ(event->handler, os_event->handler) << v;
    EXPECT_EQ(event->param_struct, os_event->param_struct) << v;
    EXPECT_EQ(event->param_size, os_event->param_size) << v;
    EXPECT_EQ(FormatLayout(event->layout), FormatLayout(os_event->layout)) << v;
  }
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
