// A userspace interpreter of the classic BPF that BuildFilter emits, so that
// tests can run a program on any seccomp_data without a kernel:
//
//   auto action = supervisor::EvaluateFilter(program, data);  // SECCOMP_RET_*
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <string>

#include "error/error.h"
#include "supervisor/filter_program.h"

namespace nvgate::supervisor {

// What `program` returns for one syscall (the full SECCOMP_RET_* value). An
// error names an instruction outside the subset BuildFilter emits (loads of
// seccomp_data words, AND, TAX/TXA, jumps against constants, returns of
// constants), a load outside seccomp_data, or a program that runs off its end.
Result<std::uint32_t> EvaluateFilter(const Program& program, const seccomp_data& data);

}  // namespace nvgate::supervisor
