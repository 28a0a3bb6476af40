// A seccomp program as the kernel takes it: classic BPF instructions, each
// `sock_filter{code, jt, jf, k}`, whose jumps count instructions forward from
// the next one. filter_assembler.h builds one with named jump targets,
// filter_evaluator.h runs one in userspace, filter_disassembler.h prints one.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace nvgate::supervisor {

using Program = std::vector<sock_filter>;

}  // namespace nvgate::supervisor
