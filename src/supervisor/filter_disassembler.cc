#include "supervisor/filter_disassembler.h"

#include <linux/seccomp.h>

#include <cstddef>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

namespace nvgate::supervisor {
namespace {

// The seccomp_data word at `offset` (struct seccomp_data in linux/seccomp.h).
std::string FieldName(std::uint32_t offset) {
  if (offset == offsetof(seccomp_data, nr)) return "nr";
  if (offset == offsetof(seccomp_data, arch)) return "arch";
  constexpr std::uint32_t kIp = offsetof(seccomp_data, instruction_pointer);
  constexpr std::uint32_t kArgs = offsetof(seccomp_data, args);
  // 64-bit fields: the low word first on the little-endian machines nvgate runs on.
  if (offset == kIp || offset == kIp + 4) return offset == kIp ? "ip low" : "ip high";
  if (offset >= kArgs && offset < sizeof(seccomp_data) && offset % 4 == 0) {
    std::uint32_t word = (offset - kArgs) / 4;
    return fmt::format("args[{}] {}", word / 2, word % 2 == 0 ? "low" : "high");
  }
  return fmt::format("{:#x}", offset);
}

const char* AluName(std::uint16_t op) {
  switch (op) {
    case BPF_ADD: return "add";
    case BPF_SUB: return "sub";
    case BPF_MUL: return "mul";
    case BPF_DIV: return "div";
    case BPF_MOD: return "mod";
    case BPF_OR: return "or";
    case BPF_AND: return "and";
    case BPF_XOR: return "xor";
    case BPF_LSH: return "lsh";
    case BPF_RSH: return "rsh";
    default: return nullptr;
  }
}

const char* JumpName(std::uint16_t op) {
  switch (op) {
    case BPF_JEQ: return "jeq";
    case BPF_JGT: return "jgt";
    case BPF_JGE: return "jge";
    case BPF_JSET: return "jset";
    default: return nullptr;
  }
}

// The mnemonic and operands of one instruction at `pc`, or "" if unknown.
std::string Instruction(const sock_filter& in, std::size_t pc) {
  const std::uint16_t code = in.code;
  const bool from_x = BPF_SRC(code) == BPF_X;
  const std::string operand = from_x ? "x" : fmt::format("{:#x}", in.k);
  switch (BPF_CLASS(code)) {
    case BPF_LD:
      if (code == (BPF_LD | BPF_W | BPF_ABS)) return fmt::format("ld   [{}]", FieldName(in.k));
      if (code == (BPF_LD | BPF_W | BPF_LEN)) return "ld   len";
      if (code == (BPF_LD | BPF_IMM)) return fmt::format("ld   {:#x}", in.k);
      return "";
    case BPF_ALU:
      if (BPF_OP(code) == BPF_NEG) return code == (BPF_ALU | BPF_NEG) ? "neg" : "";
      if (const char* name = AluName(BPF_OP(code))) return fmt::format("{:<4} {}", name, operand);
      return "";
    case BPF_JMP:
      if (code == (BPF_JMP | BPF_JA)) return fmt::format("ja   {}", pc + 1 + in.k);
      if (const char* name = JumpName(BPF_OP(code))) {
        return fmt::format("{:<4} {:<11} ? {} : {}", name, operand, pc + 1 + in.jt, pc + 1 + in.jf);
      }
      return "";
    case BPF_RET:
      if (code == (BPF_RET | BPF_K)) return fmt::format("ret  {}", SeccompActionName(in.k));
      if (code == (BPF_RET | BPF_A)) return "ret  a";
      return "";
    case BPF_MISC:
      if (code == (BPF_MISC | BPF_TAX)) return "tax";
      if (code == (BPF_MISC | BPF_TXA)) return "txa";
      return "";
    default:
      return "";
  }
}

}  // namespace

std::string SeccompActionName(std::uint32_t action) {
  const std::uint32_t data = action & SECCOMP_RET_DATA;
  switch (action & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS: return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD: return "KILL_THREAD";
    case SECCOMP_RET_TRAP: return fmt::format("TRAP({})", data);
    case SECCOMP_RET_ERRNO: {
      const char* name = strerrorname_np(static_cast<int>(data));
      return name ? fmt::format("ERRNO({})", name) : fmt::format("ERRNO({})", data);
    }
    case SECCOMP_RET_USER_NOTIF: return "USER_NOTIF";
    case SECCOMP_RET_TRACE: return fmt::format("TRACE({})", data);
    case SECCOMP_RET_LOG: return "LOG";
    case SECCOMP_RET_ALLOW: return "ALLOW";
    default: return fmt::format("{:#010x}", action);
  }
}

std::string DisassembleFilter(const Program& program) {
  std::string out;
  const int width = static_cast<int>(fmt::formatted_size("{}", program.empty() ? 0 : program.size() - 1));
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    std::string text = Instruction(in, pc);
    if (text.empty()) text = fmt::format(".insn code {:#06x} jt {} jf {} k {:#010x}", in.code, in.jt, in.jf, in.k);
    fmt::format_to(std::back_inserter(out), "{:>{}}: {}\n", pc, width, text);
  }
  return out;
}

}  // namespace nvgate::supervisor
