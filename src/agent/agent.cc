#include "agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/container_request.h"
#include "error/error.h"

namespace nvgate::agent {
namespace {

// A runtime's message is a few KiB (the state and its annotations).
constexpr std::size_t kMaxMessage = 1 << 20;
constexpr int kMaxFds = 8;
// A client that connects and sends nothing must not hold up the next runtime.
constexpr int kReceiveTimeoutSeconds = 5;

Result<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return tl::unexpected(Error::Usage(
        fmt::format("socket path '{}' is empty or longer than {} bytes", path, sizeof(addr.sun_path) - 1)));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

struct Received {
  std::string data;
  std::vector<fd::OwnedFd> fds;
};

// Reads one JSON document (runc keeps its side open after sending it), keeping
// every fd that came along.
Result<Received> ReceiveAll(int connection) {
  Received out;
  char buffer[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  for (;;) {
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(connection, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return tl::unexpected(Error::Errno("recvmsg"));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    }
    if (n == 0) return out;
    out.data.append(buffer, static_cast<std::size_t>(n));
    if (nlohmann::json::accept(out.data)) return out;
    if (out.data.size() > kMaxMessage) return tl::unexpected(Error::Malformed("message larger than 1 MiB"));
  }
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// In the child of fork(): the agent has other threads, so only
// async-signal-safe calls until exec. The listener becomes fd 3 and the report
// socket fd 4; every other fd but stdin, stdout and stderr is closed, whatever
// its close-on-exec flag says, so that no other container's listener reaches
// this container's supervisor. The agent blocks SIGINT and SIGTERM for its
// signal thread; the mask survives exec, so it is cleared here.
[[noreturn]] void ExecSupervisor(char* const argv[], int listener, int report) {
  // Above 4 first, so that neither dup2 overwrites the other's source.
  int high_listener = fcntl(listener, F_DUPFD, 5);
  int high_report = fcntl(report, F_DUPFD, 5);
  if (high_listener < 0 || high_report < 0 || dup2(high_listener, 3) != 3 || dup2(high_report, 4) != 4 ||
      syscall(SYS_close_range, 5u, ~0u, 0u) != 0) {
    _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(argv[0], argv);
  _exit(127);
}

std::string ExitDescription(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return fmt::format("was killed by signal {} (SIG{})", WTERMSIG(status), name != nullptr ? name : "?");
  }
  return fmt::format("exited with status {}", WEXITSTATUS(status));
}

}  // namespace

struct Agent::Container {
  ContainerStatus status;  // its counts are the report's
  ContainerReport report;  // the newest its process sent
  fd::OwnedFd report_fd;
  bool bad_report_logged = false;
};

Agent::Agent(AgentOptions options) : options_(std::move(options)) {}

Agent::~Agent() {
  Stop();
  std::list<std::unique_ptr<Container>> containers;
  {
    std::lock_guard lock(mu_);
    containers.swap(containers_);
  }
  for (auto& c : containers) {
    c->report_fd.reset();
    int status;
    while (waitpid(c->status.supervisor_pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  listen_fd_.reset();
  if (bound_) unlink(options_.socket_path.c_str());
  wake_fd_.reset();
}

Result<void> Agent::Listen() {
  auto addr = SocketAddress(options_.socket_path);
  if (!addr) return tl::unexpected(addr.error());
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) return tl::unexpected(Error::Errno("eventfd"));
  listen_fd_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) return tl::unexpected(Error::Errno("socket"));
  // A socket left by an agent that died; a live agent still answers on it.
  struct stat st;
  if (lstat(options_.socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return tl::unexpected(Error::Usage(fmt::format("{} exists and is not a socket", options_.socket_path)));
    }
    bool alive = false;
    {
      fd::OwnedFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      alive = probe && connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0;
    }
    if (alive) {
      return tl::unexpected(
          Error::System(EADDRINUSE, fmt::format("another agent listens on {}", options_.socket_path)));
    }
    unlink(options_.socket_path.c_str());
  }
  // Only root (the runtime) may hand the agent containers.
  mode_t old_umask = umask(0177);
  int rc = bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  umask(old_umask);
  if (rc != 0) return tl::unexpected(Error::Errno("bind " + options_.socket_path));
  bound_ = true;
  if (listen(listen_fd_.get(), 64) != 0) return tl::unexpected(Error::Errno("listen"));
  return {};
}

Result<void> Agent::Serve() {
  if (!listen_fd_) return tl::unexpected(Error::Internal("Serve() before Listen()"));
  for (;;) {
    std::vector<pollfd> fds = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    // Only this thread adds or removes containers: the pointers stay valid.
    std::vector<Container*> polled;
    {
      std::lock_guard lock(mu_);
      for (auto& c : containers_) {
        fds.push_back({c->report_fd.get(), POLLIN, 0});
        polled.push_back(c.get());
      }
    }
    int n = poll(fds.data(), fds.size(), -1);
    if (n < 0 && errno != EINTR) return tl::unexpected(Error::Errno("poll"));
    if (n <= 0) continue;
    if (fds[1].revents) return {};
    for (std::size_t i = 0; i < polled.size(); ++i) {
      if (fds[i + 2].revents == 0 || ReadReports(*polled[i])) continue;
      Reap(*polled[i]);
      std::lock_guard lock(mu_);
      containers_.remove_if([gone = polled[i]](const std::unique_ptr<Container>& c) { return c.get() == gone; });
    }
    if (!(fds[0].revents & POLLIN)) continue;
    fd::OwnedFd connection(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return tl::unexpected(Error::Errno("accept"));
    }
    timeval timeout{kReceiveTimeoutSeconds, 0};
    setsockopt(connection.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    HandleConnection(connection.get());
  }
}

void Agent::Stop() {
  if (wake_fd_) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof one);
  }
  std::lock_guard lock(mu_);
  // Not reaped yet, so each pid is still that child's.
  for (auto& c : containers_) kill(c->status.supervisor_pid, SIGTERM);
}

void Agent::HandleConnection(int connection) {
  auto received = ReceiveAll(connection);
  if (!received) {
    spdlog::warn("agent: dropped a connection: {}", received.error());
    return;
  }
  if (received->fds.empty()) {
    // No listener: a status request.
    auto request = nlohmann::json::parse(received->data, nullptr, /*allow_exceptions=*/false);
    if (request.is_object() && request.value("request", "") == "status") {
      nlohmann::json reply = {{"containers", nlohmann::json::array()}};
      for (const ContainerStatus& c : Containers()) {
        reply["containers"].push_back(
            {{"id", c.id},
             {"pid", c.pid},
             {"supervisor_pid", c.supervisor_pid},
             {"requested", c.requested},
             {"source", c.source},
             {"enabled", c.enabled},
             {"gpus", c.gpus},
             {"refused", c.refused},
             {"error", c.refusal ? nlohmann::json(ErrorKindId(*c.refusal)) : nlohmann::json(nullptr)},
             {"executed", c.executed},
             {"denied", c.denied},
             {"denials", c.denials}});
      }
      SendAll(connection, reply.dump() + "\n");
    } else {
      spdlog::warn("agent: a connection sent neither a listener nor a status request");
    }
    return;
  }
  auto state = ParseContainerProcessState(received->data);
  fd::OwnedFd listener;
  if (state && state->seccomp_fd_index < static_cast<int>(received->fds.size())) {
    listener = std::move(received->fds[static_cast<std::size_t>(state->seccomp_fd_index)]);
  }
  received->fds.clear();
  if (!state || !listener) {
    // The container's trapped calls fail (ENOSYS) once the runtime closes its copy.
    spdlog::error("agent: a runtime's message was not understood ({}); its container's NVIDIA calls will fail",
                  state ? "fewer fds than named" : state.error().message);
    return;
  }
  StartContainer(std::move(listener), *state);
}

void Agent::StartContainer(fd::OwnedFd listener, const ContainerProcessState& state) {
  auto c = std::make_unique<Container>();
  c->status.id = state.id;
  c->status.pid = state.pid;

  caps::CapSet enabled;
  std::optional<Error> refusal;
  auto request = ReadCapsRequest(state);
  if (!request) {
    refusal = request.error();
  } else {
    c->status.requested = request->text.value_or("");
    c->status.source = request->source;
    auto resolved = ResolveRequest(*request, options_.allowed);
    if (!resolved) {
      refusal = resolved.error();
    } else {
      enabled = *resolved;
    }
  }
  // The GPUs its config gives it, within the operator's bound (container_request.h).
  std::optional<std::vector<int>> gpu_indices;
  std::optional<Error> gpu_refusal;
  c->status.gpus = "all";
  if (!refusal) {
    Result<gpus::Selection> selected = ReadGpuRequest(state).and_then([&](const auto& gpu_request) {
      return ResolveGpuRequest(gpu_request, options_.machine, options_.allowed_gpus);
    });
    if (!selected) {
      gpu_refusal = selected.error();
      enabled = caps::CapSet{};  // an empty set reaches no call: every one is refused
    } else if (selected->restricted()) {
      gpu_indices.emplace();
      for (const gpus::Gpu& gpu : selected->gpus()) gpu_indices->push_back(gpu.index);
      c->status.gpus = selected->ToString();
    }
  }
  const std::string id = state.id;
  if (gpu_refusal) {
    c->status.refused = true;
    c->status.refusal = gpu_refusal->kind;
    spdlog::error(
        "agent: container {} (pid {}): GPU request refused: {}; every NVIDIA call of this container is "
        "refused",
        id, state.pid, *gpu_refusal);
  } else if (!refusal) {
    c->status.enabled = enabled.ToString();
    spdlog::info("agent: container {} (pid {}): supervising with capabilities {} (from {}) and GPUs {}", id,
                 state.pid, c->status.enabled, c->status.source, c->status.gpus);
  } else {
    // One line for the container; none per call.
    c->status.refused = true;
    c->status.refusal = refusal->kind;
    spdlog::error(
        "agent: container {} (pid {}): capability request '{}' ({}) refused: {}; allowed: {}; every "
        "NVIDIA call of this container is refused",
        id, state.pid, c->status.requested, c->status.source.empty() ? "unknown" : c->status.source, *refusal,
        options_.allowed.ToString());
  }

  // Everything the child needs is built before fork: after it, the child may
  // not allocate.
  const spdlog::string_view_t log_level = spdlog::level::to_string_view(spdlog::get_level());
  std::vector<std::string> args = options_.supervisor_command;
  args.push_back(EncodeConfig({.id = id,
                               .pid = state.pid,
                               .enabled = enabled,
                               .refused = c->status.refused,
                               .gpus = gpu_indices,
                               .agent_pid = getpid(),
                               .log_level = std::string(log_level.data(), log_level.size()),
                               .driver = options_.driver}));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int report[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) {
    spdlog::error("agent: container {}: {}; its NVIDIA calls will fail", id, Error::Errno("socketpair"));
    return;
  }
  fd::OwnedFd report_agent_end(report[0]);
  fd::OwnedFd report_child_end(report[1]);
  pid_t child = fork();
  // After fork the child execs (or _exits) at once: no destructor runs there.
  if (child == 0) ExecSupervisor(argv.data(), listener.get(), report_child_end.get());
  // The child's is the only listener left: if it dies, the container's calls
  // fail at once instead of waiting for an answer from us.
  listener.reset();
  report_child_end.reset();
  if (child < 0) {
    spdlog::error("agent: container {}: {}; its NVIDIA calls will fail", id, Error::Errno("fork"));
    return;
  }
  c->status.supervisor_pid = child;
  c->report_fd = std::move(report_agent_end);
  spdlog::info("agent: container {}: supervisor process {}", id, child);
  std::lock_guard lock(mu_);
  ++totals_.started;
  if (c->status.refused) ++totals_.refused;
  containers_.push_back(std::move(c));
}

bool Agent::ReadReports(Container& c) {
  // One byte more than a report may have: a longer one arrives truncated and is refused.
  report_buffer_.resize(kMaxReportBytes + 1);
  for (;;) {
    ssize_t n = recv(c.report_fd.get(), report_buffer_.data(), report_buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    auto report = DecodeReport(std::string_view(report_buffer_.data(), static_cast<std::size_t>(n)));
    if (!report) {
      // A supervisor whose workload took it over could send anything: its
      // counts stay as they were, and the agent says so once.
      if (!c.bad_report_logged) {
        spdlog::error("agent: container {}: its supervisor process {} sent a report the agent ignores: {}",
                      c.status.id, c.status.supervisor_pid, report.error());
      }
      c.bad_report_logged = true;
      continue;
    }
    std::lock_guard lock(mu_);
    c.report = std::move(*report);
  }
}

void Agent::Reap(Container& c) {
  c.report_fd.reset();
  int status = 0;
  while (waitpid(c.status.supervisor_pid, &status, 0) < 0 && errno == EINTR) {
  }
  const bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  if (failed) {
    spdlog::error("agent: container {}: its supervisor process {} {}; the container's NVIDIA calls now fail "
                  "(ENOSYS), other containers are not affected",
                  c.status.id, c.status.supervisor_pid, ExitDescription(status));
  }
  std::lock_guard lock(mu_);
  totals_.Add(c.report.meter);
  if (failed) ++totals_.failed;
}

std::vector<ContainerStatus> Agent::Containers() const {
  std::vector<ContainerStatus> out;
  std::lock_guard lock(mu_);
  for (const auto& c : containers_) {
    ContainerStatus s = c->status;
    s.executed = c->report.executed;
    s.denied = c->report.denied;
    // Each call denied, with how often: the log shows only its first denial.
    s.denials = c->report.denials;
    out.push_back(std::move(s));
  }
  return out;
}

void Agent::WriteMetrics(metrics::Exposition& out) const {
  std::vector<ContainerSample> live;
  AgentTotals totals;
  {
    std::lock_guard lock(mu_);
    totals = totals_;
    for (const auto& c : containers_) {
      totals.Add(c->report.meter);
      live.push_back({c->status.id, c->report.meter});
    }
  }
  WriteAgentMetrics(out, live, totals);
}

Result<std::string> QueryStatus(const std::string& socket_path) {
  auto addr = SocketAddress(socket_path);
  if (!addr) return tl::unexpected(addr.error());
  fd::OwnedFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return tl::unexpected(Error::Errno("socket"));
  std::string reply;
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return tl::unexpected(Error::Errno("connect " + socket_path));
  }
  if (!SendAll(fd.get(), R"({"request":"status"})") || shutdown(fd.get(), SHUT_WR) != 0) {
    return tl::unexpected(Error::Errno("send"));
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  if (reply.empty()) return tl::unexpected(Error::Malformed("the agent on " + socket_path + " sent no reply"));
  return reply;
}

}  // namespace nvgate::agent
