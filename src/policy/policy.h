// Policy: given a table, a dispatch level, a key and the enabled capabilities,
// allow with the entry's handler, or deny with the driver's own answer and the
// capability that would allow it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "abi/abi.h"
#include "caps/caps.h"

namespace nvgate::policy {

// How a refused call is answered, by level: frontend and UVM ioctls fail with
// EINVAL; RM controls and allocs return 0 with a status.
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

// How often one call was denied to a workload (DenialLog::Summary).
struct DenialCount {
  abi::Level level;
  std::uint32_t key;
  std::string call;        // CallName
  std::string capability;  // DeniedCapability
  std::uint64_t count;     // every denial of the call
  std::size_t processes;   // distinct processes denied it (counted up to kMaxCountedProcesses)
};

// Logs each refused call (level, key) of one workload once, however many of
// its processes and threads make it, and counts every refusal: a workload that
// forks a hundred children that each make the same call gets one line, and a
// count at the end (Summary), instead of a hundred lines.
class DenialLog {
 public:
  using Sink = std::function<void(const Denial& denial)>;
  // Distinct processes counted per call; past it the count stays there, so a
  // workload cannot grow the log's memory by forking.
  static constexpr std::size_t kMaxCountedProcesses = 1024;
  // `first` gets the first report of each (level, key); `every`, where given,
  // gets each report (counters, the --log-denials file: it runs on the
  // supervisor's threads at once, for every denied call).
  explicit DenialLog(Sink first, Sink every = {}) : first_(std::move(first)), every_(std::move(every)) {}
  // Returns true when this was the first report for (level, key).
  bool Report(const Denial& denial);
  // Every call denied so far, in the order of their first denial.
  std::vector<DenialCount> Summary() const;

 private:
  struct Tally {
    DenialCount count;   // its processes are counted from `pids` in Summary
    std::set<int> pids;
  };
  Sink first_;
  Sink every_;
  mutable std::mutex mu_;
  std::map<std::pair<abi::Level, std::uint32_t>, std::size_t> index_;  // into tallies_
  std::vector<Tally> tallies_;
};

}  // namespace nvgate::policy
