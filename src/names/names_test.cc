#include "names/names.h"

#include <gtest/gtest.h>

namespace nvgate::names {
namespace {

enum class Colour { kNone, kRed, kGreen };
constexpr std::array<std::string_view, 3> kColourNames = {"", "red", "green"};

TEST(Names, EveryValueReadsBackFromItsName) {
  for (Colour c : {Colour::kRed, Colour::kGreen}) {
    EXPECT_EQ(FromName<Colour>(kColourNames, NameOf(kColourNames, c)), c);
  }
}

TEST(Names, AnUnknownOrEmptyNameIsNone) {
  EXPECT_EQ(FromName<Colour>(kColourNames, "blue"), std::nullopt);
  EXPECT_EQ(FromName<Colour>(kColourNames, "Red"), std::nullopt);
  EXPECT_EQ(FromName<Colour>(kColourNames, ""), std::nullopt);
}

TEST(Names, ABoolIndexedTableReadsBothWays) {
  constexpr std::array<std::string_view, 2> kDecisions = {"refused", "allowed"};
  EXPECT_EQ(FromName<bool>(kDecisions, "allowed"), true);
  EXPECT_EQ(FromName<bool>(kDecisions, "refused"), false);
  static_assert(NameOf(kDecisions, true) == "allowed");
}

}  // namespace
}  // namespace nvgate::names
