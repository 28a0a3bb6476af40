// `nvgate oci runtime` and `nvgate-runtime` as containerd and Docker run
// them, in front of a stand-in runtime that records its arguments: what
// reaches the runtime, and that nothing does when the shim refuses.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"

namespace nvgate::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ProgramResult;
using testing::RunProgram;

class OciRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvgate-oci-runtime-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    runtime_ = (dir_ / "fake-runc").string();
    // One argument per line, then the exit status the test asks for.
    std::ofstream(runtime_) << "#!/bin/sh\nprintf '%s\\n' \"$@\" > " << (dir_ / "args").string()
                            << "\nexit ${FAKE_RUNC_STATUS:-0}\n";
    fs::permissions(runtime_, fs::perms::owner_all);
    fs::create_directories(dir_ / "bundle");
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProgramResult Shim(const std::vector<std::string>& runtime_args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {NVGATE_BINARY, "oci", "runtime", "--runtime", runtime_, "--allowed-caps",
                                     "compute,utility", "--socket", "/run/test/agent.sock", "--"};
    argv.insert(argv.end(), runtime_args.begin(), runtime_args.end());
    return RunProgram(argv, env);
  }

  void WriteConfig(const std::string& text) { std::ofstream(dir_ / "bundle/config.json") << text; }
  std::string ReadFile(const fs::path& path) const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool RuntimeCalled() const { return fs::exists(dir_ / "args"); }
  // What the runtime received, one argument per line.
  std::string RuntimeArgs() const { return ReadFile(dir_ / "args"); }
  std::string Bundle() const { return (dir_ / "bundle").string(); }

  fs::path dir_;
  std::string runtime_;
};

TEST_F(OciRuntimeTest, OtherCommandsReachTheRuntimeUnchanged) {
  ProgramResult r = Shim({"--root", "/run/r", "--log", "/l.json", "kill", "ctr 1", "KILL"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(RuntimeArgs(), "--root\n/run/r\n--log\n/l.json\nkill\nctr 1\nKILL\n");
  // The runtime's own exit status is the shim's: it execs the runtime.
  EXPECT_EQ(Shim({"state", "ctr1"}, {"FAKE_RUNC_STATUS=7"}).status, 7);
}

TEST_F(OciRuntimeTest, CreateRewritesTheConfigThenRunsTheRuntimeWithTheSameArguments) {
  WriteConfig(R"({"ociVersion":"1.0.2","process":{"args":["/bin/true"],"env":["PATH=/bin"]},"hostname":"h"})");
  ProgramResult r = Shim({"--root", "/run/r", "create", "--bundle", Bundle(), "--pid-file", "/p", "ctr1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(RuntimeArgs(), "--root\n/run/r\ncreate\n--bundle\n" + Bundle() + "\n--pid-file\n/p\nctr1\n");
  auto config = nlohmann::json::parse(ReadFile(dir_ / "bundle/config.json"));
  EXPECT_EQ(config["linux"]["seccomp"]["listenerPath"], "/run/test/agent.sock");
  EXPECT_EQ(config["hostname"], "h");
}

TEST_F(OciRuntimeTest, MalformedConfigIsAClearErrorAndTheRuntimeIsNotCalled) {
  WriteConfig(R"({"ociVersion":"1.0.2", "process": )");
  ProgramResult r = Shim({"create", "--bundle", Bundle(), "ctr1"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("container ctr1: " + Bundle() + "/config.json is not valid JSON"));
  EXPECT_THAT(r.err, HasSubstr("the runtime was not called"));
  EXPECT_FALSE(RuntimeCalled());

  ProgramResult missing = Shim({"run", "--bundle", (dir_ / "empty").string(), "ctr2"});
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("cannot read " + (dir_ / "empty").string() + "/config.json"));
  EXPECT_FALSE(RuntimeCalled());
}

TEST_F(OciRuntimeTest, RefusedRequestsAndUnreadableArgumentsNeverReachTheRuntime) {
  WriteConfig(R"({"ociVersion":"1.0.2","process":{"env":["NVIDIA_DRIVER_CAPABILITIES=video"]}})");
  const std::string before = ReadFile(dir_ / "bundle/config.json");
  ProgramResult refused = Shim({"create", "-b", Bundle(), "ctr1"});
  EXPECT_EQ(refused.status, 125);
  EXPECT_THAT(refused.err, HasSubstr("capability request 'video' (from NVIDIA_DRIVER_CAPABILITIES) refused"));
  EXPECT_THAT(refused.err, HasSubstr("outside the allowed set \"compute,utility\""));
  EXPECT_EQ(ReadFile(dir_ / "bundle/config.json"), before);

  ProgramResult unknown = Shim({"--frobnicate", "x", "create", "-b", Bundle(), "ctr1"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_THAT(unknown.err, HasSubstr("unknown global option '--frobnicate'"));
  EXPECT_FALSE(RuntimeCalled());
}

TEST_F(OciRuntimeTest, UnderTheNameNvgateRuntimeTheConfigFileConfiguresIt) {
  std::string config = (dir_ / "nvgate.toml").string();
  std::ofstream(config) << "[oci-runtime]\nruntime = \"" << runtime_
                        << "\"\nallowed-caps = \"video\"\nsocket = \"/run/other.sock\"\n";
  WriteConfig(R"({"ociVersion":"1.0.2","process":{"env":["NVIDIA_DRIVER_CAPABILITIES=video"]}})");
  ProgramResult r = RunProgram({NVGATE_RUNTIME, "--root", "/r", "create", "--bundle=" + Bundle(), "ctr1"},
                               {"NVGATE_CONFIG=" + config});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(RuntimeArgs(), "--root\n/r\ncreate\n--bundle=" + Bundle() + "\nctr1\n");
  auto written = nlohmann::json::parse(ReadFile(dir_ / "bundle/config.json"));
  EXPECT_EQ(written["linux"]["seccomp"]["listenerPath"], "/run/other.sock");

  std::ofstream(config) << "[oci-runtime]\nruntime = \"" << runtime_ << "\"\nallowed-caps = \"compute\"\n";
  WriteConfig(R"({"ociVersion":"1.0.2","process":{"env":["NVIDIA_DRIVER_CAPABILITIES=video"]}})");
  fs::remove(dir_ / "args");
  ProgramResult refused = RunProgram({NVGATE_RUNTIME, "create", "--bundle", Bundle(), "ctr1"},
                                     {"NVGATE_CONFIG=" + config});
  EXPECT_EQ(refused.status, 125);
  EXPECT_THAT(refused.err, HasSubstr("nvgate-runtime: container ctr1: capability request 'video'"));
  EXPECT_FALSE(RuntimeCalled());
}

// Issue 22: under the name nvgate-runtime (containerd and Docker call it with
// runc's arguments), a broken configuration file or bad arguments are one
// line naming the problem and exit 125, and runc is never called.
TEST_F(OciRuntimeTest, UnderTheNameNvgateRuntimeUsageErrorsAreOneLineAnd125) {
  std::string config = (dir_ / "broken.toml").string();
  std::ofstream(config) << "[oci-runtime]\nruntime = \"" << runtime_ << "\"\nallowed-caps = [1, {}]\n";
  ProgramResult broken = RunProgram({NVGATE_RUNTIME, "create", "--bundle", Bundle(), "ctr1"},
                                    {"NVGATE_CONFIG=" + config});
  EXPECT_EQ(broken.status, 125);
  EXPECT_THAT(broken.err, HasSubstr(config + ":3: [oci-runtime] allowed-caps"));
  EXPECT_EQ(std::count(broken.err.begin(), broken.err.end(), '\n'), 1) << broken.err;
  EXPECT_FALSE(RuntimeCalled());

  ProgramResult missing = RunProgram({NVGATE_RUNTIME, "create", "--bundle", Bundle(), "ctr1"},
                                     {"NVGATE_CONFIG=" + (dir_ / "missing.toml").string()});
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("missing.toml"));
  EXPECT_FALSE(RuntimeCalled());
}

}  // namespace
}  // namespace nvgate::cli
