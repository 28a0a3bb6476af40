#include "supervisor/filter_assembler.h"

#include <fmt/format.h>

#include "error/error.h"

namespace nvgate::supervisor {
namespace {

constexpr std::size_t kMaxConditionalOffset = 255;  // jt and jf are 8 bits

bool IsConditional(std::uint16_t code) { return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != BPF_JA; }

}  // namespace

BpfLabel BpfAssembler::NewLabel() {
  bound_at_.emplace_back();
  return BpfLabel{bound_at_.size() - 1};
}

void BpfAssembler::Bind(BpfLabel label) {
  if (label.id == kNextInstruction.id || label.id >= bound_at_.size()) {
    if (error_.empty()) error_ = fmt::format("label {} is not one of this assembler's", label.id);
    return;
  }
  if (bound_at_[label.id]) {
    if (error_.empty()) error_ = fmt::format("label {} bound twice", label.id);
    return;
  }
  bound_at_[label.id] = pending_.size();
}

void BpfAssembler::Statement(std::uint16_t code, std::uint32_t k) {
  pending_.push_back({code, k, kNextInstruction, kNextInstruction});
}

void BpfAssembler::Branch(std::uint16_t test, std::uint32_t k, BpfLabel if_true, BpfLabel if_false) {
  pending_.push_back({static_cast<std::uint16_t>(BPF_JMP | test | BPF_K), k, if_true, if_false});
}

void BpfAssembler::Goto(BpfLabel target) {
  pending_.push_back({BPF_JMP | BPF_JA, 0, target, kNextInstruction});
}

Result<Program> BpfAssembler::Assemble() const {
  if (!error_.empty()) return tl::unexpected(Error::Internal(error_));
  const std::size_t n = pending_.size();
  // The index in pending_ of the instruction each jump at `from` leads to.
  auto target = [&](std::size_t from, BpfLabel label) -> Result<std::size_t> {
    if (label.id == kNextInstruction.id) return from + 1;
    if (label.id >= bound_at_.size()) {
      return tl::unexpected(Error::Internal(fmt::format("label {} is not one of this assembler's", label.id)));
    }
    const std::optional<std::size_t>& at = bound_at_[label.id];
    if (!at) return tl::unexpected(Error::Internal(fmt::format("label {} is never bound", label.id)));
    if (*at <= from) {
      return tl::unexpected(Error::Internal(
          fmt::format("instruction {} jumps back to label {} (classic BPF jumps forward only)", from, label.id)));
    }
    return *at;
  };
  struct Targets {
    std::size_t if_true = 0, if_false = 0;
  };
  std::vector<Targets> targets(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Pending& p = pending_[i];
    bool jumps = BPF_CLASS(p.code) == BPF_JMP;
    if (!jumps) continue;
    auto t = target(i, p.if_true);
    if (!t) return tl::unexpected(t.error());
    targets[i].if_true = *t;
    if (IsConditional(p.code)) {
      auto f = target(i, p.if_false);
      if (!f) return tl::unexpected(f.error());
      targets[i].if_false = *f;
    }
  }

  // Which conditional targets go through a `ja` placed after the jump. A
  // trampoline only lengthens the distances across it, so start with none
  // and add each one found needed until none is: every one added was needed.
  std::vector<bool> far_true(n), far_false(n);
  std::vector<std::size_t> at(n + 1);  // where each pending instruction lands
  auto trampolines = [&](std::size_t i) { return std::size_t{far_true[i]} + std::size_t{far_false[i]}; };
  for (bool changed = true; changed;) {
    changed = false;
    for (std::size_t i = 0, position = 0; i <= n; ++i) {
      at[i] = position;
      if (i < n) position += 1 + trampolines(i);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!IsConditional(pending_[i].code)) continue;
      if (!far_true[i] && at[targets[i].if_true] - at[i] - 1 > kMaxConditionalOffset) far_true[i] = changed = true;
      if (!far_false[i] && at[targets[i].if_false] - at[i] - 1 > kMaxConditionalOffset) far_false[i] = changed = true;
    }
  }

  Program program;
  program.reserve(at[n]);
  for (std::size_t i = 0; i < n; ++i) {
    const Pending& p = pending_[i];
    if (BPF_CLASS(p.code) != BPF_JMP) {
      program.push_back(BPF_STMT(p.code, p.k));
    } else if (!IsConditional(p.code)) {
      program.push_back(BPF_STMT(p.code, static_cast<std::uint32_t>(at[targets[i].if_true] - at[i] - 1)));
    } else {
      // Offsets from the instruction after the jump; the trampolines come
      // first there, the one for if_true before the one for if_false.
      std::size_t true_offset = far_true[i] ? 0 : at[targets[i].if_true] - at[i] - 1;
      std::size_t false_offset = far_false[i] ? std::size_t{far_true[i]} : at[targets[i].if_false] - at[i] - 1;
      program.push_back(BPF_JUMP(p.code, p.k, static_cast<std::uint8_t>(true_offset),
                                 static_cast<std::uint8_t>(false_offset)));
      std::size_t next = at[i] + 1;
      if (far_true[i]) {
        program.push_back(BPF_STMT(BPF_JMP | BPF_JA, static_cast<std::uint32_t>(at[targets[i].if_true] - next - 1)));
        ++next;
      }
      if (far_false[i]) {
        program.push_back(BPF_STMT(BPF_JMP | BPF_JA, static_cast<std::uint32_t>(at[targets[i].if_false] - next - 1)));
      }
    }
  }
  return program;
}

}  // namespace nvgate::supervisor
