#include "supervisor/filter_evaluator.h"

#include <cstddef>
#include <cstring>

#include <fmt/format.h>

#include "error/error.h"

namespace nvgate::supervisor {

Result<std::uint32_t> EvaluateFilter(const Program& program, const seccomp_data& data) {
  std::uint32_t a = 0;
  std::uint32_t x = 0;
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    switch (in.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (in.k % 4 != 0 || in.k + 4 > sizeof(data)) {
          return tl::unexpected(Error::Malformed(fmt::format("pc {}: load at {} outside seccomp_data", pc, in.k)));
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
      default: return tl::unexpected(Error::Malformed(fmt::format("pc {}: opcode {:#x} not interpreted", pc, in.code)));
    }
  }
  return tl::unexpected(Error::Malformed("program ran off its end"));
}

}  // namespace nvgate::supervisor
