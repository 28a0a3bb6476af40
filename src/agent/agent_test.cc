#include "agent/agent.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <iterator>
#include <set>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "agent/container_request.h"
#include "agent/container_supervisor.h"
#include "fd/owned_fd.h"
#include "supervisor/fd_passing.h"

namespace nvgate::agent {
namespace {

namespace fs = std::filesystem;

// What runc 1.1 sends, with the bundle pointed at `bundle`.
std::string RuncMessage(const std::string& bundle, const std::string& metadata = "",
                        const std::string& annotations = "{}") {
  return R"({"ociVersion":"1.0.2","fds":["seccompFd"],"pid":4242,"metadata":")" + metadata +
         R"(","state":{"ociVersion":"1.0.2","id":"ctr1","status":"creating","pid":4242,"bundle":")" + bundle +
         R"(","annotations":)" + annotations + "}}";
}

class BundleDir {
 public:
  explicit BundleDir(const std::string& env_json) {
    char tmpl[] = "/tmp/nvgate-agent-test-XXXXXX";
    path_ = mkdtemp(tmpl);
    std::ofstream(path_ / "config.json") << R"({"ociVersion":"1.0.2","process":{"env":)" << env_json << "}}";
  }
  ~BundleDir() { fs::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(ContainerRequestTest, ParsesRuncsMessage) {
  auto state = ParseContainerProcessState(RuncMessage("/b", "compute", R"({"a":"b"})"));
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->id, "ctr1");
  EXPECT_EQ(state->pid, 4242);
  EXPECT_EQ(state->bundle, "/b");
  EXPECT_EQ(state->metadata, "compute");
  EXPECT_EQ(state->annotations.at("a"), "b");
  EXPECT_EQ(state->seccomp_fd_index, 0);
}

TEST(ContainerRequestTest, RefusesMessagesWithoutAListenerOrId) {
  EXPECT_FALSE(ParseContainerProcessState("not json"));
  EXPECT_FALSE(ParseContainerProcessState(R"({"fds":[],"state":{"id":"x"}})"));
  EXPECT_FALSE(ParseContainerProcessState(R"({"fds":["seccompFd"],"state":{}})"));
}

TEST(ContainerRequestTest, RequestPrecedenceIsMetadataThenAnnotationThenEnvironment) {
  BundleDir bundle(R"(["PATH=/bin","NVIDIA_DRIVER_CAPABILITIES=video"])");
  auto from_env = ReadCapsRequest(*ParseContainerProcessState(RuncMessage(bundle.path())));
  ASSERT_TRUE(from_env) << from_env.error().message;
  EXPECT_EQ(from_env->text, "video");
  EXPECT_EQ(from_env->source, "NVIDIA_DRIVER_CAPABILITIES");

  std::string annotations = R"({"io.nvgate.driver-capabilities":"graphics"})";
  auto from_annotation = ReadCapsRequest(*ParseContainerProcessState(RuncMessage(bundle.path(), "", annotations)));
  EXPECT_EQ(from_annotation->text, "graphics");

  auto from_metadata =
      ReadCapsRequest(*ParseContainerProcessState(RuncMessage(bundle.path(), "compute", annotations)));
  EXPECT_EQ(from_metadata->text, "compute");
  EXPECT_EQ(from_metadata->source, "listenerMetadata");
}

// A two-GPU machine as the sim's (backend::SimGpus(2)).
std::vector<gpus::Gpu> TwoGpus() {
  return {{.index = 0, .gpu_id = 0x100, .uuid = "GPU-6e766761-7465-2d73-696d-000000000000",
           .pci_bus_id = "0000:18:00.0", .device_instance = 0},
          {.index = 1, .gpu_id = 0x101, .uuid = "GPU-6e766761-7465-2d73-696d-000000000001",
           .pci_bus_id = "0000:19:00.0", .device_instance = 1}};
}

std::string GpusOf(const nlohmann::ordered_json& config, const std::string& bound = "all") {
  auto machine = TwoGpus();
  auto selected = ResolveGpuRequest(GpuRequestFromConfig(config), machine, *gpus::ResolveBound(bound, machine));
  if (!selected) return "error: " + selected.error().message;
  return selected->restricted() ? selected->ToString() : "all";
}

nlohmann::ordered_json GpuConfig(const std::vector<std::string>& env, const std::vector<std::string>& devices = {},
                                 const std::vector<std::string>& mounts = {}) {
  nlohmann::ordered_json config = {{"process", {{"env", env}}}, {"linux", {{"devices", nlohmann::ordered_json::array()}}}};
  for (const std::string& d : devices) config["linux"]["devices"].push_back({{"path", d}, {"type", "c"}});
  config["mounts"] = nlohmann::ordered_json::array();
  for (const std::string& m : mounts) config["mounts"].push_back({{"destination", m}, {"type", "bind"}});
  return config;
}

TEST(ContainerRequestTest, GpusAreTheConfigsNodesAndItsNvidiaVisibleDevices) {
  // The toolkit's reading of NVIDIA_VISIBLE_DEVICES: unset or void gives no GPU,
  // a legacy CUDA image every GPU.
  EXPECT_EQ(GpusOf(GpuConfig({"PATH=/bin"})), "void");
  EXPECT_EQ(GpusOf(GpuConfig({"CUDA_VERSION=11.0"})), "all");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=all"})), "all");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=none"})), "none");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=1"})), "1");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=GPU-6e766761-7465-2d73-696d-000000000001"})), "1");
  // Nodes the config lists, as devices or mounts, are given too.
  EXPECT_EQ(GpusOf(GpuConfig({"PATH=/bin"}, {"/dev/nvidia1", "/dev/nvidiactl"})), "1");
  EXPECT_EQ(GpusOf(GpuConfig({"PATH=/bin"}, {}, {"/dev/nvidia1", "/dev/nvidia-uvm"})), "1");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=0"}, {"/dev/nvidia1"})), "all");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=none"}, {}, {"/dev/nvidia0"})), "0");
}

TEST(ContainerRequestTest, GpusOutsideTheBoundOrTheMachineAreRefused) {
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=1"}), "1"), "1");
  EXPECT_EQ(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=all"}), "1"), "1");
  EXPECT_THAT(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=0"}), "1"),
              testing::HasSubstr("NVIDIA_VISIBLE_DEVICES: GPU '0' (GPU 0, GPU-6e766761-7465-2d73-696d-000000000000) "
                                 "is outside the operator's bound on GPUs (1"));
  EXPECT_THAT(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=1"}, {"/dev/nvidia0"}), "1"),
              testing::HasSubstr("device /dev/nvidia0: GPU '/dev/nvidia0' (GPU 0,"));
  EXPECT_THAT(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=3"})), testing::HasSubstr("'3' names no GPU"));
  EXPECT_THAT(GpusOf(GpuConfig({"NVIDIA_VISIBLE_DEVICES=MIG-1234"})), testing::HasSubstr("MIG device"));
  // Where the machine's GPUs are unknown, an unbounded request is left to the agent.
  auto unknown = ResolveGpuRequest(GpuRequestFromConfig(GpuConfig({"NVIDIA_VISIBLE_DEVICES=3"})), {},
                                   *gpus::ResolveBound("all", {}));
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_FALSE(unknown->restricted());
}

TEST(ContainerRequestTest, UnsetRequestAndLegacyCudaImages) {
  BundleDir plain(R"(["PATH=/bin"])");
  auto unset = ReadCapsRequest(*ParseContainerProcessState(RuncMessage(plain.path())));
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->text);
  EXPECT_FALSE(unset->legacy_cuda_image);
  BundleDir legacy(R"(["CUDA_VERSION=11.0"])");
  EXPECT_TRUE(ReadCapsRequest(*ParseContainerProcessState(RuncMessage(legacy.path())))->legacy_cuda_image);
  EXPECT_FALSE(ReadCapsRequest(*ParseContainerProcessState(RuncMessage("/nonexistent-bundle"))));
}

TEST(AgentTest, AnswersStatusAndRefusesASecondAgentOnTheSameSocket) {
  std::string socket = "/tmp/nvgate-agent-test-" + std::to_string(getpid()) + ".sock";
  AgentOptions options{.socket_path = socket, .allowed = caps::CapSet::Default(), .driver = {}};
  Agent agent(options);
  ASSERT_TRUE(agent.Listen());
  std::thread serving([&] { EXPECT_TRUE(agent.Serve()); });
  auto reply = QueryStatus(socket);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(nlohmann::json::parse(*reply)["containers"], nlohmann::json::array());

  Agent second(options);
  auto refused = second.Listen();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, testing::HasSubstr("another agent listens"));
  agent.Stop();
  serving.join();
}

// Sends `message` to the agent on `socket` with `fd` attached, as runc sends a
// container's listener.
bool HandOver(const std::string& socket, const std::string& message, int fd) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  fd::OwnedFd connection(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return connect(connection.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
         supervisor::SendFdWith(connection.get(), fd, message);
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Asks for the agent's status until `done` holds (at most 20 s).
nlohmann::json StatusWhen(const std::string& socket, const std::function<bool(const nlohmann::json&)>& done) {
  nlohmann::json status;
  for (int i = 0; i < 400; ++i) {
    auto reply = QueryStatus(socket);
    if (reply) status = nlohmann::json::parse(*reply, nullptr, false);
    if (status.is_object() && done(status)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status;
}

// The fds process `pid` holds, once it runs `sleep`.
std::set<int> FdsOnceSleeping(int pid) {
  const fs::path proc = "/proc/" + std::to_string(pid);
  for (int i = 0; i < 400 && ReadText(proc / "comm") != "sleep\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::set<int> fds;
  for (const auto& fd : fs::directory_iterator(proc / "fd")) fds.insert(std::stoi(fd.path().filename().string()));
  return fds;
}

// The agent's side of a container's supervisor process, with a shell standing
// in for `nvgate agent-container`: it records its configuration, sends one
// report and becomes `sleep`. (container_test runs the real one, under runc.)
TEST(AgentTest, EachContainerGetsAProcessOfItsOwnWithOnlyItsListenerAndItsReportSocket) {
  BundleDir bundle(R"(["PATH=/bin"])");
  const fs::path dir = bundle.path();
  ContainerMeter meter;
  meter.Answered(false, std::chrono::microseconds(10));
  meter.Answered(false, std::chrono::microseconds(10));
  const std::string report =
      EncodeReport({.meter = meter.Read(), .executed = 2, .denied = 0, .denials = nlohmann::json::array()});
  const std::string script = "printf '%s' \"$1\" > " + (dir / "config-").string() + "$$; printf '%s' '" + report +
                             "' >&4; exec sleep 1000";
  const std::string socket = (dir / "agent.sock").string();
  Agent agent({.socket_path = socket,
               .allowed = caps::CapSet::Default(),
               .driver = {},
               .supervisor_command = {"/bin/sh", "-c", script, "stand-in"}});
  ASSERT_TRUE(agent.Listen());
  std::thread serving([&] { EXPECT_TRUE(agent.Serve()); });

  for (const char* id : {"first", "second"}) {
    int stand_in_listener = eventfd(0, EFD_CLOEXEC);
    std::string message = R"({"ociVersion":"1.0.2","fds":["seccompFd"],"pid":4242,"metadata":"","state":{"id":")" +
                          std::string(id) + R"(","pid":4242,"bundle":")" + bundle.path() + R"(","annotations":{}}})";
    EXPECT_TRUE(HandOver(socket, message, stand_in_listener));
    close(stand_in_listener);
  }
  nlohmann::json status = StatusWhen(socket, [](const nlohmann::json& s) {
    int reported = 0;
    for (const auto& c : s["containers"]) reported += c["executed"] == 2;
    return reported == 2;
  });
  ASSERT_EQ(status["containers"].size(), 2u) << status.dump();
  std::set<int> supervisors;
  for (const auto& c : status["containers"]) {
    EXPECT_EQ(c["executed"], 2) << status.dump();
    const int pid = c["supervisor_pid"].get<int>();
    supervisors.insert(pid);
    // Only stdin, stdout, stderr, its own listener and its report socket:
    // never the agent's socket or the other container's listener.
    EXPECT_EQ(FdsOnceSleeping(pid), (std::set<int>{0, 1, 2, 3, 4})) << c["id"];
    auto config = DecodeConfig(ReadText(dir / ("config-" + std::to_string(pid))));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->id, c["id"].get<std::string>());
    EXPECT_EQ(config->agent_pid, getpid());
    EXPECT_EQ(config->enabled.bits(), caps::CapSet::Default().bits());
    EXPECT_FALSE(config->refused);
  }
  ASSERT_EQ(supervisors.size(), 2u);

  // One supervisor killed: its container goes, the other stays, the agent counts it.
  ASSERT_EQ(kill(*supervisors.begin(), SIGKILL), 0);
  status = StatusWhen(socket, [](const nlohmann::json& s) { return s["containers"].size() == 1; });
  ASSERT_EQ(status["containers"].size(), 1u) << status.dump();
  EXPECT_EQ(status["containers"][0]["supervisor_pid"], *supervisors.rbegin());
  metrics::Exposition out;
  agent.WriteMetrics(out);
  std::string text = out.Take();
  EXPECT_THAT(text, testing::HasSubstr("nvgate_container_supervisors_failed_total 1\n"));
  EXPECT_THAT(text, testing::HasSubstr("nvgate_active_containers 1\n"));
  // The killed one's reported calls stay in the totals.
  EXPECT_THAT(text, testing::HasSubstr("nvgate_agent_calls_total{decision=\"allowed\"} 4\n"));
  agent.Stop();
  serving.join();
}

policy::Denial DenialOf(std::string capability, std::string call) {
  return {.pid = 7, .level = abi::Level::kAlloc, .key = 0, .line = "", .capability = std::move(capability),
          .call = std::move(call)};
}

TEST(ContainerMeterTest, CountsCallsLatencyAndDenialsByCapabilityAndCall) {
  ContainerMeter meter;
  meter.Denied(DenialOf("video", "NVB8B0_VIDEO_DECODER"));
  meter.Denied(DenialOf("video", "NVB8B0_VIDEO_DECODER"));
  meter.Denied(DenialOf("unknown", "unknown control"));
  meter.Answered(false, std::chrono::microseconds(3));
  meter.Answered(true, std::chrono::microseconds(30));
  ContainerMeter::Snapshot s = meter.Read();
  EXPECT_EQ(s.allowed, 1u);
  EXPECT_EQ(s.denied, 1u);
  EXPECT_EQ(s.latency.count(), 2u);
  EXPECT_EQ(s.denials, (std::map<ContainerMeter::DenialKey, std::uint64_t>{
                           {{"unknown", "unknown control"}, 1}, {{"video", "NVB8B0_VIDEO_DECODER"}, 2}}));
}

TEST(ContainerMeterTest, DistinctDenialSeriesAreBounded) {
  ContainerMeter meter;
  for (std::size_t i = 0; i < ContainerMeter::kMaxDenialSeries + 10; ++i) {
    meter.Denied(DenialOf("never", "CALL_" + std::to_string(i)));
  }
  meter.Denied(DenialOf("never", "CALL_0"));  // an existing series still counts as itself
  ContainerMeter::Snapshot s = meter.Read();
  EXPECT_EQ(s.denials.size(), ContainerMeter::kMaxDenialSeries + 1);
  EXPECT_EQ((s.denials[{"other", "other"}]), 10u);
  EXPECT_EQ((s.denials[{"never", "CALL_0"}]), 2u);
}

TEST(AgentMetricsTest, PerContainerSeriesAndTotals) {
  ContainerMeter meter;
  meter.Denied(DenialOf("video", "NVB8B0_VIDEO_DECODER"));
  meter.Answered(true, std::chrono::microseconds(20));
  meter.Answered(false, std::chrono::microseconds(20));
  AgentTotals totals{.started = 3, .refused = 1, .failed = 1};
  ContainerMeter gone;
  gone.Denied(DenialOf("compute", "NVC86F_CHANNEL_GPFIFO_A"));
  gone.Answered(true, std::chrono::microseconds(20));
  totals.Add(gone.Read());
  totals.Add(meter.Read());
  metrics::Exposition out;
  WriteAgentMetrics(out, {{"ctr\"1", meter.Read()}}, totals);
  std::string text = out.Take();
  for (const char* line : {
           "nvgate_active_containers 1\n",
           "nvgate_calls_total{container=\"ctr\\\"1\",decision=\"allowed\"} 1\n",
           "nvgate_calls_total{container=\"ctr\\\"1\",decision=\"denied\"} 1\n",
           "nvgate_denials_total{container=\"ctr\\\"1\",capability=\"video\",call=\"NVB8B0_VIDEO_DECODER\"} 1\n",
           "nvgate_supervision_latency_seconds_count{container=\"ctr\\\"1\"} 2\n",
           "nvgate_containers_started_total 3\n",
           "nvgate_containers_refused_total 1\n",
           "nvgate_container_supervisors_failed_total 1\n",
           "nvgate_agent_calls_total{decision=\"allowed\"} 1\n",
           "nvgate_agent_calls_total{decision=\"denied\"} 2\n",
           "nvgate_agent_denials_total{capability=\"compute\"} 1\n",
           "nvgate_agent_denials_total{capability=\"video\"} 1\n",
           "nvgate_agent_supervision_latency_seconds_count 3\n",
       }) {
    EXPECT_THAT(text, testing::HasSubstr(line));
  }
  // Each family once, its samples after it.
  for (const char* family : {"nvgate_calls_total", "nvgate_denials_total", "nvgate_supervision_latency_seconds",
                             "nvgate_agent_calls_total"}) {
    std::string type = std::string("# TYPE ") + family + " ";
    std::size_t at = text.find(type);
    ASSERT_NE(at, std::string::npos) << family;
    EXPECT_EQ(text.find(type, at + 1), std::string::npos) << family;
    EXPECT_LT(at, text.find(std::string("\n") + family + "{")) << family;
  }
}

TEST(AgentMetricsTest, AnIdleAgentHasEveryFamilyAndZeroes) {
  Agent agent({.socket_path = "/tmp/nvgate-agent-metrics-test-" + std::to_string(getpid()) + ".sock",
               .allowed = caps::CapSet::Default(),
               .driver = {}});
  metrics::Exposition out;
  agent.WriteMetrics(out);
  std::string text = out.Take();
  EXPECT_THAT(text, testing::HasSubstr("nvgate_active_containers 0\n"));
  EXPECT_THAT(text, testing::HasSubstr("nvgate_containers_started_total 0\n"));
  EXPECT_THAT(text, testing::HasSubstr("nvgate_container_supervisors_failed_total 0\n"));
  EXPECT_THAT(text, testing::HasSubstr("nvgate_agent_calls_total{decision=\"denied\"} 0\n"));
  EXPECT_THAT(text, testing::HasSubstr("# TYPE nvgate_calls_total counter\n"));
  EXPECT_THAT(text, testing::HasSubstr("nvgate_agent_supervision_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
}

TEST(ContainerSupervisorConfigTest, RoundTrips) {
  ContainerSupervisorConfig config{.id = "ctr\"1",
                                   .pid = 4242,
                                   .enabled = caps::CapSet::Default(),
                                   .refused = false,
                                   .gpus = std::vector<int>{1},
                                   .agent_pid = 17,
                                   .log_level = "debug",
                                   .driver = {.backend = "sim",
                                              .sim_node_dir = "/tmp/nodes",
                                              .sim_call_log = "/tmp/calls.log",
                                              .abi_version = "580.159.04",
                                              .sim_gpus = 2}};
  auto decoded = DecodeConfig(EncodeConfig(config));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->id, config.id);
  EXPECT_EQ(decoded->pid, 4242);
  EXPECT_EQ(decoded->enabled.bits(), config.enabled.bits());
  EXPECT_FALSE(decoded->refused);
  EXPECT_EQ(decoded->agent_pid, 17);
  EXPECT_EQ(decoded->log_level, "debug");
  EXPECT_EQ(decoded->driver.backend, "sim");
  EXPECT_EQ(decoded->driver.sim_node_dir, "/tmp/nodes");
  EXPECT_EQ(decoded->driver.sim_call_log, "/tmp/calls.log");
  EXPECT_EQ(decoded->driver.abi_version, "580.159.04");
  EXPECT_EQ(decoded->driver.sim_gpus, 2);
  EXPECT_EQ(decoded->gpus, std::vector<int>{1});
  config.gpus.reset();
  auto every_gpu = DecodeConfig(EncodeConfig(config));
  ASSERT_TRUE(every_gpu) << every_gpu.error().message;
  EXPECT_FALSE(every_gpu->gpus);
  EXPECT_FALSE(DecodeConfig(R"({"id":"x"})"));
  EXPECT_FALSE(DecodeConfig("not json"));
}

TEST(ContainerReportTest, RoundTripsAMetersSnapshotAndTheDenials) {
  ContainerMeter meter;
  meter.Denied(DenialOf("video", "NVB8B0_VIDEO_DECODER"));
  meter.Answered(true, std::chrono::microseconds(30));
  meter.Answered(false, std::chrono::microseconds(3));
  ContainerReport report{.meter = meter.Read(), .executed = 2, .denied = 1, .denials = nlohmann::json::array()};
  report.denials.push_back({{"call", "NVB8B0_VIDEO_DECODER"},
                            {"level", "alloc"},
                            {"key", "0xb8b0"},
                            {"capability", "video"},
                            {"count", 1},
                            {"processes", 1}});
  auto decoded = DecodeReport(EncodeReport(report));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->meter.allowed, 1u);
  EXPECT_EQ(decoded->meter.denied, 1u);
  EXPECT_EQ(decoded->meter.denials, report.meter.denials);
  EXPECT_EQ(decoded->meter.latency.counts, report.meter.latency.counts);
  EXPECT_EQ(decoded->meter.latency.sum_ns, report.meter.latency.sum_ns);
  EXPECT_EQ(decoded->executed, 2u);
  EXPECT_EQ(decoded->denied, 1u);
  EXPECT_EQ(decoded->denials, report.denials);
}

// A supervisor process whose workload took it over may send anything.
TEST(ContainerReportTest, RefusesMalformedOrOversizedReports) {
  const ContainerReport empty;
  nlohmann::json good = nlohmann::json::parse(EncodeReport(empty));
  ASSERT_TRUE(DecodeReport(good.dump()));
  EXPECT_FALSE(DecodeReport("[]"));
  EXPECT_FALSE(DecodeReport(std::string(kMaxReportBytes + 1, ' ')));
  for (const char* field :
       {"allowed", "denied_answered", "executed", "denied", "denial_series", "latency", "denials"}) {
    nlohmann::json missing = good;
    missing.erase(field);
    EXPECT_FALSE(DecodeReport(missing.dump())) << field;
  }
  nlohmann::json negative = good;
  negative["allowed"] = -1;
  EXPECT_FALSE(DecodeReport(negative.dump()));
  nlohmann::json short_histogram = good;
  short_histogram["latency"]["counts"].erase(0);
  EXPECT_FALSE(DecodeReport(short_histogram.dump()));
  nlohmann::json too_many = good;
  for (std::size_t i = 0; i <= ContainerMeter::kMaxDenialSeries + 1; ++i) {
    too_many["denial_series"].push_back({"never", "CALL_" + std::to_string(i), 1});
  }
  EXPECT_FALSE(DecodeReport(too_many.dump()));
  nlohmann::json odd_denial = good;
  odd_denial["denials"].push_back({{"call", 7}});
  EXPECT_FALSE(DecodeReport(odd_denial.dump()));
}

}  // namespace
}  // namespace nvgate::agent
