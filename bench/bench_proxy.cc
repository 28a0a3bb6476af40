// Cost of the proxy's decode-decide-copy path over executing the same call
// directly on the same backend, measured in one run so the ratio is
// meaningful (docs/benchmarks.md). The backend is the simulated driver.
#include <fcntl.h>
#include <linux/ioctl.h>
#include <unistd.h>

#include <cstring>

#include <benchmark/benchmark.h>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "proxy/proxy.h"

namespace {

using namespace nvgate;

class SelfMemory : public proxy::TargetMemory {
 public:
  bool Read(std::uint64_t addr, void* out, std::size_t len) override {
    std::memcpy(out, reinterpret_cast<const void*>(addr), len);
    return true;
  }
  bool Write(std::uint64_t addr, const void* in, std::size_t len) override {
    std::memcpy(reinterpret_cast<void*>(addr), in, len);
    return true;
  }
};

class SelfFiles : public proxy::TargetFiles {
 public:
  int Duplicate(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
  int Install(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
};

struct Fixture {
  Fixture() {
    sim = backend::MakeSimBackend({}).value();
    for (const backend::DeviceNode& n : sim->Nodes()) {
      if (n.kind == abi::DeviceKind::kCtl) ctl = ::open(n.source_path.c_str(), O_RDWR | O_CLOEXEC);
    }
    proxy = std::make_unique<proxy::Proxy>(*abi::TableForVersion("580.159.04"),
                                           caps::CapSet::Default(), *sim, denials);
  }
  std::unique_ptr<backend::Backend> sim;
  int ctl = -1;
  policy::DenialLog denials{[](const std::string&) {}};
  std::unique_ptr<proxy::Proxy> proxy;
};

Fixture& F() {
  static Fixture f;
  return f;
}

constexpr std::uint32_t kVersionRequest =
    _IOC(_IOC_READ | _IOC_WRITE, 'F', nv::kEscCheckVersionStr, sizeof(nv::nv_ioctl_rm_api_version_t));

void BM_VersionQueryDirect(benchmark::State& state) {
  nv::nv_ioctl_rm_api_version_t v{};
  for (auto _ : state) {
    v.cmd = nv::kRmApiVersionCmdQuery;
    benchmark::DoNotOptimize(F().sim->Ioctl(F().ctl, abi::DeviceKind::kCtl, kVersionRequest, &v));
  }
}
BENCHMARK(BM_VersionQueryDirect);

void BM_VersionQueryThroughProxy(benchmark::State& state) {
  nv::nv_ioctl_rm_api_version_t v{};
  SelfMemory memory;
  SelfFiles files;
  proxy::Call call{.fd = F().ctl, .device = abi::DeviceKind::kCtl, .request = kVersionRequest,
                   .arg = reinterpret_cast<std::uintptr_t>(&v), .pid = 1};
  for (auto _ : state) {
    v.cmd = nv::kRmApiVersionCmdQuery;
    benchmark::DoNotOptimize(F().proxy->Execute(call, memory, files));
  }
}
BENCHMARK(BM_VersionQueryThroughProxy);

}  // namespace

BENCHMARK_MAIN();
