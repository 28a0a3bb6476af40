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

// What a refusal's line names first: the capabilities that would allow the
// call ("video"; "any" for a base-tier call refused to an empty set),
// "unknown" (no table row) or "never" (no capability allows it).
std::string DeniedCapability(const Decision& decision);

// The call's name in a refusal: the table's ("NVB8B0_VIDEO_DECODER"), else
// "unknown " and the level. Never the key, so that a workload cannot make up
// names: the set is bounded by the table (metrics label calls with it).
std::string CallName(const Decision& decision, abi::Level level);

// One denied call, as the log reports it.
struct Denial {
  int pid;
  abi::Level level;
  std::uint32_t key;
  std::string line;        // "pid 7: video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied; enable with ..."
  std::string capability;  // DeniedCapability, or the proxy's own check: "client", "share"
  std::string call;        // CallName
};

// Logs each refused (process, level, key) once, and counts every refusal.
class DenialLog {
 public:
  using Sink = std::function<void(const Denial& denial)>;
  // `first` gets the first report of each (pid, level, key); `every`, where
  // given, gets each report (counters: it runs on the supervisor's threads at
  // once, for every denied call).
  explicit DenialLog(Sink first, Sink every = {}) : first_(std::move(first)), every_(std::move(every)) {}
  // Returns true when this was the first report for (pid, level, key).
  bool Report(const Denial& denial);

 private:
  Sink first_;
  Sink every_;
  std::mutex mu_;
  std::set<std::tuple<int, abi::Level, std::uint32_t>> seen_;
};

}  // namespace nvgate::policy
