// Fakes and helpers shared by the supervisor's tests: a backend that calls one
// temporary regular file nvidiactl, an executor driven by a function, a tiny
// ABI table, and workloads forked under the real filter.
#pragma once

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "abi/abi.h"
#include "backend/backend.h"
#include "error/error.h"
#include "proxy/proxy.h"
#include "supervisor/filter.h"

namespace nvgate::supervisor::testing {

// Frontend rows 0x2a (size 32), 0x2b (rm_alloc: any size), 0xc8 (size 0: any);
// UVM rows 0x30000001 and 0x4b.
const abi::Table& TestTable();

// A request the test table traps, and its frontend nr.
inline constexpr std::uint32_t kRmControl = 0xc020462a;  // _IOWR('F', 0x2a, 32)

class FakeBackend final : public backend::Backend {
 public:
  // Creates a temporary regular file that stands for /dev/nvidiactl.
  FakeBackend();
  ~FakeBackend() override;

  std::string_view Name() const override { return "fake"; }
  Result<std::string> DriverVersion() override { return "580.159.04"; }
  abi::DeviceKind Classify(const struct stat& st) const override;
  std::vector<backend::DeviceNode> Nodes() const override;
  int Ioctl(int, abi::DeviceKind, std::uint32_t, void*, int) override { return -ENOTTY; }

  const std::string& ctl_path() const { return path_; }

 private:
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Runs `handler` for every call; by default: reads a u64 at `arg`, writes it
// back plus one, and returns _IOC_NR(request).
class FakeExecutor final : public proxy::Executor {
 public:
  using Handler = std::function<proxy::Reply(const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&)>;
  FakeExecutor() : handler_(Increment) {}
  explicit FakeExecutor(Handler handler) : handler_(std::move(handler)) {}

  proxy::Reply Execute(const proxy::Call& call, proxy::TargetMemory& memory,
                       proxy::TargetFiles& files) override {
    calls_.fetch_add(1);
    return handler_(call, memory, files);
  }
  int calls() const { return calls_.load(); }

  static proxy::Reply Increment(const proxy::Call& call, proxy::TargetMemory& memory, proxy::TargetFiles&);

 private:
  Handler handler_;
  std::atomic<int> calls_{0};
};

struct Workload {
  pid_t pid = -1;
  int listener = -1;  // the supervisor's; -1 when the child failed to hand it over
};

// Forks a child that sets PR_SET_NO_NEW_PRIVS, installs the filter built from
// `rules`, hands its listener over, runs `body` and exits with what it returns.
Workload StartWorkload(const TrapRules& rules, const std::function<int()>& body);

// As StartWorkload, with the workload as pid 1 of a PID namespace of its own
// (which needs CAP_SYS_ADMIN): `pid` is the process outside that waits for it
// and exits with its status; WorkloadNamespace::ForChildrenOf(pid) names the
// namespace. listener -1 when the namespace cannot be made.
Workload StartWorkloadInPidNamespace(const TrapRules& rules, const std::function<int()>& body);

// Waits for `pid`; its exit code, or 128 + signal.
int WaitExit(pid_t pid);

// Open file descriptors of this process.
int CountOpenFds();

// What a filter sees of a syscall with up to two arguments, for EvaluateFilter.
inline seccomp_data Syscall(int nr, std::uint64_t arg0 = 0, std::uint64_t arg1 = 0,
                            std::uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  d.args[0] = arg0;
  d.args[1] = arg1;
  return d;
}

}  // namespace nvgate::supervisor::testing
