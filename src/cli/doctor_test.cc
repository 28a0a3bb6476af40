// `nvgate doctor`: on this machine as a user runs it, and its verdicts on
// made-up machines.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/doctor.h"
#include "testing/run_program.h"

namespace nvgate::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::RunProgram;

testing::ProgramResult Nvgate(std::vector<std::string> args) {
  args.insert(args.begin(), NVGATE_BINARY);
  return RunProgram(args);
}

bool HostHasNvidiaDriver() { return access("/dev/nvidiactl", F_OK) == 0; }

// The whole probe, as `nvgate run` would meet this machine: the tests run on
// machines without a GPU, where the simulated driver is what nvgate can use.
TEST(Doctor, ThisMachineCanUseTheSimButNotTheHostDriver) {
  if (HostHasNvidiaDriver()) GTEST_SKIP() << "this machine has an NVIDIA driver";
  auto r = Nvgate({"doctor"});
  EXPECT_EQ(r.status, kDoctorOnlySimUsable) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("host backend: not usable: nvidia-driver: no NVIDIA driver here "
                               "(/dev/nvidiactl is missing)"));
  EXPECT_THAT(r.out, HasSubstr("sim backend:  usable\n"));
  EXPECT_THAT(r.out, HasSubstr("ok    seccomp-wait-killable-recv"));
  // Every failed check says how to fix it.
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("fail", 0) == 0) {
      EXPECT_THAT(line, HasSubstr(" -- fix: ")) << line;
    }
  }
}

TEST(Doctor, JsonParsesAndAgreesWithTheExitStatus) {
  auto r = Nvgate({"doctor", "--json"});
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "nvgate.doctor/1");
  EXPECT_EQ(j["nvgate_version"], NVGATE_VERSION);
  EXPECT_EQ(j["exit_status"], r.status);
  EXPECT_TRUE(j["backends"]["sim"]["usable"]) << j["backends"]["sim"]["reason"];
  EXPECT_TRUE(j["facts"]["seccomp"]["wait_killable_recv"]);
  EXPECT_TRUE(j["facts"]["sim_driver"]["error"].is_null());
  for (const auto& check : j["checks"]) {
    EXPECT_TRUE(check["id"].is_string());
    EXPECT_THAT(check["status"].get<std::string>(), ::testing::AnyOf("ok", "info", "warn", "fail"));
    if (check["status"] == "fail" || check["status"] == "warn") {
      EXPECT_TRUE(check["fix"].is_string()) << check["id"];
    }
  }
  if (HostHasNvidiaDriver()) return;
  EXPECT_EQ(r.status, kDoctorOnlySimUsable);
  EXPECT_FALSE(j["backends"]["host"]["usable"]);
  EXPECT_THAT(j["backends"]["host"]["reason"].get<std::string>(), HasSubstr("/dev/nvidiactl"));
  EXPECT_FALSE(j["facts"]["host_driver"]["available"]);
  EXPECT_EQ(j["facts"]["host_driver"]["error"], "not_found");
  EXPECT_TRUE(j["facts"]["device_nodes"].empty());
}

TEST(Doctor, HelpNamesTheExitStatusesWithAnExample) {
  auto r = Nvgate({"doctor", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("Exit status: 0 the host backend"));
  EXPECT_THAT(r.out, HasSubstr("nvgate doctor --json"));
}

// A machine where everything nvgate wants is present, with a supported driver.
MachineFacts GoodGpuMachine() {
  MachineFacts facts;
  facts.kernel_release = "6.12.0";
  facts.kernel = {.user_notification = true,
                  .wait_killable_recv = true,
                  .required_error = "",
                  .install_errno = 0,
                  .sync_wake_up = true,
                  .pidfd_thread = true};
  facts.cap_sys_admin = facts.cap_sys_ptrace = true;
  facts.isolation.mode = supervisor::IsolationMode::kNamespaces;
  facts.host = {.unavailable = "",
                .version = "580.159.04",
                .version_error = "",
                .table = "580.159.04",
                .table_branch = "580",
                .table_error = "",
                .nodes = {{"/dev/nvidiactl", "/dev/nvidiactl", abi::DeviceKind::kCtl},
                          {"/dev/nvidia0", "/dev/nvidia0", abi::DeviceKind::kGpu},
                          {"/dev/nvidia-uvm", "/dev/nvidia-uvm", abi::DeviceKind::kUvm}},
                .error_kind = std::nullopt};
  facts.sim = facts.host;
  return facts;
}

const Check* Find(const DoctorReport& report, std::string_view id) {
  for (const Check& check : report.checks) {
    if (check.id == id) return &check;
  }
  return nullptr;
}

TEST(Doctor, SupportedDriverMakesTheHostBackendUsable) {
  DoctorReport report = Judge(GoodGpuMachine());
  EXPECT_EQ(report.exit_status, kDoctorHostUsable);
  EXPECT_TRUE(report.host.usable);
  EXPECT_TRUE(report.sim.usable);
  for (const Check& check : report.checks) {
    EXPECT_NE(check.status, CheckStatus::kFail) << check.id << ": " << check.message;
  }
}

TEST(Doctor, TextIsColouredOnlyWhenAsked) {
  MachineFacts facts = GoodGpuMachine();
  facts.host.version = "590.1.2";
  facts.host.table.reset();
  facts.host.table_error = "NVIDIA driver 590.1.2 is not supported";
  DoctorReport report = Judge(facts);
  std::string plain = DoctorText(report);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_THAT(plain, HasSubstr("fail  abi-table"));
  std::string coloured = DoctorText(report, true);
  EXPECT_THAT(coloured, HasSubstr("\x1b[31mfail \x1b[0m abi-table"));  // red, padded inside
  EXPECT_THAT(coloured, HasSubstr("\x1b[32mok   \x1b[0m"));
}

TEST(Doctor, UnsupportedDriverLeavesOnlyTheSim) {
  MachineFacts facts = GoodGpuMachine();
  facts.host.version = "590.1.2";
  facts.host.table.reset();
  facts.host.table_error = "NVIDIA driver 590.1.2 is not supported (supported: 580.159.04)";
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorOnlySimUsable);
  EXPECT_THAT(report.host.reason, StartsWith("abi-table: NVIDIA driver 590.1.2 is not supported"));
  ASSERT_NE(Find(report, "abi-table"), nullptr);
  EXPECT_THAT(Find(report, "abi-table")->fix, HasSubstr("--abi-version"));
}

TEST(Doctor, MissingWaitKillableRecvRulesOutBothBackends) {
  MachineFacts facts = GoodGpuMachine();
  facts.kernel_release = "5.15.0-91-generic";
  facts.kernel.wait_killable_recv = false;
  facts.kernel.required_error = "this kernel lacks SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+)";
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorNothingUsable);
  EXPECT_THAT(report.host.reason, HasSubstr("WAIT_KILLABLE_RECV"));
  EXPECT_THAT(report.sim.reason, HasSubstr("WAIT_KILLABLE_RECV"));
  EXPECT_EQ(Find(report, "kernel")->status, CheckStatus::kFail);
  EXPECT_THAT(Find(report, "kernel")->fix, HasSubstr("5.19"));
  EXPECT_THAT(Find(report, "seccomp-wait-killable-recv")->fix, HasSubstr("5.19"));
}

// A new kernel whose seccomp() is refused (a container profile, or nvgate
// itself): upgrading would not help, and the fix says so.
TEST(Doctor, SeccompForbiddenOnANewKernelBlamesWhatForbidsIt) {
  MachineFacts facts = GoodGpuMachine();
  facts.kernel.wait_killable_recv = false;
  facts.kernel.required_error = "seccomp(...) probe failed: Operation not permitted";
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorNothingUsable);
  EXPECT_EQ(Find(report, "kernel")->status, CheckStatus::kOk);
  EXPECT_THAT(Find(report, "seccomp-wait-killable-recv")->fix, HasSubstr("forbids seccomp()"));
}

TEST(Doctor, OptionalKernelFeaturesOnlyWarn) {
  MachineFacts facts = GoodGpuMachine();
  facts.kernel.sync_wake_up = false;
  facts.kernel.pidfd_thread = false;
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorHostUsable);
  EXPECT_EQ(Find(report, "seccomp-sync-wake-up")->status, CheckStatus::kWarn);
  EXPECT_THAT(Find(report, "seccomp-sync-wake-up")->fix, HasSubstr("6.6"));
  EXPECT_EQ(Find(report, "pidfd-thread")->status, CheckStatus::kWarn);
  EXPECT_THAT(Find(report, "pidfd-thread")->fix, HasSubstr("6.9"));
}

// Without namespaces the host backend still runs (unisolated); the sim cannot.
TEST(Doctor, NoNamespacesRulesOutOnlyTheSim) {
  MachineFacts facts = GoodGpuMachine();
  facts.euid = 1000;
  facts.cap_sys_admin = facts.cap_sys_ptrace = false;
  facts.unprivileged_userns_clone = "0";
  facts.isolation = {supervisor::IsolationMode::kNone, EPERM, EPERM};
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorHostUsable);
  EXPECT_FALSE(report.sim.usable);
  EXPECT_THAT(report.sim.reason, HasSubstr("namespaces"));
  EXPECT_THAT(Find(report, "user-namespaces")->fix,
              HasSubstr("sysctl -w kernel.unprivileged_userns_clone=1"));
  EXPECT_EQ(Find(report, "isolation")->status, CheckStatus::kWarn);
}

TEST(Doctor, YamaNoAttachRulesOutBothBackends) {
  MachineFacts facts = GoodGpuMachine();
  facts.yama_ptrace_scope = 3;
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorNothingUsable);
  EXPECT_THAT(report.host.reason, StartsWith("yama-ptrace-scope: 3"));

  facts.yama_ptrace_scope = 2;  // admin-only: fine with CAP_SYS_PTRACE, which root has
  EXPECT_EQ(Judge(facts).exit_status, kDoctorHostUsable);
  facts.cap_sys_ptrace = false;
  EXPECT_EQ(Judge(facts).exit_status, kDoctorNothingUsable);
}

TEST(Doctor, MissingUvmNodeWarnsWithTheCommandThatCreatesIt) {
  MachineFacts facts = GoodGpuMachine();
  facts.host.nodes.pop_back();
  DoctorReport report = Judge(facts);
  EXPECT_EQ(report.exit_status, kDoctorHostUsable);
  EXPECT_EQ(Find(report, "device-nodes")->status, CheckStatus::kWarn);
  EXPECT_THAT(Find(report, "device-nodes")->fix, HasSubstr("nvidia-modprobe -u"));
}

}  // namespace
}  // namespace nvgate::cli
