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

#include "defences/defences.h"
#include "error/error.h"
#include "supervisor/filter_assembler.h"

namespace nvgate::supervisor {

using defences::Defence;

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

// Ways out of the sandbox, or into the supervisor (docs/security.md, invariant 7):
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

// if (A == k) return action; every match returns on the spot, so no jump is
// ever longer than one instruction, however many rows the table has.
void ReturnIfEqual(BpfAssembler& b, std::uint32_t k, std::uint32_t action) {
  BpfLabel other = b.NewLabel();
  b.Branch(BPF_JEQ, k, kNextInstruction, other);
  b.Return(action);
  b.Bind(other);
}

constexpr std::size_t kLinearSearchMax = 4;  // below this a scan beats more branches

void Search(BpfAssembler& b, std::span<const std::uint32_t> values, std::uint32_t action, BpfLabel none) {
  if (values.size() <= kLinearSearchMax) {
    for (std::uint32_t v : values) ReturnIfEqual(b, v, action);
    b.Goto(none);
    return;
  }
  std::size_t mid = values.size() / 2;
  BpfLabel upper = b.NewLabel();
  // A >= values[mid]: the upper half, else the lower half, which comes first.
  b.Branch(BPF_JGE, values[mid], upper, kNextInstruction);
  Search(b, values.first(mid), action, none);
  b.Bind(upper);
  Search(b, values.subspan(mid), action, none);
}

// if (A is one of `values`) return action; else go on after the search.
// `values` sorted and unique. A binary search, so that a request matching
// none of them (a terminal's or a socket's ioctl, most of those a workload
// makes) costs about log2(n) compares rather than n.
void ReturnIfAnyOf(BpfAssembler& b, std::span<const std::uint32_t> values, std::uint32_t action) {
  BpfLabel none = b.NewLabel();
  Search(b, values, action, none);
  b.Bind(none);
}

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

Result<Program> BuildFilter(const TrapRules& rules) {
  for (const TrapRules::Sized& s : rules.frontend_sized) {
    if (s.size > kIocSizeMask) {
      return tl::unexpected(
          Error::Internal(fmt::format("frontend nr {:#x}: size {} does not fit _IOC_SIZE", s.nr, s.size)));
    }
  }
  constexpr std::uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
  constexpr std::uint32_t kAllow = SECCOMP_RET_ALLOW;
  auto errno_action = [](int e) { return SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(e) & SECCOMP_RET_DATA); };

  BpfAssembler b;
  // 1. Other ABIs: another arch (i386 `int $0x80` has ioctl = 54, not 16)
  //    would walk past every syscall-number check below.
  if (defences::Kept(Defence::kArchCheck)) {
    BpfLabel native_arch = b.NewLabel();
    b.Load(offsetof(seccomp_data, arch));
    b.Branch(BPF_JEQ, kNativeArch, native_arch, kNextInstruction);
    b.Return(errno_action(ENOSYS));
    b.Bind(native_arch);
  }
  b.Load(offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  if (defences::Kept(Defence::kArchCheck)) {
    BpfLabel native_abi = b.NewLabel();
    b.Branch(BPF_JSET, kX32Bit, kNextInstruction, native_abi);
    b.Return(errno_action(ENOSYS));
    b.Bind(native_abi);
  }
#endif

  // 2. ioctl first: it is the one frequent syscall the kernel cannot answer
  //    from its per-syscall cache of constant verdicts, so it runs this program
  //    every time; every other syscall skips to 3, through a `ja` whatever the
  //    length of the ioctl part, so that the program's shape does not depend
  //    on the table's size.
  BpfLabel ioctl = b.NewLabel();
  BpfLabel other_syscalls = b.NewLabel();
  b.Branch(BPF_JEQ, __NR_ioctl, ioctl, kNextInstruction);
  b.Goto(other_syscalls);
  b.Bind(ioctl);

  //    Only the low word of the request, which is all the kernel hands a
  //    driver (`unsigned int cmd`); garbage in the upper word changes nothing.
  if (!defences::Kept(Defence::kLowWordMatch)) {
    BpfLabel upper_word_zero = b.NewLabel();
    b.Load(kArgLow(1) + 4);
    b.Branch(BPF_JEQ, 0, upper_word_zero, kNextInstruction);
    b.Return(kAllow);
    b.Bind(upper_word_zero);
  }
  b.Load(kArgLow(1));
  if (rules.uvm_below > 0) {
    BpfLabel not_below = b.NewLabel();
    b.Branch(BPF_JGE, rules.uvm_below, not_below, kNextInstruction);
    b.Return(kNotify);
    b.Bind(not_below);
  }
  std::vector<std::uint32_t> uvm_values;
  for (std::uint32_t v : rules.uvm_values) {
    if (v >= rules.uvm_below) uvm_values.push_back(v);
  }
  ReturnIfAnyOf(b, uvm_values, kNotify);
  b.Statement(BPF_MISC | BPF_TAX, 0);  // X keeps the request for the masked compares
  if (!rules.frontend_nrs.empty()) {
    std::vector<std::uint32_t> type_and_nr;
    for (std::uint8_t nr : rules.frontend_nrs) type_and_nr.push_back((kFrontendType << kIocTypeShift) | nr);
    b.Statement(BPF_ALU | BPF_AND | BPF_K, 0xffff);
    ReturnIfAnyOf(b, type_and_nr, kNotify);
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
    b.Statement(BPF_MISC | BPF_TXA, 0);
    if (!defences::Kept(Defence::kAnyTypeAndDirection)) {
      constexpr std::uint32_t kDirAndType = (_IOC_DIRMASK << _IOC_DIRSHIFT) | (0xffu << kIocTypeShift);
      constexpr std::uint32_t kReadWriteF = ((_IOC_READ | _IOC_WRITE) << _IOC_DIRSHIFT) | (kFrontendType << kIocTypeShift);
      BpfLabel read_write_f = b.NewLabel();
      b.Statement(BPF_ALU | BPF_AND | BPF_K, kDirAndType);
      b.Branch(BPF_JEQ, kReadWriteF, read_write_f, kNextInstruction);
      b.Return(kAllow);
      b.Bind(read_write_f);
      b.Statement(BPF_MISC | BPF_TXA, 0);
    }
    b.Statement(BPF_ALU | BPF_AND | BPF_K, (kIocSizeMask << kIocSizeShift) | kIocNrMask);
    ReturnIfAnyOf(b, size_and_nr, kNotify);
  }
  if (!any_size_nr.empty()) {
    b.Statement(BPF_MISC | BPF_TXA, 0);
    b.Statement(BPF_ALU | BPF_AND | BPF_K, kIocNrMask);
    ReturnIfAnyOf(b, any_size_nr, kNotify);
  }
  b.Return(kAllow);

  // 3. Denials.
  b.Bind(other_syscalls);
  if (defences::Kept(Defence::kSyscallDenials)) {
    for (const Denial& d : kDenials) ReturnIfEqual(b, static_cast<std::uint32_t>(d.nr), errno_action(d.error));
  }
  // 4. The sim's character-device nodes: the supervisor opens them itself.
  //    (Before the seccomp() check, which leaves an argument in A.)
  if (rules.opens) {
    ReturnIfEqual(b, static_cast<std::uint32_t>(__NR_openat), kNotify);
#ifdef __NR_open
    ReturnIfEqual(b, static_cast<std::uint32_t>(__NR_open), kNotify);
#endif
  }
  // A second listener in the chain is already refused by the kernel (EBUSY);
  // this says so before the kernel is asked, whatever the kernel version.
  BpfLabel allow = b.NewLabel();
  b.Branch(BPF_JEQ, __NR_seccomp, kNextInstruction, allow);
  b.Load(kArgLow(0));
  b.Branch(BPF_JEQ, SECCOMP_SET_MODE_FILTER, kNextInstruction, allow);
  b.Load(kArgLow(1));
  b.Branch(BPF_JSET, SECCOMP_FILTER_FLAG_NEW_LISTENER, kNextInstruction, allow);
  b.Return(errno_action(EPERM));
  // 5. Everything else runs natively (so does a seccomp() that adds no listener).
  b.Bind(allow);
  b.Return(kAllow);

  auto assembled = b.Assemble();
  if (!assembled) return tl::unexpected(assembled.error().Prefixed("seccomp program: "));
  Program program = std::move(*assembled);
  if (program.size() > BPF_MAXINSNS) {
    return tl::unexpected(Error::Unsupported(
        fmt::format("seccomp program has {} instructions, the kernel takes {}", program.size(), BPF_MAXINSNS)));
  }
  return program;
}

int InstallFilter(const Program& program) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
  if (defences::Kept(Defence::kKillableRecv)) flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

Result<void> CheckKernelSupport() {
  // The kernel checks the flags before it reads the program: a NULL program
  // gives EFAULT when every flag is known, EINVAL when one is not.
  long r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
                   SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nullptr);
  if (r == -1 && errno == EFAULT) return {};
  if (r == -1 && errno == EINVAL) {
    return tl::unexpected(Error::Unsupported(
        std::string("this kernel lacks SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+); without it a "
                    "signal could make nvgate run a driver call twice, so nvgate refuses to run")));
  }
  return tl::unexpected(
      Error::Errno("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER|WAIT_KILLABLE_RECV, NULL) probe failed"));
}

}  // namespace nvgate::supervisor
