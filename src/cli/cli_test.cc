// nvgate as a user runs it: exit statuses and one-line errors.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"

namespace nvgate::cli {
namespace {

using ::testing::HasSubstr;
using testing::RunProgram;

testing::ProgramResult Nvgate(std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), NVGATE_BINARY);
  return RunProgram(args, env);
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The subcommands `nvgate --help` lists.
std::vector<std::string> Subcommands() {
  auto help = Nvgate({"--help"});
  std::vector<std::string> names;
  std::istringstream in(help.out.substr(help.out.find("Subcommands:")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(NVGATE_SOURCE_DIR) + "/" + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Cli, EveryCommandHasHelpWithAnExample) {
  auto top = Nvgate({"--help"});
  EXPECT_EQ(top.status, 0);
  EXPECT_THAT(top.out, HasSubstr("Example"));
  ASSERT_GE(Subcommands().size(), 3u);
  for (const std::string& command : Subcommands()) {
    auto r = Nvgate({command, "--help"});
    EXPECT_EQ(r.status, 0) << command;
    EXPECT_THAT(r.out, HasSubstr("Example")) << command;
  }
}

// The man page and both shell completions know every subcommand.
TEST(Cli, ManPageAndCompletionsKnowEveryCommand) {
  std::string man = ReadSource("docs/man/nvgate.1");
  std::string bash = ReadSource("packaging/completions/nvgate.bash");
  std::string zsh = ReadSource("packaging/completions/_nvgate");
  for (const std::string& command : Subcommands()) {
    EXPECT_THAT(man, HasSubstr(".SS \"nvgate " + command)) << command;
    EXPECT_THAT(bash, HasSubstr(command)) << command;
    EXPECT_THAT(zsh, HasSubstr(command)) << command;
  }
}

std::string WriteConfig(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Cli, ConfigFileSetsDefaultsAndFlagsWin) {
  std::string config = WriteConfig("nvgate-bound.toml", "[run]\nallowed-caps = \"compute,utility\"\n");
  auto bounded = Nvgate({"--config", config, "run", "--backend", "sim", "--caps", "video", "--", "true"});
  EXPECT_EQ(bounded.status, 125);
  EXPECT_THAT(bounded.err, HasSubstr("outside the allowed set \"compute,utility\""));
  auto widened = Nvgate({"--config", config, "run", "--backend", "sim", "--caps", "video", "--allowed-caps",
                         "all", "--", "true"});
  EXPECT_EQ(widened.status, 0) << widened.err;
}

TEST(Cli, ConfigErrorsNameTheKey) {
  auto unknown = Nvgate({"--config", WriteConfig("nvgate-typo.toml", "[run]\nbakend = \"sim\"\n"), "run", "--", "true"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_THAT(unknown.err, HasSubstr("nvgate-typo.toml:2: [run] bakend: no such key"));
  auto bad_value =
      Nvgate({"--config", WriteConfig("nvgate-value.toml", "[run]\nbackend = \"gpu\"\n"), "run", "--", "true"});
  EXPECT_NE(bad_value.status, 0);
  EXPECT_THAT(bad_value.err, HasSubstr("--backend"));
  auto missing = Nvgate({"--config", "/nonexistent/nvgate.toml", "abi"});
  EXPECT_NE(missing.status, 0);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/nvgate.toml"));
}

// Issue 22: the file is read as TOML, and its errors name the file and line.
TEST(Cli, ConfigIsTomlWithErrorsNamingFileAndLine) {
  std::string arrays = WriteConfig("nvgate-array.toml",
                                   "[run]\ncaps = [\"compute\", \"video\"]\nlog-format = \"\"\"json\"\"\"\n");
  auto shown = Nvgate({"--config", arrays, "config", "show"});
  ASSERT_EQ(shown.status, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("caps = 'compute,video'  # " + arrays));
  EXPECT_THAT(shown.out, HasSubstr("log-format = 'json'  # " + arrays)) << "a multi-line string is its text";
  EXPECT_THAT(shown.out, HasSubstr("allowed-caps = 'all'  # default"));
  EXPECT_THAT(shown.out, HasSubstr("[oci-runtime]"));

  std::string twice = WriteConfig("nvgate-twice.toml", "[run]\ncaps = \"compute\"\n[run]\nbackend = \"sim\"\n");
  auto dup = Nvgate({"--config", twice, "abi"});
  EXPECT_EQ(dup.status, 2);
  EXPECT_THAT(dup.err, HasSubstr(twice + ":3: "));
  EXPECT_EQ(Lines(dup.err), 1);

  std::string nested = WriteConfig("nvgate-nested.toml", "[oci.runtime]\nruntime = \"/usr/bin/runc\"\n");
  EXPECT_THAT(Nvgate({"--config", nested, "config", "show"}).out,
              HasSubstr("runtime = '/usr/bin/runc'  # " + nested));

  std::string table = WriteConfig("nvgate-table.toml", "[run]\ncaps = { a = 1 }\n");
  auto bad = Nvgate({"--config", table, "abi"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr(table + ":2: [run] caps: a string, number, boolean or array of them"));

  // A broken file does not stop --help, --version or doctor: each runs on the
  // defaults and names the file and line; doctor as a failed check, with its
  // verdict as the status.
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"}, {"--version"}, {"run", "--help"}}) {
    args.insert(args.begin(), {"--config", table});
    auto r = Nvgate(args);
    EXPECT_EQ(r.status, 0) << ::testing::PrintToString(args) << r.err;
    EXPECT_THAT(r.err, HasSubstr(table + ":2: ")) << ::testing::PrintToString(args);
  }
  auto doctor = Nvgate({"--config", table, "doctor"});
  EXPECT_LE(doctor.status, 2) << doctor.err;
  EXPECT_THAT(doctor.out, HasSubstr("configuration"));
  EXPECT_THAT(doctor.out, HasSubstr(table + ":2: [run] caps"));
}

TEST(Cli, LogLevelDecidesWhatNvgateSays) {
  auto debug = Nvgate({"--log-level", "debug", "run", "--backend", "sim", "--caps", "compute", "--", "true"});
  EXPECT_EQ(debug.status, 0) << debug.err;
  EXPECT_THAT(debug.err, HasSubstr("calls executed"));
  auto quiet = Nvgate({"run", "--backend", "sim", "--caps", "compute", "--", "true"});
  EXPECT_THAT(quiet.err, ::testing::Not(HasSubstr("calls executed")));
  auto from_config = Nvgate({"--config", WriteConfig("nvgate-level.toml", "log-level = \"debug\"\n"), "run",
                             "--backend", "sim", "--caps", "compute", "--", "true"});
  EXPECT_THAT(from_config.err, HasSubstr("calls executed"));
}

TEST(Cli, ShippedConfigIsValid) {
  auto r = Nvgate({"--config", std::string(NVGATE_SOURCE_DIR) + "/packaging/nvgate.toml", "abi", "--summary-markdown"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// /etc/nvgate/nvgate.toml as the package installs it: no key is set, so
// installing it changes nothing; and each key it shows, once uncommented, is
// a real key with a valid value.
TEST(Cli, ShippedConfigSetsNothingAndEveryKeyItShowsIsValid) {
  std::istringstream shipped(ReadSource("packaging/nvgate.toml"));
  std::string uncommented;
  int keys = 0;
  for (std::string line; std::getline(shipped, line);) {
    EXPECT_TRUE(line.empty() || line[0] == '#' || line[0] == '[') << "set in the shipped file: " << line;
    // "# key = value" (a key, then " = "), and not prose.
    std::size_t equals = line.find(" = ");
    bool key = line.rfind("# ", 0) == 0 && equals != std::string::npos &&
               line.find_first_not_of("abcdefghijklmnopqrstuvwxyz-", 2) == equals;
    if (key) ++keys;
    uncommented += (key ? line.substr(2) : line) + "\n";
  }
  EXPECT_GE(keys, 20);
  std::string config = WriteConfig("nvgate-every-key.toml", uncommented);
  // Each command parses its own table; a bad key or value would be exit 2.
  auto abi = Nvgate({"--config", config, "abi", "--summary-markdown"});
  EXPECT_EQ(abi.status, 0) << abi.err;
  auto status = Nvgate({"--config", config, "agent", "status", "--socket", "/nonexistent/agent.sock"});
  EXPECT_EQ(status.status, 1) << status.err;
  EXPECT_THAT(status.err, HasSubstr("connect /nonexistent/agent.sock"));
  auto run = Nvgate({"--config", config, "run", "--help"});
  EXPECT_EQ(run.status, 0) << run.err;
}

TEST(Cli, AgentStopsAtStartOnAMetricsAddressItCannotServe) {
  std::string socket = ::testing::TempDir() + "/nvgate-cli-agent.sock";
  auto malformed = Nvgate({"agent", "--socket", socket, "--backend", "sim", "--metrics", "9464"});
  EXPECT_EQ(malformed.status, 125);
  EXPECT_THAT(malformed.err, HasSubstr("--metrics: metrics address '9464' has no port"));
  EXPECT_EQ(Lines(malformed.err), 1);
  // TEST-NET-1 (RFC 5737): an address of no host.
  auto unbindable = Nvgate({"agent", "--socket", socket, "--backend", "sim", "--metrics", "192.0.2.1:9464"});
  EXPECT_EQ(unbindable.status, 125);
  EXPECT_THAT(unbindable.err, HasSubstr("bind 192.0.2.1:9464"));
  auto from_config = Nvgate({"--config", WriteConfig("nvgate-metrics.toml", "[agent]\nmetrics = \"[::1\"\n"),
                             "agent", "--socket", socket, "--backend", "sim"});
  EXPECT_EQ(from_config.status, 125);
  EXPECT_THAT(from_config.err, HasSubstr("metrics address '[::1' is not HOST:PORT"));
}

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return addr;
}

// Whether a stream connection to the Unix socket at `path` is accepted.
bool Connects(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = UnixAddress(path);
  bool connected = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return connected;
}

// The next datagram on `fd`; "" when none comes within ten seconds.
std::string NextDatagram(int fd) {
  pollfd readable = {fd, POLLIN, 0};
  if (poll(&readable, 1, 10'000) != 1) return "";
  char message[256];
  ssize_t n = recv(fd, message, sizeof message, 0);
  return n > 0 ? std::string(message, static_cast<std::size_t>(n)) : "";
}

// nvgate-agent.service is Type=notify and Before= the container runtimes:
// systemd starts them once the agent says READY=1, which must therefore come
// only when a runtime can connect. The test stands in for systemd's notify
// socket (NOTIFY_SOCKET, a datagram socket).
TEST(Cli, AgentTellsSystemdItIsReadyOnlyOnceItsSocketAcceptsConnections) {
  std::string dir_template = ::testing::TempDir() + "/nvgate-notify-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  const std::filesystem::path dir = dir_template;
  std::filesystem::create_directories(dir / "nodes");
  const std::string notify_path = dir / "notify.sock";
  const std::string agent_socket = dir / "agent.sock";
  const std::string nodes = dir / "nodes";
  int notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(notify, 0);
  sockaddr_un addr = UnixAddress(notify_path);
  ASSERT_EQ(bind(notify, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);

  pid_t agent = fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    execl(NVGATE_BINARY, NVGATE_BINARY, "agent", "--socket", agent_socket.c_str(), "--backend", "sim",
          "--sim-node-dir", nodes.c_str(), nullptr);
    _exit(127);
  }
  EXPECT_EQ(NextDatagram(notify), "READY=1");
  EXPECT_TRUE(Connects(agent_socket));
  kill(agent, SIGTERM);
  EXPECT_EQ(NextDatagram(notify), "STOPPING=1");
  int status = 0;
  waitpid(agent, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  close(notify);
  std::filesystem::remove_all(dir);
}

// Issue #25: capabilities given back to a root workload are named, each with
// what it re-opens; SYS_PTRACE and unknown names are errors.
TEST(Cli, KeepCapsWarnsWithWhatEachReopens) {
  auto kept = Nvgate({"run", "--backend", "sim", "--caps", "compute", "--keep-caps", "sys_nice", "--", "true"});
  EXPECT_EQ(kept.status, 0) << kept.err;
  EXPECT_THAT(kept.err, HasSubstr("--keep-caps SYS_NICE: the workload keeps CAP_SYS_NICE, which re-opens "
                                  "real-time scheduling"));
  if (::geteuid() == 0) {
    EXPECT_THAT(kept.err, HasSubstr("runs as root with only the capabilities CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,"
                                    "SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,SYS_CHROOT,SYS_NICE,SETFCAP"));
  }
  auto from_config = Nvgate({"--config", WriteConfig("nvgate-keep.toml", "[run]\nkeep-caps = \"ipc_lock\"\n"),
                             "run", "--backend", "sim", "--caps", "compute", "--", "true"});
  EXPECT_EQ(from_config.status, 0) << from_config.err;
  EXPECT_THAT(from_config.err, HasSubstr("keeps CAP_IPC_LOCK"));
  auto ptrace = Nvgate({"run", "--backend", "sim", "--caps", "compute", "--keep-caps", "SYS_PTRACE", "--", "true"});
  EXPECT_EQ(ptrace.status, 125);
  EXPECT_THAT(ptrace.err, HasSubstr("SYS_PTRACE cannot be kept"));
  auto unknown = Nvgate({"run", "--backend", "sim", "--caps", "compute", "--keep-caps", "SYS_WARP", "--", "true"});
  EXPECT_EQ(unknown.status, 125);
  EXPECT_THAT(unknown.err, HasSubstr("'SYS_WARP' is not a Linux capability"));
  EXPECT_EQ(Lines(unknown.err), 1);
}

// Usage errors exit with nvgate's documented status, never the option
// parser's own numbers (CLI11's 105 to 114), so that a script or a container
// engine can tell them from the workload's status: 125 where nvgate would have
// started a workload or runtime, 2 elsewhere. One line, naming the problem.
TEST(Cli, UsageErrorsExitWithTheDocumentedStatusInOneLine) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{}, 2, "a command is required"},
           {{"--bogus"}, 2, "unknown option --bogus"},
           {{"doctor", "--bogus"}, 3, "nvgate doctor: "},
           {{"abi", "--caps"}, 2, "--caps"},
           {{"run"}, 125, "no command to run"},
           {{"run", "--bogus", "--", "true"}, 125, "--bogus"},
           {{"run", "--backend", "gpu", "--", "true"}, 125, "--backend"},
           {{"trace", "--caps"}, 125, "nvgate trace: "},
           {{"oci", "runtime", "--bogus"}, 125, "nvgate oci runtime: "},
           {{"agent", "--bogus"}, 125, "nvgate agent: "},
           {{"agent", "--socket"}, 125, "--socket"},
           {{"agent", "status", "--bogus"}, 2, "nvgate agent status: "},
           {{"config"}, 2, "nvgate config: "},
       }) {
    auto r = Nvgate(c.args);
    EXPECT_EQ(r.status, c.status) << ::testing::PrintToString(c.args) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.says)) << ::testing::PrintToString(c.args);
    EXPECT_EQ(Lines(r.err), 1) << r.err;
  }
}

// Issue 22: a .trace argument is a trace even when it is missing, and every
// reading error names the file.
TEST(Cli, TraceArgumentsAreFilesWithErrorsNamingThem) {
  auto missing = Nvgate({"learn", "no-such-recording.trace"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_THAT(missing.err, HasSubstr("cannot open no-such-recording.trace: No such file or directory"));
  EXPECT_EQ(Lines(missing.err), 1);
}

TEST(Cli, VersionIsTheProjectVersion) {
  auto r = Nvgate({"--version"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "nvgate " NVGATE_VERSION "\n");
}

TEST(Cli, UnknownCapabilityIsAOneLineErrorNamingIt) {
  auto r = Nvgate({"abi", "--caps", "compute,warp"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("\"warp\""));
  EXPECT_EQ(Lines(r.err), 1);

  auto run = Nvgate({"run", "--backend", "sim", "--caps", "compute,warp", "--", "true"});
  EXPECT_EQ(run.status, 125);
  EXPECT_THAT(run.err, HasSubstr("\"warp\""));
  EXPECT_EQ(Lines(run.err), 1);
}

TEST(Cli, CapabilityOutsideTheAllowedSetIsAOneLineError) {
  auto r = Nvgate({"run", "--backend", "sim", "--allowed-caps", "compute,utility", "--caps",
                   "compute,video", "--", "true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("\"video\" is outside the allowed set"));
  EXPECT_EQ(Lines(r.err), 1);

  auto env = Nvgate({"run", "--backend", "sim", "--allowed-caps", "compute,utility", "--", "true"},
                    {"NVIDIA_DRIVER_CAPABILITIES=graphics"});
  EXPECT_EQ(env.status, 125);
  EXPECT_THAT(env.err, HasSubstr("\"graphics\""));
}

TEST(Cli, UnknownDriverVersionIsAOneLineErrorListingSupportedOnes) {
  auto r = Nvgate({"abi", "--driver", "581.0.1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("581.0.1 is not supported"));
  EXPECT_THAT(r.err, HasSubstr("580.159.04"));
  EXPECT_EQ(Lines(r.err), 1);

  auto run = Nvgate({"run", "--backend", "sim", "--abi-version", "581.0.1", "--", "true"});
  EXPECT_EQ(run.status, 125);
  EXPECT_THAT(run.err, HasSubstr("581.0.1"));
}

TEST(Cli, AbiJsonListsTheReachableEntries) {
  auto r = Nvgate({"abi", "--driver", "580.159.04", "--caps", "compute,utility", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "nvgate.abi/1");
  EXPECT_EQ(j["driver"], "580.159.04");
  EXPECT_GT(j["reachable"]["total"].get<int>(), 100);
}

TEST(Cli, AbiDiff) {
  auto r = Nvgate({"abi", "--driver", "580.159.04", "--diff", "compute,video", "compute", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["only_a"].empty());
  EXPECT_TRUE(j["only_b"].empty());
}

TEST(Cli, AbiDefaultReportNeedsNoGpu) {
  auto r = Nvgate({"abi"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("capabilities compute,utility"));
  EXPECT_THAT(r.out, HasSubstr("| all |"));
}

}  // namespace
}  // namespace nvgate::cli
