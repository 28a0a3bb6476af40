#include "cli/failure.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "cli/commands.h"

namespace nvgate::cli {
namespace {

// The statuses docs/man/nvgate.1 (EXIT STATUS) documents, per role.
TEST(FailureTest, ExitStatusFollowsTheCommandsRole) {
  for (const char* command : {"run", "trace", "learn", "oci runtime", "agent"}) {
    EXPECT_EQ(RoleOf(command), CommandRole::kStartsWorkload) << command;
  }
  for (const char* command : {"", "abi", "replay", "summary", "oci profile", "config", "config show"}) {
    EXPECT_EQ(RoleOf(command), CommandRole::kReadsInput) << command;
  }
  EXPECT_EQ(RoleOf("doctor"), CommandRole::kDoctor);
  EXPECT_EQ(RoleOf("agent status"), CommandRole::kAgentPeer);
  EXPECT_EQ(RoleOf("agent-container"), CommandRole::kAgentPeer);

  for (ErrorKind kind : {ErrorKind::kUsage, ErrorKind::kConfig, ErrorKind::kUnsupported, ErrorKind::kSystem,
                         ErrorKind::kDiverged, ErrorKind::kRefused}) {
    EXPECT_EQ(ExitStatus(CommandRole::kStartsWorkload, kind), kExitSetupFailure);
    EXPECT_EQ(ExitStatus(CommandRole::kReadsInput, kind), kExitUsage);
    EXPECT_EQ(ExitStatus(CommandRole::kDoctor, kind), kExitDoctorUsage);
  }
  EXPECT_EQ(ExitStatus(CommandRole::kAgentPeer, ErrorKind::kUsage), kExitUsage);
  EXPECT_EQ(ExitStatus(CommandRole::kAgentPeer, ErrorKind::kConfig), kExitUsage);
  EXPECT_EQ(ExitStatus(CommandRole::kAgentPeer, ErrorKind::kSystem), kExitAgentPeerFailure);
  EXPECT_EQ(ExitStatus(CommandRole::kAgentPeer, ErrorKind::kMalformed), kExitAgentPeerFailure);
  EXPECT_EQ(ExitStatus(CommandRole::kStartsWorkload, ErrorKind::kExec), kExitCannotExecute);
  EXPECT_EQ(ExitStatus(CommandRole::kReadsInput, ErrorKind::kExec), kExitCannotExecute);
}

TEST(FailureTest, FailPrintsTheProgramAndTheMessage) {
  testing::internal::CaptureStderr();
  const int status = Fail("run", Error::System(ENOENT, "cannot open --log-denials file /x: No such file"));
  const int runtime_status =
      Fail("nvgate-runtime", CommandRole::kStartsWorkload, Error::Exec(ENOENT, "cannot execute runc"));
  Print("", R"({"event":"denied"})");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "nvgate run: cannot open --log-denials file /x: No such file\n"
            "nvgate-runtime: cannot execute runc\n"
            "{\"event\":\"denied\"}\n");
  EXPECT_EQ(status, kExitSetupFailure);
  EXPECT_EQ(runtime_status, kExitCannotExecute);
}

}  // namespace
}  // namespace nvgate::cli
