// A seccomp program as text, one instruction a line, for `--log-level debug`
// and for test failures:
//
//     0: ld   [arch]
//     1: jeq  0xc000003e  ? 3 : 2
//     2: ret  ERRNO(ENOSYS)
//
// Jump targets are absolute instruction numbers; loads name the seccomp_data
// field they read; returns name the SECCOMP_RET_* action and its data. An
// instruction the printer does not know shows its four fields raw.
#pragma once

#include <cstdint>
#include <string>

#include "supervisor/filter_program.h"

namespace nvgate::supervisor {

std::string DisassembleFilter(const Program& program);

// One SECCOMP_RET_* value as DisassembleFilter prints it: "ALLOW", "ERRNO(EPERM)".
std::string SeccompActionName(std::uint32_t action);

}  // namespace nvgate::supervisor
