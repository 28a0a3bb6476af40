// Compiled with NVGATE_TEST_WEAKENINGS, as the escape suite's weakened build is:
// how NVGATE_TEST_WEAKEN's list is read.
#include "defences/defences.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <set>
#include <string>

namespace nvgate::defences {
namespace {

constexpr Defence kLast = Defence::kGpuSelection;

class DefencesTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("NVGATE_TEST_WEAKEN"); }
  static void Weaken(const char* list) { setenv("NVGATE_TEST_WEAKEN", list, 1); }
};

TEST_F(DefencesTest, EveryDefenceIsKeptWithoutTheVariable) {
  unsetenv("NVGATE_TEST_WEAKEN");
  for (int d = 0; d <= static_cast<int>(kLast); ++d) EXPECT_TRUE(Kept(static_cast<Defence>(d))) << d;
}

TEST_F(DefencesTest, EveryDefenceHasAWeakeningNameOfItsOwn) {
  std::set<std::string> names;
  for (int d = 0; d <= static_cast<int>(kLast); ++d) {
    std::string name = WeakeningName(static_cast<Defence>(d));
    EXPECT_FALSE(name.empty()) << d;
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST_F(DefencesTest, OnlyTheNamedDefencesAreDropped) {
  Weaken("no-size-checks,double-fetch");
  EXPECT_FALSE(Kept(Defence::kSizeChecks));
  EXPECT_FALSE(Kept(Defence::kSingleFetch));
  EXPECT_TRUE(Kept(Defence::kCapabilityCheck));
  EXPECT_TRUE(Kept(Defence::kGpuSelection));
}

TEST_F(DefencesTest, ANameInsideAnotherDropsNothing) {
  Weaken("xdouble-fetch,no-size-checks-y,pin-anywhere2");
  for (int d = 0; d <= static_cast<int>(kLast); ++d) EXPECT_TRUE(Kept(static_cast<Defence>(d))) << d;
}

}  // namespace
}  // namespace nvgate::defences
