// Containers run by a real runc, supervised by an `nvgate agent --backend sim`
// the test starts. Most go through the shim (`nvgate-runtime`, configured by
// an [oci-runtime] table, or `nvgate oci runtime` with options), which puts
// the profile into their config.json; the agent-only route, a config.json
// carrying `nvgate oci profile` output written by hand, has its own tests. The
// sim's node files are bind-mounted into each container as /dev/nvidia*.
// Skips when not root or when runc is not installed (scripts/setup-debian.sh
// installs it).
#include "container_fixture.h"

namespace {

using namespace container_tests;  // NOLINT: the fixture and its helpers

TEST_F(ContainerTest, DefaultCapabilitiesAreComputeAndUtility) {
  auto results = Probe("default", {});
  EXPECT_EQ(ResultsFor(results, "base"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "utility"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
  EXPECT_EQ(ResultsFor(results, "graphics"), std::set<std::string>{"refused"});
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container default (pid"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("supervising with capabilities compute,utility (from default)"));
}

// Issue 17 in a real runc container: nvprobe's pageable-copy step pins 64 MiB
// of its malloc'd memory through the agent's supervisor process. The sim
// saw the pin made by the container's own thread, from its own memory, and
// read nvprobe's pattern through it at the free.
TEST_F(ContainerTest, PageableMemoryIsPinnedInTheContainersOwnMemory) {
  auto results = Probe("pinning", {});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  std::stringstream lines(ReadFile(CallLog()));
  std::string pin;
  std::string unpin;
  std::string tid;
  for (std::string line; std::getline(lines, line);) {
    std::size_t at = line.find(" in_caller tid=");
    if (line.find("alloc_memory class=0x71 ") != std::string::npos && at != std::string::npos) {
      tid = line.substr(at + 15, line.find(' ', at + 15) - at - 15);
    }
    if (line.starts_with("pin ")) pin = line;
    if (line.starts_with("unpin ")) unpin = line;
  }
  ASSERT_FALSE(tid.empty()) << "no pin ran in the caller";
  EXPECT_NE(std::stoi(tid), agent_pid_);
  EXPECT_THAT(pin, testing::HasSubstr("pin pid=" + tid + " "));
  EXPECT_THAT(unpin, testing::HasSubstr(fmt::format("fnv={:#018x}", nvprobe::PinnedCopyDigest())));
}

TEST_F(ContainerTest, ComputeOnlyThroughOciRuntimeWithOptions) {
  // The shim as Docker's runtimeArgs call it: nvgate's options, --, runc's arguments.
  fs::path bundle = Bundle("compute", {"/bin/nvprobe", "--json"}, {"NVIDIA_DRIVER_CAPABILITIES=compute"});
  started_.push_back("compute");
  ProgramResult r = RunProgram({NVGATE_BINARY, "oci", "runtime", "--runtime", runc_, "--socket", socket_,
                                "--allowed-caps", kBound, "--", "--root", State(), "run", "-b", bundle.string(),
                                "compute"});
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
  EXPECT_EQ(ResultsFor(results, "graphics"), std::set<std::string>{"refused"});
  json config = json::parse(ReadFile(bundle / "config.json"));
  EXPECT_EQ(config["linux"]["seccomp"]["listenerPath"], socket_);
  EXPECT_THAT(AgentLog(), testing::HasSubstr("supervising with capabilities compute (from NVIDIA_DRIVER_CAPABILITIES)"));
}

// Under video alone the video objects get channels of their engines (channels
// serve every engine) and are made; compute's and graphics' classes are refused.
TEST_F(ContainerTest, VideoOnlyRefusesComputeAndUvm) {
  auto results = Probe("video", {"NVIDIA_DRIVER_CAPABILITIES=video"}, json::object());
  EXPECT_EQ(ResultsFor(results, "base"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"refused"});
  EXPECT_EQ(ResultsFor(results, "graphics"), std::set<std::string>{"refused"});
}

TEST_F(ContainerTest, AnnotationOverridesTheEnvironment) {
  auto results = Probe("annotated", {"NVIDIA_DRIVER_CAPABILITIES=video"},
                       {{"io.nvgate.driver-capabilities", "compute"}});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
}

TEST_F(ContainerTest, RequestOutsideTheBoundIsRefusedAtCreate) {
  fs::path bundle = Bundle("greedy", {"/bin/nvprobe"}, {"NVIDIA_DRIVER_CAPABILITIES=compute,graphics"});
  const std::string before = ReadFile(bundle / "config.json");
  const std::string log = (dir_ / "runc-log.json").string();
  // As containerd calls runc: it reads the error from --log.
  ProgramResult r = Runtime({"--root", State(), "--log", log, "--log-format", "json", "create", "--bundle",
                             bundle.string(), "--pid-file", (dir_ / "greedy.pid").string(), "greedy"});
  EXPECT_EQ(r.status, 125);
  const std::string expected =
      "container greedy: capability request 'compute,graphics' (from NVIDIA_DRIVER_CAPABILITIES) refused: driver "
      "capability \"graphics\" is outside the allowed set \"compute,utility,video\"";
  EXPECT_THAT(r.err, testing::HasSubstr("nvgate-runtime: " + expected)) << r.err;
  EXPECT_THAT(r.err, testing::HasSubstr("the runtime was not called"));
  json logged = json::parse(ReadFile(log), nullptr, false);
  EXPECT_EQ(logged["level"], "error") << ReadFile(log);
  EXPECT_THAT(logged["msg"].get<std::string>(), testing::HasSubstr(expected));
  // runc never saw it: no container, config.json as it was, the agent not called.
  ProgramResult state = RunProgram({runc_, "--root", State(), "state", "greedy"});
  EXPECT_NE(state.status, 0) << state.out;
  EXPECT_EQ(ReadFile(bundle / "config.json"), before);
  EXPECT_FALSE(fs::exists(dir_ / "greedy.pid"));
  EXPECT_THAT(AgentLog(), testing::Not(testing::HasSubstr("greedy")));
}

TEST_F(ContainerTest, AgentOnlyRouteRequestOutsideTheBoundGetsEveryCallRefusedAndOneLogLine) {
  // Without the shim nothing stops the container at create: the agent refuses its calls.
  // nvprobe stops once it gets no RM client; its text output shows how far it came.
  ProgramResult r = RunWithoutShim(
      "greedy", Bundle("greedy", {"/bin/nvprobe"}, {"NVIDIA_DRIVER_CAPABILITIES=graphics"}, json::object(), profile_));
  EXPECT_THAT(r.out, testing::ContainsRegex("version query +refused"));
  EXPECT_THAT(r.out, testing::ContainsRegex("root client +refused"));
  EXPECT_THAT(r.out, testing::Not(testing::ContainsRegex(" ok\n"))) << r.out;
  std::string log = AgentLog();
  EXPECT_THAT(log, testing::HasSubstr("container greedy (pid"));
  EXPECT_THAT(log, testing::HasSubstr("capability request 'graphics' (NVIDIA_DRIVER_CAPABILITIES) refused"));
  EXPECT_THAT(log, testing::Not(testing::HasSubstr("denied: container greedy")));
}

TEST_F(ContainerTest, AgentOnlyRouteWithAHandWrittenProfile) {
  ProgramResult r = RunWithoutShim("by-hand", Bundle("by-hand", {"/bin/nvprobe", "--json"},
                                                     {"NVIDIA_DRIVER_CAPABILITIES=video"}, json::object(), profile_));
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"refused"});
}

TEST_F(ContainerTest, TheBundlesOwnProfileStaysTheBase) {
  // Docker-shaped: ioctl allowed unconditionally, which would shadow the NOTIFY
  // rules if the shim did not rewrite it, and a denial of the base's own.
  json base = {{"defaultAction", "SCMP_ACT_ALLOW"},
               {"syscalls",
                {{{"names", {"ioctl", "read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
                 {{"names", {"chroot"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}}}};
  fs::path bundle = Bundle("docker-like", {"/bin/nvprobe", "--json"}, {}, json::object(), base);
  ProgramResult r = Run("docker-like", bundle);
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
  json rules = json::parse(ReadFile(bundle / "config.json"))["linux"]["seccomp"]["syscalls"];
  EXPECT_NE(std::find(rules.begin(), rules.end(), base["syscalls"][1]), rules.end()) << "the base's chroot rule is gone";
}

TEST_F(ContainerTest, AgentRestartedWhileNoContainerRuns) {
  EXPECT_EQ(ResultsFor(Probe("before", {}), "compute"), std::set<std::string>{"ok"});
  StopAgent();
  // No agent: runc cannot hand over the listener and does not create the container.
  ProgramResult down = Run("while-down", Bundle("while-down", {"/bin/nvprobe", "--json"}, {}));
  EXPECT_NE(down.status, 0) << down.out;
  EXPECT_THAT(down.err, testing::HasSubstr("failed to connect with seccomp agent")) << down.err;
  EXPECT_THAT(down.err, testing::HasSubstr(socket_)) << down.err;
  EXPECT_THAT(down.out, testing::Not(testing::HasSubstr("\"capability\""))) << "the workload ran";
  StartAgent();
  EXPECT_EQ(ResultsFor(Probe("after", {}), "compute"), std::set<std::string>{"ok"});
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container after (pid"));
}

TEST_F(ContainerTest, TwoContainersAtOnceAndAKilledOneReleasesEverything) {
  const std::string state = State();
  std::vector<std::string> ids = {"looper-a", "looper-b"};
  std::vector<std::thread> runs;
  std::vector<ProgramResult> results(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    fs::path bundle = Bundle(ids[i], {"/bin/escape_workload", "looper", "call-until-killed"}, {});
    started_.push_back(ids[i]);
    runs.emplace_back([&, i, bundle] { results[i] = Runtime({"--root", state, "run", "--bundle", bundle.string(), ids[i]}); });
  }
  // Both supervised at once, each with calls executed.
  bool both = WaitForStatus([&](const json& s) {
    int busy = 0;
    for (const json& c : s["containers"]) busy += c["executed"].get<std::uint64_t>() > 100;
    return busy == 2;
  });
  EXPECT_TRUE(both) << Status().dump() << AgentLog();
  // Killed in the middle of its calls: the agent lets go of that one only.
  // Through the shim too: commands other than create and run reach runc untouched.
  EXPECT_EQ(Runtime({"--root", state, "kill", ids[0], "KILL"}).status, 0);
  runs[0].join();
  EXPECT_EQ(results[0].status, 128 + SIGKILL) << results[0].err;
  EXPECT_THAT(results[0].out, testing::Not(testing::HasSubstr("violation")));
  EXPECT_TRUE(WaitForStatus([&](const json& s) {
    return s["containers"].size() == 1 && s["containers"][0]["id"] == ids[1];
  })) << Status().dump();
  RunProgram({runc_, "--root", state, "kill", ids[1], "KILL"});
  runs[1].join();
  EXPECT_TRUE(WaitForStatus([](const json& s) { return s["containers"].empty(); })) << Status().dump();
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container looper-a is gone"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container looper-b is gone"));
}

std::string Dump(const std::map<std::string, double>& samples) {
  std::string out;
  for (const auto& [key, value] : samples) out += fmt::format("{} {}\n", key, value);
  return out;
}

// The pids the simulated driver saw make each of its calls (caller_pid=),
// but for the calls it ran as the workload's own thread (in_caller: host-memory
// pinning), whose caller is the workload by design.
std::set<int> CallerPids(const std::string& call_log) {
  std::set<int> pids;
  std::stringstream lines(call_log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" in_caller ") != std::string::npos) continue;
    std::size_t at = line.find(" caller_pid=");
    if (at != std::string::npos) pids.insert(std::stoi(line.substr(at + 12)));
  }
  return pids;
}

// How many seccomp listeners process `pid` holds.
int SeccompListeners(int pid) {
  int listeners = 0;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    if (fs::read_symlink(fd.path(), ec).string() == "anon_inode:seccomp notify") ++listeners;
  }
  return listeners;
}

int ParentOf(int pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  int parent = -1;
  rest >> state >> parent;
  return parent;
}

// Each container gets a supervisor process of its own, which the driver sees
// as the caller of that container's calls; killing one leaves the other's
// calls answered, and the killed one's workload gets ENOSYS (the looper
// counts anything else as a violation).
TEST_F(ContainerTest, EachContainerHasItsOwnSupervisorProcessAndOneKilledLeavesTheOtherAnswered) {
  const std::string state = State();
  std::vector<std::string> ids = {"tenant-a", "tenant-b"};
  std::vector<std::thread> runs;
  std::vector<ProgramResult> results(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    fs::path bundle = Bundle(ids[i], {"/bin/escape_workload", "looper", "call-until-killed"}, {});
    started_.push_back(ids[i]);
    runs.emplace_back([&, i, bundle] {
      results[i] = Runtime({"--root", state, "run", "--bundle", bundle.string(), ids[i]});
    });
  }
  std::map<std::string, json> by_id;
  bool both = WaitForStatus([&](const json& s) {
    by_id.clear();
    for (const json& c : s["containers"]) {
      if (c["executed"].get<std::uint64_t>() > 100) by_id[c["id"].get<std::string>()] = c;
    }
    return by_id.size() == 2;
  });
  ASSERT_TRUE(both) << Status().dump() << AgentLog();
  const int a = by_id["tenant-a"]["supervisor_pid"].get<int>();
  const int b = by_id["tenant-b"]["supervisor_pid"].get<int>();
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
  EXPECT_NE(a, b);
  EXPECT_NE(a, agent_pid_);
  EXPECT_NE(b, agent_pid_);
  EXPECT_EQ(ParentOf(a), agent_pid_);
  EXPECT_EQ(ParentOf(b), agent_pid_);
  // Every call the driver ran came from one of the two, both made some, the agent none.
  EXPECT_EQ(CallerPids(ReadFile(CallLog())), (std::set<int>{a, b}));
  // Each holds its own container's listener; the agent holds none, so that
  // nothing is left to answer a container whose supervisor is gone.
  EXPECT_EQ(SeccompListeners(agent_pid_), 0);
  EXPECT_EQ(SeccompListeners(a), 1);
  EXPECT_EQ(SeccompListeners(b), 1);

  ASSERT_EQ(kill(a, SIGKILL), 0);
  EXPECT_TRUE(WaitForStatus([&](const json& s) {
    return s["containers"].size() == 1 && s["containers"][0]["id"] == "tenant-b";
  })) << Status().dump();
  const std::uint64_t before = Status()["containers"][0]["executed"].get<std::uint64_t>();
  EXPECT_TRUE(WaitForStatus([&](const json& s) {
    return s["containers"].size() == 1 && s["containers"][0]["executed"].get<std::uint64_t>() > before + 100;
  })) << Status().dump();
  EXPECT_THAT(AgentLog(), testing::HasSubstr(fmt::format(
                              "agent: container tenant-a: its supervisor process {} was killed by signal 9", a)));
  std::map<std::string, double> metrics = Scrape();
  EXPECT_EQ(metrics["nvgate_container_supervisors_failed_total"], 1) << Dump(metrics);
  EXPECT_EQ(metrics["nvgate_active_containers"], 1) << Dump(metrics);
  EXPECT_GT((metrics[R"(nvgate_calls_total{container="tenant-b",decision="allowed"})"]), 100) << Dump(metrics);
  EXPECT_EQ(WithPrefix(metrics, R"(nvgate_calls_total{container="tenant-a")").size(), 0u) << Dump(metrics);
  // Its calls counted until its last report stay in the agent's totals.
  EXPECT_GT((metrics[R"(nvgate_agent_calls_total{decision="allowed"})"]),
            (metrics[R"(nvgate_calls_total{container="tenant-b",decision="allowed"})"]))
      << Dump(metrics);

  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(RunProgram({runc_, "--root", state, "kill", ids[i], "KILL"}).status, 0);
    runs[i].join();
    EXPECT_EQ(results[i].status, 128 + SIGKILL) << results[i].err;
    EXPECT_THAT(results[i].out, testing::Not(testing::HasSubstr("violation"))) << ids[i];
  }
  // What the workload whose supervisor was killed saw: its calls failed with ENOSYS.
  EXPECT_THAT(results[0].out, testing::HasSubstr("failing: ENOSYS"));
  EXPECT_THAT(results[1].out, testing::Not(testing::HasSubstr("failing")));
  EXPECT_TRUE(WaitForStatus([](const json& s) { return s["containers"].empty(); })) << Status().dump();
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container tenant-b is gone"));
}

TEST_F(ContainerTest, WorkloadCannotReachTheSupervisorOrSlipRequestsPast) {
  for (const char* scenario : {"supervisor-reach", "request-bits"}) {
    std::string id = std::string("escape-") + scenario;
    ProgramResult r = Run(id, Bundle(id, {"/bin/escape_workload", "escaper", scenario}, {}));
    EXPECT_EQ(r.status, 0) << scenario << ": " << r.out << r.err;
    EXPECT_THAT(r.out, testing::HasSubstr("violations=0")) << scenario << ": " << r.out;
  }
}

TEST_F(ContainerTest, MetricsCountEveryCallAndDenialOfAContainerExactly) {
  const std::string id = "metered";
  // Default capabilities (compute,utility): a root client, a device and a
  // subdevice are allowed; the video decoder class is denied. Then it waits.
  fs::path bundle = Bundle(id, {"/bin/escape_workload", "metered", "refused-class-then-wait"}, {});
  started_.push_back(id);
  ProgramResult result;
  std::thread run([&] { result = Runtime({"--root", State(), "run", "--bundle", bundle.string(), id}); });
  const std::string calls = R"(nvgate_calls_total{container="metered",decision=)";
  bool answered = WaitForMetrics([&](const std::map<std::string, double>& m) {
    return m.count(calls + R"("allowed"})") && m.at(calls + R"("allowed"})") + m.at(calls + R"("denied"})") == 4;
  });
  std::map<std::string, double> live = Scrape();
  EXPECT_TRUE(answered) << Dump(live) << AgentLog();

  EXPECT_EQ(live["nvgate_active_containers"], 1);
  EXPECT_EQ(live[calls + R"("allowed"})"], 3);
  EXPECT_EQ(live[calls + R"("denied"})"], 1);
  EXPECT_EQ(WithPrefix(live, "nvgate_denials_total{"),
            (std::map<std::string, double>{
                {R"(nvgate_denials_total{container="metered",capability="video",call="NVB8B0_VIDEO_DECODER"})", 1}}));
  EXPECT_EQ(live[R"(nvgate_supervision_latency_seconds_count{container="metered"})"], 4);
  EXPECT_EQ(live[R"(nvgate_supervision_latency_seconds_bucket{container="metered",le="+Inf"})"], 4);
  EXPECT_EQ(live["nvgate_containers_started_total"], 1);
  EXPECT_EQ(live["nvgate_containers_refused_total"], 0);
  EXPECT_EQ(live[R"(nvgate_agent_calls_total{decision="allowed"})"], 3);
  EXPECT_EQ(live[R"(nvgate_agent_calls_total{decision="denied"})"], 1);
  EXPECT_EQ(WithPrefix(live, "nvgate_build_info").size(), 1u);
  EXPECT_THAT(WithPrefix(live, "nvgate_build_info").begin()->first, testing::HasSubstr(R"(backend="sim")"));
  // Status says the same.
  json status = Status();
  ASSERT_EQ(status["containers"].size(), 1u) << status.dump();
  EXPECT_EQ(status["containers"][0]["executed"], 4);
  EXPECT_EQ(status["containers"][0]["denied"], 1);
  ASSERT_EQ(status["containers"][0]["denials"].size(), 1u) << status.dump();
  EXPECT_EQ(status["containers"][0]["denials"][0]["call"], "NVB8B0_VIDEO_DECODER");
  EXPECT_EQ(status["containers"][0]["denials"][0]["capability"], "video");
  EXPECT_EQ(status["containers"][0]["denials"][0]["count"], 1);

  // Gone: its series go, the agent's totals keep its calls.
  Runtime({"--root", State(), "kill", id, "KILL"});
  run.join();
  EXPECT_EQ(result.status, 128 + SIGKILL) << result.out << result.err;
  EXPECT_THAT(result.out, testing::HasSubstr("waiting"));
  EXPECT_THAT(result.out, testing::Not(testing::HasSubstr("violation")));
  bool gone = WaitForMetrics([](const std::map<std::string, double>& m) {
    return m.count("nvgate_active_containers") && m.at("nvgate_active_containers") == 0;
  });
  std::map<std::string, double> after = Scrape();
  EXPECT_TRUE(gone) << Dump(after);
  EXPECT_TRUE(WithPrefix(after, "nvgate_calls_total").empty()) << Dump(after);
  EXPECT_TRUE(WithPrefix(after, "nvgate_denials_total").empty()) << Dump(after);
  EXPECT_TRUE(WithPrefix(after, "nvgate_supervision_latency_seconds").empty()) << Dump(after);
  EXPECT_EQ(after[R"(nvgate_agent_calls_total{decision="allowed"})"], 3);
  EXPECT_EQ(after[R"(nvgate_agent_calls_total{decision="denied"})"], 1);
  EXPECT_EQ(after[R"(nvgate_agent_denials_total{capability="video"})"], 1);
  EXPECT_EQ(after["nvgate_agent_supervision_latency_seconds_count"], 4);
  EXPECT_EQ(after["nvgate_containers_started_total"], 1);
}

// GPU selection through a container's config: an agent on a simulated
// two-GPU machine that may give containers GPU 1 only.
class TwoGpuContainerTest : public ContainerTest {
 protected:
  std::vector<std::string> ExtraAgentFlags() const override { return {"--sim-gpus", "2", "--allowed-gpus", "1"}; }

  // A bundle running `workload gpu INDEX` with GPU 1's node (not GPU 0's) bound in.
  fs::path GpuBundle(const std::string& id, const std::string& index, const std::vector<std::string>& env) {
    fs::path bundle = Bundle(id, {"/bin/workload", "gpu", index}, env);
    json config = json::parse(ReadFile(bundle / "config.json"));
    for (json& mount : config["mounts"]) {
      if (mount["destination"] == "/dev/nvidia0") {
        mount["destination"] = "/dev/nvidia1";
        mount["source"] = (dir_ / "nodes" / "nvidia1").string();
      }
    }
    std::ofstream(bundle / "config.json") << config.dump(1);
    return bundle;
  }

  ProgramResult RunThroughShim(const std::string& id, const fs::path& bundle) {
    started_.push_back(id);
    return RunProgram({NVGATE_BINARY, "oci", "runtime", "--runtime", runc_, "--socket", socket_, "--allowed-caps",
                       kBound, "--sim-gpus", "2", "--allowed-gpus", "1", "--", "--root", State(), "run", "-b",
                       bundle.string(), id});
  }
};

TEST_F(TwoGpuContainerTest, AContainerGivenGpu1CannotAllocateADeviceOnGpu0) {
  ProgramResult on0 = RunThroughShim("on0", GpuBundle("on0", "0", {"NVIDIA_VISIBLE_DEVICES=1"}));
  ASSERT_EQ(on0.status, 0) << on0.out << on0.err << AgentLog();
  EXPECT_THAT(on0.out, testing::HasSubstr("nodes=nvidia-uvm,nvidia1,nvidiactl\n"));
  EXPECT_THAT(on0.out, testing::HasSubstr("device=0x1b"));
  EXPECT_THAT(on0.out, testing::HasSubstr("uvm_register=EINVAL"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("supervising with capabilities compute,utility (from default) and GPUs 1"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("denied: container on0: pid"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("gpu: NV01_DEVICE_0 names GPU 0 (GPU-6e766761-7465-2d73-696d-000000000000), "
                                             "outside this workload's GPUs (1); denied"));

  ProgramResult on1 = RunThroughShim("on1", GpuBundle("on1", "1", {"NVIDIA_VISIBLE_DEVICES=1"}));
  ASSERT_EQ(on1.status, 0) << on1.out << on1.err << AgentLog();
  EXPECT_THAT(on1.out, testing::HasSubstr("device=0x0"));
  EXPECT_THAT(on1.out, testing::HasSubstr("uvm_register=ok status=0x0"));
  EXPECT_THAT(AgentLog(), testing::Not(testing::HasSubstr("denied: container on1")));
}

TEST_F(TwoGpuContainerTest, AGpuOutsideTheBoundIsRefusedAtCreate) {
  fs::path bundle = GpuBundle("greedy", "0", {"NVIDIA_VISIBLE_DEVICES=0"});
  ProgramResult r = RunThroughShim("greedy", bundle);
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, testing::HasSubstr("container greedy: GPU request refused: NVIDIA_VISIBLE_DEVICES: GPU '0' (GPU 0, "
                                        "GPU-6e766761-7465-2d73-696d-000000000000) is outside the operator's bound on "
                                        "GPUs (1"))
      << r.err;
  EXPECT_THAT(AgentLog(), testing::Not(testing::HasSubstr("greedy")));
  // Without the shim the agent refuses every call of the container instead.
  ProgramResult agent_only = RunWithoutShim(
      "greedy2", Bundle("greedy2", {"/bin/nvprobe"}, {"NVIDIA_VISIBLE_DEVICES=0"}, json::object(), profile_));
  EXPECT_THAT(agent_only.out, testing::ContainsRegex("root client +refused"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container greedy2 (pid"));
  EXPECT_THAT(AgentLog(), testing::HasSubstr("GPU request refused: NVIDIA_VISIBLE_DEVICES: GPU '0'"));
}

}  // namespace

