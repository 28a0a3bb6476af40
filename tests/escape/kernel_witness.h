// The escape suite's independent witness of what reached the kernel.
//
// Seccomp decides before the kernel's syscall-entry tracepoint fires: a call
// that nvgate answered itself (executed or refused) never shows there, while one
// the kernel ran itself (a filter that did not trap it, or a CONTINUE) does. The
// witness records, through a private tracefs instance, every ioctl entry (native,
// i386 and x32 numbers) made by tasks with one name, the tag the escape
// workload gives itself. It needs root and tracefs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace nvgate::escape {

struct KernelIoctl {
  long syscall;           // 16 (x86_64), 54 (i386 via int $0x80), 0x40000010 (x32)
  std::uint64_t fd;
  std::uint64_t request;  // as the task passed it, all 64 bits
};

class KernelWitness {
 public:
  // Starts recording ioctl entries of tasks named `tag` (at most 15 characters).
  static tl::expected<std::unique_ptr<KernelWitness>, std::string> Start(const std::string& tag);
  ~KernelWitness();

  // Stops recording and returns what was seen.
  tl::expected<std::vector<KernelIoctl>, std::string> Stop();

 private:
  explicit KernelWitness(std::string instance) : instance_(std::move(instance)) {}
  std::string instance_;
  bool stopped_ = false;
};

}  // namespace nvgate::escape
