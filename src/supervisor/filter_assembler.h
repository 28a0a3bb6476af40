// Classic BPF with named jump targets instead of counted ones.
//
//   BpfAssembler a;
//   BpfLabel allow = a.NewLabel();
//   a.Branch(BPF_JEQ, __NR_seccomp, kNextInstruction, allow);  // if (A == k) go on, else to allow
//   a.Return(SECCOMP_RET_ERRNO | EPERM);
//   a.Bind(allow);                                              // the next instruction
//   a.Return(SECCOMP_RET_ALLOW);
//   auto program = a.Assemble();                                // offsets resolved
//
// Classic BPF jumps only forward, so a label is bound after the jumps that
// name it. A conditional jump's offsets are 8 bits: one that must reach
// farther than 255 instructions goes through a `ja` (32-bit offset) that
// Assemble places right after it, so callers never count instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error/error.h"
#include "supervisor/filter_program.h"

namespace nvgate::supervisor {

struct BpfLabel {
  std::size_t id;
};

// The instruction right after the jump that names it, needing no Bind.
inline constexpr BpfLabel kNextInstruction{0};

class BpfAssembler {
 public:
  BpfLabel NewLabel();
  // `label` is the next instruction to be emitted (or the end of the program).
  void Bind(BpfLabel label);

  // Any instruction that does not jump.
  void Statement(std::uint16_t code, std::uint32_t k);
  void Load(std::uint32_t offset) { Statement(BPF_LD | BPF_W | BPF_ABS, offset); }
  void Return(std::uint32_t action) { Statement(BPF_RET | BPF_K, action); }
  // if (A `test` k) goto if_true; else goto if_false. `test` is BPF_JEQ,
  // BPF_JGT, BPF_JGE or BPF_JSET, against the constant k.
  void Branch(std::uint16_t test, std::uint32_t k, BpfLabel if_true, BpfLabel if_false);
  void Goto(BpfLabel target);

  // The program with every jump resolved; an error names a label that was
  // never bound, bound twice, or bound before a jump to it.
  Result<Program> Assemble() const;

 private:
  struct Pending {
    std::uint16_t code;
    std::uint32_t k;
    BpfLabel if_true;   // a conditional jump's targets, or a `ja`'s in if_true
    BpfLabel if_false;
  };
  std::vector<Pending> pending_;
  // Where each label is bound: the index in pending_ of the instruction it
  // names. Entry 0 stands for kNextInstruction and is never bound.
  std::vector<std::optional<std::size_t>> bound_at_{std::nullopt};
  std::string error_;
};

}  // namespace nvgate::supervisor
