#include "agent/oci_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "abi/abi.h"
#include "backend/backend.h"

namespace nvgate::agent {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

RuntimeCall Parse(const std::vector<std::string>& args) {
  auto call = ParseRuntimeCall(args);
  EXPECT_TRUE(call) << call.error().message;
  return call.value_or(RuntimeCall{});
}

std::string ParseError(const std::vector<std::string>& args) {
  auto call = ParseRuntimeCall(args);
  EXPECT_FALSE(call) << "parsed: command " << call->command << ", bundle " << call->bundle;
  return call ? "" : call.error().message;
}

TEST(ParseRuntimeCallTest, ContainerdsCreateCommandLine) {
  // What containerd's runc shim (and so Docker) runs.
  RuntimeCall call = Parse({"--root", "/run/containerd/runc/k8s.io", "--log", "/run/ctd/log.json", "--log-format",
                            "json", "--systemd-cgroup", "create", "--bundle", "/run/ctd/bundles/ctr1", "--pid-file",
                            "/run/ctd/ctr1.pid", "ctr1"});
  EXPECT_EQ(call.command, "create");
  EXPECT_TRUE(call.creates_container);
  EXPECT_EQ(call.bundle, "/run/ctd/bundles/ctr1");
  EXPECT_EQ(call.container_id, "ctr1");
  EXPECT_EQ(call.log_path, "/run/ctd/log.json");
  EXPECT_EQ(call.log_format, "json");
}

TEST(ParseRuntimeCallTest, EverySpellingOfTheBundleOption) {
  EXPECT_EQ(Parse({"create", "-b", "/b1", "c"}).bundle, "/b1");
  EXPECT_EQ(Parse({"create", "--bundle=/b2", "c"}).bundle, "/b2");
  EXPECT_EQ(Parse({"create", "-b=/b3", "c"}).bundle, "/b3");
  EXPECT_EQ(Parse({"run", "-bundle", "/b4", "c"}).bundle, "/b4");
  // urfave/cli moves options after the id in front of it.
  RuntimeCall after_id = Parse({"run", "c", "--bundle", "/b5"});
  EXPECT_EQ(after_id.bundle, "/b5");
  EXPECT_EQ(after_id.container_id, "c");
  // Go's flag package keeps the last one.
  EXPECT_EQ(Parse({"create", "--bundle", "/first", "-b", "/last", "c"}).bundle, "/last");
  // A value that looks like the option is the value of the option before it.
  EXPECT_EQ(Parse({"create", "--pid-file", "--bundle", "c"}).bundle, ".");
}

TEST(ParseRuntimeCallTest, MissingBundleIsTheWorkingDirectory) {
  EXPECT_EQ(Parse({"create", "c"}).bundle, ".");
  EXPECT_EQ(Parse({"run", "--bundle=", "c"}).bundle, ".");
  RuntimeCall run = Parse({"--root=/r", "run", "--detach", "--keep", "--no-subreaper", "c"});
  EXPECT_TRUE(run.creates_container);
  EXPECT_EQ(run.bundle, ".");
  EXPECT_EQ(run.container_id, "c");
}

TEST(ParseRuntimeCallTest, OtherCommandsAreLeftAlone) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--root", "/r", "start", "c"},
           {"--root", "/r", "delete", "--force", "c"},
           {"state", "c"},
           {"kill", "c", "KILL"},
           {"--log", "/l", "exec", "--process", "/p.json", "--detach", "c"},
           {"features"},
           {"create", "--help"},
           {"--help", "create", "--bundle", "/b", "c"}}) {
    RuntimeCall call = Parse(args);
    EXPECT_FALSE(call.creates_container) << args[0] << " " << args[1];
  }
  RuntimeCall version = Parse({"--version"});
  EXPECT_EQ(version.command, "");
  EXPECT_FALSE(version.creates_container);
  EXPECT_EQ(Parse({"--debug", "--", "kill", "c"}).command, "kill");
}

TEST(ParseRuntimeCallTest, WhatCannotBeReadSafelyIsAnError) {
  EXPECT_THAT(ParseError({"--frobnicate", "x", "create", "c"}), HasSubstr("unknown global option '--frobnicate'"));
  EXPECT_THAT(ParseError({"create", "--weird", "c"}), HasSubstr("unknown option '--weird' of 'create'"));
  EXPECT_THAT(ParseError({"create", "c", "--bundle"}), HasSubstr("--bundle needs a value"));
  EXPECT_THAT(ParseError({"--root"}), HasSubstr("--root needs a value"));
  // crun's --config would make the runtime read another file than the one nvgate rewrote.
  EXPECT_THAT(ParseError({"run", "-f", "/other.json", "c"}), HasSubstr("<bundle>/config.json"));
  EXPECT_THAT(ParseError({"restore", "--bundle", "/b", "c"}), HasSubstr("checkpoint"));
  // --help=false would create the container: not to be mistaken for --help.
  EXPECT_THAT(ParseError({"create", "--help=false", "-b", "/b", "c"}), HasSubstr("'--help=false'"));
  EXPECT_THAT(ParseError({"--version=0", "run", "c"}), HasSubstr("'--version=0'"));
  EXPECT_TRUE(ParseRuntimeCall({"--debug=true", "--systemd-cgroup=false", "create", "c"}));
}

class AddProfileTest : public ::testing::Test {
 protected:
  AddProfileTest() : rules_(supervisor::TrapRules::FromTable(*abi::TableForVersion("580.159.04"))) {
    options_.allowed = *caps::ParseAllowed("compute,utility,video");
    options_.listener_path = "/run/test/agent.sock";
  }

  static Json Config(const Json& env, const Json& linux_section = Json::object()) {
    return Json{{"ociVersion", "1.0.2"},
                {"process", {{"args", {"/bin/true"}}, {"env", env}}},
                {"root", {{"path", "rootfs"}}},
                {"linux", linux_section}};
  }

  supervisor::TrapRules rules_;
  ShimOptions options_;
};

TEST_F(AddProfileTest, WithoutASeccompSectionTheDefaultBaseIsUsed) {
  auto profiled = AddProfile(Config({"PATH=/bin"}), rules_, options_);
  ASSERT_TRUE(profiled) << profiled.error().message;
  const Json& seccomp = profiled->config["linux"]["seccomp"];
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(seccomp["listenerPath"], "/run/test/agent.sock");
  EXPECT_THAT(seccomp.dump(), HasSubstr("SCMP_ACT_NOTIFY"));
  EXPECT_EQ(profiled->source, "default");
  EXPECT_EQ(profiled->enabled, "compute,utility");

  options_.default_base = Json{{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", Json::array()}};
  auto with_base = AddProfile(Config({"PATH=/bin"}), rules_, options_);
  ASSERT_TRUE(with_base) << with_base.error().message;
  EXPECT_EQ(with_base->config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
}

TEST_F(AddProfileTest, TheBundlesOwnProfileIsTheBaseAndTheRestIsKept) {
  // Docker's default profile, in the shape it reaches the runtime.
  Json docker = {{"defaultAction", "SCMP_ACT_ERRNO"},
                 {"defaultErrnoRet", 1},
                 {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                 {"syscalls", {{{"names", {"read", "write", "ioctl", "mount_setattr"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
  Json config = Config({"PATH=/bin", "NVIDIA_DRIVER_CAPABILITIES=video"},
                       {{"namespaces", {{{"type", "pid"}}}}, {"seccomp", docker}, {"maskedPaths", {"/proc/kcore"}}});
  config["annotations"] = {{"org.example/keep", "me"}};
  auto profiled = AddProfile(config, rules_, options_);
  ASSERT_TRUE(profiled) << profiled.error().message;
  EXPECT_EQ(profiled->enabled, "video");
  EXPECT_EQ(profiled->source, "NVIDIA_DRIVER_CAPABILITIES");

  const Json& out = profiled->config;
  // Everything but linux.seccomp as it was, keys in their order.
  Json without_seccomp = out;
  without_seccomp["linux"].erase("seccomp");
  Json expected = config;
  expected["linux"].erase("seccomp");
  EXPECT_EQ(without_seccomp.dump(), expected.dump());

  const Json& seccomp = out["linux"]["seccomp"];
  EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(seccomp["defaultErrnoRet"], 1);
  EXPECT_EQ(seccomp["listenerPath"], "/run/test/agent.sock");
  bool base_rule_kept = false;
  for (const Json& rule : seccomp["syscalls"]) {
    if (rule["names"] == Json{"read", "write", "mount_setattr"}) base_rule_kept = rule["action"] == "SCMP_ACT_ALLOW";
  }
  EXPECT_TRUE(base_rule_kept) << seccomp["syscalls"].dump();
}

TEST_F(AddProfileTest, ARequestOutsideTheBoundNamesItAndTheBound) {
  auto refused = AddProfile(Config({"NVIDIA_DRIVER_CAPABILITIES=compute,graphics"}), rules_, options_);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("capability request 'compute,graphics' (from NVIDIA_DRIVER_CAPABILITIES)"));
  EXPECT_THAT(refused.error().message, HasSubstr("\"graphics\" is outside the allowed set \"compute,utility,video\""));

  // The annotation wins over the environment, as in the agent.
  Json annotated = Config({"NVIDIA_DRIVER_CAPABILITIES=compute"});
  annotated["annotations"] = {{"io.nvgate.driver-capabilities", "display"}};
  auto by_annotation = AddProfile(annotated, rules_, options_);
  ASSERT_FALSE(by_annotation);
  EXPECT_THAT(by_annotation.error().message, HasSubstr("(from annotation io.nvgate.driver-capabilities)"));

  options_.allowed = *caps::ParseAllowed("video");
  auto default_refused = AddProfile(Config({"PATH=/bin"}), rules_, options_);
  ASSERT_FALSE(default_refused);
  EXPECT_THAT(default_refused.error().message, HasSubstr("default capability request (none set)"));
}

TEST_F(AddProfileTest, AGpuOutsideTheBoundIsRefusedAtCreate) {
  options_.machine = backend::SimGpus(2);
  options_.allowed_gpus = *gpus::ResolveBound("1", options_.machine);
  auto one = AddProfile(Config({"NVIDIA_VISIBLE_DEVICES=1"}), rules_, options_);
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->gpus, "1");
  auto zero = AddProfile(Config({"NVIDIA_VISIBLE_DEVICES=GPU-6e766761-7465-2d73-696d-000000000000"}), rules_, options_);
  ASSERT_FALSE(zero);
  EXPECT_THAT(zero.error().message, HasSubstr("GPU request refused: NVIDIA_VISIBLE_DEVICES: GPU "
                                              "'GPU-6e766761-7465-2d73-696d-000000000000' (GPU 0"));
  EXPECT_THAT(zero.error().message, HasSubstr("outside the operator's bound on GPUs (1"));
  auto by_device = AddProfile(Config({"PATH=/bin"}, {{"devices", {{{"path", "/dev/nvidia0"}, {"type", "c"}}}}}),
                              rules_, options_);
  ASSERT_FALSE(by_device);
  EXPECT_THAT(by_device.error().message, HasSubstr("device /dev/nvidia0: GPU '/dev/nvidia0' (GPU 0"));
}

TEST_F(AddProfileTest, ConfigsThatCannotCarryTheProfileAreErrors) {
  EXPECT_THAT(AddProfile(Json::array(), rules_, options_).error().message, HasSubstr("not a JSON object"));
  Json bad_linux = Config({});
  bad_linux["linux"] = "yes";
  EXPECT_THAT(AddProfile(bad_linux, rules_, options_).error().message, HasSubstr("\"linux\" is not an object"));
  // A profile of the user's own that already hands its listener elsewhere.
  Json listener = Config({}, {{"seccomp", {{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/tmp/x"}}}});
  EXPECT_THAT(AddProfile(listener, rules_, options_).error().message, HasSubstr("already has a \"listenerPath\""));
}

// Issue #25: what docker run --privileged and --cap-add SYS_ADMIN write.
TEST_F(AddProfileTest, PrivilegedSettingsAreRefusedUnlessAllowed) {
  const Json env = Json::array({"NVIDIA_DRIVER_CAPABILITIES=compute"});
  auto with_devices = [&](const Json& rules) {
    Json linux_section = Json::object();
    linux_section["resources"]["devices"] = rules;
    return Config(env, linux_section);
  };
  Json deny_all = Json::object({{"allow", false}, {"access", "rwm"}});
  Json null_device = Json::object({{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}});
  Json docker_default = with_devices(Json::array({deny_all, null_device}));
  Json default_set = Json::array({"CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW"});
  docker_default["process"]["capabilities"]["bounding"] = default_set;
  docker_default["process"]["capabilities"]["effective"] = default_set;
  EXPECT_EQ(PrivilegedSettings(docker_default), "");
  EXPECT_TRUE(AddProfile(docker_default, rules_, options_));

  Json cap_add = docker_default;
  cap_add["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
  cap_add["process"]["capabilities"]["permitted"] = Json::array({"CAP_BPF", "CAP_SYS_RAWIO"});
  EXPECT_EQ(PrivilegedSettings(cap_add), "CAP_SYS_RAWIO, CAP_SYS_ADMIN, CAP_BPF");
  auto refused = AddProfile(cap_add, rules_, options_);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("CAP_SYS_ADMIN"));
  EXPECT_THAT(refused.error().message, HasSubstr("allow-privileged = true in [oci-runtime]"));

  Json open_devices = with_devices(Json::array({Json::object({{"allow", true}, {"access", "rwm"}})}));
  EXPECT_THAT(PrivilegedSettings(open_devices), HasSubstr("every device allowed"));
  Json wildcard = with_devices(Json::array(
      {Json::object({{"allow", true}, {"type", "a"}, {"major", -1}, {"minor", -1}, {"access", "rwm"}})}));
  EXPECT_THAT(PrivilegedSettings(wildcard), HasSubstr("every device allowed"));
  EXPECT_FALSE(AddProfile(open_devices, rules_, options_));

  options_.allow_privileged = true;
  EXPECT_TRUE(AddProfile(cap_add, rules_, options_));
  EXPECT_TRUE(AddProfile(open_devices, rules_, options_));
}

class BundleTest : public AddProfileTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvgate-shim-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    bundle_ = tmpl;
  }
  void TearDown() override { fs::remove_all(bundle_); }

  void Write(const std::string& text) {
    std::ofstream(bundle_ / "config.json") << text;
    fs::permissions(bundle_ / "config.json", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  }
  std::string Read() const {
    std::ifstream in(bundle_ / "config.json");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  int Entries() const { return static_cast<int>(std::distance(fs::directory_iterator(bundle_), {})); }

  fs::path bundle_;
};

TEST_F(BundleTest, ReplacesConfigJsonKeepingItsMode) {
  Write(Config({"PATH=/bin"}).dump(2));
  auto installed = InstallProfile(bundle_.string(), rules_, options_);
  ASSERT_TRUE(installed) << installed.error().message;
  Json written = Json::parse(Read());
  EXPECT_EQ(written, installed->config);
  EXPECT_EQ(written["linux"]["seccomp"]["listenerPath"], "/run/test/agent.sock");
  EXPECT_EQ(written["root"]["path"], "rootfs");
  struct stat st;
  ASSERT_EQ(stat((bundle_ / "config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(Entries(), 1) << "a temporary file was left behind";
}

TEST_F(BundleTest, MalformedOrRefusedConfigIsLeftUntouched) {
  Write("{\"ociVersion\": \"1.0.2\", \"process\": ");
  auto malformed = InstallProfile(bundle_.string(), rules_, options_);
  ASSERT_FALSE(malformed);
  EXPECT_THAT(malformed.error().message, HasSubstr(bundle_.string() + "/config.json is not valid JSON"));
  EXPECT_EQ(Read(), "{\"ociVersion\": \"1.0.2\", \"process\": ");

  std::string greedy = Config({"NVIDIA_DRIVER_CAPABILITIES=graphics"}).dump();
  Write(greedy);
  ASSERT_FALSE(InstallProfile(bundle_.string(), rules_, options_));
  EXPECT_EQ(Read(), greedy);
  EXPECT_EQ(Entries(), 1);

  auto missing = InstallProfile((bundle_ / "nonexistent").string(), rules_, options_);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("cannot read " + (bundle_ / "nonexistent").string() + "/config.json"));
}

TEST(RuntimeLogLineTest, JsonLinesAreWhatContainerdReads) {
  Json line = Json::parse(RuntimeLogLine("json", "refused \"x\""));
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["msg"], "refused \"x\"");
  EXPECT_TRUE(line.contains("time"));
  EXPECT_FALSE(line.contains("error"));
  EXPECT_EQ(Json::parse(RuntimeLogLine("json", "refused", "refused"))["error"], "refused");
  EXPECT_THAT(RuntimeLogLine("text", "refused \"x\""), ::testing::MatchesRegex("time=\"[^\"]+\" level=error msg=\"refused \\\\\"x\\\\\"\"\n"));
}

}  // namespace
}  // namespace nvgate::agent
