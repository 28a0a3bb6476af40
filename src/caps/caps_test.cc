#include "caps/caps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nvgate::caps {
namespace {

using ::testing::HasSubstr;
using C = Capability;

const CapSet kAllowAll = CapSet::Everything();

CapSet ResolveOk(std::optional<std::string_view> req, CapSet allowed = kAllowAll, bool legacy = false) {
  auto r = Resolve(req, allowed, legacy);
  EXPECT_TRUE(r) << r.error().message;
  return r.value_or(CapSet{});
}

TEST(Names, RoundTrip) {
  for (int i = 0; i < kCapabilityCount; ++i) {
    auto c = static_cast<Capability>(i);
    EXPECT_EQ(FromName(Name(c)), c);
  }
  EXPECT_EQ(Name(C::kFabricImexMgmt), "fabric-imex-mgmt");
  EXPECT_EQ(FromName("Compute"), std::nullopt) << "the toolkit's names are case-sensitive";
}

TEST(CapSet, ToStringIsCanonical) {
  EXPECT_EQ((CapSet{C::kUtility, C::kCompute}).ToString(), "compute,utility");
  EXPECT_EQ(CapSet{}.ToString(), "");
  EXPECT_EQ(CapSet::AllUnprivileged().ToString(),
            "compute,utility,graphics,video,display,ngx,compat32");
}

TEST(ParseList, TrimsSpacesAndSkipsEmptyItems) {
  auto p = ParseList(" compute , ,utility,,\tvideo ");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->named, (CapSet{C::kCompute, C::kUtility, C::kVideo}));
  EXPECT_FALSE(p->all);
}

TEST(ParseList, UnknownNameIsAnErrorNamingIt) {
  auto p = ParseList("compute,graphix");
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().message, HasSubstr("\"graphix\""));
  EXPECT_FALSE(ParseList("COMPUTE")) << "case-sensitive like the toolkit";
}

// The NVIDIA container toolkit's rules.
TEST(Resolve, UnsetMeansUtilityCompute) {
  EXPECT_EQ(ResolveOk(std::nullopt), CapSet::Default());
}

TEST(Resolve, EmptyMeansUtilityCompute) {
  EXPECT_EQ(ResolveOk(""), CapSet::Default());
  EXPECT_EQ(ResolveOk(" , "), CapSet::Default());
  EXPECT_EQ(ResolveOk("", kAllowAll, /*legacy=*/true), CapSet::Default())
      << "empty is the default even on a legacy image";
}

TEST(Resolve, UnsetOnLegacyImageMeansAll) {
  EXPECT_EQ(ResolveOk(std::nullopt, kAllowAll, /*legacy=*/true), CapSet::AllUnprivileged());
}

TEST(Resolve, AllMeansEveryUnprivilegedCapability) {
  CapSet all = ResolveOk("all");
  EXPECT_EQ(all, CapSet::AllUnprivileged());
  EXPECT_FALSE(all.Has(C::kProfiling));
  EXPECT_FALSE(all.Has(C::kRdma));
  EXPECT_FALSE(all.Has(C::kFabricImexMgmt));
}

TEST(Resolve, PrivilegedMustBeNamedNextToAll) {
  CapSet s = ResolveOk("all,profiling");
  EXPECT_TRUE(s.Has(C::kProfiling));
  EXPECT_TRUE(s.Has(C::kVideo));
}

TEST(Resolve, ExplicitListIsExact) {
  EXPECT_EQ(ResolveOk("video"), (CapSet{C::kVideo}));
  EXPECT_EQ(ResolveOk("graphics,display"), (CapSet{C::kGraphics, C::kDisplay}));
}

TEST(Resolve, AllIsBoundedByTheAllowedSet) {
  CapSet allowed{C::kCompute, C::kUtility, C::kVideo};
  EXPECT_EQ(ResolveOk("all", allowed), allowed);
}

// gVisor has no test for this path; a security tool must refuse, not intersect.
TEST(Resolve, NameOutsideTheAllowedSetIsAnErrorNamingIt) {
  CapSet allowed{C::kCompute, C::kUtility};
  auto r = Resolve("compute,video", allowed);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("\"video\" is outside the allowed set \"compute,utility\""));
  auto two = Resolve("graphics,video", allowed);
  ASSERT_FALSE(two);
  EXPECT_THAT(two.error().message, HasSubstr("\"graphics,video\" are outside"));
  EXPECT_FALSE(Resolve("all,profiling", CapSet::AllUnprivileged()));
}

TEST(Resolve, DefaultOutsideTheAllowedSetIsAnError) {
  EXPECT_FALSE(Resolve(std::nullopt, CapSet{C::kVideo}));
}

TEST(Resolve, UnknownNameIsAnError) {
  auto r = Resolve("compute,warp", kAllowAll);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("\"warp\""));
}

TEST(ParseAllowed, AllExpandsWithoutPrivileged) {
  EXPECT_EQ(ParseAllowed("all").value(), CapSet::AllUnprivileged());
  EXPECT_EQ(ParseAllowed("all,rdma").value(), CapSet::AllUnprivileged() | CapSet{C::kRdma});
  EXPECT_FALSE(ParseAllowed("all,nope"));
}

}  // namespace
}  // namespace nvgate::caps
