#include "supervisor/filter.h"

#include <linux/audit.h>
#include <linux/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "testing/weakening.h"

namespace nvgate::supervisor {
namespace {

// Per-architecture facts live here and nowhere else.
#if defined(__x86_64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_X86_64;
// x32 syscalls arrive with arch x86_64 and this bit in nr; they are another ABI.
constexpr std::uint32_t kX32Bit = 0x40000000;
#elif defined(__aarch64__)
constexpr std::uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
#error "nvgate's filter knows x86_64 and aarch64 only"
#endif
static_assert(std::endian::native == std::endian::little,
              "the filter loads the low word of 64-bit arguments at offset 0");

constexpr std::uint32_t kIocNrMask = 0xff;
constexpr std::uint32_t kIocTypeShift = 8;
constexpr std::uint32_t kIocSizeShift = 16;
constexpr std::uint32_t kIocSizeMask = 0x3fff;  // _IOC_SIZEBITS = 14
constexpr std::uint32_t kFrontendType = 'F';

// UVM_INITIALIZE and UVM_DEINITIALIZE: the only UVM numbers outside the small
// range, fixed by the driver whatever the table lists.
constexpr std::uint32_t kUvmInitialize = 0x30000001;
constexpr std::uint32_t kUvmDeinitialize = 0x30000002;

constexpr std::uint32_t kArgLow(int i) {
  return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + 8 * static_cast<std::size_t>(i));
}

struct Denial {
  int nr;
  int error;
};

// Ways out of the sandbox, or into the supervisor (research/seccomp-unotify.md §6):
// ptrace-gated access to other processes, io_uring (its operations bypass
// seccomp; ENOSYS so that libraries fall back), and userfaultfd (a registered
// page stalls the supervisor's reads of workload memory).
constexpr Denial kDenials[] = {
    {__NR_ptrace, EPERM},           {__NR_process_vm_readv, EPERM},
    {__NR_process_vm_writev, EPERM}, {__NR_pidfd_getfd, EPERM},
    {__NR_kcmp, EPERM},             {__NR_userfaultfd, EPERM},
    {__NR_io_uring_setup, ENOSYS},  {__NR_io_uring_enter, ENOSYS},
    {__NR_io_uring_register, ENOSYS},
};

class Emitter {
 public:
  void Stmt(std::uint16_t code, std::uint32_t k) { prog_.push_back(BPF_STMT(code, k)); }
  void Jump(std::uint16_t code, std::uint32_t k, std::uint8_t jt, std::uint8_t jf) {
    prog_.push_back(BPF_JUMP(code, k, jt, jf));
  }
  void Ret(std::uint32_t action) { Stmt(BPF_RET | BPF_K, action); }
  void Load(std::uint32_t offset) { Stmt(BPF_LD | BPF_W | BPF_ABS, offset); }
  // if (A == k) return action; every match returns on the spot, so no jump is
  // ever longer than one instruction, however many rows the table has.
  void ReturnIfEqual(std::uint32_t k, std::uint32_t action) {
    Jump(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1);
    Ret(action);
  }
  // if (A is one of `values`) return action; else go on after the search.
  // `values` sorted and unique. A binary search, so that a request matching
  // none of them (a terminal's or a socket's ioctl, most of those a workload
  // makes) costs about log2(n) compares rather than n.
  void ReturnIfAnyOf(std::span<const std::uint32_t> values, std::uint32_t action) {
    std::vector<std::size_t> to_end;
    Search(values, action, to_end);
    for (std::size_t at : to_end) prog_[at].k = static_cast<std::uint32_t>(prog_.size() - at - 1);
  }

  std::size_t size() const { return prog_.size(); }
  // Points the jump at `at` (a JA) to the next instruction to be emitted.
  void PatchJumpToHere(std::size_t at) { prog_[at].k = static_cast<std::uint32_t>(prog_.size() - at - 1); }
  Program Take() { return std::move(prog_); }

 private:
  static constexpr std::size_t kLinearMax = 4;   // below this a scan beats more branches
  static constexpr std::size_t kMaxShortJump = 255;  // jt and jf are 8 bits

  // Instructions Search() emits for n values.
  static std::size_t SearchLength(std::size_t n) {
    if (n <= kLinearMax) return 2 * n + 1;
    std::size_t lower = SearchLength(n / 2);
    return 1 + (lower > kMaxShortJump ? 1 : 0) + lower + SearchLength(n - n / 2);
  }

  void Search(std::span<const std::uint32_t> values, std::uint32_t action, std::vector<std::size_t>& to_end) {
    if (values.size() <= kLinearMax) {
      for (std::uint32_t v : values) ReturnIfEqual(v, action);
      to_end.push_back(prog_.size());
      Stmt(BPF_JMP | BPF_JA, 0);
      return;
    }
    std::size_t mid = values.size() / 2;
    std::size_t lower = SearchLength(mid);
    // A >= values[mid]: the upper half, else the lower half, which comes first.
    if (lower <= kMaxShortJump) {
      Jump(BPF_JMP | BPF_JGE | BPF_K, values[mid], static_cast<std::uint8_t>(lower), 0);
    } else {
      Jump(BPF_JMP | BPF_JGE | BPF_K, values[mid], 0, 1);
      Stmt(BPF_JMP | BPF_JA, static_cast<std::uint32_t>(lower));
    }
    Search(values.first(mid), action, to_end);
    Search(values.subspan(mid), action, to_end);
  }

  Program prog_;
};

}  // namespace

TrapRules TrapRules::FromTable(const abi::Table& table) {
  TrapRules rules;
  for (const abi::Entry& e : table.entries()) {
    if (e.level == abi::Level::kFrontend) {
      // A frontend key above 0xff cannot be an _IOC_NR, so no ioctl reaches it.
      if (e.key > kIocNrMask) continue;
      auto nr = static_cast<std::uint8_t>(e.key);
      rules.frontend_nrs.push_back(nr);
      // The driver accepts NVOS21 and NVOS64 sizes for NV_ESC_RM_ALLOC while the
      // table names one struct; and a size that _IOC_SIZE cannot hold is only
      // reachable some other way. Trap those numbers at any size.
      bool any_size = e.handler == abi::Handler::kRmAlloc || e.param_size > kIocSizeMask;
      rules.frontend_sized.push_back({nr, any_size ? 0 : e.param_size});
    } else if (e.level == abi::Level::kUvm && e.key >= rules.uvm_below) {
      rules.uvm_values.push_back(e.key);
    }
  }
  rules.uvm_values.push_back(kUvmInitialize);
  rules.uvm_values.push_back(kUvmDeinitialize);
  std::sort(rules.frontend_nrs.begin(), rules.frontend_nrs.end());
  rules.frontend_nrs.erase(std::unique(rules.frontend_nrs.begin(), rules.frontend_nrs.end()),
                           rules.frontend_nrs.end());
  std::sort(rules.uvm_values.begin(), rules.uvm_values.end());
  rules.uvm_values.erase(std::unique(rules.uvm_values.begin(), rules.uvm_values.end()),
                         rules.uvm_values.end());
  std::sort(rules.frontend_sized.begin(), rules.frontend_sized.end(),
            [](const Sized& a, const Sized& b) { return std::tie(a.nr, a.size) < std::tie(b.nr, b.size); });
  rules.frontend_sized.erase(std::unique(rules.frontend_sized.begin(), rules.frontend_sized.end()),
                             rules.frontend_sized.end());
  return rules;
}

bool TrapRules::Traps(std::uint32_t request) const {
  if (request < uvm_below) return true;
  if (std::find(uvm_values.begin(), uvm_values.end(), request) != uvm_values.end()) return true;
  std::uint32_t nr = request & kIocNrMask;
  std::uint32_t type = (request >> kIocTypeShift) & 0xff;
  std::uint32_t size = (request >> kIocSizeShift) & kIocSizeMask;
  if (type == kFrontendType &&
      std::find(frontend_nrs.begin(), frontend_nrs.end(), nr) != frontend_nrs.end()) {
    return true;
  }
  return std::any_of(frontend_sized.begin(), frontend_sized.end(), [&](const Sized& s) {
    return s.nr == nr && (s.size == 0 || s.size == size);
  });
}

tl::expected<Program, std::string> BuildFilter(const TrapRules& rules) {
  for (const TrapRules::Sized& s : rules.frontend_sized) {
    if (s.size > kIocSizeMask) {
      return tl::unexpected(fmt::format("frontend nr {:#x}: size {} does not fit _IOC_SIZE", s.nr, s.size));
    }
  }
  constexpr std::uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
  constexpr std::uint32_t kAllow = SECCOMP_RET_ALLOW;
  auto errno_action = [](int e) { return SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(e) & SECCOMP_RET_DATA); };

  Emitter b;
  // 1. Other ABIs: another arch (i386 `int $0x80` has ioctl = 54, not 16)
  //    would walk past every syscall-number check below.
  if (!testing::Weakened(testing::Weakening::kNoArchCheck)) {
    b.Load(offsetof(seccomp_data, arch));
    b.Jump(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0);
    b.Ret(errno_action(ENOSYS));
  }
  b.Load(offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  if (!testing::Weakened(testing::Weakening::kNoArchCheck)) {
    b.Jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, 0, 1);
    b.Ret(errno_action(ENOSYS));
  }
#endif

  // 2. ioctl first: it is the one frequent syscall the kernel cannot answer
  //    from its per-syscall cache of constant verdicts, so it runs this program
  //    every time; every other syscall skips to 3.
  b.Jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 1, 0);
  std::size_t to_other_syscalls = b.size();
  b.Stmt(BPF_JMP | BPF_JA, 0);

  //    Only the low word of the request, which is all the kernel hands a
  //    driver (`unsigned int cmd`); garbage in the upper word changes nothing.
  if (testing::Weakened(testing::Weakening::kFullRequestMatch)) {
    b.Load(kArgLow(1) + 4);
    b.Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
    b.Ret(kAllow);
  }
  b.Load(kArgLow(1));
  if (rules.uvm_below > 0) {
    b.Jump(BPF_JMP | BPF_JGE | BPF_K, rules.uvm_below, 1, 0);
    b.Ret(kNotify);
  }
  std::vector<std::uint32_t> uvm_values;
  for (std::uint32_t v : rules.uvm_values) {
    if (v >= rules.uvm_below) uvm_values.push_back(v);
  }
  b.ReturnIfAnyOf(uvm_values, kNotify);
  b.Stmt(BPF_MISC | BPF_TAX, 0);  // X keeps the request for the masked compares
  if (!rules.frontend_nrs.empty()) {
    std::vector<std::uint32_t> type_and_nr;
    for (std::uint8_t nr : rules.frontend_nrs) type_and_nr.push_back((kFrontendType << kIocTypeShift) | nr);
    b.Stmt(BPF_ALU | BPF_AND | BPF_K, 0xffff);
    b.ReturnIfAnyOf(type_and_nr, kNotify);
  }
  std::vector<std::uint32_t> size_and_nr;
  std::vector<std::uint32_t> any_size_nr;
  for (const TrapRules::Sized& s : rules.frontend_sized) {
    if (s.size) {
      size_and_nr.push_back((s.size << kIocSizeShift) | s.nr);
    } else {
      any_size_nr.push_back(s.nr);
    }
  }
  std::sort(size_and_nr.begin(), size_and_nr.end());
  if (!size_and_nr.empty()) {
    b.Stmt(BPF_MISC | BPF_TXA, 0);
    if (testing::Weakened(testing::Weakening::kExactTypeAndDirection)) {
      constexpr std::uint32_t kDirAndType = (_IOC_DIRMASK << _IOC_DIRSHIFT) | (0xffu << kIocTypeShift);
      constexpr std::uint32_t kReadWriteF = ((_IOC_READ | _IOC_WRITE) << _IOC_DIRSHIFT) | (kFrontendType << kIocTypeShift);
      b.Stmt(BPF_ALU | BPF_AND | BPF_K, kDirAndType);
      b.Jump(BPF_JMP | BPF_JEQ | BPF_K, kReadWriteF, 1, 0);
      b.Ret(kAllow);
      b.Stmt(BPF_MISC | BPF_TXA, 0);
    }
    b.Stmt(BPF_ALU | BPF_AND | BPF_K, (kIocSizeMask << kIocSizeShift) | kIocNrMask);
    b.ReturnIfAnyOf(size_and_nr, kNotify);
  }
  if (!any_size_nr.empty()) {
    b.Stmt(BPF_MISC | BPF_TXA, 0);
    b.Stmt(BPF_ALU | BPF_AND | BPF_K, kIocNrMask);
    b.ReturnIfAnyOf(any_size_nr, kNotify);
  }
  b.Ret(kAllow);

  // 3. Denials.
  b.PatchJumpToHere(to_other_syscalls);
  if (!testing::Weakened(testing::Weakening::kNoSyscallDenials)) {
    for (const Denial& d : kDenials) b.ReturnIfEqual(static_cast<std::uint32_t>(d.nr), errno_action(d.error));
  }
  // 4. The sim's character-device nodes: the supervisor opens them itself.
  //    (Before the seccomp() check, which leaves an argument in A.)
  if (rules.opens) {
    b.ReturnIfEqual(static_cast<std::uint32_t>(__NR_openat), kNotify);
#ifdef __NR_open
    b.ReturnIfEqual(static_cast<std::uint32_t>(__NR_open), kNotify);
#endif
  }
  // A second listener in the chain is already refused by the kernel (EBUSY);
  // this says so before the kernel is asked, whatever the kernel version.
  b.Jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 5);
  b.Load(kArgLow(0));
  b.Jump(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 0, 3);
  b.Load(kArgLow(1));
  b.Jump(BPF_JMP | BPF_JSET | BPF_K, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, 1);
  b.Ret(errno_action(EPERM));
  // 5. Everything else runs natively (so does a seccomp() that adds no listener).
  b.Ret(kAllow);

  Program program = b.Take();
  if (program.size() > BPF_MAXINSNS) {
    return tl::unexpected(fmt::format("seccomp program has {} instructions, the kernel takes {}",
                                      program.size(), BPF_MAXINSNS));
  }
  return program;
}

tl::expected<std::uint32_t, std::string> EvaluateFilter(const Program& program,
                                                        const seccomp_data& data) {
  std::uint32_t a = 0;
  std::uint32_t x = 0;
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k % 4 != 0 || in.k + 4 > sizeof(data)) {
          return tl::unexpected(fmt::format("pc {}: load at {} outside seccomp_data", pc, in.k));
        }
        std::memcpy(&a, reinterpret_cast<const char*>(&data) + in.k, 4);
        break;
      case BPF_ALU | BPF_AND | BPF_K: a &= in.k; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_MISC | BPF_TXA: a = x; break;
      case BPF_JMP | BPF_JA: pc += in.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += (a == in.k) ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += (a >= in.k) ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += (a > in.k) ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & in.k) ? in.jt : in.jf; break;
      case BPF_RET | BPF_K: return in.k;
      default: return tl::unexpected(fmt::format("pc {}: opcode {:#x} not interpreted", pc, in.code));
    }
  }
  return tl::unexpected(std::string("program ran off its end"));
}

int InstallFilter(const Program& program) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  if (testing::Weakened(testing::Weakening::kNoKillableRecv)) flags &= ~static_cast<unsigned long>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  long fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

tl::expected<void, std::string> CheckKernelSupport() {
  // The kernel checks the flags before it reads the program: a NULL program
  // gives EFAULT when every flag is known, EINVAL when one is not.
  long r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                   SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nullptr);
  if (r == -1 && errno == EFAULT) return {};
  if (r == -1 && errno == EINVAL) {
    return tl::unexpected(std::string(
        "this kernel lacks SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+); without it a "
        "signal could make nvgate run a driver call twice, so nvgate refuses to run"));
  }
  return tl::unexpected(fmt::format("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER|WAIT_KILLABLE_RECV, "
                                    "NULL) probe failed: {}", std::strerror(errno)));
}

}  // namespace nvgate::supervisor
