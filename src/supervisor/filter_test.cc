#include "supervisor/filter.h"

#include <linux/audit.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "supervisor/notifier.h"
#include "supervisor/test_fakes.h"

namespace nvgate::supervisor {
namespace {

using testing::StartWorkload;
using testing::Syscall;
using testing::TestTable;
using testing::WaitExit;

constexpr std::uint32_t Ioc(std::uint32_t dir, std::uint32_t type, std::uint32_t nr, std::uint32_t size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}

std::uint32_t Eval(const Program& p, const seccomp_data& d) {
  auto r = EvaluateFilter(p, d);
  EXPECT_TRUE(r) << r.error();
  return r ? *r : 0;
}

constexpr std::uint32_t Errno(int e) { return SECCOMP_RET_ERRNO | static_cast<std::uint32_t>(e); }

TEST(TrapRules, FromTable) {
  TrapRules r = TrapRules::FromTable(TestTable());
  EXPECT_THAT(r.frontend_nrs, ::testing::ElementsAre(0x2a, 0x2b, 0xc8));
  // rm_alloc is trapped at any size: the driver takes NVOS21 and NVOS64.
  EXPECT_THAT(r.frontend_sized, ::testing::ElementsAre(TrapRules::Sized{0x2a, 32}, TrapRules::Sized{0x2b, 0},
                                                       TrapRules::Sized{0xc8, 0}));
  EXPECT_THAT(r.uvm_values, ::testing::ElementsAre(0x30000001, 0x30000002));
  EXPECT_EQ(r.uvm_below, 0x800u);
}

TEST(TrapRules, Examples) {
  TrapRules r = TrapRules::FromTable(TestTable());
  EXPECT_TRUE(r.Traps(testing::kRmControl));
  EXPECT_TRUE(r.Traps(Ioc(2, 'F', 0x2a, 64))) << "type 'F' traps a frontend nr at any size";
  EXPECT_TRUE(r.Traps(Ioc(0, 'X', 0x2a, 32))) << "the frontend ignores type and direction";
  EXPECT_FALSE(r.Traps(Ioc(3, 'X', 0x2a, 64))) << "wrong size on another type: not the frontend's";
  EXPECT_TRUE(r.Traps(Ioc(1, 'Q', 0x2b, 48)));
  EXPECT_TRUE(r.Traps(Ioc(0, 'Z', 0xc8, 0x3fff)));
  EXPECT_TRUE(r.Traps(0x30000001));
  EXPECT_TRUE(r.Traps(0x30000002)) << "UVM_DEINITIALIZE is trapped without a row";
  EXPECT_TRUE(r.Traps(0));
  EXPECT_TRUE(r.Traps(2047));
  EXPECT_FALSE(r.Traps(0x800));
  EXPECT_FALSE(r.Traps(TCGETS));
  EXPECT_FALSE(r.Traps(FIONREAD));
  EXPECT_FALSE(r.Traps(Ioc(2, 'F', 0x2c, 32))) << "no row for nr 0x2c";
}

TEST(Filter, ProgramAgreesWithRulesOnEveryTypeAndDirection) {
  TrapRules r = TrapRules::FromTable(TestTable());
  auto p = BuildFilter(r);
  ASSERT_TRUE(p) << p.error();
  // Every type and direction for every nr near the rows, at sizes that match or not.
  for (std::uint32_t nr = 0x28; nr <= 0xcb; ++nr) {
    for (std::uint32_t type = 0; type < 256; ++type) {
      for (std::uint32_t dir = 0; dir < 4; ++dir) {
        for (std::uint32_t size : {0u, 8u, 32u, 48u, 0x3fffu}) {
          std::uint32_t req = Ioc(dir, type, nr, size);
          std::uint32_t want = r.Traps(req) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
          ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << fmt::format("{:#x}", req);
        }
      }
    }
  }
}

TEST(Filter, ProgramAgreesWithRulesOnRandomValuesAndIgnoresUpperBits) {
  TrapRules r = TrapRules::FromTable(TestTable());
  auto p = BuildFilter(r);
  ASSERT_TRUE(p) << p.error();
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t v = rng();
    auto low = static_cast<std::uint32_t>(v);
    std::uint32_t want = r.Traps(low) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
    ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, v)), want) << fmt::format("{:#x}", v);
    ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, low)), want) << fmt::format("{:#x}", low);
  }
  EXPECT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, 0xdeadbeef00000000ull | testing::kRmControl)),
            SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, 0xffffffff00000000ull | TCGETS)), SECCOMP_RET_ALLOW);
}

// The driver tables' rule sets are large enough for the program to search
// them as binary trees; every table's program must still agree with its rules.
TEST(Filter, EveryDriverTablesProgramAgreesWithItsRules) {
  std::set<std::string> seen;
  for (const std::string& version : abi::SupportedVersions()) {
    const abi::Table* table = abi::TableForVersion(version);
    ASSERT_NE(table, nullptr) << version;
    TrapRules r = TrapRules::FromTable(*table);
    auto p = BuildFilter(r);
    ASSERT_TRUE(p) << version << ": " << p.error();
    std::string key(reinterpret_cast<const char*>(p->data()), p->size() * sizeof(sock_filter));
    if (!seen.insert(key).second) continue;  // versions sharing a table share a program
    std::set<std::uint32_t> sizes = {0, 1, 8, 0x3fff};
    for (const TrapRules::Sized& s : r.frontend_sized) {
      sizes.insert(s.size);
      sizes.insert(s.size + 1);
    }
    for (std::uint32_t nr = 0; nr < 256; ++nr) {
      for (std::uint32_t type : {0u, std::uint32_t{'F'}, std::uint32_t{'G'}, 0xffu}) {
        for (std::uint32_t dir = 0; dir < 4; ++dir) {
          for (std::uint32_t size : sizes) {
            std::uint32_t req = Ioc(dir, type, nr, size & 0x3fff);
            std::uint32_t want = r.Traps(req) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
            ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << version << fmt::format(": {:#x}", req);
          }
        }
      }
    }
    std::mt19937_64 rng(version.size());
    for (std::uint32_t v : r.uvm_values) {
      for (std::uint32_t near : {v - 1, v, v + 1}) {
        std::uint32_t want = r.Traps(near) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
        ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, near)), want) << version << fmt::format(": {:#x}", near);
      }
    }
    for (int i = 0; i < 20000; ++i) {
      auto req = static_cast<std::uint32_t>(rng());
      std::uint32_t want = r.Traps(req) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
      ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << version << fmt::format(": {:#x}", req);
    }
    EXPECT_EQ(Eval(*p, Syscall(__NR_getpid)), SECCOMP_RET_ALLOW);
    EXPECT_EQ(Eval(*p, Syscall(__NR_ptrace)), Errno(EPERM));
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST(Filter, OtherAbisAndDenials) {
  auto p = BuildFilter(TrapRules::FromTable(TestTable()));
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(Eval(*p, Syscall(54, 3, testing::kRmControl, AUDIT_ARCH_I386)), Errno(ENOSYS)) << "i386 ioctl";
  EXPECT_EQ(Eval(*p, Syscall(0x40000000 | 514, 3, testing::kRmControl)), Errno(ENOSYS)) << "x32 ioctl";
  EXPECT_EQ(Eval(*p, Syscall(0x40000000 | __NR_getpid)), Errno(ENOSYS));
  for (int nr : {__NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev, __NR_pidfd_getfd, __NR_kcmp,
                 __NR_userfaultfd}) {
    EXPECT_EQ(Eval(*p, Syscall(nr)), Errno(EPERM)) << nr;
  }
  for (int nr : {__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register}) {
    EXPECT_EQ(Eval(*p, Syscall(nr)), Errno(ENOSYS)) << nr;
  }
  EXPECT_EQ(Eval(*p, Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER)),
            Errno(EPERM));
  EXPECT_EQ(Eval(*p, Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                            0xffffffff00000000ull | SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER)),
            Errno(EPERM));
  EXPECT_EQ(Eval(*p, Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)),
            SECCOMP_RET_ALLOW);
  EXPECT_EQ(Eval(*p, Syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, SECCOMP_FILTER_FLAG_NEW_LISTENER)),
            SECCOMP_RET_ALLOW);
  for (int nr : {__NR_read, __NR_openat, __NR_mmap, __NR_close, __NR_getpid}) {
    EXPECT_EQ(Eval(*p, Syscall(nr, 3, testing::kRmControl)), SECCOMP_RET_ALLOW) << nr;
  }
}

TEST(Filter, KernelSupportsWhatWeNeed) {
  auto ok = CheckKernelSupport();
  EXPECT_TRUE(ok) << ok.error();
}

// An i386 ioctl through `int $0x80` from a 64-bit process.
long Int80Ioctl(int fd, std::uint32_t req) {
  long ret = 54;  // __NR_ioctl in the i386 table
  asm volatile("int $0x80"
               : "+a"(ret)
               : "b"(fd), "c"(req), "d"(0)
               : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

// The real filter in the kernel: a child issues ioctls on /dev/null while a
// responder answers every notification with E2BIG, an answer neither /dev/null
// nor the kernel would give. A trapped request must come back E2BIG, any
// other must not, and the denied syscalls must fail with the filter's errno
// rather than what the kernel would have said (noted beside each).
TEST(Filter, EndToEndInTheKernel) {
  TrapRules rules = TrapRules::FromTable(TestTable());
  std::vector<std::uint64_t> samples = {testing::kRmControl, 0xdeadbeef00000000ull | testing::kRmControl,
                                        0xffffffff00000000ull | 0x800, 0x30000001, 0x30000002, 0, 200, 2047,
                                        0x800, TCGETS, FIONREAD, 0x123456789abcdef0ull};
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::uint64_t upper = static_cast<std::uint64_t>(rng()) << 32;
    std::uint32_t dir = rng() % 4;
    std::uint32_t type = rng() % 256;
    for (std::uint32_t nr : {0x2au, 0x2bu, 0xc8u}) {
      samples.push_back(upper | Ioc(dir, type, nr, i % 2 ? 32 : rng() % 0x4000));
    }
    samples.push_back(upper | rng());
  }
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  auto w = StartWorkload(rules, [&] {
    close(report[0]);
    std::string failures;
    auto fail = [&](const std::string& what) { failures += what + "\n"; };
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (std::uint64_t req : samples) {
      long r = syscall(SYS_ioctl, fd, req, 0);
      bool trapped = r == -1 && errno == E2BIG;
      if (trapped != rules.Traps(static_cast<std::uint32_t>(req))) {
        fail(fmt::format("ioctl {:#x}: r={} errno={}", req, r, errno));
      }
    }
    pid_t sub = fork();
    if (sub == 0) {
      // The kernel's own SIGSEGV, not a sanitizer's report of it.
      signal(SIGSEGV, SIG_DFL);
      _exit(Int80Ioctl(fd, testing::kRmControl) == -ENOSYS ? 0 : 1);
    }
    int sub_status = WaitExit(sub);
    // 128+SIGSEGV: a kernel without ia32 emulation refuses int $0x80 itself.
    if (sub_status != 0 && sub_status != 128 + SIGSEGV) fail("int $0x80 ioctl was not refused");

    auto expect_errno = [&](const char* what, long r, int e) {
      if (r != -1 || errno != e) fail(fmt::format("{}: r={} errno={} want {}", what, r, errno, e));
    };
    pid_t parent = getppid();
    char buf[8];
    iovec local{buf, sizeof(buf)};
    iovec remote{buf, sizeof(buf)};
    // Natively: ESRCH (not traced).
    expect_errno("ptrace", ptrace(PTRACE_PEEKDATA, parent, buf, nullptr), EPERM);
    // Natively: reads the parent's memory.
    expect_errno("process_vm_readv", process_vm_readv(parent, &local, 1, &remote, 1, 0), EPERM);
    expect_errno("process_vm_writev", process_vm_writev(parent, &local, 1, &remote, 1, 0), EPERM);
    // Natively: a copy of the parent's stdin.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, parent, 0));
    expect_errno("pidfd_getfd", syscall(SYS_pidfd_getfd, pidfd, 0, 0), EPERM);
    // Natively: a comparison result.
    expect_errno("kcmp", syscall(SYS_kcmp, getpid(), parent, KCMP_FILE, 0, 0), EPERM);
    expect_errno("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
    io_uring_params params{};
    expect_errno("io_uring_setup", syscall(SYS_io_uring_setup, 1, &params), ENOSYS);
    sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    sock_fprog prog{1, &allow};
    // Natively: EBUSY (a second listener in the chain).
    expect_errno("seccomp(NEW_LISTENER)",
                 syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog), EPERM);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) fail("a plain extra filter was refused");
    (void)!write(report[1], failures.data(), failures.size());
    return 0;
  });
  close(report[1]);
  ASSERT_GE(w.listener, 0);
  auto notifier = OsNotifier::Create(w.listener);
  ASSERT_TRUE(notifier) << notifier.error();
  std::thread responder([&] {
    Notification n;
    for (RecvStatus s; (s = (*notifier)->Receive(n)) != RecvStatus::kGone;) {
      if (s == RecvStatus::kOk) (*notifier)->Send(n.id, {.error = E2BIG});
      if (s == RecvStatus::kError) return;
    }
  });
  std::string failures;
  char buf[4096];
  for (ssize_t n; (n = read(report[0], buf, sizeof(buf))) > 0;) failures.append(buf, static_cast<std::size_t>(n));
  close(report[0]);
  EXPECT_EQ(WaitExit(w.pid), 0);
  responder.join();
  EXPECT_EQ(failures, "");
}

}  // namespace
}  // namespace nvgate::supervisor
