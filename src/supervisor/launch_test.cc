#include "supervisor/launch.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/test_fakes.h"

namespace nvgate::supervisor {
namespace {

using ::testing::HasSubstr;
using testing::FakeBackend;
using testing::FakeExecutor;
using testing::TestTable;
using testing::WaitExit;

// What RunSupervised returned, and what the process looked like afterwards.
struct Result {
  bool ok = false;
  int status = -1;
  char error[512] = {};
  int executed = 0;
  int sys_admin_bounding = -1;
  bool sys_admin_effective = true;
  bool sys_ptrace_effective = false;
  int dumpable = -1;
};

// RunSupervised drops capabilities for good, so it runs in a forked copy of
// this process that reports back through a pipe.
Result Launch(LaunchOptions options, FakeExecutor::Handler handler = FakeExecutor::Increment) {
  int pipe_fds[2];
  EXPECT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    FakeExecutor executor(handler);
    Result r;
    auto status = RunSupervised(options, executor);
    r.ok = status.has_value();
    if (status) {
      r.status = *status;
    } else {
      std::strncpy(r.error, status.error().message.c_str(), sizeof(r.error) - 1);
    }
    r.executed = executor.calls();
    r.sys_admin_bounding = prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    syscall(SYS_capget, &header, data);
    r.sys_admin_effective = data[0].effective & (1u << CAP_SYS_ADMIN);
    r.sys_ptrace_effective = data[0].effective & (1u << CAP_SYS_PTRACE);
    r.dumpable = prctl(PR_GET_DUMPABLE);
    (void)!write(pipe_fds[1], &r, sizeof(r));
    _exit(0);
  }
  close(pipe_fds[1]);
  Result r;
  EXPECT_EQ(read(pipe_fds[0], &r, sizeof(r)), static_cast<ssize_t>(sizeof(r)));
  close(pipe_fds[0]);
  EXPECT_EQ(WaitExit(pid), 0);
  return r;
}

// The test workload with `args`, the fake backend's nodes in /dev.
LaunchOptions Options(FakeBackend& backend, std::vector<std::string> args, bool isolate = true) {
  LaunchOptions o;
  o.argv = std::move(args);
  o.argv.insert(o.argv.begin(), NVGATE_TEST_WORKLOAD);
  o.table = &TestTable();
  o.backend = &backend;
  o.nodes = backend.Nodes();
  o.isolate = isolate;
  return o;
}

class LaunchTest : public ::testing::TestWithParam<bool> {
 protected:
  LaunchOptions Options(std::vector<std::string> args) {
    return supervisor::Options(backend_, std::move(args), GetParam());
  }
  // Where the workload finds the fake nvidiactl.
  std::string CtlPath() const { return GetParam() ? "/dev/nvidiactl" : backend_.ctl_path(); }

  FakeBackend backend_;
};

TEST_P(LaunchTest, ExitStatusIsTheCommands) {
  Result r = Launch(Options({"exit", "3"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 3);
}

TEST_P(LaunchTest, KilledBySignalIs128PlusSignal) {
  Result r = Launch(Options({"kill", "9"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 128 + SIGKILL);
}

TEST_P(LaunchTest, CommandThatCannotBeExecutedIs127) {
  LaunchOptions o = Options({});
  o.argv = {"/nonexistent/nvgate-no-such-program"};
  Result r = Launch(o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 127);
}

TEST_P(LaunchTest, TrappedIoctlReachesTheExecutor) {
  Result r = Launch(Options({"ioctl", CtlPath()}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.executed, 1);
}

TEST_P(LaunchTest, TrappedIoctlOnAnotherFileIsRefused) {
  Result r = Launch(Options({"enotty", "/dev/null"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.executed, 0);
}

TEST_P(LaunchTest, SupervisorDropsPrivilegeAndIsNotDumpable) {
  Result r = Launch(Options({"exit", "0"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.sys_admin_bounding, 0);
  EXPECT_FALSE(r.sys_admin_effective);
  EXPECT_TRUE(r.sys_ptrace_effective) << "kept: it reaches non-dumpable workloads";
  EXPECT_EQ(r.dumpable, 0);
}

// nvgate trace --observe-only: the executor saw the call, and the kernel
// answered it. The fake nvidiactl is a plain file, on which the kernel answers
// the NVIDIA request with ENOTTY, where the executor would have answered 0x2a.
TEST_P(LaunchTest, CallRunNativelyIsAnsweredByTheKernel) {
  Result r = Launch(Options({"enotty", CtlPath()}),
                    [](const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) {
                      return proxy::Reply{.value = 0x2a, .run_natively = true};
                    });
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.executed, 1);
}

// A signal to nvgate reaches the workload (through the relays when isolated),
// which dies of it: SIGTERM, and those batch schedulers and daemons use
// (SIGUSR1, SIGHUP, a real-time one), which used to kill nvgate instead. The
// executor sends it while the workload's first call is in flight, so the
// workload is known to be running.
TEST_P(LaunchTest, SignalsAreForwarded) {
  for (int sig : {SIGTERM, SIGUSR1, SIGHUP, SIGRTMIN + 2}) {
    Result r = Launch(Options({"ioctl-pause", CtlPath()}),
                      [sig](const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) {
                        kill(getpid(), sig);
                        return proxy::Reply{.value = 0x2a};
                      });
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 128 + sig) << strsignal(sig);
  }
}

// Issue #25: root or not, isolated or not, the workload holds at most the
// default set (all of it when root), and none inheritable or ambient.
TEST_P(LaunchTest, WorkloadKeepsOnlyTheDefaultCapabilities) {
  Result r = Launch(Options({"caps", fmt::format("{:x}", WorkloadDefaultCaps())}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
}

TEST_P(LaunchTest, KeptCapabilitiesAreAddedToTheDefaultSet) {
  LaunchOptions o = Options({"caps", fmt::format("{:x}", WorkloadDefaultCaps() | (1ull << CAP_SYS_NICE))});
  o.workload_caps = WorkloadDefaultCaps() | (1ull << CAP_SYS_NICE);
  Result r = Launch(o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
}

// The signals a batch scheduler (SLURM warns with SIGUSR1) or a terminal sends
// reach the workload's own handlers, and the run's status is the workload's.
TEST_P(LaunchTest, SignalsReachTheWorkloadsHandlers) {
  Result r = Launch(Options({"catch-signals", CtlPath()}),
                    [](const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) {
                      for (int sig : {SIGUSR1, SIGHUP, SIGUSR2, SIGWINCH, SIGCONT}) kill(getpid(), sig);
                      return proxy::Reply{.value = 0x2a};
                    });
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 42);
}

INSTANTIATE_TEST_SUITE_P(Modes, LaunchTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Isolated" : "NotIsolated"; });

TEST(LaunchIsolated, PrivateDevHoldsOnlyTheGivenNodes) {
  FakeBackend backend;
  Result r = Launch(Options(backend, {"devlist"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
}

TEST(LaunchIsolated, WorkloadRunsUnderItsOwnInit) {
  FakeBackend backend;
  Result r = Launch(Options(backend, {"pid"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
}

TEST(LaunchIsolated, HostRootWorkloadSeesHardwareFilesMaskedAndReadOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "the masks are for a workload that is root on the host";
  FakeBackend backend;
  Result r = Launch(Options(backend, {"host-masked"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 0);
}

TEST(LaunchErrors, NodeOutsideDevIsRejected) {
  FakeBackend backend;
  FakeExecutor executor;
  LaunchOptions o = Options(backend, {"exit", "0"});
  o.nodes = {{"/etc/passwd", backend.ctl_path(), abi::DeviceKind::kCtl}};
  auto r = RunSupervised(o, executor);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("/etc/passwd"));
}

TEST(LaunchErrors, EmptyCommandIsRejected) {
  FakeBackend backend;
  FakeExecutor executor;
  LaunchOptions o = Options(backend, {});
  o.argv.clear();
  auto r = RunSupervised(o, executor);
  ASSERT_FALSE(r);
}

}  // namespace
}  // namespace nvgate::supervisor
