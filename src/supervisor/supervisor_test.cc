#include "supervisor/supervisor.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/filter.h"
#include "supervisor/notifier.h"
#include "supervisor/test_fakes.h"

namespace nvgate::supervisor {
namespace {

using testing::FakeBackend;
using testing::FakeExecutor;
using testing::kRmControl;
using testing::StartWorkload;
using testing::TestTable;
using testing::WaitExit;

constexpr std::uint32_t kRmAlloc = 0xc030462b;  // _IOWR('F', 0x2b, 48)

// One ioctl as the workload sees it: the return value, or -errno.
long Ioctl(int fd, std::uint64_t request, void* arg) {
  long r = syscall(SYS_ioctl, fd, request, arg);
  return r < 0 ? -errno : r;
}

class SupervisorTest : public ::testing::Test {
 protected:
  struct Outcome {
    int exit_code;
    SupervisorStats stats;
  };

  // Runs `body` as a workload under the real filter and supervises it, on this
  // thread, until every task of it is gone.
  Outcome Supervise(proxy::Executor& executor, const std::function<int()>& body, SupervisorOptions options = {}) {
    auto w = StartWorkload(rules_, body);
    EXPECT_GE(w.listener, 0);
    auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
    EXPECT_TRUE(notifier) << notifier.error().message;
    Supervisor sup(**notifier, backend_, executor, options);
    auto ran = sup.Run();
    EXPECT_TRUE(ran) << ran.error().message;
    return {WaitExit(w.pid), sup.stats()};
  }

  FakeBackend backend_;
  TrapRules rules_ = TrapRules::FromTable(TestTable());
};

TEST_F(SupervisorTest, TrappedIoctlReachesTheExecutorAndGetsItsReply) {
  std::vector<proxy::Call> seen;
  std::mutex mu;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory& m, proxy::TargetFiles& f) {
    std::lock_guard lock(mu);
    seen.push_back(call);
    return FakeExecutor::Increment(call, m, f);
  });
  auto out = Supervise(executor, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    std::uint64_t v = 41;
    // Garbage in the upper word: the kernel ignores it, so must we.
    long r = Ioctl(fd, 0xdeadbeef00000000ull | kRmControl, &v);
    return r == 0x2a && v == 42 ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].device, abi::DeviceKind::kCtl);
  EXPECT_EQ(seen[0].request, kRmControl);
  EXPECT_NE(seen[0].arg, 0u);
  EXPECT_GT(seen[0].pid, 0);
  EXPECT_EQ(out.stats.executed, 1u);
}

// A call from a thread other than the leader names the process (the thread
// group), as denial lines and traces show it, and the thread apart.
TEST_F(SupervisorTest, CallFromAnotherThreadNamesItsProcess) {
  std::vector<std::pair<proxy::Call, std::uint64_t>> seen;
  std::mutex mu;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory& m, proxy::TargetFiles& f) {
    std::uint64_t sent = 0;
    m.Read(call.arg, &sent, sizeof sent);
    {
      std::lock_guard lock(mu);
      seen.emplace_back(call, sent);
    }
    return FakeExecutor::Increment(call, m, f);
  });
  auto out = Supervise(executor, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    int result = 1;
    std::thread caller([&] {
      auto v = static_cast<std::uint64_t>(getpid());
      result = Ioctl(fd, kRmControl, &v) == 0x2a ? 0 : 1;
    });
    caller.join();
    return result;
  });
  EXPECT_EQ(out.exit_code, 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first.pid, static_cast<int>(seen[0].second)) << "the workload's getpid()";
  EXPECT_NE(seen[0].first.tid, seen[0].first.pid);
}

// Issue 17 on the host's path, with a real kernel: a call the driver runs in
// its caller's memory is the workload's own call, let through with CONTINUE
// while the workload's other thread is stopped. The fake backend cannot run it
// as the caller, so the kernel runs it (a regular file answers ENOTTY): the
// supervisor reads that answer from the caller, stopped on its way out, and
// sends nothing more; the workload's other thread runs on afterwards.
TEST_F(SupervisorTest, ACallInTheCallersMemoryRunsAsTheWorkloadsOwnCall) {
  if (geteuid() != 0) GTEST_SKIP() << "a PID namespace of the workload's own needs root";
  std::vector<proxy::CallerRun> runs;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory& m, proxy::TargetFiles& f) {
    std::vector<std::byte> checked(32);
    std::vector<std::byte> result(32);
    if (!m.Read(call.arg, checked.data(), checked.size())) return proxy::Reply{.value = -1, .error = EFAULT};
    proxy::CallerRun run = f.RunInCaller(call, backend_, checked, result);
    runs.push_back(run);
    proxy::Reply reply{.value = run.value < 0 ? -1 : run.value, .error = run.value < 0 ? static_cast<int>(-run.value) : 0};
    reply.answered = run.answered;
    return reply;
  });
  auto w = testing::StartWorkloadInPidNamespace(rules_, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    std::atomic<bool> stop{false};
    std::atomic<long> spins{0};
    std::thread spinner([&] {
      while (!stop.load()) spins.fetch_add(1);
    });
    while (spins.load() == 0) std::this_thread::yield();  // the other thread runs
    std::uint64_t params[4] = {1, 2, 3, 4};
    long r = Ioctl(fd, kRmControl, params);
    const long before = spins.load();
    while (spins.load() == before) std::this_thread::yield();  // and runs on after the call
    stop = true;
    spinner.join();
    return r == -ENOTTY ? 0 : 2;
  });
  ASSERT_GE(w.listener, 0);
  auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
  ASSERT_TRUE(notifier) << notifier.error().message;
  std::optional<WorkloadNamespace> workload = WorkloadNamespace::ForChildrenOf(w.pid);
  ASSERT_TRUE(workload);
  Supervisor sup(**notifier, backend_, executor, {.workload = *workload});
  auto ran = sup.Run();
  EXPECT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(testing::WaitExit(w.pid), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].refused, "");
  EXPECT_TRUE(runs[0].answered);
  EXPECT_EQ(runs[0].value, -ENOTTY) << "the kernel's own answer, read from the caller";
}

// Without a PID namespace of its own the workload's other tasks cannot be told
// from the host's: such a call is refused, and nothing runs.
TEST_F(SupervisorTest, ACallInTheCallersMemoryNeedsTheWorkloadsPidNamespace) {
  std::vector<proxy::CallerRun> runs;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory&, proxy::TargetFiles& f) {
    std::vector<std::byte> checked(32);
    std::vector<std::byte> result(32);
    runs.push_back(f.RunInCaller(call, backend_, checked, result));
    return proxy::Reply{.value = -1, .error = EPERM};
  });
  auto out = Supervise(executor, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    std::uint64_t params[4] = {};
    return Ioctl(fd, kRmControl, params) == -EPERM ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_THAT(runs[0].refused, ::testing::HasSubstr("no PID namespace of its own"));
  EXPECT_FALSE(runs[0].answered);
}

// Counts what the agent's metrics count.
class CountingMeter final : public CallMeter {
 public:
  void Answered(bool denied, std::chrono::nanoseconds latency) override {
    (denied ? denied_ : allowed_).fetch_add(1);
    if (latency.count() < 0) negative_.fetch_add(1);
  }
  std::atomic<int> allowed_{0};
  std::atomic<int> denied_{0};
  std::atomic<int> negative_{0};
};

TEST_F(SupervisorTest, MeterGetsEveryAnsweredNvidiaCallAndWhetherItWasDenied) {
  // Odd values are "denied" by this executor; the proxy sets Reply::denied.
  FakeExecutor executor([](const proxy::Call& call, proxy::TargetMemory& m, proxy::TargetFiles& f) {
    std::uint64_t v = 0;
    m.Read(call.arg, &v, sizeof v);
    proxy::Reply reply = FakeExecutor::Increment(call, m, f);
    reply.denied = v % 2 == 1;
    return reply;
  });
  CountingMeter meter;
  auto out = Supervise(
      executor,
      [&] {
        int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (std::uint64_t i = 0; i < 5; ++i) {
          std::uint64_t v = i;
          if (Ioctl(fd, kRmControl, &v) != 0x2a) return 1;
        }
        // Not NVIDIA's: answered ENOTTY, not metered.
        std::uint64_t v = 0;
        return Ioctl(null_fd, kRmControl, &v) == -ENOTTY ? 0 : 1;
      },
      {.max_workers = 64, .meter = &meter});
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(meter.allowed_, 3);
  EXPECT_EQ(meter.denied_, 2);
  EXPECT_EQ(meter.negative_, 0);
  EXPECT_EQ(out.stats.executed, 5u);
  EXPECT_EQ(out.stats.denied, 2u);
  EXPECT_EQ(out.stats.not_nvidia, 1u);
}

TEST_F(SupervisorTest, TrappedRequestOnAnotherFileGetsEnottyNotTheKernel) {
  FakeExecutor executor;
  auto out = Supervise(executor, [] {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    std::uint64_t v = 0;
    return Ioctl(fd, kRmControl, &v) == -ENOTTY ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), 0);
  EXPECT_EQ(out.stats.not_nvidia, 1u);
}

TEST_F(SupervisorTest, BadFdGetsEbadfAsFromTheKernel) {
  FakeExecutor executor;
  auto out = Supervise(executor, [] { return Ioctl(987, kRmControl, nullptr) == -EBADF ? 0 : 1; });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), 0);
}

TEST_F(SupervisorTest, UntrappedIoctlsRunNatively) {
  FakeExecutor executor;
  auto out = Supervise(executor, [] {
    int pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios t{};
    if (pty < 0 || ioctl(pty, TCGETS, &t) != 0) return 1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0 || write(p[1], "abc", 3) != 3) return 2;
    int n = 0;
    if (ioctl(p[0], FIONREAD, &n) != 0 || n != 3) return 3;
    return 0;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), 0);
  EXPECT_EQ(out.stats.not_nvidia, 0u);
}

// Every thread's calls, with their own parameters, come back to that thread.
TEST_F(SupervisorTest, MultiThreadedWorkload) {
  FakeExecutor executor;
  constexpr int kThreads = 8;
  constexpr int kCalls = 300;
  auto out = Supervise(executor, [&] {
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
        for (int i = 0; i < kCalls; ++i) {
          std::uint64_t v = static_cast<std::uint64_t>(t) * 1000000 + static_cast<std::uint64_t>(i);
          std::uint64_t want = v + 1;
          if (Ioctl(fd, kRmControl, &v) != 0x2a || v != want) bad.fetch_add(1);
        }
        close(fd);
      });
    }
    for (auto& th : threads) th.join();
    return bad.load() == 0 ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), kThreads * kCalls);
}

TEST_F(SupervisorTest, ForkingWorkload) {
  FakeExecutor executor;
  constexpr int kChildren = 4;
  constexpr int kCalls = 100;
  auto calls = [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    for (int i = 0; i < kCalls; ++i) {
      std::uint64_t v = static_cast<std::uint64_t>(i);
      if (Ioctl(fd, kRmControl, &v) != 0x2a || v != static_cast<std::uint64_t>(i) + 1) return 1;
    }
    close(fd);
    return 0;
  };
  auto out = Supervise(executor, [&] {
    std::vector<pid_t> kids;
    for (int c = 0; c < kChildren; ++c) {
      pid_t pid = fork();
      if (pid == 0) _exit(calls());
      kids.push_back(pid);
    }
    int bad = calls();
    for (pid_t k : kids) bad |= WaitExit(k);
    return bad;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), (kChildren + 1) * kCalls);
}

// One thread's call blocks in the "driver" until another thread's call has
// been executed. A supervisor that ran calls one at a time would never finish.
TEST_F(SupervisorTest, BlockedCallDoesNotStallAnotherThread) {
  int entered[2];
  ASSERT_EQ(pipe2(entered, O_CLOEXEC), 0);
  std::mutex mu;
  std::condition_variable cv;
  bool other_seen = false;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory&, proxy::TargetFiles&) {
    if (call.request == kRmAlloc) {
      (void)!write(entered[1], "x", 1);
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return other_seen; });
      return proxy::Reply{.value = 2};
    }
    std::lock_guard lock(mu);
    other_seen = true;
    cv.notify_all();
    return proxy::Reply{.value = 1};
  });
  auto out = Supervise(executor, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    long blocked = 0;
    std::thread slow([&] { blocked = Ioctl(fd, kRmAlloc, nullptr); });
    char c;
    if (read(entered[0], &c, 1) != 1) return 3;
    long quick = Ioctl(fd, kRmControl, nullptr);
    slow.join();
    return quick == 1 && blocked == 2 ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  close(entered[0]);
  close(entered[1]);
}

// Several calls blocked at once: each blocked leader is replaced by the
// standby, which in turn needs a standby of its own, until all are in flight.
TEST_F(SupervisorTest, SeveralBlockedCallsAreInFlightAtOnce) {
  constexpr int kBlocked = 4;
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;
  FakeExecutor executor([&](const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) {
    std::unique_lock lock(mu);
    ++entered;
    cv.notify_all();
    cv.wait(lock, [&] { return entered == kBlocked; });
    return proxy::Reply{.value = 1};
  });
  auto out = Supervise(executor, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kBlocked; ++t) {
      threads.emplace_back([&] {
        if (Ioctl(fd, kRmControl, nullptr) != 1) bad.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
    return bad.load() == 0 ? 0 : 1;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(executor.calls(), kBlocked);
}

// The workload dies while its call executes: the executor's write-back is
// refused, the answer finds nobody, and the loop ends on its own.
TEST_F(SupervisorTest, WorkloadExitsMidCall) {
  bool wrote = true;
  int status = -1;
  FakeExecutor executor([&](const proxy::Call& call, proxy::TargetMemory& m, proxy::TargetFiles&) {
    kill(call.pid, SIGKILL);
    status = WaitExit(call.pid);
    std::uint64_t v = 7;
    wrote = m.Write(call.arg, &v, sizeof(v));
    return proxy::Reply{.value = 0};
  });
  auto w = StartWorkload(rules_, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    std::uint64_t v = 0;
    Ioctl(fd, kRmControl, &v);
    return 0;
  });
  ASSERT_GE(w.listener, 0);
  auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
  ASSERT_TRUE(notifier);
  Supervisor sup(**notifier, backend_, executor);
  auto ran = sup.Run();
  EXPECT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(status, 128 + SIGKILL);
  EXPECT_FALSE(wrote);
  EXPECT_EQ(sup.stats().target_gone, 1u);
}

// A supervisor killed with a call in flight: that call and every later trapped
// call fail with ENOSYS, on NVIDIA files and others alike; nothing is let
// through to the kernel, and untrapped calls go on working.
TEST_F(SupervisorTest, SupervisorKilledFailsClosed) {
  int entered[2];
  ASSERT_EQ(pipe2(entered, O_CLOEXEC), 0);
  auto w = StartWorkload(rules_, [&] {
    int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    std::uint64_t v = 0;
    if (Ioctl(fd, kRmControl, &v) != -ENOSYS) return 1;  // pending when the supervisor died
    if (Ioctl(fd, kRmControl, &v) != -ENOSYS) return 2;
    if (Ioctl(null_fd, kRmControl, &v) != -ENOSYS) return 3;  // ENOTTY would mean pass-through
    int p[2];
    int n = -1;
    if (pipe(p) != 0 || ioctl(p[0], FIONREAD, &n) != 0 || n != 0) return 4;
    return 0;
  });
  ASSERT_GE(w.listener, 0);
  pid_t sup_pid = fork();
  if (sup_pid == 0) {
    auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
    if (!notifier) _exit(1);
    FakeExecutor executor([&](const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) {
      (void)!write(entered[1], "x", 1);
      for (;;) pause();
      return proxy::Reply{};
    });
    Supervisor sup(**notifier, backend_, executor);
    (void)sup.Run();
    _exit(2);
  }
  // Only the supervisor process may hold the listener, or its death changes nothing.
  close(w.listener);
  char c;
  ASSERT_EQ(read(entered[0], &c, 1), 1);
  kill(sup_pid, SIGKILL);
  EXPECT_EQ(WaitExit(sup_pid), 128 + SIGKILL);
  EXPECT_EQ(WaitExit(w.pid), 0);
  close(entered[0]);
  close(entered[1]);
}

// Per-call duplicates: 10,000 open / trapped ioctl / close cycles leave the
// supervisor with exactly the descriptors it started with.
TEST_F(SupervisorTest, FdChurnLeavesNoDuplicates) {
  FakeExecutor executor;
  constexpr int kCycles = 10000;
  auto w = StartWorkload(rules_, [&] {
    for (int i = 0; i < kCycles; ++i) {
      int fd = open(backend_.ctl_path().c_str(), O_RDWR | O_CLOEXEC);
      std::uint64_t v = 0;
      if (Ioctl(fd, kRmControl, &v) != 0x2a) return 1;
      close(fd);
    }
    return 0;
  });
  ASSERT_GE(w.listener, 0);
  auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
  ASSERT_TRUE(notifier);
  Supervisor sup(**notifier, backend_, executor);
  int before = testing::CountOpenFds();
  auto ran = sup.Run();
  EXPECT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(testing::CountOpenFds(), before);
  EXPECT_EQ(WaitExit(w.pid), 0);
  EXPECT_EQ(executor.calls(), kCycles);
}

TEST_F(SupervisorTest, WorkloadCannotReachTheSupervisor) {
  FakeExecutor executor;
  auto out = Supervise(executor, [] {
    pid_t sup = getppid();
    if (ptrace(PTRACE_ATTACH, sup, nullptr, nullptr) != -1 || errno != EPERM) return 1;
    char buf[8];
    iovec local{buf, sizeof(buf)};
    iovec remote{buf, sizeof(buf)};
    if (process_vm_readv(sup, &local, 1, &remote, 1, 0) != -1 || errno != EPERM) return 2;
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, sup, 0));
    for (int fd = 0; fd < 64; ++fd) {
      if (syscall(SYS_pidfd_getfd, pidfd, fd, 0) != -1 || errno != EPERM) return 3;
    }
    return 0;
  });
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(prctl(PR_GET_DUMPABLE), 0) << "the supervisor makes itself non-dumpable";
}

// The loop itself, against a scripted notifier.
class ScriptedNotifier final : public Notifier {
 public:
  std::deque<Notification> script;
  std::vector<std::pair<std::uint64_t, Response>> sent;

  RecvStatus Receive(Notification& out) override {
    if (script.empty()) return RecvStatus::kGone;
    out = script.front();
    script.pop_front();
    return RecvStatus::kOk;
  }
  bool IdValid(std::uint64_t) override { return false; }
  int Send(std::uint64_t id, const Response& r) override {
    std::lock_guard lock(mu_);
    sent.emplace_back(id, r);
    return 0;
  }
  int AddFd(std::uint64_t, int, bool) override { return -ENOSYS; }
  void Wake() override {}
  bool SetSyncWakeUp() override { return false; }

 private:
  std::mutex mu_;
};

TEST(SupervisorLoop, RefusesWhatTheFilterShouldNeverHaveSent) {
  ScriptedNotifier notifier;
  Notification openat;
  openat.id = 1;
  openat.tid = static_cast<std::uint32_t>(getpid());
  openat.data.nr = __NR_openat;
  openat.data.arch = AUDIT_ARCH_X86_64;
  Notification i386 = openat;
  i386.id = 2;
  i386.data.nr = 54;
  i386.data.arch = AUDIT_ARCH_I386;
  notifier.script = {openat, i386};
  FakeBackend backend;
  FakeExecutor executor;
  Supervisor sup(notifier, backend, executor);
  ASSERT_TRUE(sup.Run());
  ASSERT_EQ(notifier.sent.size(), 2u);
  EXPECT_EQ(notifier.sent[0].second.error, ENOSYS);
  EXPECT_EQ(notifier.sent[1].second.error, ENOSYS);
  EXPECT_EQ(executor.calls(), 0);
}

TEST(SupervisorLoop, CallerGoneBeforeWeLookedIsNotAnswered) {
  ScriptedNotifier notifier;
  Notification call;
  call.id = 9;
  call.tid = static_cast<std::uint32_t>(getpid());
  call.data.nr = __NR_ioctl;
  call.data.arch = AUDIT_ARCH_X86_64;
  call.data.args[1] = kRmControl;
  notifier.script = {call};
  FakeBackend backend;
  FakeExecutor executor;
  Supervisor sup(notifier, backend, executor);
  ASSERT_TRUE(sup.Run());
  EXPECT_TRUE(notifier.sent.empty()) << "IdValid said the call was gone";
  EXPECT_EQ(sup.stats().target_gone, 1u);
  EXPECT_EQ(executor.calls(), 0);
}

}  // namespace
}  // namespace nvgate::supervisor
