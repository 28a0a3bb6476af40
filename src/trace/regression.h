// Recorded traces as regression data (tests/data/traces/README.md): every call
// of a trace decided again under its recorded capabilities with today's table
// for its driver. A call the traced workload made that would now be refused,
// or one refused then that would now be allowed, is a regression.
#pragma once

#include <string>
#include <vector>

#include "trace/trace.h"

namespace nvgate::trace {

// One line per regression, naming the call ("seq 12: control 0x20800a4a
// NV2080_CTRL_CMD_... was allowed under compute,utility, now refused
// (missing_capability)"); a trace whose driver has no table is one line. Empty
// when today's decisions are the recorded ones. A change between two reasons
// for a refusal is not a regression.
std::vector<std::string> Regressions(const Trace& trace);

}  // namespace nvgate::trace
