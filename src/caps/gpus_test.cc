#include "caps/gpus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nvgate::gpus {
namespace {

using ::testing::HasSubstr;

const std::vector<Gpu> kMachine = {
    {.index = 0, .gpu_id = 0x100, .uuid = "GPU-6e766761-7465-2d73-696d-000000000000", .pci_bus_id = "0000:18:00.0",
     .device_instance = 0},
    {.index = 1, .gpu_id = 0x101, .uuid = "GPU-6e766761-7465-2d73-696d-000000000001", .pci_bus_id = "0000:19:00.0",
     .device_instance = 1},
};

Selection Unbounded() { return Selection::All(kMachine); }

std::string Resolved(std::optional<std::string_view> text) {
  auto s = Resolve(ParseRequest(text), kMachine, Unbounded());
  return s ? s->ToString() : "error: " + s.error().message;
}

TEST(Gpus, UuidTextIsTheDriversForm) {
  const std::uint8_t uuid[16] = {0x6e, 0x76, 0x67, 0x61, 0x74, 0x65, 0x2d, 0x73, 0x69, 0x6d, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(UuidText(uuid), "GPU-6e766761-7465-2d73-696d-000000000001");
}

TEST(Gpus, SpecialValuesAreTheToolkits) {
  EXPECT_EQ(ParseRequest(std::nullopt).kind, RequestKind::kAll);
  EXPECT_EQ(ParseRequest(std::nullopt, RequestKind::kVoid).kind, RequestKind::kVoid);
  EXPECT_EQ(ParseRequest("all").kind, RequestKind::kAll);
  EXPECT_EQ(ParseRequest("none").kind, RequestKind::kNone);
  EXPECT_EQ(ParseRequest("void").kind, RequestKind::kVoid);
  EXPECT_EQ(ParseRequest("").kind, RequestKind::kVoid);
  EXPECT_EQ(ParseRequest(" , ").kind, RequestKind::kVoid);
  EXPECT_EQ(ParseRequest("1,void").kind, RequestKind::kVoid);
  EXPECT_EQ(ParseRequest("1, all").kind, RequestKind::kAll);
  EXPECT_EQ(Resolved("all"), "0,1");
  EXPECT_EQ(Resolved("none"), "none");
  EXPECT_EQ(Resolved("void"), "void");
}

TEST(Gpus, ListItemsNameGpusByIndexUuidOrBusId) {
  EXPECT_EQ(Resolved("1"), "1");
  EXPECT_EQ(Resolved(" 1 ,,0"), "0,1");
  EXPECT_EQ(Resolved("GPU-6E766761-7465-2D73-696D-000000000001"), "1");
  EXPECT_EQ(Resolved("0000:19:00.0"), "1");
  EXPECT_EQ(Resolved("0:19:0.0"), "1");
  EXPECT_EQ(Resolved("1,1"), "1");
  auto one = Resolve(ParseRequest("1"), kMachine, Unbounded());
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->restricted());
  EXPECT_EQ(one->ByGpuId(0x100), nullptr);
  EXPECT_NE(one->ByGpuId(0x101), nullptr);
  EXPECT_NE(one->ByUuid("GPU-6e766761-7465-2d73-696d-000000000001"), nullptr);
}

// An index counts in PCI bus order, as NVML's does, whatever the minor numbers.
TEST(Gpus, IndicesCountInPciBusOrder) {
  std::vector<Gpu> swapped = kMachine;
  swapped[0].pci_bus_id = "0000:19:00.0";
  swapped[1].pci_bus_id = "0000:18:00.0";
  auto first = Resolve(ParseRequest("0"), swapped, Selection::All(swapped));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->ToString(), "1");
}

TEST(Gpus, UnknownPrefixAndMigNamesAreErrors) {
  EXPECT_THAT(Resolved("2"), HasSubstr("'2' names no GPU"));
  EXPECT_THAT(Resolved("GPU-6e766761"), HasSubstr("names no GPU"));  // no prefixes, as libnvidia-container
  EXPECT_THAT(Resolved("-1"), HasSubstr("names no GPU"));
  EXPECT_THAT(Resolved("MIG-6e766761-7465-2d73-696d-000000000001"), HasSubstr("MIG device"));
  EXPECT_THAT(Resolved("0:1"), HasSubstr("MIG device"));
}

TEST(Gpus, TheBoundLimitsEveryRequest) {
  auto bound = ResolveBound("1", kMachine);
  ASSERT_TRUE(bound);
  auto all = Resolve(ParseRequest("all"), kMachine, *bound);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->ToString(), "1");
  EXPECT_TRUE(all->restricted());
  auto outside = Resolve(ParseRequest("0"), kMachine, *bound);
  ASSERT_FALSE(outside);
  EXPECT_THAT(outside.error().message, HasSubstr("GPU 0"));
  EXPECT_THAT(outside.error().message, HasSubstr("outside the operator's bound on GPUs (1"));
  auto none_bound = ResolveBound("none", kMachine);
  ASSERT_TRUE(none_bound);
  EXPECT_FALSE(Resolve(ParseRequest("1"), kMachine, *none_bound));
  EXPECT_FALSE(ResolveBound("7", kMachine));
}

}  // namespace
}  // namespace nvgate::gpus
