// The replay backend behind the real proxy: the committed trace of nvprobe is
// executed again call by call, with the "workload's" memory serving what the
// trace recorded the workload to have, at the recorded addresses or moved.
#include "trace/replay_backend.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/nv_structs.h"
#include "backend/backend.h"
#include "proxy/memory_fakes.h"
#include "proxy/proxy.h"

namespace nvgate::trace {
namespace {

using ::testing::HasSubstr;

const std::string kCommittedTrace =
    std::string(NVGATE_SOURCE_DIR) + "/tests/data/traces/nvprobe-sim-compute.trace";

Trace CommittedTrace() { return ReadTraceFile(kCommittedTrace).value(); }

class NullFiles : public proxy::TargetFiles {
 public:
  // This process holds its own files: nothing to add for the driver to see.
  int HoldCallerGpuFiles(std::vector<fd::OwnedFd>&) override { return 0; }
  int Duplicate(int) override { return ::open("/dev/null", O_RDWR | O_CLOEXEC); }
  int Install(int fd) override { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }
  // The test is its own caller: the replayed driver answers the call in place.
  proxy::CallerRun RunInCaller(const proxy::Call& call, backend::Backend& backend, std::span<const std::byte> checked,
                               std::span<std::byte> result) override {
    return proxy::RunOnTheCheckedCopy(call, backend, checked, result);
  }
};

// The trace as another run of the same program would have it: every address
// moved by `delta`, the nested-parameter pointers of controls and allocs too.
Trace Moved(Trace trace, std::uint64_t delta) {
  for (TracedCall& c : trace.calls) {
    const std::uint64_t top_addr = c.in.front().addr;
    for (auto* copies : {&c.in, &c.out}) {
      for (proxy::MemoryCopy& copy : *copies) {
        const bool top = copy.addr == top_addr;
        copy.addr += delta;
        const bool nested_pointer = c.request_key == nv::kEscRmControl || c.request_key == nv::kEscRmAlloc;
        if (top && nested_pointer && c.device == abi::DeviceKind::kCtl) {
          // NVOS54.params and NVOS21.pAllocParms both sit at offset 16.
          std::uint64_t pointer;
          std::memcpy(&pointer, copy.bytes.data() + 16, sizeof pointer);
          if (pointer != 0) pointer += delta;
          std::memcpy(copy.bytes.data() + 16, &pointer, sizeof pointer);
        }
      }
    }
  }
  return trace;
}

class ReplayBackendTest : public ::testing::Test {
 protected:
  ReplayBackendTest() : denials_([this](const policy::Denial& d) { denied_.push_back(d.line); }) {}

  // Proxy and backend for `recorded`, answering from `answers`.
  void Start(const Trace& answers, caps::CapSet caps) {
    backend_ = ReplayBackend::FromTrace(answers).value();
    proxy_ = std::make_unique<proxy::Proxy>(*abi::TableForVersion(answers.header.driver_version), caps,
                                            *backend_, denials_);
  }

  // Executes call `c` as the workload made it; returns the reply and what was
  // written back to the workload.
  // A call refused when recorded has only its top-level parameters in the
  // trace: with `zeros`, what else the proxy reads now is zero.
  std::pair<proxy::Reply, std::vector<proxy::MemoryCopy>> Execute(const TracedCall& c, bool zeros = false) {
    proxy::RecordedMemory memory(c.in, zeros);
    proxy::Call call{.fd = -1,
                     .device = c.device,
                     .request = c.request,
                     .arg = c.in.empty() ? 0 : c.in.front().addr,
                     .pid = 1};
    proxy::Reply reply = proxy_->Execute(call, memory, files_);
    return {reply, std::move(memory.writes)};
  }

  void ExpectSameAsRecorded(const Trace& trace) {
    for (const TracedCall& c : trace.calls) {
      auto [reply, writes] = Execute(c);
      EXPECT_EQ(reply.value, c.value) << "seq " << c.seq;
      EXPECT_EQ(reply.error, c.error) << "seq " << c.seq;
      ASSERT_EQ(writes.size(), c.out.size()) << "seq " << c.seq;
      for (std::size_t i = 0; i < writes.size(); ++i) {
        EXPECT_EQ(writes[i].addr, c.out[i].addr) << "seq " << c.seq;
        EXPECT_EQ(writes[i].bytes, c.out[i].bytes) << "seq " << c.seq << " write " << i;
      }
    }
  }

  policy::DenialLog denials_;
  std::vector<std::string> denied_;
  NullFiles files_;
  std::unique_ptr<ReplayBackend> backend_;
  std::unique_ptr<proxy::Proxy> proxy_;
};

TEST_F(ReplayBackendTest, AnswersEveryCallAsTheRecordingDriverDid) {
  Trace trace = CommittedTrace();
  Start(trace, trace.header.caps);
  ExpectSameAsRecorded(trace);
  EXPECT_EQ(backend_->Outcome(), std::nullopt);
  EXPECT_EQ(denied_.size(), 4u) << "the proxy refuses what it refused when recording";
  EXPECT_EQ(backend_->DriverVersion().value(), "580.159.04");
}

TEST_F(ReplayBackendTest, OutputsGoToTheWorkloadsBuffersWhereverTheyAre) {
  // Recorded at one set of addresses, executed at another: outputs are mapped
  // by role (the call's parameters, its nested parameters), not by address.
  Trace trace = CommittedTrace();
  Trace moved = Moved(trace, 0x10000);
  Start(trace, trace.header.caps);
  ExpectSameAsRecorded(moved);
  EXPECT_EQ(backend_->Outcome(), std::nullopt);
}

TEST_F(ReplayBackendTest, ACallOutOfOrderFailsWithEioAndNamesBoth) {
  Trace trace = CommittedTrace();
  Start(trace, trace.header.caps);
  Execute(trace.calls[0]);
  auto [reply, writes] = Execute(trace.calls[2]);
  EXPECT_EQ(reply.error, EIO);
  auto problem = backend_->Outcome();
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, HasSubstr("call 2: expected seq 1 nvidiactl frontend 0xc8 NV_ESC_CARD_INFO, 2304 bytes, "
                                  "got nvidiactl alloc 0x41 NV01_ROOT_CLIENT via NV_ESC_RM_ALLOC, 32 bytes"));
  // Off track: nothing more is answered, not even the expected call.
  EXPECT_EQ(Execute(trace.calls[1]).first.error, EIO);
  EXPECT_THAT(*backend_->Outcome(), HasSubstr("call 2:")) << "the first divergence is the one reported";
}

TEST_F(ReplayBackendTest, DifferentInputFailsAndNamesTheByte) {
  Trace trace = CommittedTrace();
  Start(trace, trace.header.caps);
  for (std::size_t i = 0; i < 6; ++i) Execute(trace.calls[i]);
  TracedCall device = trace.calls[6];  // NV01_DEVICE_0: its nested NV0080_ALLOC_PARAMETERS
  device.in[1].bytes[0] = std::byte{0x7};
  auto [reply, writes] = Execute(device);
  EXPECT_EQ(reply.error, EIO);
  EXPECT_THAT(backend_->Outcome().value(),
              HasSubstr("call 7: seq 6 nvidiactl alloc 0x80 NV01_DEVICE_0 via NV_ESC_RM_ALLOC, 32 bytes: byte 0 of its "
                        "alloc parameters differs: expected 0x00, got 0x07"));
}

TEST_F(ReplayBackendTest, ACallRefusedWhenRecordedHasNoAnswer) {
  Trace trace = CommittedTrace();
  // Video is granted now: the decoder alloc reaches the backend.
  Start(trace, caps::Resolve("compute,video", caps::CapSet::Everything()).value());
  for (std::size_t i = 0; i < 31; ++i) Execute(trace.calls[i]);
  auto [reply, writes] = Execute(trace.calls[31], /*zeros=*/true);
  EXPECT_EQ(reply.error, EIO);
  EXPECT_THAT(backend_->Outcome().value(),
              HasSubstr("call 32: expected seq 32 nvidiactl alloc 0xa06c KEPLER_CHANNEL_GROUP_A via NV_ESC_RM_ALLOC, "
                        "32 bytes, got nvidiactl alloc 0xb8b0 NVB8B0_VIDEO_DECODER via NV_ESC_RM_ALLOC, 32 bytes; the "
                        "trace has this call at seq 31, refused when it was recorded under compute"));
}

TEST_F(ReplayBackendTest, MoreCallsThanTheTraceHasFail) {
  Trace trace = CommittedTrace();
  Start(trace, trace.header.caps);
  ExpectSameAsRecorded(trace);
  EXPECT_EQ(Execute(trace.calls[0]).first.error, EIO);
  EXPECT_THAT(backend_->Outcome().value(),
              HasSubstr("call 37: the trace has no more driver calls for this thread (all 36 of recorded thread "));
  EXPECT_THAT(backend_->Outcome().value(), HasSubstr("were answered), got nvidiactl frontend 0xd2 NV_ESC_CHECK_VERSION_STR"));
}

TEST_F(ReplayBackendTest, CallsNeverMadeAreReported) {
  Trace trace = CommittedTrace();
  Start(trace, trace.header.caps);
  Execute(trace.calls[0]);
  EXPECT_THAT(backend_->Outcome().value(),
              HasSubstr("the workload made 1 calls; 35 more recorded driver calls were never made, the first seq 1 "
                        "nvidiactl frontend 0xc8 NV_ESC_CARD_INFO"));
}

// A workload in this process (its pointers are ours): a client, a device, a
// subdevice, and NV2080_CTRL_CMD_GR_GET_INFO, whose nested parameters point at
// a list (an `inout:` layout item) the driver fills in.
struct GrInfoWorkload {
  nv::NvHandle client = 0;
  nv::NVOS21_PARAMETERS alloc{};
  nv::NV0080_ALLOC_PARAMETERS device{};
  nv::NV2080_ALLOC_PARAMETERS subdevice{};
  nv::NVOS54_PARAMETERS control{};
  nv::NV2080_CTRL_GR_GET_INFO_PARAMS gr{};
  nv::NV2080_CTRL_GPU_INFO list[2]{};

  // Each call's ioctl error and NV_STATUS. `ctl` is the file the calls are made
  // on (a driver's nvidiactl; the replay backend does not look at it).
  std::vector<std::pair<int, nv::NvV32>> Run(proxy::Proxy& proxy, nv::NvU32 first_index, int tid = 1, int ctl = -1) {
    std::vector<std::pair<int, nv::NvV32>> results;
    NullFiles files;
    auto execute = [&](std::uint32_t nr, std::uint32_t size, void* arg, const nv::NvV32& status) {
      proxy::SelfMemory memory;
      proxy::Call call{.fd = ctl,
                       .device = abi::DeviceKind::kCtl,
                       .request = _IOC(_IOC_READ | _IOC_WRITE, nv::kIoctlMagic, nr, size),
                       .arg = reinterpret_cast<std::uintptr_t>(arg),
                       .pid = 1,
                       .tid = tid};
      results.emplace_back(proxy.Execute(call, memory, files).error, status);
    };
    auto rm_alloc = [&](nv::NvHandle parent, nv::NvHandle handle, nv::NvV32 cls, void* params, nv::NvU32 size) {
      alloc = {.hRoot = client, .hObjectParent = parent, .hObjectNew = handle, .hClass = cls,
               .pAllocParms = reinterpret_cast<std::uintptr_t>(params), .paramsSize = size, .status = 0};
      execute(nv::kEscRmAlloc, sizeof alloc, &alloc, alloc.status);
    };
    rm_alloc(0, 0, nv::kNv01RootClient, &client, sizeof client);
    client = alloc.hObjectNew;
    rm_alloc(client, 0x5c000001, nv::kNv01Device0, &device, sizeof device);
    rm_alloc(0x5c000001, 0x5c000002, nv::kNv20Subdevice0, &subdevice, sizeof subdevice);
    list[0].index = first_index;
    list[1].index = nv::kNv0080CtrlGrInfoIndexLitterNumGpcs;
    gr.grInfoListSize = 2;
    gr.grInfoList = reinterpret_cast<std::uintptr_t>(list);
    control = {.hClient = client, .hObject = 0x5c000002, .cmd = nv::kNv2080CtrlCmdGrGetInfo, .flags = 0,
               .params = reinterpret_cast<std::uintptr_t>(&gr), .paramsSize = sizeof gr, .status = 0};
    execute(nv::kEscRmControl, sizeof control, &control, control.status);
    return results;
  }

};

// The workloads run one after the other on the simulated driver, each in a
// thread of its own (tids 1, 2, ...), traced with parameters.
Trace RecordGrInfo(std::initializer_list<GrInfoWorkload*> workloads) {
  const abi::Table& table = *abi::TableForVersion("580.159.04");
  auto sim = backend::MakeSimBackend({}).value();
  policy::DenialLog denials([](const policy::Denial&) {});
  const caps::CapSet compute = caps::Resolve("compute", caps::CapSet::Everything()).value();
  proxy::Proxy proxy(table, compute, *sim, denials);
  std::stringstream text;
  TraceHeader header;
  header.driver_version = "580.159.04";
  header.backend = "sim";
  header.caps = compute;
  header.allowed_caps = compute;
  header.with_params = true;
  TraceWriter writer(text, header, table);
  proxy.SetObserver(&writer);
  // The sim's files, held as a process using GPU 0 holds them.
  std::vector<int> files;
  int ctl = -1;
  for (const backend::DeviceNode& node : sim->Nodes()) {
    if (node.kind != abi::DeviceKind::kCtl && node.kind != abi::DeviceKind::kGpu) continue;
    files.push_back(::open(node.source_path.c_str(), O_RDWR | O_CLOEXEC));
    if (node.kind == abi::DeviceKind::kCtl) ctl = files.back();
  }
  int tid = 0;
  for (GrInfoWorkload* workload : workloads) workload->Run(proxy, nv::kNv0080CtrlGrInfoIndexSmVersion, ++tid, ctl);
  for (int fd : files) ::close(fd);
  return ReadTrace(text).value();
}

TEST_F(ReplayBackendTest, ListsAreAnsweredIntoTheReplayingWorkloadsOwnList) {
  auto recording = std::make_unique<GrInfoWorkload>();
  Trace trace = RecordGrInfo({recording.get()});
  ASSERT_EQ(recording->control.status, nv::kNvOk);
  ASSERT_EQ(recording->list[0].data, nv::kNv2080CtrlGrInfoSmVersion9_00);

  // Another instance: every buffer at another address.
  auto replaying = std::make_unique<GrInfoWorkload>();
  Start(trace, trace.header.caps);
  auto results = replaying->Run(*proxy_, nv::kNv0080CtrlGrInfoIndexSmVersion);
  for (const auto& [error, status] : results) {
    EXPECT_EQ(error, 0);
    EXPECT_EQ(status, nv::kNvOk);
  }
  EXPECT_EQ(replaying->client, recording->client);
  EXPECT_EQ(replaying->list[0].data, recording->list[0].data);
  EXPECT_EQ(replaying->list[1].data, recording->list[1].data);
  EXPECT_EQ(replaying->list[1].data, 8u);
  EXPECT_EQ(replaying->gr.grInfoList, reinterpret_cast<std::uintptr_t>(replaying->list))
      << "the workload's own pointer, not the recording's";
  EXPECT_EQ(backend_->Outcome(), std::nullopt);
}

TEST_F(ReplayBackendTest, AListAskingForOtherDataDiverges) {
  GrInfoWorkload recording;
  Trace trace = RecordGrInfo({&recording});
  GrInfoWorkload replaying;
  Start(trace, trace.header.caps);
  auto results = replaying.Run(*proxy_, nv::kNv0080CtrlGrInfoIndexLitterNumGpcs);
  EXPECT_EQ(results.back().first, EIO);
  EXPECT_THAT(backend_->Outcome().value(),
              HasSubstr("call 4: seq 3 nvidiactl control 0x20801201 NV2080_CTRL_CMD_GR_GET_INFO via "
                        "NV_ESC_RM_CONTROL, 32 bytes: byte 0 of its grInfoList differs: expected 0x0c, got 0x14"));
}

TEST_F(ReplayBackendTest, ThreadsAreMatchedEachInItsOwnOrderHoweverTheyInterleave) {
  GrInfoWorkload first, second;
  Trace trace = RecordGrInfo({&first, &second});
  ASSERT_NE(first.client, second.client);
  Start(trace, trace.header.caps);
  GrInfoWorkload one, other;
  std::vector<std::pair<int, nv::NvV32>> one_results, other_results;
  std::thread a([&] { one_results = one.Run(*proxy_, nv::kNv0080CtrlGrInfoIndexSmVersion, 10); });
  std::thread b([&] { other_results = other.Run(*proxy_, nv::kNv0080CtrlGrInfoIndexSmVersion, 20); });
  a.join();
  b.join();
  for (const auto& results : {one_results, other_results}) {
    for (const auto& [error, status] : results) {
      EXPECT_EQ(error, 0);
      EXPECT_EQ(status, nv::kNvOk);
    }
  }
  EXPECT_THAT((std::set<nv::NvHandle>{one.client, other.client}),
              ::testing::UnorderedElementsAre(first.client, second.client))
      << "each replaying thread got one recorded thread's answers";
  EXPECT_EQ(one.list[0].data, nv::kNv2080CtrlGrInfoSmVersion9_00);
  EXPECT_EQ(backend_->Outcome(), std::nullopt);
}

TEST(ReplayBackend, NeedsATraceWithParameters) {
  Trace trace = CommittedTrace();
  trace.header.with_params = false;
  auto backend = ReplayBackend::FromTrace(trace);
  ASSERT_FALSE(backend);
  EXPECT_THAT(backend.error().message, HasSubstr("recorded without --with-params"));
}

TEST(ReplayBackend, ServesNodesAndTheTracesDriver) {
  auto backend = ReplayBackend::FromTrace(CommittedTrace()).value();
  std::vector<std::string> nodes;
  for (const backend::DeviceNode& node : backend->Nodes()) {
    nodes.push_back(node.dev_path);
    struct stat st;
    ASSERT_EQ(::stat(node.source_path.c_str(), &st), 0) << node.source_path;
    EXPECT_EQ(backend->Classify(st), node.kind);
  }
  EXPECT_THAT(nodes, ::testing::ElementsAre("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                            "/dev/nvidia0"));
  EXPECT_EQ(backend->Name(), "replay");
}

}  // namespace
}  // namespace nvgate::trace
