#include "supervisor/linux_caps.h"

#include <linux/capability.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nvgate::supervisor {
namespace {

constexpr LinuxCapMask Bit(int cap) { return LinuxCapMask{1} << cap; }

TEST(LinuxCaps, DefaultSetIsPodmansAndReachesNothingAroundTheDriver) {
  EXPECT_EQ(LinuxCapList(WorkloadDefaultCaps()),
            "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,SYS_CHROOT,SETFCAP");
  for (int cap : {CAP_MKNOD, CAP_SYS_ADMIN, CAP_SYS_RAWIO, CAP_SYS_MODULE, CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,
                  CAP_NET_RAW, CAP_NET_ADMIN, CAP_DAC_READ_SEARCH}) {
    EXPECT_EQ(WorkloadDefaultCaps() & Bit(cap), 0u) << LinuxCapName(cap);
    EXPECT_FALSE(LinuxCapReopens(cap).empty()) << LinuxCapName(cap);
  }
}

TEST(LinuxCaps, ParsesNamesWithOrWithoutThePrefixInAnyCase) {
  auto parsed = ParseLinuxCaps("sys_nice,CAP_IPC_LOCK,,Mknod");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, Bit(CAP_SYS_NICE) | Bit(CAP_IPC_LOCK) | Bit(CAP_MKNOD));
  EXPECT_EQ(*ParseLinuxCaps(""), 0u);
}

TEST(LinuxCaps, UnknownNamesAndSysPtraceAreErrors) {
  auto unknown = ParseLinuxCaps("SYS_NICE,SYS_EVERYTHING");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, ::testing::HasSubstr("SYS_EVERYTHING"));
  auto ptrace = ParseLinuxCaps("cap_sys_ptrace");
  ASSERT_FALSE(ptrace);
  EXPECT_THAT(ptrace.error().message, ::testing::HasSubstr("SYS_PTRACE cannot be kept"));
}

TEST(LinuxCaps, EveryCapabilityOfTheKernelHeadersHasAName) {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) EXPECT_NE(LinuxCapName(cap).rfind("CAP_", 0), 0u) << cap;
  EXPECT_EQ(LinuxCapName(63), "CAP_63");
}

TEST(LinuxCaps, AroundTheDriverHoldsWhatPrivilegedContainersAdd) {
  EXPECT_EQ(LinuxCapList(AroundTheDriverCaps()), "DAC_READ_SEARCH,SYS_MODULE,SYS_RAWIO,SYS_ADMIN,PERFMON,BPF");
}

}  // namespace
}  // namespace nvgate::supervisor
