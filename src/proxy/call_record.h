// What the proxy tells an observer about each call it executed or refused
// (nvgate trace, learn, run --audit). Records are filled only while an
// observer is set; `nvgate run` sets none, so it pays for none of this.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "abi/device.h"
#include "policy/policy.h"

namespace nvgate::proxy {

struct Call;
class TargetMemory;

// One copy between the workload's memory and the supervisor's.
struct MemoryCopy {
  std::uint64_t addr;
  std::vector<std::byte> bytes;
};

// A refusal as the proxy logged it: the dispatch level and key it concerns and
// the log line. Policy refusals and the proxy's own checks (foreign clients,
// shares) both report here; `CallRecord::decision` tells them apart.
struct Refusal {
  abi::Level level;
  std::uint32_t key;
  std::string message;
};

struct CallRecord {
  // The call as trapped.
  int pid = 0;
  int tid = 0;
  abi::DeviceKind device = abi::DeviceKind::kNotNvidia;
  std::uint32_t request = 0;
  // The request as decoded: frontend nr (or UVM request) and the size of the
  // top-level parameters the proxy copies.
  abi::Level request_level = abi::Level::kFrontend;
  std::uint32_t request_key = 0;
  std::uint32_t size = 0;
  // The last policy decision taken: for an escape that dispatches again
  // (control, alloc, ...) the inner one. Empty when the call was refused
  // before any decision (an ioctl on a node nvgate has no table for).
  std::optional<policy::Decision> decision{};
  // Set when the proxy refused the call and logged why.
  std::optional<Refusal> refusal{};
  // Set when the call reached the driver: its return value and time.
  std::optional<int> driver_return{};
  std::chrono::nanoseconds driver_time{0};
  // What the workload got back.
  std::int64_t value = 0;
  int error = 0;
  // The NV_STATUS in the parameters written back, where the struct has one.
  std::optional<std::uint32_t> status{};
  std::chrono::steady_clock::time_point started{};
  std::chrono::nanoseconds duration{0};
  // Every read from and write to the workload's memory, in order, when the
  // observer asked for parameters.
  std::vector<MemoryCopy> in{};
  std::vector<MemoryCopy> out{};
};

// Receives one record per call, after the workload's reply is final and
// before it is sent. Called from the supervisor's worker threads at once:
// implementations are thread-safe.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // Whether records carry the parameter bytes (`in`, `out`).
  virtual bool WantsParams() const = 0;
  virtual void Observe(const CallRecord& record) = 0;
};

// Where the NV_STATUS sits in the top-level parameters of a request, if it has
// one: the table's `status:` item, or the fixed field of the escapes that
// dispatch on a nested struct (RM_CONTROL, RM_ALLOC in both forms).
std::optional<std::uint32_t> StatusOffset(const abi::Entry& request_entry, std::uint32_t size);

}  // namespace nvgate::proxy
