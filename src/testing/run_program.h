// Test helper: runs a program to completion and captures its output.
#pragma once

#include <string>
#include <vector>

namespace nvgate::testing {

struct ProgramResult {
  int status;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with the current environment plus `env`
// ("NAME=value" entries override).
ProgramResult RunProgram(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});

}  // namespace nvgate::testing
