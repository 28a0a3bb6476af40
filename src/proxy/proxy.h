// The proxy executes one trapped driver call on the supervisor's own copy of its
// parameters:
//
//   decode the request -> find the table entry -> copy the parameters in (and
//   every nested buffer) -> decide on the copy -> translate fds and pointers ->
//   run it on the backend -> copy results out, restoring the workload's pointer
//   and fd values.
//
// It never touches the workload directly: the supervisor hands it a TargetMemory
// and TargetFiles for the calling thread, and tests hand it in-process fakes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "abi/abi.h"
#include "abi/device.h"
#include "backend/backend.h"
#include "caps/caps.h"
#include "fd/owned_fd.h"
#include "policy/policy.h"
#include "proxy/call_record.h"
#include "proxy/gpu_selection_check.h"

namespace nvgate::proxy {

// The calling thread's memory. Implementations check that the call is still
// pending after every read and before every write.
class TargetMemory {
 public:
  virtual ~TargetMemory() = default;
  virtual bool Read(std::uint64_t addr, void* out, std::size_t len) = 0;
  virtual bool Write(std::uint64_t addr, const void* in, std::size_t len) = 0;
  // Bytes the driver itself wrote at `addr`, for a call that ran in the
  // caller's own memory (TargetFiles::RunInCaller): nothing to write, only
  // something to note (a trace records them as the call's output).
  virtual void WrittenByDriver(std::uint64_t /*addr*/, std::span<const std::byte> /*bytes*/) {}
};

struct Call;

// How a call that ran in its caller's own memory went (TargetFiles::RunInCaller).
struct CallerRun {
  std::int64_t value = 0;  // the ioctl's return value: 0 or -errno
  // The workload's own call ran (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the kernel
  // answered it, and nothing more may be sent.
  bool answered = false;
  // Not run, and why (for the denial line); `value` is then meaningless.
  std::string refused;
};

// The calling process's file descriptors, and the calling thread itself.
class TargetFiles {
 public:
  virtual ~TargetFiles() = default;
  // A supervisor-owned duplicate of the workload's `target_fd`, or -errno.
  virtual int Duplicate(int target_fd) = 0;
  // Installs the supervisor's `fd` into the workload; returns the workload's
  // number for it, or -errno.
  virtual int Install(int fd) = 0;
  // For a call the driver checks against the GPU files of its caller
  // (gpu_file_gate.h): takes the gate exclusively for the rest of the call and
  // duplicates every GPU file the calling thread's process holds, and nothing
  // else, into `fds` (closed when the call is done with them). 0 or -errno.
  virtual int HoldCallerGpuFiles(std::vector<fd::OwnedFd>& fds) = 0;
  // For a call the driver runs on its caller's own memory (abi::Handler::
  // kCallerMemory: it pins pages of current->mm): runs the workload's own call
  // with every other task of the workload stopped, only if its parameters
  // still read `checked` (supervisor/caller_run.h); `result` receives them as
  // the driver left them. Refused where there is no calling thread to run
  // it in (tests' and fuzzers' in-process fakes).
  virtual CallerRun RunInCaller(const Call& /*call*/, backend::Backend& /*backend*/,
                                std::span<const std::byte> /*checked*/, std::span<std::byte> /*result*/) {
    return {.refused = "no workload thread to run it in"};
  }
};

struct Call {
  int fd;                  // the supervisor's duplicate of the file the call was made on
  abi::DeviceKind device;  // what that file is
  std::uint32_t request;   // the low 32 bits of the ioctl request
  std::uint64_t arg;       // the workload's argument pointer
  int pid;                 // the calling process (thread group), for logs
  int tid = 0;             // the calling thread, for traces; 0 when not known
};

struct Reply {
  std::int64_t value = 0;  // the ioctl's return value when error == 0
  int error = 0;           // a positive errno to fail the ioctl with
  bool denied = false;     // refused (and reported to the DenialLog), whatever the answer says
  // The kernel runs the workload's own call instead (SECCOMP_USER_NOTIF_FLAG_CONTINUE):
  // only nvgate trace --observe-only answers so (trace/observe_only.h).
  bool run_natively = false;
  // The workload's own call ran and the kernel answered it (CallerRun::answered).
  bool answered = false;
};

// Executes trapped calls; the supervisor's only view of the proxy, so that its
// tests can substitute their own.
class Executor {
 public:
  virtual ~Executor() = default;
  // Thread-safe.
  virtual Reply Execute(const Call& call, TargetMemory& memory, TargetFiles& files) = 0;
};

// RM clients this workload created. Calls naming any other client get
// NV_ERR_INVALID_CLIENT: RM sees only the supervisor, so it cannot tell
// workloads apart itself.
class ClientRegistry {
 public:
  void Add(std::uint32_t client);
  void Remove(std::uint32_t client);
  bool Owns(std::uint32_t client) const;

 private:
  mutable std::mutex mu_;
  std::set<std::uint32_t> clients_;
};

// Host memory this workload pinned through calls that ran in its own memory
// (NV01_MEMORY_SYSTEM_OS_DESCRIPTOR): the GPU may write it at any time, so a
// later such call whose parameters lie in it is refused. A range is forgotten
// when its memory object or client is freed by handle; one freed with its
// parent stays, which only refuses more.
class PinnedMemory {
 public:
  void Add(std::uint32_t client, std::uint32_t memory, std::uint64_t begin, std::uint64_t end);
  void Forget(std::uint32_t client, std::uint32_t handle);
  void ForgetClient(std::uint32_t client);
  // Whether [begin, end) meets a pinned range.
  bool Overlaps(std::uint64_t begin, std::uint64_t end) const;

 private:
  mutable std::mutex mu_;
  // (client, memory handle) -> [begin, end)
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::pair<std::uint64_t, std::uint64_t>> ranges_;
};

class Proxy final : public Executor {
 public:
  Proxy(const abi::Table& table, caps::CapSet enabled, backend::Backend& backend,
        policy::DenialLog& denials);

  Reply Execute(const Call& call, TargetMemory& memory, TargetFiles& files) override;

  const ClientRegistry& clients() const { return clients_; }
  const PinnedMemory& pinned() const { return pinned_; }

  // Reports every call from now on to `observer` (nullptr: none). Set it
  // before the supervisor starts; it must outlive the calls.
  void SetObserver(CallObserver* observer) { observer_ = observer; }

  // Refuses every call naming a GPU outside `scope` (gpu_selection_check.h).
  // Set it before the supervisor starts; without it every GPU may be named.
  void SetGpus(GpuScope scope) { gpus_ = std::move(scope); }

 private:
  class Execution;

  Reply ExecuteObserved(const Call& call, TargetMemory& memory, TargetFiles& files);

  const abi::Table& table_;
  caps::CapSet enabled_;
  backend::Backend& backend_;
  policy::DenialLog& denials_;
  ClientRegistry clients_;
  PinnedMemory pinned_;
  CallObserver* observer_ = nullptr;
  GpuScope gpus_;
};

}  // namespace nvgate::proxy
