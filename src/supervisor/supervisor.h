// The receive loop: one receiving thread per listener, calls executed by a pool
// of workers so that one call blocked in the driver never stalls the others.
//
//   auto notifier = supervisor::OsNotifier::Create(listener);
//   supervisor::Supervisor sup(**notifier, backend, proxy);
//   auto done = sup.Run();      // returns when every workload task is gone
//
// Per notification (on a worker):
//   pidfd for the calling thread, ID_VALID -> pidfd_getfd(args[0]) -> fstat ->
//   Backend::Classify -> not NVIDIA: ENOTTY (never CONTINUE: another thread may
//   dup2 an NVIDIA file onto that number before the kernel would look again) ->
//   NVIDIA: Executor::Execute on the duplicate -> close the duplicate -> SEND.
// The duplicate lives only for the call, so the workload's own close() is what
// releases the driver's file. SEND -> ENOENT means the caller is gone: not an
// error.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "backend/backend.h"
#include "proxy/proxy.h"
#include "supervisor/notifier.h"

namespace nvgate::supervisor {

struct SupervisorOptions {
  // Upper bound on calls executing at once. A worker is started whenever a call
  // is queued and no worker is free, so up to this many calls can block in the
  // driver without stalling the next one.
  int max_workers = 64;
};

struct SupervisorStats {
  std::uint64_t executed = 0;     // calls handed to the executor
  std::uint64_t not_nvidia = 0;   // trapped requests on other files, answered ENOTTY
  std::uint64_t target_gone = 0;  // callers that went away before their answer
};

class Supervisor {
 public:
  Supervisor(Notifier& notifier, const backend::Backend& backend, proxy::Executor& executor,
             SupervisorOptions options = {});
  // Waits for the workers.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Makes the process non-dumpable, then receives until no workload task is
  // left or Stop() is called, and waits for the calls in flight. Errors name the
  // failing call.
  tl::expected<void, std::string> Run();
  // Makes Run() return. Thread-safe.
  void Stop();

  SupervisorStats stats() const;

 private:
  void Dispatch(const Notification& n);
  void WorkerLoop();
  void Handle(const Notification& n);
  void Answer(const Notification& n, const Response& r);
  int ThreadGroupOf(std::uint32_t tid);
  void JoinWorkers();

  Notifier& notifier_;
  const backend::Backend& backend_;
  proxy::Executor& executor_;
  SupervisorOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Notification> queue_;
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;
  bool stopping_ = false;

  std::mutex tgid_mu_;
  std::unordered_map<std::uint32_t, int> tgid_cache_;

  std::atomic<std::uint64_t> executed_{0};
  std::atomic<std::uint64_t> not_nvidia_{0};
  std::atomic<std::uint64_t> target_gone_{0};
};

}  // namespace nvgate::supervisor
