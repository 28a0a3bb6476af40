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
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "supervisor/filter_assembler.h"
#include "supervisor/filter_disassembler.h"
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
  EXPECT_TRUE(r) << r.error().message;
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
  ASSERT_TRUE(p) << p.error().message;
  // Every type and direction for every nr near the rows, at sizes that match or not.
  for (std::uint32_t nr = 0x28; nr <= 0xcb; ++nr) {
    for (std::uint32_t type = 0; type < 256; ++type) {
      for (std::uint32_t dir = 0; dir < 4; ++dir) {
        for (std::uint32_t size : {0u, 8u, 32u, 48u, 0x3fffu}) {
          std::uint32_t req = Ioc(dir, type, nr, size);
          std::uint32_t want = r.Traps(req) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
          ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << fmt::format("{:#x}", req)
              << "\n" << DisassembleFilter(*p);
        }
      }
    }
  }
}

TEST(Filter, ProgramAgreesWithRulesOnRandomValuesAndIgnoresUpperBits) {
  TrapRules r = TrapRules::FromTable(TestTable());
  auto p = BuildFilter(r);
  ASSERT_TRUE(p) << p.error().message;
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t v = rng();
    auto low = static_cast<std::uint32_t>(v);
    std::uint32_t want = r.Traps(low) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
    ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, v)), want) << fmt::format("{:#x}", v)
        << "\n" << DisassembleFilter(*p);
    ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, low)), want) << fmt::format("{:#x}", low)
        << "\n" << DisassembleFilter(*p);
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
    ASSERT_TRUE(p) << version << ": " << p.error().message;
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
            ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << version << fmt::format(": {:#x}", req)
                << "\n" << DisassembleFilter(*p);
          }
        }
      }
    }
    std::mt19937_64 rng(version.size());
    for (std::uint32_t v : r.uvm_values) {
      for (std::uint32_t near : {v - 1, v, v + 1}) {
        std::uint32_t want = r.Traps(near) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
        ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, near)), want) << version << fmt::format(": {:#x}", near)
            << "\n" << DisassembleFilter(*p);
      }
    }
    for (int i = 0; i < 20000; ++i) {
      auto req = static_cast<std::uint32_t>(rng());
      std::uint32_t want = r.Traps(req) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
      ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, req)), want) << version << fmt::format(": {:#x}", req)
          << "\n" << DisassembleFilter(*p);
    }
    EXPECT_EQ(Eval(*p, Syscall(__NR_getpid)), SECCOMP_RET_ALLOW);
    EXPECT_EQ(Eval(*p, Syscall(__NR_ptrace)), Errno(EPERM));
  }
  EXPECT_GT(seen.size(), 1u);
}

// A program kept in tests/data/filter (README.md there): one instruction a
// line, "code jt jf k".
Program ReadKeptProgram(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  Program program;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    unsigned code = 0, jt = 0, jf = 0;
    std::uint32_t k = 0;
    fields >> std::hex >> code >> std::dec >> jt >> jf >> std::hex >> k;
    EXPECT_TRUE(fields && code <= 0xffff && jt <= 0xff && jf <= 0xff) << path << ": " << line;
    program.push_back(BPF_JUMP(static_cast<std::uint16_t>(code), k, static_cast<std::uint8_t>(jt),
                               static_cast<std::uint8_t>(jf)));
  }
  return program;
}

struct KeptProgram {
  std::string name;  // the file's name
  std::string branch;
  bool opens;
  Program program;
};

// Every program in tests/data/filter, with the table branch and rules it was built from.
std::vector<KeptProgram> KeptPrograms() {
  std::vector<KeptProgram> kept;
  for (const auto& file : std::filesystem::directory_iterator(NVGATE_FILTER_TEST_DATA)) {
    std::string name = file.path().filename();
    if (file.path().extension() != ".bpf") continue;
    std::string stem = name.substr(1, name.find('.') - 1);  // "r580.opens.bpf" -> "580"
    kept.push_back({name, stem, name.find(".opens.") != std::string::npos, ReadKeptProgram(file.path())});
  }
  std::sort(kept.begin(), kept.end(), [](const KeptProgram& a, const KeptProgram& b) { return a.name < b.name; });
  return kept;
}

// Every version of the kept program's branch, with its program built now.
std::vector<std::pair<std::string, Program>> BuiltPrograms(const KeptProgram& kept) {
  std::vector<std::pair<std::string, Program>> built;
  for (const std::string& version : abi::SupportedVersions()) {
    if (abi::BranchOf(version) != kept.branch) continue;
    TrapRules rules = TrapRules::FromTable(*abi::TableForVersion(version));
    rules.opens = kept.opens;
    auto p = BuildFilter(rules);
    EXPECT_TRUE(p) << version << ": " << p.error().message;
    if (p) built.emplace_back(version, std::move(*p));
  }
  EXPECT_FALSE(built.empty()) << kept.name << ": no supported version of branch " << kept.branch;
  return built;
}

// The syscalls of the sweep: every nr and size of the frontend rows under
// four types and every direction, each UVM value and its neighbours, random
// requests with random upper words, and the other syscalls the program
// decides, natively and from the other ABIs.
std::vector<seccomp_data> Sweep(const std::string& branch) {
  TrapRules r = TrapRules::FromTable(*abi::TableForVersion(*abi::NewestVersionOfBranch(branch)));
  std::vector<seccomp_data> sweep;
  std::set<std::uint32_t> sizes = {0, 1, 8, 0x3fff};
  for (const TrapRules::Sized& s : r.frontend_sized) {
    sizes.insert(s.size);
    sizes.insert(s.size + 1);
  }
  for (std::uint32_t nr = 0; nr < 256; ++nr) {
    for (std::uint32_t type : {0u, std::uint32_t{'F'}, std::uint32_t{'G'}, 0xffu}) {
      for (std::uint32_t dir = 0; dir < 4; ++dir) {
        for (std::uint32_t size : sizes) sweep.push_back(Syscall(__NR_ioctl, 3, Ioc(dir, type, nr, size & 0x3fff)));
      }
    }
  }
  for (std::uint32_t v : r.uvm_values) {
    for (std::uint32_t near : {v - 1, v, v + 1}) sweep.push_back(Syscall(__NR_ioctl, 3, near));
  }
  for (std::uint32_t v : {0u, r.uvm_below - 1, r.uvm_below, 0xffffffffu}) sweep.push_back(Syscall(__NR_ioctl, 3, v));
  std::mt19937_64 rng(branch.size());
  for (int i = 0; i < 20000; ++i) sweep.push_back(Syscall(__NR_ioctl, 3, rng()));
  for (int nr = 0; nr < 512; ++nr) {
    sweep.push_back(Syscall(nr, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER));
    sweep.push_back(Syscall(nr, 3, testing::kRmControl, AUDIT_ARCH_I386));
    sweep.push_back(Syscall(0x40000000 | nr, 3, testing::kRmControl));
  }
  sweep.push_back(Syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC));
  sweep.push_back(Syscall(__NR_seccomp, SECCOMP_GET_ACTION_AVAIL, SECCOMP_FILTER_FLAG_NEW_LISTENER));
  return sweep;
}

// The labelled emitter decides every syscall of the sweep as the emitter that
// counted its jumps by hand did, for every driver table.
TEST(Filter, EveryDriverTablesProgramDecidesAsTheKeptOne) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the kept programs are x86_64's";
#endif
  std::vector<KeptProgram> kept = KeptPrograms();
  EXPECT_GE(kept.size(), 14u) << NVGATE_FILTER_TEST_DATA;
  for (const KeptProgram& k : kept) {
    std::vector<seccomp_data> sweep = Sweep(k.branch);
    for (const auto& [version, built] : BuiltPrograms(k)) {
      for (const seccomp_data& d : sweep) {
        ASSERT_EQ(Eval(built, d), Eval(k.program, d))
            << version << " against " << k.name
            << fmt::format(": nr {:#x} arch {:#x} args {:#x} {:#x}\n", d.nr, d.arch, d.args[0], d.args[1])
            << "built now:\n" << DisassembleFilter(built) << "kept:\n" << DisassembleFilter(k.program);
      }
    }
  }
}

// And its programs are today's instruction for instruction: the same shape,
// so the same cost for an untrapped ioctl.
TEST(Filter, EveryDriverTablesProgramIsTheKeptOne) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the kept programs are x86_64's";
#endif
  for (const KeptProgram& k : KeptPrograms()) {
    for (const auto& [version, built] : BuiltPrograms(k)) {
      std::string built_text = DisassembleFilter(built);
      std::string kept_text = DisassembleFilter(k.program);
      EXPECT_EQ(built_text, kept_text) << version << " against " << k.name;
      ASSERT_EQ(built.size(), k.program.size()) << version << " against " << k.name;
      EXPECT_EQ(std::memcmp(built.data(), k.program.data(), built.size() * sizeof(sock_filter)), 0)
          << version << " against " << k.name;
    }
  }
}

// A search whose halves are longer than a conditional jump reaches goes
// through `ja` trampolines, and still decides as the rules do.
TEST(Filter, LongSearchesJumpThroughTrampolines) {
  TrapRules r;
  for (std::uint32_t i = 0; i < 1200; ++i) r.uvm_values.push_back(0x10000 + 8 * i);
  auto p = BuildFilter(r);
  ASSERT_TRUE(p) << p.error().message;
  int trampolines = 0;
  for (std::size_t pc = 0; pc + 1 < p->size(); ++pc) {
    const sock_filter& in = (*p)[pc];
    if (in.code == (BPF_JMP | BPF_JGE | BPF_K) && in.jt == 0 && in.jf == 1 &&
        (*p)[pc + 1].code == (BPF_JMP | BPF_JA) && (*p)[pc + 1].k > 255) {
      ++trampolines;
    }
  }
  EXPECT_GT(trampolines, 0) << DisassembleFilter(*p);
  for (std::uint32_t v : r.uvm_values) {
    for (std::uint32_t near : {v - 1, v, v + 1}) {
      std::uint32_t want = r.Traps(near) ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW;
      ASSERT_EQ(Eval(*p, Syscall(__NR_ioctl, 3, near)), want) << fmt::format("{:#x}\n", near) << DisassembleFilter(*p);
    }
  }
}

TEST(BpfAssembler, LabelsBecomeForwardOffsets) {
  BpfAssembler a;
  BpfLabel end = a.NewLabel();
  BpfLabel deny = a.NewLabel();
  a.Load(0);
  a.Branch(BPF_JEQ, 1, deny, kNextInstruction);
  a.Branch(BPF_JGE, 2, kNextInstruction, end);
  a.Goto(end);
  a.Bind(deny);
  a.Return(SECCOMP_RET_KILL_PROCESS);
  a.Bind(end);
  a.Return(SECCOMP_RET_ALLOW);
  auto p = a.Assemble();
  ASSERT_TRUE(p) << p.error().message;
  Program want = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0),
                  BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 2, 0, 2), BPF_STMT(BPF_JMP | BPF_JA, 1),
                  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  EXPECT_EQ(DisassembleFilter(*p), DisassembleFilter(want));
}

TEST(BpfAssembler, FarTargetsOnEitherSideGetATrampolineEach) {
  BpfAssembler a;
  BpfLabel near_end = a.NewLabel();
  BpfLabel far_end = a.NewLabel();
  a.Branch(BPF_JSET, 1, far_end, far_end);
  a.Branch(BPF_JEQ, 2, near_end, far_end);
  a.Bind(near_end);
  for (int i = 0; i < 300; ++i) a.Statement(BPF_MISC | BPF_TAX, 0);
  a.Bind(far_end);
  a.Return(SECCOMP_RET_ALLOW);
  auto p = a.Assemble();
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 306u);
  // 0: jset ? 1 : 2; 1: ja 305; 2: ja 305; 3: jeq ? 5 : 4; 4: ja 305; 5..304: tax; 305: ret
  EXPECT_EQ((*p)[0].jt, 0);
  EXPECT_EQ((*p)[0].jf, 1);
  EXPECT_EQ((*p)[1].k, 303u);
  EXPECT_EQ((*p)[2].k, 302u);
  EXPECT_EQ((*p)[3].jt, 1);
  EXPECT_EQ((*p)[3].jf, 0);
  EXPECT_EQ((*p)[4].k, 300u);
  EXPECT_EQ(Eval(*p, Syscall(0)), SECCOMP_RET_ALLOW);
}

TEST(BpfAssembler, MisusedLabelsAreErrors) {
  {
    BpfAssembler a;
    a.Goto(a.NewLabel());
    auto p = a.Assemble();
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message, ::testing::HasSubstr("never bound"));
  }
  {
    BpfAssembler a;
    BpfLabel l = a.NewLabel();
    a.Bind(l);
    a.Return(SECCOMP_RET_ALLOW);
    a.Bind(l);
    auto p = a.Assemble();
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message, ::testing::HasSubstr("bound twice"));
  }
  {
    BpfAssembler a;
    BpfLabel l = a.NewLabel();
    a.Bind(l);
    a.Branch(BPF_JEQ, 0, l, kNextInstruction);
    a.Return(SECCOMP_RET_ALLOW);
    auto p = a.Assemble();
    ASSERT_FALSE(p);
    EXPECT_THAT(p.error().message, ::testing::HasSubstr("jumps back"));
  }
}

TEST(DisassembleFilter, NamesFieldsActionsAndAbsoluteTargets) {
  Program p = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 7, 0),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 28),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xffff),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_X, 0, 0, 1),
      BPF_STMT(BPF_MISC | BPF_TXA, 0),
      BPF_STMT(BPF_JMP | BPF_JA, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | 7),
      BPF_JUMP(BPF_LDX | BPF_MEM, 3, 4, 5),
  };
  EXPECT_EQ(DisassembleFilter(p),
            " 0: ld   [arch]\n"
            " 1: jeq  0xc000003e  ? 3 : 2\n"
            " 2: ret  ERRNO(ENOSYS)\n"
            " 3: ld   [nr]\n"
            " 4: jset 0x40000000  ? 12 : 5\n"
            " 5: ld   [args[1] high]\n"
            " 6: tax\n"
            " 7: and  0xffff\n"
            " 8: jge  x           ? 9 : 10\n"
            " 9: txa\n"
            "10: ja   12\n"
            "11: ret  USER_NOTIF\n"
            "12: ret  ALLOW\n"
            "13: ret  TRAP(7)\n"
            "14: .insn code 0x0061 jt 4 jf 5 k 0x00000003\n");
}

// The disassembly of the test table's whole program, as `nvgate run
// --log-level debug` prints it.
TEST(DisassembleFilter, TheTestTablesProgram) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "syscall numbers are x86_64's";
#endif
  auto p = BuildFilter(TrapRules::FromTable(TestTable()));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(DisassembleFilter(*p), R"( 0: ld   [arch]
 1: jeq  0xc000003e  ? 3 : 2
 2: ret  ERRNO(ENOSYS)
 3: ld   [nr]
 4: jset 0x40000000  ? 5 : 6
 5: ret  ERRNO(ENOSYS)
 6: jeq  0x10        ? 8 : 7
 7: ja   38
 8: ld   [args[1] low]
 9: jge  0x800       ? 11 : 10
10: ret  USER_NOTIF
11: jeq  0x30000001  ? 12 : 13
12: ret  USER_NOTIF
13: jeq  0x30000002  ? 14 : 15
14: ret  USER_NOTIF
15: ja   16
16: tax
17: and  0xffff
18: jeq  0x462a      ? 19 : 20
19: ret  USER_NOTIF
20: jeq  0x462b      ? 21 : 22
21: ret  USER_NOTIF
22: jeq  0x46c8      ? 23 : 24
23: ret  USER_NOTIF
24: ja   25
25: txa
26: and  0x3fff00ff
27: jeq  0x20002a    ? 28 : 29
28: ret  USER_NOTIF
29: ja   30
30: txa
31: and  0xff
32: jeq  0x2b        ? 33 : 34
33: ret  USER_NOTIF
34: jeq  0xc8        ? 35 : 36
35: ret  USER_NOTIF
36: ja   37
37: ret  ALLOW
38: jeq  0x65        ? 39 : 40
39: ret  ERRNO(EPERM)
40: jeq  0x136       ? 41 : 42
41: ret  ERRNO(EPERM)
42: jeq  0x137       ? 43 : 44
43: ret  ERRNO(EPERM)
44: jeq  0x1b6       ? 45 : 46
45: ret  ERRNO(EPERM)
46: jeq  0x138       ? 47 : 48
47: ret  ERRNO(EPERM)
48: jeq  0x143       ? 49 : 50
49: ret  ERRNO(EPERM)
50: jeq  0x1a9       ? 51 : 52
51: ret  ERRNO(ENOSYS)
52: jeq  0x1aa       ? 53 : 54
53: ret  ERRNO(ENOSYS)
54: jeq  0x1ab       ? 55 : 56
55: ret  ERRNO(ENOSYS)
56: jeq  0x13d       ? 57 : 62
57: ld   [args[0] low]
58: jeq  0x1         ? 59 : 62
59: ld   [args[1] low]
60: jset 0x8         ? 61 : 62
61: ret  ERRNO(EPERM)
62: ret  ALLOW
)");
}

TEST(Filter, OtherAbisAndDenials) {
  auto p = BuildFilter(TrapRules::FromTable(TestTable()));
  ASSERT_TRUE(p) << p.error().message;
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
  EXPECT_TRUE(ok) << ok.error().message;
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
  auto notifier = OsNotifier::Create(fd::OwnedFd(w.listener));
  ASSERT_TRUE(notifier) << notifier.error().message;
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
