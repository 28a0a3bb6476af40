// The receive loop: the thread that receives a call executes it itself, and a
// standby thread takes over receiving when that call lasts, so that one call
// blocked in the driver never stalls the others.
//
//   auto notifier = supervisor::OsNotifier::Create(std::move(listener));
//   supervisor::Supervisor sup(**notifier, backend, proxy);
//   auto done = sup.Run();      // returns when every workload task is gone
//
// Threads (leader/followers, promoted lazily): exactly one thread, the leader,
// receives; it executes each call before it receives the next, so a call costs
// no wake-up of another thread (handing every call to a worker cost 13-25 us a
// call on a 2-vCPU guest, docs/performance.md). One follower stands by: when it
// finds the leader inside the same call over a whole period (5 ms),
// it becomes the leader and another follower stands by; the old leader, its
// call done, becomes a follower. After a period without calls the standby
// sleeps until the leader begins one. Only one thread ever waits in RECV: more
// would all be woken by every notification (the kernel wakes every thread
// polling the listener for each one: kernel/seccomp.c, wake_up_poll on the
// filter's wait queue).
//
// Per notification (on the leader, or on a deposed leader finishing its call):
//   the calling thread's pidfd (kept across its calls), ID_VALID ->
//   pidfd_getfd(args[0]) -> fstat -> Backend::Classify -> not NVIDIA: ENOTTY
//   (never CONTINUE: another thread may dup2 an NVIDIA file onto that number
//   before the kernel would look again) -> NVIDIA: Executor::Execute on the
//   duplicate -> close the duplicate -> SEND.
// The duplicate lives only for the call, so the workload's own close() is what
// releases the driver's file. SEND -> ENOENT means the caller is gone: not an
// error.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "error/error.h"
#include "proxy/proxy.h"
#include "supervisor/caller_run.h"
#include "supervisor/notifier.h"
#include "supervisor/target.h"

namespace nvgate::supervisor {

// Told of each NVIDIA call once it is answered (the agent's metrics). Called
// on the supervisor's threads at once, on every call: implementations are
// thread-safe and cheap (atomics).
class CallMeter {
 public:
  virtual ~CallMeter() = default;
  // `denied`: the executor refused the call (proxy::Reply::denied).
  // `latency`: from the notification's receipt to its answer's SEND.
  virtual void Answered(bool denied, std::chrono::nanoseconds latency) = 0;
};

struct SupervisorOptions {
  // Upper bound on calls executing at once (on as many threads, plus one
  // standing by): up to this many calls can block in the driver without
  // stalling the next one. 1: calls run one at a time, on Run()'s thread.
  int max_workers = 64;
  // Where answered calls are reported; nullptr: nowhere, and no clock is read.
  CallMeter* meter = nullptr;
  // The backend's character-device nodes (DeviceNode::rdev; the sim's): the
  // path the workload opens, and the file the supervisor opens for it instead.
  // Only with TrapRules::opens, which makes open and openat reach it.
  std::map<std::string, std::string, std::less<>> node_opens = {};
  // The workload's PID namespace: whose tasks are stopped while a call runs in
  // its caller's own memory (caller_run.h). Unknown: such calls are refused.
  WorkloadNamespace workload = {};
  // The backend's nodes the workload's capabilities withhold from its /dev
  // (the UVM node without compute): an open of one's exact path is refused
  // with EACCES, and reported to its function with the calling process's pid
  // (the denial line). Only with node_opens, which makes opens reach the supervisor.
  std::map<std::string, std::function<void(int pid)>, std::less<>> refused_opens = {};
};

struct SupervisorStats {
  std::uint64_t executed = 0;     // calls handed to the executor
  std::uint64_t denied = 0;       // of those, refused by it (counted once answered)
  std::uint64_t not_nvidia = 0;   // trapped requests on other files, answered ENOTTY
  std::uint64_t target_gone = 0;  // callers that went away before their answer
};

class Supervisor {
 public:
  Supervisor(Notifier& notifier, const backend::Backend& backend, proxy::Executor& executor,
             SupervisorOptions options = {});
  // Waits for the supervisor's threads.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Makes the process non-dumpable, then receives until no workload task is
  // left or Stop() is called, and waits for the calls in flight. Errors name the
  // failing call.
  Result<void> Run();
  // Makes Run() return. Thread-safe.
  void Stop();

  SupervisorStats stats() const;

 private:
  // These three take mu_ held in `lock` and return with it held; StartFollower
  // and End need it held.
  void Lead(std::unique_lock<std::mutex>& lock);
  void Follow(std::unique_lock<std::mutex>& lock);
  void StandBy(std::unique_lock<std::mutex>& lock);
  void StartFollower();
  void End(RecvStatus status, int recv_errno);
  void JoinThreads();

  void Handle(const Notification& n);
  void HandleParked(const Notification& n);
  void HandleOpen(const Notification& n);
  std::optional<CallTarget> OpenTarget(const Notification& n);
  void Answer(const Notification& n, const Response& r);

  Notifier& notifier_;
  const backend::Backend& backend_;
  proxy::Executor& executor_;
  SupervisorOptions options_;

  // The leader's progress, without a lock: even while it waits for a call, odd
  // while it executes one; moved on by one when a call begins or ends, or when
  // the standby takes over (then the old leader's exchange at the end of its
  // call fails, and it knows it was deposed).
  std::atomic<std::uint64_t> leader_call_{0};
  std::atomic<int> calls_in_flight_{0};
  std::atomic<bool> standby_sleeping_{false};  // the leader wakes it when a call begins

  // Who stands by, the spares, and the end. Never held across a call, RECV or
  // SEND, nor by the leader while it leads (but to wake the standby).
  std::mutex mu_;
  std::condition_variable standby_cv_;  // the standby sleeps: a call began, or the end
  std::condition_variable spare_cv_;    // spare followers: no standby any more, or the end
  std::vector<std::thread> threads_;    // every thread but Run()'s
  bool has_standby_ = false;
  int spares_ = 0;  // followers waiting to stand by
  bool done_ = false;
  Result<void> result_;

  CallerPidfds pidfds_;
  CallerRuns caller_runs_;

  std::atomic<std::uint64_t> executed_{0};
  std::atomic<std::uint64_t> denied_{0};
  std::atomic<std::uint64_t> not_nvidia_{0};
  std::atomic<std::uint64_t> target_gone_{0};
};

}  // namespace nvgate::supervisor
