// `nvgate run --backend sim` end to end: real filter, real notifications, real
// fds, real programs; the simulated driver stands in for the GPU.
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"
#include "tools/nvprobe/in_process_sim.h"

namespace nvgate {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

testing::ProgramResult RunUnder(const std::string& caps, std::vector<std::string> command,
                                std::vector<std::string> extra_flags = {}) {
  std::vector<std::string> argv = {NVGATE_BINARY, "run", "--backend", "sim", "--caps", caps};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return testing::RunProgram(argv);
}

testing::ProgramResult Workload(const std::string& caps, std::vector<std::string> args,
                                std::vector<std::string> extra_flags = {}) {
  args.insert(args.begin(), WORKLOAD_BINARY);
  return RunUnder(caps, args, extra_flags);
}

TEST(Run, ExitStatusIsTheCommands) {
  EXPECT_EQ(Workload("compute", {"exit-code", "7"}).status, 7);
  EXPECT_EQ(Workload("compute", {"exit-code", "0"}).status, 0);
  EXPECT_EQ(RunUnder("compute", {"/nonexistent/program"}).status, 127);
}

TEST(Run, TrappedCallIsExecutedBySupervisor) {
  // Under the sim, /dev/nvidiactl is a plain file: only nvgate can answer.
  auto r = Workload("compute", {"version"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("version=ok:580.159.04"));
}

// docs/security.md, invariant 2: the frontend decodes only nr and size.
TEST(Run, TypeDirectionAndUpperBitsDoNotBypass) {
  auto r = Workload("compute", {"request-bits"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("other_type=ok:580.159.04"));
  EXPECT_THAT(r.out, HasSubstr("upper_bits=ok:580.159.04"));
}

// docs/security.md, invariant 3: a trapped call on another file is refused, never continued.
TEST(Run, TrappedRequestOnOtherFileIsRefusedUntrappedWorks) {
  auto r = Workload("compute", {"not-nvidia"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("nvidia_request_on_dev_null=ENOTTY"));
  EXPECT_THAT(r.out, HasSubstr("fionread_on_pipe=ok"));
}

// docs/security.md, invariant 7.
TEST(Run, WorkloadCannotReachTheSupervisor) {
  auto r = Workload("compute", {"escape-syscalls"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ptrace=EPERM"));
  EXPECT_THAT(r.out, HasSubstr("pidfd_getfd=EPERM"));
  EXPECT_THAT(r.out, HasSubstr("io_uring_setup=ENOSYS"));
}

TEST(Run, CapabilitySetsAllowExactlyTheirClasses) {
  // compute class, video decoder, 3D class on the simulated Hopper GPU, under
  // the subdevice: a class the set allows reaches the driver, which answers
  // that it needs a channel (NV_ERR_INVALID_OBJECT_PARENT 0x36); any other is
  // nvgate's NV_ERR_INVALID_CLASS (0x22).
  const std::vector<std::string> classes = {"alloc", "cbc0", "b8b0", "cb97"};
  auto compute = Workload("compute", classes);
  ASSERT_EQ(compute.status, 0) << compute.err;
  EXPECT_THAT(compute.out, HasSubstr("device=0x0"));
  EXPECT_THAT(compute.out, HasSubstr("class_0xcbc0=0x36"));
  EXPECT_THAT(compute.out, HasSubstr("class_0xb8b0=0x22"));
  EXPECT_THAT(compute.out, HasSubstr("class_0xcb97=0x22"));
  EXPECT_THAT(compute.err, HasSubstr("video: NVB8B0_VIDEO_DECODER (alloc 0xb8b0) denied; enable "
                                     "with NVIDIA_DRIVER_CAPABILITIES=compute,video"));
  EXPECT_THAT(compute.err, HasSubstr("graphics: HOPPER_A (alloc 0xcb97) denied"));

  auto video = Workload("video", classes);
  ASSERT_EQ(video.status, 0) << video.err;
  EXPECT_THAT(video.out, HasSubstr("device=0x0")) << "the base tier gives video a device";
  EXPECT_THAT(video.out, HasSubstr("class_0xb8b0=0x36"));
  EXPECT_THAT(video.out, HasSubstr("class_0xcbc0=0x22"));

  auto graphics = Workload("graphics", classes);
  ASSERT_EQ(graphics.status, 0) << graphics.err;
  EXPECT_THAT(graphics.out, HasSubstr("class_0xcb97=0x36"));
  EXPECT_THAT(graphics.out, HasSubstr("class_0xb8b0=0x22"));
}

TEST(Run, UvmNeedsComputeAndHidesSharingMode) {
  auto compute = Workload("compute", {"uvm"});
  ASSERT_EQ(compute.status, 0) << compute.err;
  EXPECT_THAT(compute.out, HasSubstr("uvm_initialize=ok status=0x0 flags=0x0"));
  // Without compute the private /dev has no UVM node at all, and the
  // supervisor refuses an open of its path with a denial line naming compute.
  auto utility = Workload("utility", {"uvm"});
  EXPECT_THAT(utility.out, HasSubstr("open_/dev/nvidia-uvm=Permission denied"));
  EXPECT_THAT(utility.err, HasSubstr("compute: open /dev/nvidia-uvm (uvm 0x0) denied"));
}

TEST(Run, ForeignClientIsRefused) {
  auto r = Workload("compute", {"foreign-client"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("control_on_foreign_client=0x23"));
}

TEST(Run, MultiThreadedWorkloadIsServed) {
  auto r = Workload("compute", {"threads"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("threads_ok=1600"));
}

TEST(Run, ForkedChildrenAreCovered) {
  auto r = Workload("compute", {"fork"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("child_version=ok:580.159.04"));
  EXPECT_THAT(r.out, HasSubstr("parent_version=ok:580.159.04"));
}

TEST(Run, OpenCloseChurn) {
  auto r = Workload("compute", {"churn", "10000"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("churn_ok=10000"));
}

// The README's demo: nvprobe's driver-level steps, by capability set.
// nvprobe's results by step; it exits 1 when a step failed.
std::map<std::string, std::string> Nvprobe(const std::string& caps, int expected_status = 0) {
  auto r = RunUnder(caps, {NVPROBE_BINARY, "--json"});
  EXPECT_EQ(r.status, expected_status) << r.err;
  std::map<std::string, std::string> results;
  for (const auto& step : nlohmann::json::parse(r.out)) {
    std::string name = step["step"];
    results[name.substr(0, name.find(" 0x"))] = step["result"];
  }
  return results;
}

// nvprobe follows CUDA's order (GPU file opened and linked to nvidiactl before
// the device, UVM registration, a mapping the process mmaps itself) and passes
// the driver's rules on who is calling: under nvgate, where the supervisor
// makes every call, exactly as natively against the same rules.
TEST(Run, NvprobeFollowsCudasOrderUnderTheDriversCallerRules) {
  auto under_nvgate = Nvprobe("all");
  nvprobe::InProcessSim sim;
  std::vector<nvprobe::Step> steps;
  EXPECT_EQ(nvprobe::RunProbe(sim.Ops(), {.json = true}, steps), 0);
  std::map<std::string, std::string> natively;
  for (const nvprobe::Step& step : steps) natively[step.step.substr(0, step.step.find(" 0x"))] = step.result;
  EXPECT_EQ(under_nvgate, natively);
  for (const auto& [step, result] : under_nvgate) EXPECT_EQ(result, "ok") << step;
  EXPECT_EQ(under_nvgate["device"], "ok");
  EXPECT_EQ(under_nvgate["UVM register GPU"], "ok");
  EXPECT_EQ(under_nvgate["system memory mmapped and written"], "ok");
}

TEST(Run, NvprobeUnderCompute) {
  auto r = Nvprobe("compute");
  EXPECT_EQ(r["root client"], "ok");
  EXPECT_EQ(r["card info"], "ok");
  EXPECT_EQ(r["GR GPFIFO channel"], "ok");
  EXPECT_EQ(r["compute class"], "ok");
  EXPECT_EQ(r["UVM initialize"], "ok");
  EXPECT_EQ(r["system memory 1 MiB"], "ok");
  EXPECT_EQ(r["NVDEC GPFIFO channel"], "ok") << "channels serve every engine";
  EXPECT_EQ(r["video decoder"], "refused");
  EXPECT_EQ(r["3D class"], "refused");
  EXPECT_EQ(r["free client"], "ok");
}

// Channel groups and channels serve every engine: under video alone nvprobe's
// video objects get their channels and are made; compute's and graphics' own
// classes are refused.
TEST(Run, NvprobeUnderVideo) {
  auto r = Nvprobe("video");
  EXPECT_EQ(r["root client"], "ok");
  EXPECT_EQ(r["NVDEC channel group"], "ok");
  EXPECT_EQ(r["video decoder"], "ok");
  EXPECT_EQ(r["JPEG decoder (NVJPG)"], "ok");
  EXPECT_EQ(r["compute class"], "refused");
  EXPECT_EQ(r["3D class"], "refused");
  EXPECT_EQ(r.count("UVM initialize"), 0u) << "no UVM node without compute";
}

// Compute and video together: every video object on a channel of its engine.
TEST(Run, NvprobeUnderComputeAndVideo) {
  auto r = Nvprobe("compute,video");
  EXPECT_EQ(r["video decoder"], "ok");
  EXPECT_EQ(r["JPEG decoder (NVJPG)"], "ok");
  EXPECT_EQ(r["optical flow (OFA)"], "ok");
  EXPECT_EQ(r["3D class"], "refused");
}

TEST(Run, NvprobeUnderUtility) {
  auto r = Nvprobe("utility");
  EXPECT_EQ(r["GPU info (NVML)"], "ok");
  EXPECT_EQ(r["GPU name NVIDIA H100 80GB HBM3 (nvgate sim)"], "ok");
  EXPECT_EQ(r["GR GPFIFO channel"], "refused");
  EXPECT_EQ(r["compute class"], "refused");
}

// Issue 17: host-memory pinning runs in the workload's own memory. nvprobe
// pins 64 MiB of its malloc'd memory under compute, writes a pattern through
// it and frees it; the sim's notes show the pin taken from the memory of the
// thread that made the call, not the supervisor's, and, read through the pin
// at the free, the workload's pattern.
TEST(Run, PageableMemoryIsPinnedInTheWorkloadsOwnMemory) {
  std::filesystem::path log = std::filesystem::temp_directory_path() / "nvgate-pin-test.calls";
  std::filesystem::remove(log);
  auto r = RunUnder("compute", {NVPROBE_BINARY}, {"--sim-call-log", log.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pageable memory pinned (64 MiB)          ok"));
  EXPECT_THAT(r.out, HasSubstr("pinned memory released                   ok"));
  std::ifstream in(log);
  std::string pin;
  std::string call;
  std::string unpin;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("pin ")) pin = line;
    if (line.find("alloc_memory class=0x71") != std::string::npos) call = line;
    if (line.starts_with("unpin ")) unpin = line;
  }
  ASSERT_THAT(call, HasSubstr(" in_caller tid="));
  std::string tid = call.substr(call.find(" in_caller tid=") + 15);
  tid = tid.substr(0, tid.find(' '));
  // nvprobe is single-threaded: its tid is its pid.
  EXPECT_THAT(pin, HasSubstr("pin pid=" + tid + " "));
  EXPECT_THAT(pin, HasSubstr("bytes=0x4000000 writable=1"));
  EXPECT_THAT(unpin, HasSubstr("unpin pid=" + tid + " "));
  EXPECT_THAT(unpin, HasSubstr(fmt::format("fnv={:#018x}", nvprobe::PinnedCopyDigest())));
}

// Without compute the pin is refused before anything runs, with a denial line
// naming compute.
TEST(Run, PinningNeedsCompute) {
  auto r = RunUnder("utility", {NVPROBE_BINARY});
  EXPECT_THAT(r.out, HasSubstr("pageable memory pinned (64 MiB)          refused"));
  EXPECT_THAT(r.err, HasSubstr("compute: NV01_MEMORY_SYSTEM_OS_DESCRIPTOR (alloc_memory 0x71) denied"));
}

// Issue 22: a workload whose 100 children make the same refused call gets one
// line for it on stderr, however many processes make it, and a count at exit;
// the --log-denials file gets them all, and --log-denials all puts them all on
// stderr.
TEST(Run, DenialsOncePerCallOnStderrWithACountAndEveryOneOnRequest) {
  std::filesystem::path log = std::filesystem::temp_directory_path() / "nvgate-denials-test.log";
  std::filesystem::remove(log);
  const std::string children =
      std::string("i=0; while [ $i -lt 100 ]; do ") + WORKLOAD_BINARY + " alloc b8b0 || exit 1; i=$((i+1)); done";
  auto r = RunUnder("compute", {"/bin/sh", "-c", children}, {"--log-denials", log.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 100) << s;
  EXPECT_THAT(s, HasSubstr("NVB8B0_VIDEO_DECODER"));

  auto count = [](const std::string& err, const std::string& what) {
    std::istringstream lines(err);
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(what) != std::string::npos;
    return n;
  };
  EXPECT_EQ(count(r.err, "denied: "), 1) << r.err;
  EXPECT_EQ(count(r.err, "denials: "), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("NVB8B0_VIDEO_DECODER (alloc 0xb8b0, video) denied 100 times in all, in 100 "
                               "processes; only the first was logged"));

  auto every = RunUnder("compute", {"/bin/sh", "-c", children}, {"--log-denials", "all"});
  ASSERT_EQ(every.status, 0) << every.err;
  EXPECT_EQ(count(every.err, "denied: "), 100) << every.err;
  EXPECT_EQ(count(every.err, "denials: "), 0) << every.err;
}

TEST(Run, DenialsAsJsonLinesForMachines) {
  auto r = Workload("compute", {"alloc", "b8b0"}, {"--log-format", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream err(r.err);
  int denials = 0;
  for (std::string line; std::getline(err, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto object = nlohmann::json::parse(line);
    EXPECT_EQ(object["event"], "denied");
    EXPECT_EQ(object["level"], "alloc");
    EXPECT_EQ(object["key"], "0xb8b0");
    EXPECT_GT(object["pid"].get<int>(), 0);
    EXPECT_THAT(object["message"].get<std::string>(), HasSubstr("enable with NVIDIA_DRIVER_CAPABILITIES"));
    ++denials;
  }
  EXPECT_EQ(denials, 1) << r.err;
}

// GPU selection on a simulated two-GPU machine (docs/security.md, "GPU
// selection"): the sim's GPU 0 is gpuId 0x100, GPU 1 gpuId 0x101.
constexpr const char* kSimGpu1Uuid = "GPU-6e766761-7465-2d73-696d-000000000001";

testing::ProgramResult OnTwoGpus(const std::string& gpu, std::vector<std::string> flags,
                                 const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {NVGATE_BINARY, "run", "--backend", "sim", "--sim-gpus", "2", "--caps", "compute"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"--", WORKLOAD_BINARY, "gpu", gpu});
  return testing::RunProgram(argv, env);
}

void ExpectOnlyGpu1(const testing::ProgramResult& on0, const testing::ProgramResult& on1) {
  ASSERT_EQ(on0.status, 0) << on0.err;
  EXPECT_THAT(on0.out, HasSubstr("nodes=nvidia-uvm,nvidia1,nvidiactl\n"));
  EXPECT_THAT(on0.out, HasSubstr("open_gpu=ENOENT"));
  // RM's answer for a GPU its caller may not use: NV_ERR_INSUFFICIENT_PERMISSIONS.
  EXPECT_THAT(on0.out, HasSubstr("device=0x1b"));
  EXPECT_THAT(on0.out, HasSubstr("id_info=0x1b"));
  EXPECT_THAT(on0.out, HasSubstr("attach=EINVAL"));
  EXPECT_THAT(on0.out, HasSubstr("uvm_register=EINVAL"));
  EXPECT_THAT(on0.err, HasSubstr("gpu: NV01_DEVICE_0 names GPU 0 (GPU-6e766761-7465-2d73-696d-000000000000), "
                                 "outside this workload's GPUs (1); denied"));
  EXPECT_THAT(on0.err, HasSubstr("gpu: NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2 names GPU 0"));
  EXPECT_THAT(on0.err, HasSubstr("gpu: NV_ESC_ATTACH_GPUS_TO_FD names GPU 0"));
  EXPECT_THAT(on0.err, HasSubstr("gpu: UVM_REGISTER_GPU names GPU 0"));

  ASSERT_EQ(on1.status, 0) << on1.err;
  EXPECT_THAT(on1.out, Not(HasSubstr("open_gpu=")));
  EXPECT_THAT(on1.out, HasSubstr("device=0x0"));
  EXPECT_THAT(on1.out, HasSubstr("id_info=0x0"));
  EXPECT_THAT(on1.out, HasSubstr("attach=ok"));
  EXPECT_THAT(on1.out, HasSubstr("uvm_register=ok status=0x0"));
  EXPECT_THAT(on1.err, Not(HasSubstr("gpu: ")));
}

TEST(Run, GpuSelectedByIndexLeavesTheOtherOut) {
  ExpectOnlyGpu1(OnTwoGpus("0", {"--gpus", "1"}), OnTwoGpus("1", {"--gpus", "1"}));
}

TEST(Run, GpuSelectedByUuidLeavesTheOtherOut) {
  ExpectOnlyGpu1(OnTwoGpus("0", {"--gpus", kSimGpu1Uuid}), OnTwoGpus("1", {"--gpus", kSimGpu1Uuid}));
}

TEST(Run, GpuSelectedByNvidiaVisibleDevices) {
  ExpectOnlyGpu1(OnTwoGpus("0", {}, {"NVIDIA_VISIBLE_DEVICES=1"}), OnTwoGpus("1", {}, {"NVIDIA_VISIBLE_DEVICES=1"}));
}

TEST(Run, EveryGpuByDefault) {
  auto r = OnTwoGpus("0", {});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("nodes=nvidia-uvm,nvidia0,nvidia1,nvidiactl\n"));
  EXPECT_THAT(r.out, HasSubstr("device=0x0"));
  EXPECT_THAT(r.out, HasSubstr("uvm_register=ok status=0x0"));
}

// The toolkit's "none": the driver's control node, no GPU; "void": as if no
// NVIDIA runtime were used, no NVIDIA node at all.
TEST(Run, GpusNoneAndVoidAreTheToolkits) {
  auto none = OnTwoGpus("0", {"--gpus", "none"});
  ASSERT_EQ(none.status, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("nodes=nvidia-uvm,nvidiactl\n"));
  EXPECT_THAT(none.out, HasSubstr("device=0x1b"));
  EXPECT_THAT(none.err, HasSubstr("gpu: NV01_DEVICE_0 names GPU 0 (GPU-6e766761-7465-2d73-696d-000000000000), "
                                  "outside this workload's GPUs (none); denied"));
  auto void_run = OnTwoGpus("0", {}, {"NVIDIA_VISIBLE_DEVICES=void"});
  ASSERT_EQ(void_run.status, 0) << void_run.err;
  EXPECT_THAT(void_run.out, HasSubstr("nodes=\n"));
  auto empty = OnTwoGpus("0", {"--gpus", ""});
  ASSERT_EQ(empty.status, 0) << empty.err;
  EXPECT_THAT(empty.out, HasSubstr("nodes=\n"));
}

TEST(Run, GpuSelectionOutsideTheBoundIsRefusedAtStart) {
  auto outside = OnTwoGpus("0", {"--gpus", "0", "--allowed-gpus", "1"});
  EXPECT_EQ(outside.status, 125);
  EXPECT_THAT(outside.err, HasSubstr("--gpus: GPU '0' (GPU 0, GPU-6e766761-7465-2d73-696d-000000000000) is outside "
                                     "the operator's bound on GPUs (1"));
  EXPECT_THAT(outside.out, Not(HasSubstr("nodes=")));
  auto by_env = OnTwoGpus("0", {"--allowed-gpus", kSimGpu1Uuid}, {"NVIDIA_VISIBLE_DEVICES=0,1"});
  EXPECT_EQ(by_env.status, 125);
  EXPECT_THAT(by_env.err, HasSubstr("NVIDIA_VISIBLE_DEVICES: GPU '0' (GPU 0,"));
  auto unknown = OnTwoGpus("0", {"--gpus", "2"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_THAT(unknown.err, HasSubstr("'2' names no GPU"));
  auto mig = OnTwoGpus("0", {"--gpus", "0:1"});
  EXPECT_EQ(mig.status, 125);
  EXPECT_THAT(mig.err, HasSubstr("MIG device"));
  // "all" is every GPU of the bound.
  auto all = OnTwoGpus("0", {"--gpus", "all", "--allowed-gpus", "1"});
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr("nodes=nvidia-uvm,nvidia1,nvidiactl\n"));
  EXPECT_THAT(all.out, HasSubstr("device=0x1b"));
}

}  // namespace
}  // namespace nvgate
