// The replay backend: answers a workload's driver calls from a trace recorded
// with --with-params, so that machines without a GPU run real call sequences
// (nvgate run --backend replay --replay-trace FILE).
//
//   auto backend = trace::ReplayBackend::Open("probe.trace");
//   ... supervise the workload with **backend ...
//   if (auto problem = (*backend)->Outcome()) die(*problem);
//
// Each call the proxy executes is matched against the next call of the trace
// that reached the driver; the recorded driver outputs are then written into
// the supervisor-side parameters and the recorded return value returned. What
// must match, and the limitations, are in docs/trace-format.md ("The replay
// backend"). On the first divergence every call from then on fails with EIO:
// the replay never makes up an answer.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "abi/abi.h"
#include "abi/device.h"
#include "backend/backend.h"
#include "backend/node_files.h"
#include "trace/trace.h"

namespace nvgate::trace {

// Matches executed calls against a trace's driver calls, in the trace's one
// global order, and writes the recorded outputs. Thread-safe.
class ReplayMatcher {
 public:
  // Fails for a trace without parameters or of a driver nvgate has no table for.
  static tl::expected<std::unique_ptr<ReplayMatcher>, std::string> Create(Trace trace);

  // Answers one call as a Backend gets it: `arg` is the driver's parameter
  // struct in this process, nested pointers rewritten by the proxy. Returns the
  // recorded return value (0 or -errno), or -EIO when the call does not match.
  int Answer(abi::DeviceKind device, std::uint32_t request, void* arg);

  // The first divergence, naming the call number, what the trace expected and
  // what the workload did; empty while the replay is on track.
  std::optional<std::string> divergence() const;
  // Once the workload is done: the divergence, else the recorded driver calls
  // it never made; empty when every one was answered.
  std::optional<std::string> Outcome() const;

  const TraceHeader& header() const { return trace_.header; }

 private:
  ReplayMatcher(Trace trace, const abi::Table& table);
  int Diverge(std::string message);

  const Trace trace_;
  const abi::Table& table_;
  // Indices into trace_.calls of the calls that reached the driver, in order.
  std::vector<std::size_t> driver_calls_;
  mutable std::mutex mu_;
  std::size_t next_ = 0;           // into driver_calls_
  std::uint64_t calls_seen_ = 0;   // calls the backend was asked to run
  std::optional<std::string> divergence_;
};

// A Backend that serves node files like the sim's and answers from a trace.
class ReplayBackend final : public backend::Backend {
 public:
  static tl::expected<std::unique_ptr<ReplayBackend>, std::string> Open(const std::string& trace_path);
  static tl::expected<std::unique_ptr<ReplayBackend>, std::string> FromTrace(Trace trace);

  std::string_view Name() const override { return "replay"; }
  // The trace's driver version.
  tl::expected<std::string, std::string> DriverVersion() override;
  abi::DeviceKind Classify(const struct stat& st) const override { return nodes_->Classify(st); }
  std::vector<backend::DeviceNode> Nodes() const override { return nodes_->nodes(); }
  int Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg) override;

  // As ReplayMatcher::Outcome.
  std::optional<std::string> Outcome() const { return matcher_->Outcome(); }

 private:
  ReplayBackend(std::unique_ptr<ReplayMatcher> matcher, std::unique_ptr<backend::NodeFiles> nodes)
      : matcher_(std::move(matcher)), nodes_(std::move(nodes)) {}

  const std::unique_ptr<ReplayMatcher> matcher_;
  const std::unique_ptr<backend::NodeFiles> nodes_;
};

}  // namespace nvgate::trace
