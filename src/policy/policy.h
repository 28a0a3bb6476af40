// Policy: given a table, a dispatch level, a key and the enabled capabilities,
// allow with the entry's handler, or deny with the driver's own answer and the
// capability that would allow it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "abi/abi.h"
#include "caps/caps.h"

namespace nvgate::policy {

// How a refused call is answered, by level (DESIGN.md section 4): frontend and
// UVM ioctls fail with EINVAL; RM controls and allocs return 0 with a status.
struct Answer {
  int error = 0;            // positive errno, or 0
  std::uint32_t status = 0; // NV_STATUS to write into the params, when error == 0
};

enum class Verdict : std::uint8_t {
  kAllow,
  kUnknown,        // no table row: default deny
  kNeverAllowed,   // a deny row, or a row no capability reaches
  kMissingCapability,
};

struct Decision {
  Verdict verdict;
  const abi::Entry* entry;  // nullptr when unknown
  Answer answer;            // meaningful when verdict != kAllow
  bool allowed() const { return verdict == Verdict::kAllow; }
};

Decision Decide(const abi::Table& table, abi::Level level, std::uint32_t key,
                caps::CapSet enabled);

// The driver's answer for a refused call at `level`.
Answer DenialAnswer(abi::Level level);

// One human line for a refused call:
//   "video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied; enable with NVIDIA_DRIVER_CAPABILITIES=compute,video"
std::string Describe(const Decision& decision, abi::Level level, std::uint32_t key,
                     caps::CapSet enabled);

// Logs each refused (process, level, key) once.
// One denied call, as the log reports it.
struct Denial {
  int pid;
  abi::Level level;
  std::uint32_t key;
  std::string line;  // "pid 7: video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied; enable with ..."
};

class DenialLog {
 public:
  using Sink = std::function<void(const Denial& denial)>;
  explicit DenialLog(Sink sink) : sink_(std::move(sink)) {}
  // Returns true when this was the first report for (pid, level, key).
  bool Report(int pid, abi::Level level, std::uint32_t key, const std::string& line);

 private:
  Sink sink_;
  std::mutex mu_;
  std::set<std::tuple<int, abi::Level, std::uint32_t>> seen_;
};

}  // namespace nvgate::policy
