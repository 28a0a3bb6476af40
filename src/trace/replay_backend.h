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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/abi.h"
#include "abi/device.h"
#include "backend/backend.h"
#include "backend/node_files.h"
#include "error/error.h"
#include "trace/trace.h"

namespace nvgate::trace {

// What identifies a call: the node, the request and the innermost command.
struct CallIdentity {
  abi::DeviceKind device = abi::DeviceKind::kNotNvidia;
  abi::Level request_level = abi::Level::kFrontend;
  std::uint32_t request_key = 0;
  std::uint32_t size = 0;
  abi::Level level = abi::Level::kFrontend;
  std::uint32_t key = 0;

  bool operator==(const CallIdentity&) const = default;
};

// Matches executed calls against a trace's driver calls, thread by thread,
// and writes the recorded outputs. Thread-safe.
//
// Each workload thread is bound, at its first call, to a recorded thread (a
// `tid` of the trace): the first one not yet bound whose first driver call is
// that call. Within a thread, calls are matched in the recorded order; how
// threads interleave is not checked.
class ReplayMatcher {
 public:
  // Fails for a trace without parameters or of a driver nvgate has no table for.
  static Result<std::unique_ptr<ReplayMatcher>> Create(Trace trace);

  // Answers one call of workload thread `tid` as a Backend gets it: `arg` is
  // the driver's parameter struct in this process, nested pointers rewritten
  // by the proxy. Returns the recorded return value (0 or -errno), or -EIO
  // when the call does not match.
  int Answer(int tid, abi::DeviceKind device, std::uint32_t request, void* arg);

  // Once the workload is done: the first divergence (naming the call number,
  // what the trace expected and what the workload did), else the recorded
  // driver calls it never made; empty when every one was answered.
  std::optional<std::string> Outcome() const;

  const TraceHeader& header() const { return trace_.header; }

 private:
  // One recorded thread's calls that reached the driver.
  struct RecordedThread {
    int tid;
    std::vector<std::size_t> calls;  // indices into trace_.calls, in order
    std::size_t next = 0;            // the next one to answer
    bool bound = false;              // a workload thread makes its calls
  };

  ReplayMatcher(Trace trace, const abi::Table& table);
  // The recorded thread workload thread `tid` makes the calls of, binding it
  // at its first call; empty when every recorded thread is taken.
  std::optional<std::size_t> ThreadFor(int tid, const CallIdentity& first_call);
  int Diverge(std::string message);

  const Trace trace_;
  const abi::Table& table_;
  mutable std::mutex mu_;
  std::vector<RecordedThread> threads_;      // in the order of their first driver call
  std::map<int, std::size_t> bound_;         // workload tid -> index into threads_
  std::uint64_t calls_seen_ = 0;             // calls the backend was asked to run
  std::optional<std::string> divergence_;
};

// A Backend that serves node files like the sim's and answers from a trace.
class ReplayBackend final : public backend::Backend {
 public:
  static Result<std::unique_ptr<ReplayBackend>> Open(const std::string& trace_path);
  static Result<std::unique_ptr<ReplayBackend>> FromTrace(Trace trace);

  std::string_view Name() const override { return "replay"; }
  // The trace's driver version.
  Result<std::string> DriverVersion() override;
  abi::DeviceKind Classify(const struct stat& st) const override { return nodes_->Classify(st); }
  std::vector<backend::DeviceNode> Nodes() const override { return nodes_->nodes(); }
  int Ioctl(int fd, abi::DeviceKind device, std::uint32_t request, void* arg, int tid) override;
  // As Ioctl, on the parameters in `tid`'s memory, read and written there.
  std::optional<int> IoctlAsCaller(int fd, abi::DeviceKind device, std::uint32_t request, std::uint64_t arg,
                                   pid_t tid) override;

  // As ReplayMatcher::Outcome.
  std::optional<std::string> Outcome() const { return matcher_->Outcome(); }

 private:
  ReplayBackend(std::unique_ptr<ReplayMatcher> matcher, std::unique_ptr<backend::NodeFiles> nodes)
      : matcher_(std::move(matcher)), nodes_(std::move(nodes)) {}

  const std::unique_ptr<ReplayMatcher> matcher_;
  const std::unique_ptr<backend::NodeFiles> nodes_;
};

}  // namespace nvgate::trace
