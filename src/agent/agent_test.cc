#include "agent/agent.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "abi/abi.h"
#include "agent/container_request.h"

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
  ASSERT_TRUE(state) << state.error();
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
  ASSERT_TRUE(from_env) << from_env.error();
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
  auto backend = backend::MakeSimBackend({});
  ASSERT_TRUE(backend) << backend.error();
  std::string socket = "/tmp/nvgate-agent-test-" + std::to_string(getpid()) + ".sock";
  AgentOptions options{.socket_path = socket,
                       .allowed = caps::CapSet::Default(),
                       .table = abi::TableForVersion("580.159.04"),
                       .backend = backend->get(),
                       .supervisor = {}};
  Agent agent(options);
  ASSERT_TRUE(agent.Listen());
  std::thread serving([&] { EXPECT_TRUE(agent.Serve()); });
  auto reply = QueryStatus(socket);
  ASSERT_TRUE(reply) << reply.error();
  EXPECT_EQ(nlohmann::json::parse(*reply)["containers"], nlohmann::json::array());

  Agent second(options);
  auto refused = second.Listen();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error(), testing::HasSubstr("another agent listens"));
  agent.Stop();
  serving.join();
}

}  // namespace
}  // namespace nvgate::agent
