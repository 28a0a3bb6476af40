// trace::ObserveOnlyExecutor on in-process calls: what it records and how it
// answers, with the kernel (the host backend) and with a fallback (the sim's).
#include "trace/observe_only.h"

#include <linux/ioctl.h>

#include <cerrno>
#include <cstdint>

#include <gtest/gtest.h>

#include "abi/abi.h"
#include "abi/nv_structs.h"
#include "caps/caps.h"
#include "proxy/memory_fakes.h"
#include "trace/trace.h"

namespace nvgate::trace {
namespace {

class NoFiles final : public proxy::TargetFiles {
 public:
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return -EBADF; }
  int Duplicate(int) override { return -EBADF; }
  int Install(int) override { return -EBADF; }
};

class CountingExecutor final : public proxy::Executor {
 public:
  proxy::Reply Execute(const proxy::Call&, proxy::TargetMemory&, proxy::TargetFiles&) override {
    ++calls;
    return proxy::Reply{.value = 7};
  }
  int calls = 0;
};

const abi::Table& Table() { return *abi::TableForVersion("580.159.04"); }

caps::CapSet Compute() { return *caps::Resolve("compute", caps::CapSet::Everything()); }

// NV_ESC_RM_ALLOC of `params` (short form) on nvidiactl, the workload being this process.
proxy::Call AllocCall(nv::NVOS21_PARAMETERS& params) {
  return proxy::Call{.fd = -1,
                     .device = abi::DeviceKind::kCtl,
                     .request = _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nv::kEscRmAlloc, sizeof params),
                     .arg = reinterpret_cast<std::uintptr_t>(&params),
                     .pid = 1,
                     .tid = 1};
}

TEST(ObserveOnly, WithoutAFallbackTheKernelAnswersAndTheInnerCommandIsDecided) {
  nv::NVOS21_PARAMETERS params{};
  params.hClass = 0xb8b0;  // NVB8B0_VIDEO_DECODER: video's, refused under compute
  proxy::SelfMemory memory;
  NoFiles files;
  CallCollector collector(Table());
  ObserveOnlyExecutor executor(Table(), Compute(), collector, nullptr);

  proxy::Reply reply = executor.Execute(AllocCall(params), memory, files);
  EXPECT_TRUE(reply.run_natively);
  EXPECT_FALSE(reply.denied) << "nothing is refused";

  std::vector<TracedCall> calls = collector.Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request_name, "NV_ESC_RM_ALLOC");
  EXPECT_EQ(calls[0].name, "NVB8B0_VIDEO_DECODER");
  EXPECT_FALSE(calls[0].allowed) << "what nvgate run --caps compute would decide";
  EXPECT_EQ(calls[0].reason, Reason::kMissingCapability);
  EXPECT_FALSE(calls[0].driver_return) << "the kernel's answer is not seen";
}

TEST(ObserveOnly, WithAFallbackItAnswersAndItsAnswerIsRecorded) {
  nv::NVOS21_PARAMETERS params{};
  params.hClass = 0xb8b0;
  proxy::SelfMemory memory;
  NoFiles files;
  CallCollector collector(Table());
  CountingExecutor fallback;
  ObserveOnlyExecutor executor(Table(), Compute(), collector, &fallback);

  proxy::Reply reply = executor.Execute(AllocCall(params), memory, files);
  EXPECT_FALSE(reply.run_natively);
  EXPECT_EQ(reply.value, 7);
  EXPECT_EQ(fallback.calls, 1);
  std::vector<TracedCall> calls = collector.Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].value, 7);
  EXPECT_EQ(calls[0].name, "NVB8B0_VIDEO_DECODER");
}

TEST(ObserveOnly, ARequestWithoutATableRowIsRecordedAsUnknownAndStillRuns) {
  proxy::SelfMemory memory;
  NoFiles files;
  CallCollector collector(Table());
  ObserveOnlyExecutor executor(Table(), Compute(), collector, nullptr);
  proxy::Call call{.fd = -1,
                   .device = abi::DeviceKind::kCtl,
                   .request = _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, 0xfe, 8),
                   .arg = 0,
                   .pid = 1};
  EXPECT_TRUE(executor.Execute(call, memory, files).run_natively);
  std::vector<TracedCall> calls = collector.Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].allowed);
  EXPECT_EQ(calls[0].reason, Reason::kUnknown);
}

}  // namespace
}  // namespace nvgate::trace
