// nvprobe's steps, apart from its command line, so that a test can run them
// in-process against the simulated driver (tools/nvprobe/nvprobe_test.cc)
// exactly as nvprobe runs them against /dev under nvgate or on a GPU host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nvprobe {

struct Step {
  std::string capability;
  std::string step;
  std::string result;  // ok, refused, failed
  std::string detail;
};

// How the steps reach the driver: open a node by its /dev path, and ioctl
// (0, or -1 with errno set, as the system calls).
struct DriverOps {
  std::function<int(const char* dev_path)> open;
  std::function<int(int fd, unsigned long request, void* arg)> ioctl;
};

// The pageable-copy step pins this much of nvprobe's own malloc'd memory,
// writes a pattern through it and frees it; the FNV-1a digest of the pattern
// is what whoever reads the pinned pages at the free must find (the sim notes
// it: SimDriver::SetNotes).
inline constexpr std::size_t kPinnedCopyBytes = std::size_t{64} << 20;
std::uint64_t PinnedCopyDigest();

// The real ones: /dev and the ioctl system call.
DriverOps SystemDriverOps();

struct ProbeOptions {
  // One JSON array at the end instead of a line per step.
  bool json = false;
  // The pageable-copy step (kPinnedCopyBytes). Off only to replay traces
  // recorded before nvprobe had it.
  bool pageable_copy = true;
};

// Runs every step, printing one line each (or a JSON array at the end) and
// filling `steps`. Returns nvprobe's exit status: 0 when it ran to the end, 1
// when a step failed, 2 when it could not start.
int RunProbe(const DriverOps& ops, const ProbeOptions& options, std::vector<Step>& steps);

}  // namespace nvprobe
