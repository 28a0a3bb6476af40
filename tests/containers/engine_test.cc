// Containers started by real container engines through nvgate's shim, on the
// simulated driver, with the fixture of container_test.cc (its rootfs, agent
// and node files):
//   - podman 4.3 with crun 1.8 as the shim's runtime, the shim named as
//     podman's runtime in a containers.conf, the image imported from the
//     fixture's rootfs;
//   - containerd 1.6, a daemon of the test's own whose configuration holds
//     packaging/kubernetes/containerd-nvgate.toml, containers started with
//     `ctr run` with that snippet's runtime type and BinaryName.
// Each checks what the runc tests check: a granted capability's calls pass, a
// call outside it is refused with the agent's denial line, the agent counts
// the calls, and a request outside the bound is refused at create.
// Skips, saying why, when an engine is not installed (scripts/setup-debian.sh
// installs podman, crun and containerd).
#include <sys/resource.h>

#include "container_fixture.h"

namespace {

using namespace container_tests;  // NOLINT: the fixture and its helpers

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  std::size_t at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The request outside the fixture's bound (compute,utility,video) and the
// shim's refusal of it, as the runc test words it.
constexpr const char* kGreedy = "NVIDIA_DRIVER_CAPABILITIES=compute,graphics";
constexpr const char* kGreedyRefusal =
    "capability request 'compute,graphics' (from NVIDIA_DRIVER_CAPABILITIES) refused: driver capability "
    "\"graphics\" is outside the allowed set \"compute,utility,video\"";

// What every engine's compute-only container shows: compute runs, video and
// graphics are refused, the agent logs a denial of the container and counts
// its calls.
class EngineTest : public ContainerTest {
 protected:
  void ExpectComputeOnly(const ProgramResult& r) {
    ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
    auto results = ProbeResults(r.out);
    EXPECT_EQ(ResultsFor(results, "base"), std::set<std::string>{"ok"}) << r.out;
    EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"}) << r.out;
    EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"}) << r.out;
    EXPECT_EQ(ResultsFor(results, "graphics"), std::set<std::string>{"refused"}) << r.out;
    const std::string log = AgentLog();
    EXPECT_THAT(log, testing::HasSubstr("supervising with capabilities compute (from NVIDIA_DRIVER_CAPABILITIES)"));
    EXPECT_THAT(log, testing::ContainsRegex("denied: container [^ ]+: pid [0-9]+: video: "));
    EXPECT_THAT(log, testing::ContainsRegex("denied: container [^ ]+: pid [0-9]+: graphics: "));
    // Its supervisor's last report comes when the container is gone.
    EXPECT_TRUE(WaitForMetrics([](const std::map<std::string, double>& m) {
      return m.count("nvgate_active_containers") && m.at("nvgate_active_containers") == 0 &&
             m.count(R"(nvgate_agent_calls_total{decision="denied"})");
    })) << AgentLog();
    std::map<std::string, double> metrics = Scrape();
    EXPECT_EQ(metrics["nvgate_containers_started_total"], 1);
    EXPECT_GT((metrics[R"(nvgate_agent_calls_total{decision="allowed"})"]), 0);
    EXPECT_GT((metrics[R"(nvgate_agent_denials_total{capability="video"})"]), 0);
    EXPECT_GT((metrics[R"(nvgate_agent_denials_total{capability="graphics"})"]), 0);
  }

  // A container asking for compute in its environment and for video in the
  // annotation: the annotation decides.
  void ExpectTheAnnotationWon(const ProgramResult& r) {
    ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
    auto results = ProbeResults(r.out);
    EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"ok"});
    EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"refused"});
    EXPECT_THAT(AgentLog(), testing::HasSubstr(
                                "supervising with capabilities video (from annotation io.nvgate.driver-capabilities)"));
  }

  // A request outside the bound: the engine reports the shim's error, the
  // workload never ran and the agent never heard of the container.
  void ExpectRefusedAtCreate(const ProgramResult& r) {
    EXPECT_NE(r.status, 0) << r.out << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr(kGreedyRefusal)) << r.err;
    EXPECT_THAT(r.err, testing::HasSubstr("the runtime was not called")) << r.err;
    EXPECT_THAT(r.out, testing::Not(testing::HasSubstr("\"capability\""))) << "the workload ran";
    EXPECT_THAT(AgentLog(), testing::Not(testing::HasSubstr("container "))) << AgentLog();
    EXPECT_EQ(Scrape()["nvgate_containers_started_total"], 0);
  }

  // The sim's node files, as the engine's bind-mount options name them.
  std::vector<std::pair<std::string, std::string>> Nodes() const {
    std::vector<std::pair<std::string, std::string>> nodes;
    for (const char* node : {"nvidiactl", "nvidia0", "nvidia-uvm"}) {
      nodes.emplace_back((dir_ / "nodes" / node).string(), std::string("/dev/") + node);
    }
    return nodes;
  }
};

// podman, rootful, with crun behind the shim, the runtime `nvgate` of the
// test's containers.conf (docs/containers.md, podman). conmon starts the
// runtime with an environment of its own, so NVGATE_CONFIG cannot reach the
// shim from podman's: the runtime `nvgate` is a two-line script that names
// the shim's configuration and execs nvgate-runtime, as an operator's
// /etc/nvgate/nvgate.toml is found without one.
class PodmanTest : public EngineTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    podman_ = FindInPath("podman");
    crun_ = FindInPath("crun");
    if (podman_.empty() || crun_.empty()) {
      GTEST_SKIP() << "podman or crun is not installed (apt-get install podman crun; scripts/setup-debian.sh does)";
    }
    const std::string crun_config = (dir_ / "nvgate-crun.toml").string();
    std::ofstream(crun_config) << fmt::format(
        "[oci-runtime]\nruntime = \"{}\"\nsocket = \"{}\"\nallowed-caps = \"{}\"\n", crun_, socket_, kBound);
    const fs::path shim = dir_ / "nvgate-runtime";
    std::ofstream(shim) << fmt::format("#!/bin/sh\nNVGATE_CONFIG={} exec {} \"$@\"\n", crun_config, NVGATE_RUNTIME);
    fs::permissions(shim, fs::perms::owner_all);
    // The runtime sets the container's limits, and may not raise them:
    // podman's defaults (1048576 files and processes) are above what a CI
    // sandbox lets root have. The test's own open-files limit, and the
    // processes limit the runtime gets from podman 4.3 (32768) or the
    // test's own if lower.
    rlimit files{}, processes{};
    getrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NPROC, &processes);
    processes.rlim_cur = processes.rlim_max = std::min<rlim_t>(processes.rlim_max, 32768);
    std::ofstream(dir_ / "containers.conf") << fmt::format(
        "[containers]\n"
        "default_ulimits = [\"nofile={}:{}\", \"nproc={}:{}\"]\n"
        "[network]\n"
        "network_config_dir = \"{}\"\n"
        "[engine]\n"
        "cgroup_manager = \"cgroupfs\"\n"
        "events_logger = \"file\"\n"
        "events_logfile_path = \"{}\"\n"
        "tmp_dir = \"{}\"\n"
        "runtime_supports_json = [\"nvgate\"]\n"
        "[engine.runtimes]\n"
        "nvgate = [\"{}\"]\n",
        files.rlim_cur, files.rlim_max, processes.rlim_cur, processes.rlim_max, (dir_ / "cni").string(),
        (dir_ / "podman-events.log").string(), (dir_ / "podman-tmp").string(), shim.string());
    ProgramResult tar =
        RunProgram({"tar", "-C", (dir_ / "rootfs").string(), "-cf", (dir_ / "rootfs.tar").string(), "."});
    ASSERT_EQ(tar.status, 0) << tar.err;
    ProgramResult imported = Podman({"import", (dir_ / "rootfs.tar").string(), kImage});
    ASSERT_EQ(imported.status, 0) << imported.out << imported.err;
  }

  void TearDown() override {
    if (!podman_.empty()) Podman({"rm", "--all", "--force"});
    ContainerTest::TearDown();
  }

  // podman with its storage under the test's directory. crun 1.8 refuses a
  // hybrid cgroup host whose cgroup2 hierarchy has controllers ("cgroups in
  // hybrid mode not supported"); on one, podman runs in a mount namespace of
  // its own without the cgroup2 mount, where crun sees cgroup v1 only. The
  // host's mounts are left as they are.
  ProgramResult Podman(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        "if mountpoint -q /sys/fs/cgroup/unified; then umount -l /sys/fs/cgroup/unified || exit 125; fi; exec \"$@\"",
        "sh",
        podman_,
        "--root",
        (dir_ / "podman-root").string(),
        "--runroot",
        (dir_ / "podman-runroot").string(),
        "--storage-driver",
        "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, {"CONTAINERS_CONF=" + (dir_ / "containers.conf").string()});
  }

  // `podman run --runtime RUNTIME` of the imported image with the sim's
  // nodes and `options`: the shim by its name in containers.conf, as a
  // container opts in, unless another runtime is given.
  ProgramResult PodmanRun(const std::string& name, const std::vector<std::string>& options,
                          const std::vector<std::string>& command, const std::string& runtime = "nvgate") {
    std::vector<std::string> args = {"run", "--runtime", runtime, "--rm", "--name", name, "--network", "none"};
    for (const auto& [host, container] : Nodes()) args.insert(args.end(), {"-v", host + ":" + container});
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(kImage);
    args.insert(args.end(), command.begin(), command.end());
    return Podman(args);
  }

  static constexpr const char* kImage = "localhost/nvgate-probe:test";
  std::string podman_;
  std::string crun_;
};

TEST_F(PodmanTest, ComputeRunsVideoAndGraphicsAreRefusedAndCounted) {
  ProgramResult r = PodmanRun("compute", {"-e", "NVIDIA_DRIVER_CAPABILITIES=compute"}, {"/bin/nvprobe", "--json"});
  ExpectComputeOnly(r);
}

TEST_F(PodmanTest, PodmansOwnProfileStaysTheBase) {
  // podman's default seccomp profile (containers-common's seccomp.json)
  // allows ioctl unconditionally; the shim rewrites that rule under nvgate's
  // and keeps the rest. Created, then started, so that its bundle stays.
  std::vector<std::string> create = {"create", "--runtime", "nvgate", "--name", "base", "--network", "none"};
  for (const auto& [host, container] : Nodes()) create.insert(create.end(), {"-v", host + ":" + container});
  create.insert(create.end(), {kImage, "/bin/nvprobe", "--json"});
  ProgramResult created = Podman(create);
  ASSERT_EQ(created.status, 0) << created.out << created.err;
  ProgramResult r = Podman({"start", "--attach", "base"});
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
  std::string id = created.out.substr(0, created.out.find('\n'));
  json seccomp = json::parse(ReadFile(dir_ / "podman-root" / "vfs-containers" / id / "userdata" / "config.json"),
                             nullptr, false)["linux"]["seccomp"];
  ASSERT_TRUE(seccomp.is_object()) << "no profile in the bundle of " << id;
  EXPECT_EQ(seccomp["listenerPath"], socket_);
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ERRNO") << "podman's default action is gone";
  std::size_t notify = 0;
  for (const json& rule : seccomp["syscalls"]) notify += rule["action"] == "SCMP_ACT_NOTIFY";
  EXPECT_GT(notify, 0u);
  EXPECT_GT(seccomp["syscalls"].size(), notify + 10) << "podman's own rules are gone";
}

// crun, behind the shim, runs the container (its state is crun's), the agent
// supervises it while it runs, and podman kill ends it and its supervision.
TEST_F(PodmanTest, CrunRunsTheContainerAndKillEndsItsSupervision) {
  ProgramResult started = PodmanRun("looper", {"--detach"}, {"/bin/escape_workload", "looper", "call-until-killed"});
  ASSERT_EQ(started.status, 0) << started.out << started.err << AgentLog();
  const std::string id = started.out.substr(0, started.out.find('\n'));
  EXPECT_TRUE(WaitForStatus([&](const json& s) {
    return s["containers"].size() == 1 && s["containers"][0]["id"] == id &&
           s["containers"][0]["executed"].get<std::uint64_t>() > 100;
  })) << Status().dump()
      << AgentLog();
  // crun's default state directory, as podman runs it.
  ProgramResult state = RunProgram({crun_, "state", id});
  EXPECT_EQ(state.status, 0) << state.err;
  EXPECT_EQ(json::parse(state.out, nullptr, false)["status"], "running") << state.out;
  ProgramResult killed = Podman({"kill", "--signal", "KILL", id});
  EXPECT_EQ(killed.status, 0) << killed.err;
  EXPECT_TRUE(WaitForStatus([](const json& s) { return s["containers"].empty(); })) << Status().dump();
  EXPECT_THAT(AgentLog(), testing::HasSubstr("container " + id + " is gone"));
  ProgramResult logs = Podman({"logs", id});
  EXPECT_THAT(logs.out, testing::Not(testing::HasSubstr("violation"))) << logs.out;
}

TEST_F(PodmanTest, AnnotationOverridesTheEnvironment) {
  ProgramResult r = PodmanRun(
      "annotated", {"-e", "NVIDIA_DRIVER_CAPABILITIES=compute", "--annotation", "io.nvgate.driver-capabilities=video"},
      {"/bin/nvprobe", "--json"});
  ExpectTheAnnotationWon(r);
}

// The agent-only route: crun itself, nvgate's profile given with
// --security-opt seccomp=, whose listenerPath podman keeps.
TEST_F(PodmanTest, AgentOnlyRouteWithSecurityOpt) {
  const std::string profile = (dir_ / "gpu-seccomp.json").string();
  std::ofstream(profile) << profile_.dump();
  ProgramResult r =
      PodmanRun("by-hand", {"--security-opt", "seccomp=" + profile, "-e", "NVIDIA_DRIVER_CAPABILITIES=video"},
                {"/bin/nvprobe", "--json"}, crun_);
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"refused"});
  EXPECT_THAT(AgentLog(), testing::HasSubstr("supervising with capabilities video (from NVIDIA_DRIVER_CAPABILITIES)"));
}

TEST_F(PodmanTest, RequestOutsideTheBoundIsRefusedAtCreate) {
  ProgramResult r = PodmanRun("greedy", {"-e", kGreedy}, {"/bin/nvprobe", "--json"});
  ExpectRefusedAtCreate(r);
  ProgramResult listed = Podman({"ps", "--all", "--quiet", "--filter", "name=greedy"});
  EXPECT_EQ(listed.out, "") << "podman kept the container";
}

// containerd with the CRI plugin configured by the Kubernetes snippet. ctr
// does not go through CRI, so it is given the snippet's runtime type and
// BinaryName itself; the CRI plugin loading proves containerd accepts the
// snippet as written.
class ContainerdTest : public EngineTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const std::string containerd = FindInPath("containerd");
    ctr_ = FindInPath("ctr");
    if (containerd.empty() || ctr_.empty()) {
      GTEST_SKIP() << "containerd is not installed (apt-get install containerd; scripts/setup-debian.sh does)";
    }
    // The snippet names the packaged shim; the daemon gets the build's.
    const std::string snippet = ReadFile(CONTAINERD_SNIPPET);
    ASSERT_THAT(snippet, testing::HasSubstr("runtime_type = \"io.containerd.runc.v2\""));
    ASSERT_THAT(snippet, testing::HasSubstr(kPackagedBinary));
    // containerd's own default configuration, with its paths under the
    // test's directory, and the snippet appended, as an operator merges it.
    address_ = (dir_ / "containerd.sock").string();
    ProgramResult defaults = RunProgram({containerd, "config", "default"});
    ASSERT_EQ(defaults.status, 0) << defaults.err;
    std::string config = defaults.out;
    const fs::path cd = dir_ / "containerd";
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"\nroot = \"/var/lib/containerd\"", "\nroot = \"" + (cd / "root").string() + "\""},
             {"\nstate = \"/run/containerd\"", "\nstate = \"" + (cd / "state").string() + "\""},
             {"address = \"/run/containerd/containerd.sock\"", "address = \"" + address_ + "\""},
             {"path = \"/opt/containerd\"", "path = \"" + (cd / "opt").string() + "\""},
             {"conf_dir = \"/etc/cni/net.d\"", "conf_dir = \"" + (cd / "cni").string() + "\""}}) {
      ASSERT_THAT(config, testing::HasSubstr(from)) << "containerd's default configuration changed";
      config = Replaced(config, from, to);
    }
    std::ofstream(dir_ / "containerd.toml")
        << config << "\n"
        << Replaced(snippet, kPackagedBinary, fmt::format("\"{}\"", NVGATE_RUNTIME));
    daemon_pid_ = fork();
    if (daemon_pid_ == 0) {
      std::string log = (dir_ / "containerd.log").string();
      freopen(log.c_str(), "w", stderr);
      freopen(log.c_str(), "a", stdout);
      // The runc shim passes containerd's environment on to the runtime.
      setenv("NVGATE_CONFIG", config_.c_str(), 1);
      std::string file = (dir_ / "containerd.toml").string();
      execl(containerd.c_str(), containerd.c_str(), "--config", file.c_str(), nullptr);
      _exit(127);
    }
    bool up = false;
    for (int i = 0; i < 200 && !up; ++i) {
      up = fs::exists(address_) && Ctr({"version"}).status == 0;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(up) << ReadFile(dir_ / "containerd.log");
  }

  void TearDown() override {
    if (daemon_pid_ > 0) {
      for (const std::string& id : ctr_started_) {
        Ctr({"tasks", "kill", "--signal", "SIGKILL", id});
        Ctr({"tasks", "delete", "--force", id});
        Ctr({"containers", "delete", id});
      }
      kill(daemon_pid_, SIGTERM);
      waitpid(daemon_pid_, nullptr, 0);
    }
    ContainerTest::TearDown();
  }

  ProgramResult Ctr(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {ctr_, "--address", address_, "--namespace", "nvgate-test"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv);
  }

  // `ctr run` of the fixture's rootfs through the snippet's runtime, with the
  // sim's nodes and `options`; runc's state and the IO FIFOs in the test's
  // directory (containerd 1.6's shims put their sockets in
  // /run/containerd/s whatever the configuration says).
  ProgramResult CtrRun(const std::string& id, const std::vector<std::string>& options,
                       const std::vector<std::string>& command) {
    ctr_started_.push_back(id);
    std::vector<std::string> args = {"run",
                                     "--rm",
                                     "--rootfs",
                                     "--runtime",
                                     "io.containerd.runc.v2",
                                     "--runc-binary",
                                     NVGATE_RUNTIME,
                                     "--runc-root",
                                     (dir_ / "containerd" / "runc").string(),
                                     "--fifo-dir",
                                     (dir_ / "containerd" / "fifo").string()};
    for (const auto& [host, container] : Nodes()) {
      args.insert(args.end(), {"--mount", fmt::format("type=bind,src={},dst={},options=rbind:rw", host, container)});
    }
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {(dir_ / "rootfs").string(), id});
    args.insert(args.end(), command.begin(), command.end());
    return Ctr(args);
  }

  static constexpr const char* kPackagedBinary = "\"/usr/bin/nvgate-runtime\"";
  std::string ctr_;
  std::string address_;
  pid_t daemon_pid_ = -1;
  std::vector<std::string> ctr_started_;
};

TEST_F(ContainerdTest, TheKubernetesSnippetLoads) {
  ProgramResult plugins = Ctr({"plugins", "ls"});
  ASSERT_EQ(plugins.status, 0) << plugins.err;
  EXPECT_THAT(plugins.out, testing::ContainsRegex("io\\.containerd\\.grpc\\.v1 +cri +[^ ]+ +ok")) << plugins.out;
  ProgramResult dumped =
      RunProgram({FindInPath("containerd"), "--config", (dir_ / "containerd.toml").string(), "config", "dump"});
  ASSERT_EQ(dumped.status, 0) << dumped.err;
  EXPECT_THAT(dumped.out, testing::HasSubstr("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvgate]"));
  EXPECT_THAT(dumped.out, testing::HasSubstr(fmt::format("BinaryName = \"{}\"", NVGATE_RUNTIME)));
}

TEST_F(ContainerdTest, ComputeRunsVideoAndGraphicsAreRefusedAndCounted) {
  ProgramResult r = CtrRun("compute", {"--env", "NVIDIA_DRIVER_CAPABILITIES=compute"}, {"/bin/nvprobe", "--json"});
  ExpectComputeOnly(r);
}

TEST_F(ContainerdTest, ContainerdsDefaultProfileStaysTheBase) {
  ProgramResult r = CtrRun("base", {"--seccomp"}, {"/bin/nvprobe", "--json"});
  ASSERT_EQ(r.status, 0) << r.out << r.err << AgentLog();
  auto results = ProbeResults(r.out);
  EXPECT_EQ(ResultsFor(results, "compute"), std::set<std::string>{"ok"});
  EXPECT_EQ(ResultsFor(results, "video"), std::set<std::string>{"refused"});
  ProgramResult escape = CtrRun("escape", {"--seccomp"}, {"/bin/escape_workload", "escaper", "supervisor-reach"});
  EXPECT_EQ(escape.status, 0) << escape.out << escape.err;
  EXPECT_THAT(escape.out, testing::HasSubstr("violations=0")) << escape.out;
}

TEST_F(ContainerdTest, AnnotationOverridesTheEnvironment) {
  ProgramResult r =
      CtrRun("annotated",
             {"--env", "NVIDIA_DRIVER_CAPABILITIES=compute", "--annotation", "io.nvgate.driver-capabilities=video"},
             {"/bin/nvprobe", "--json"});
  ExpectTheAnnotationWon(r);
}

TEST_F(ContainerdTest, RequestOutsideTheBoundIsRefusedAtCreate) {
  ProgramResult r = CtrRun("greedy", {"--env", kGreedy}, {"/bin/nvprobe", "--json"});
  ExpectRefusedAtCreate(r);
  ProgramResult tasks = Ctr({"tasks", "ls", "--quiet"});
  EXPECT_THAT(tasks.out, testing::Not(testing::HasSubstr("greedy"))) << tasks.out;
}

}  // namespace
