// Test helper: runs a program to completion and captures its output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nvgate::testing {

struct ProgramResult {
  int status;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with the current environment, less
// NVIDIA_VISIBLE_DEVICES, plus `env` ("NAME=value" entries override).
ProgramResult RunProgram(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});

// For tests that talk to a running child through a pipe: appends what `fd`
// has to `output`; false at end of output, or after ten minutes with nothing
// (a bound that keeps a broken build from hanging CI; it asserts nothing).
bool ReadSome(int fd, std::string& output);
// ReadSome until `marker` is in `output`; false if the output ends first.
bool ReadUntil(int fd, std::string& output, std::string_view marker);

}  // namespace nvgate::testing
