#include "backend/version.h"

#include <gtest/gtest.h>

namespace nvgate::backend {
namespace {

TEST(ProcDriverVersion, OpenModule) {
  EXPECT_EQ(ParseProcDriverVersion(
                "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
                "(dvs-builder@U16-I3-B03-4-3)  Thu Oct  9 01:12:11 UTC 2025\n"
                "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"),
            "580.159.04");
}

TEST(ProcDriverVersion, ProprietaryModule) {
  EXPECT_EQ(ParseProcDriverVersion("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 "
                                   "01:15:15 UTC 2023\n"),
            "535.104.05");
}

TEST(ProcDriverVersion, GarbageIsNoVersion) {
  EXPECT_EQ(ParseProcDriverVersion(""), std::nullopt);
  EXPECT_EQ(ParseProcDriverVersion("GCC version: gcc version 12.2.0\n"), std::nullopt);
  EXPECT_EQ(ParseProcDriverVersion("NVRM version: no number here\n"), std::nullopt);
}

}  // namespace
}  // namespace nvgate::backend
