// The fixture of the container tests: a rootfs holding the static workloads,
// the simulated driver's node files, an `nvgate agent --backend sim` and an
// [oci-runtime] table for the shim, and helpers to read what nvprobe and the
// agent report. container_test.cc runs runc with it; engine_test.cc podman
// and containerd.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"
#include "tools/nvprobe/probe_steps.h"

namespace container_tests {

namespace fs = std::filesystem;
using nlohmann::json;
using nvgate::testing::ProgramResult;
using nvgate::testing::RunProgram;

inline std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// nvprobe --json: capability -> result of each step ("ok", "refused", ...).
inline std::multimap<std::string, std::string> ProbeResults(const std::string& out) {
  std::multimap<std::string, std::string> results;
  auto start = out.find('[');
  if (start == std::string::npos) return results;
  json steps = json::parse(out.substr(start), nullptr, false);
  if (!steps.is_array()) return results;
  for (const json& s : steps) results.emplace(s["capability"].get<std::string>(), s["result"].get<std::string>());
  return results;
}

// GET /metrics over the agent's metrics socket: the whole HTTP reply.
inline std::string HttpGet(const std::string& socket_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  std::string reply;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /metrics HTTP/1.1\r\nHost: nvgate\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return reply;
}

// The samples of a text exposition: "name{labels}" -> value.
inline std::map<std::string, double> Samples(const std::string& reply) {
  std::map<std::string, double> out;
  std::size_t body = reply.find("\r\n\r\n");
  std::stringstream lines(body == std::string::npos ? "" : reply.substr(body + 4));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// The samples whose name and labels start with `prefix`.
inline std::map<std::string, double> WithPrefix(const std::map<std::string, double>& samples, const std::string& prefix) {
  std::map<std::string, double> out;
  for (const auto& [key, value] : samples) {
    if (key.rfind(prefix, 0) == 0) out.emplace(key, value);
  }
  return out;
}

inline std::set<std::string> ResultsFor(const std::multimap<std::string, std::string>& results, const std::string& cap) {
  std::set<std::string> out;
  auto [begin, end] = results.equal_range(cap);
  for (auto it = begin; it != end; ++it) out.insert(it->second);
  return out;
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runc containers need root";
    runc_ = FindInPath("runc");
    if (runc_.empty()) GTEST_SKIP() << "runc is not installed (apt-get install runc; scripts/setup-debian.sh does)";
    char tmpl[] = "/tmp/nvgate-ctr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "rootfs" / "bin");
    for (const char* d : {"proc", "dev", "sys", "tmp"}) fs::create_directories(dir_ / "rootfs" / d);
    fs::copy_file(NVPROBE_STATIC, dir_ / "rootfs/bin/nvprobe");
    fs::copy_file(ESCAPE_WORKLOAD_STATIC, dir_ / "rootfs/bin/escape_workload");
    fs::copy_file(WORKLOAD_STATIC, dir_ / "rootfs/bin/workload");
    fs::create_directories(dir_ / "nodes");
    fs::create_directories(dir_ / "state");
    socket_ = (dir_ / "agent.sock").string();
    config_ = (dir_ / "nvgate.toml").string();
    std::ofstream(config_) << fmt::format(
        "[oci-runtime]\nruntime = \"{}\"\nsocket = \"{}\"\nallowed-caps = \"{}\"\n", runc_, socket_, kBound);
    metrics_socket_ = (dir_ / "metrics.sock").string();
    StartAgent();
    ProgramResult profile = RunProgram({NVGATE_BINARY, "oci", "profile", "--listener", socket_});
    ASSERT_EQ(profile.status, 0) << profile.err;
    profile_ = json::parse(profile.out);
  }

  void TearDown() override {
    for (const std::string& id : started_) RunProgram({runc_, "--root", State(), "delete", "-f", id});
    StopAgent();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Flags a fixture adds to the agent's.
  virtual std::vector<std::string> ExtraAgentFlags() const { return {}; }

  // Each agent appends to agent.log, so a restarted one's lines follow the first's.
  void StartAgent() {
    agent_pid_ = fork();
    if (agent_pid_ == 0) {
      std::string log = (dir_ / "agent.log").string();
      freopen(log.c_str(), "a", stderr);
      std::string nodes = (dir_ / "nodes").string();
      std::string metrics = "unix:" + metrics_socket_;
      std::string calls = CallLog();
      std::vector<std::string> args = {NVGATE_BINARY, "agent",       "--socket",       socket_,      "--backend",
                                       "sim",         "--sim-node-dir", nodes,         "--sim-call-log", calls,
                                       "--allowed-caps", kBound,     "--metrics",      metrics};
      for (const std::string& flag : ExtraAgentFlags()) args.push_back(flag);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(NVGATE_BINARY, argv.data());
      _exit(127);
    }
    // The metrics socket is bound after the agent's own.
    for (int i = 0; i < 100 && !fs::exists(metrics_socket_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(fs::exists(socket_)) << AgentLog();
    ASSERT_TRUE(fs::exists(metrics_socket_)) << AgentLog();
  }

  void StopAgent() {
    if (agent_pid_ <= 0) return;
    kill(agent_pid_, SIGTERM);
    int status = 0;
    waitpid(agent_pid_, &status, 0);
    agent_pid_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << AgentLog();
  }

  std::string AgentLog() const { return ReadFile(dir_ / "agent.log"); }
  // The simulated driver's call log, appended to by every container's supervisor process.
  std::string CallLog() const { return (dir_ / "calls.log").string(); }
  std::string State() const { return (dir_ / "state").string(); }

  // A bundle whose process runs `args` with `env`, the sim's nodes bound in;
  // `seccomp` is its linux.seccomp (none when null).
  fs::path Bundle(const std::string& id, const std::vector<std::string>& args, const std::vector<std::string>& env,
                  const json& annotations = json::object(), const json& seccomp = nullptr) {
    json mounts = json::array({{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                               {{"destination", "/dev"},
                                {"type", "tmpfs"},
                                {"source", "tmpfs"},
                                {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}}});
    for (const char* node : {"nvidiactl", "nvidia0", "nvidia-uvm"}) {
      mounts.push_back({{"destination", std::string("/dev/") + node},
                        {"type", "bind"},
                        {"source", (dir_ / "nodes" / node).string()},
                        {"options", {"bind", "rw"}}});
    }
    json process_env = json::array({"PATH=/bin"});
    for (const std::string& e : env) process_env.push_back(e);
    json config = {
        {"ociVersion", "1.0.2"},
        {"process",
         {{"terminal", false}, {"user", {{"uid", 0}, {"gid", 0}}}, {"args", args}, {"env", process_env},
          {"cwd", "/"}, {"noNewPrivileges", true}}},
        {"root", {{"path", (dir_ / "rootfs").string()}, {"readonly", true}}},
        {"hostname", id},
        {"mounts", mounts},
        {"annotations", annotations},
        {"linux",
         {{"namespaces", json::array({{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "ipc"}},
                                      {{"type", "uts"}}, {{"type", "network"}}})},
          {"cgroupsPath", "/nvgate-test/" + id}}}};
    if (!seccomp.is_null()) config["linux"]["seccomp"] = seccomp;
    fs::path bundle = dir_ / ("bundle-" + id);
    fs::create_directories(bundle);
    std::ofstream(bundle / "config.json") << config.dump(1);
    return bundle;
  }

  // `runc ARGS` through the shim, as containerd runs it: nvgate-runtime with
  // runc's arguments, configured by the [oci-runtime] table.
  ProgramResult Runtime(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {NVGATE_RUNTIME};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, {"NVGATE_CONFIG=" + config_});
  }

  ProgramResult Run(const std::string& id, const fs::path& bundle) {
    started_.push_back(id);
    return Runtime({"--root", State(), "run", "--bundle", bundle.string(), id});
  }

  // The agent-only route: runc itself, the profile already in config.json.
  ProgramResult RunWithoutShim(const std::string& id, const fs::path& bundle) {
    started_.push_back(id);
    return RunProgram({runc_, "--root", State(), "run", "--bundle", bundle.string(), id});
  }

  // nvprobe's results; it exits 1 when a step failed.
  std::multimap<std::string, std::string> Probe(const std::string& id, const std::vector<std::string>& env,
                                                const json& annotations = json::object(), int expected_status = 0) {
    ProgramResult r = Run(id, Bundle(id, {"/bin/nvprobe", "--json"}, env, annotations));
    EXPECT_EQ(r.status, expected_status) << r.out << r.err << AgentLog();
    return ProbeResults(r.out);
  }

  // The agent's bound, and the shim's.
  static constexpr const char* kBound = "compute,utility,video";

  json Status() {
    ProgramResult r = RunProgram({NVGATE_BINARY, "agent", "status", "--socket", socket_});
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::map<std::string, double> Scrape() { return Samples(HttpGet(metrics_socket_)); }

  // Waits until the agent's metrics satisfy `done`.
  bool WaitForMetrics(const std::function<bool(const std::map<std::string, double>&)>& done) {
    for (int i = 0; i < 200; ++i) {
      if (done(Scrape())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Waits until the agent's status satisfies `done`.
  bool WaitForStatus(const std::function<bool(const json&)>& done) {
    for (int i = 0; i < 200; ++i) {
      json s = Status();
      if (s.is_object() && done(s)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string runc_;
  fs::path dir_;
  std::string socket_;
  std::string config_;
  std::string metrics_socket_;
  pid_t agent_pid_ = -1;
  json profile_;
  std::vector<std::string> started_;
};

}  // namespace container_tests
