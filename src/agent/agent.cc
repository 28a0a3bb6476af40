#include "agent/agent.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/container_request.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "supervisor/notifier.h"

namespace nvgate::agent {
namespace {

// A runtime's message is a few KiB (the state and its annotations).
constexpr std::size_t kMaxMessage = 1 << 20;
constexpr int kMaxFds = 8;
// A client that connects and sends nothing must not hold up the next runtime.
constexpr int kReceiveTimeoutSeconds = 5;

std::string Errno(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

tl::expected<sockaddr_un, std::string> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return tl::unexpected(fmt::format("socket path '{}' is empty or longer than {} bytes", path,
                                      sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

struct Received {
  std::string data;
  std::vector<int> fds;
};

// Reads one JSON document (runc keeps its side open after sending it), keeping
// every fd that came along.
tl::expected<Received, std::string> ReceiveAll(int connection) {
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
    if (n < 0) {
      for (int fd : out.fds) close(fd);
      return tl::unexpected(Errno("recvmsg"));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.fds.push_back(fd);
      }
    }
    if (n == 0) return out;
    out.data.append(buffer, static_cast<std::size_t>(n));
    if (nlohmann::json::accept(out.data)) return out;
    if (out.data.size() > kMaxMessage) {
      for (int fd : out.fds) close(fd);
      return tl::unexpected(std::string("message larger than 1 MiB"));
    }
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

}  // namespace

struct Agent::Container {
  ContainerMeter meter;  // first: the supervisor and the denial log count into it to the end
  ContainerStatus status;
  std::unique_ptr<supervisor::OsNotifier> notifier;
  std::unique_ptr<policy::DenialLog> denials;
  std::unique_ptr<proxy::Proxy> proxy;
  std::unique_ptr<supervisor::Supervisor> supervisor;
  std::thread thread;
  std::atomic<bool> finished{false};
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
    if (c->thread.joinable()) c->thread.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (bound_) unlink(options_.socket_path.c_str());
  if (wake_fd_ >= 0) close(wake_fd_);
}

tl::expected<void, std::string> Agent::Listen() {
  auto addr = SocketAddress(options_.socket_path);
  if (!addr) return tl::unexpected(addr.error());
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return tl::unexpected(Errno("eventfd"));
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return tl::unexpected(Errno("socket"));
  // A socket left by an agent that died; a live agent still answers on it.
  struct stat st;
  if (lstat(options_.socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return tl::unexpected(fmt::format("{} exists and is not a socket", options_.socket_path));
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool alive = probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0;
    if (probe >= 0) close(probe);
    if (alive) return tl::unexpected(fmt::format("another agent listens on {}", options_.socket_path));
    unlink(options_.socket_path.c_str());
  }
  // Only root (the runtime) may hand the agent containers.
  mode_t old_umask = umask(0177);
  int rc = bind(listen_fd_, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  umask(old_umask);
  if (rc != 0) return tl::unexpected(Errno(("bind " + options_.socket_path).c_str()));
  bound_ = true;
  if (listen(listen_fd_, 64) != 0) return tl::unexpected(Errno("listen"));
  return {};
}

tl::expected<void, std::string> Agent::Serve() {
  if (listen_fd_ < 0) return tl::unexpected(std::string("Serve() before Listen()"));
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    // Wakes now and then to join the threads of containers that are gone.
    int n = poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) return tl::unexpected(Errno("poll"));
    ReapFinished();
    if (n <= 0) continue;
    if (fds[1].revents) return {};
    if (!(fds[0].revents & POLLIN)) continue;
    int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return tl::unexpected(Errno("accept"));
    }
    timeval timeout{kReceiveTimeoutSeconds, 0};
    setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    HandleConnection(connection);
    close(connection);
  }
}

void Agent::Stop() {
  if (wake_fd_ >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }
  std::lock_guard lock(mu_);
  for (auto& c : containers_) c->supervisor->Stop();
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
        reply["containers"].push_back({{"id", c.id},
                                       {"pid", c.pid},
                                       {"requested", c.requested},
                                       {"source", c.source},
                                       {"enabled", c.enabled},
                                       {"refused", c.refused},
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
  int listener = -1;
  if (state && state->seccomp_fd_index < static_cast<int>(received->fds.size())) {
    listener = received->fds[static_cast<std::size_t>(state->seccomp_fd_index)];
  }
  for (int fd : received->fds) {
    if (fd != listener) close(fd);
  }
  if (!state || listener < 0) {
    // The container's trapped calls fail (ENOSYS) once the runtime closes its copy.
    spdlog::error("agent: a runtime's message was not understood ({}); its container's NVIDIA calls will fail",
                  state ? "fewer fds than named" : state.error());
    if (listener >= 0) close(listener);
    return;
  }
  StartContainer(listener, *state);
}

void Agent::StartContainer(int listener, const ContainerProcessState& state) {
  auto c = std::make_unique<Container>();
  c->status.id = state.id;
  c->status.pid = state.pid;

  caps::CapSet enabled;
  std::string refusal;
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
  const std::string id = state.id;
  auto count = [meter = &c->meter](const policy::Denial& d) { meter->Denied(d); };
  if (refusal.empty()) {
    c->status.enabled = enabled.ToString();
    c->denials = std::make_unique<policy::DenialLog>(
        [id](const policy::Denial& d) { spdlog::warn("denied: container {}: {}", id, d.line); }, count);
    spdlog::info("agent: container {} (pid {}): supervising with capabilities {} (from {})", id, state.pid,
                 c->status.enabled, c->status.source);
  } else {
    // One line for the container; none per call.
    c->status.refused = true;
    c->denials = std::make_unique<policy::DenialLog>([](const policy::Denial&) {}, count);
    spdlog::error("agent: container {} (pid {}): capability request '{}' ({}) refused: {}; allowed: {}; every "
                  "NVIDIA call of this container is refused",
                  id, state.pid, c->status.requested, c->status.source.empty() ? "unknown" : c->status.source,
                  refusal, options_.allowed.ToString());
  }

  auto notifier = supervisor::OsNotifier::Create(listener);
  if (!notifier) {
    spdlog::error("agent: container {}: {}", id, notifier.error());
    return;
  }
  c->notifier = std::move(*notifier);
  c->notifier->SetSyncWakeUp();
  c->proxy = std::make_unique<proxy::Proxy>(*options_.table, enabled, *options_.backend, *c->denials);
  supervisor::SupervisorOptions supervision = options_.supervisor;
  supervision.meter = &c->meter;
  c->supervisor =
      std::make_unique<supervisor::Supervisor>(*c->notifier, *options_.backend, *c->proxy, supervision);
  Container* raw = c.get();
  std::lock_guard lock(mu_);
  ++totals_.started;
  if (raw->status.refused) ++totals_.refused;
  raw->thread = std::thread([raw] {
    auto result = raw->supervisor->Run();
    if (!result) {
      spdlog::error("agent: container {}: supervision ended: {}", raw->status.id, result.error());
    } else {
      spdlog::info("agent: container {} is gone ({} calls executed)", raw->status.id,
                   raw->supervisor->stats().executed);
    }
    raw->finished = true;
  });
  containers_.push_back(std::move(c));
}

void Agent::ReapFinished() {
  std::list<std::unique_ptr<Container>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = containers_.begin(); it != containers_.end();) {
      if ((*it)->finished) {
        totals_.Add((*it)->meter.Read());
        finished.push_back(std::move(*it));
        it = containers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

std::vector<ContainerStatus> Agent::Containers() const {
  std::vector<ContainerStatus> out;
  std::lock_guard lock(mu_);
  for (const auto& c : containers_) {
    if (c->finished) continue;
    ContainerStatus s = c->status;
    supervisor::SupervisorStats stats = c->supervisor->stats();
    s.executed = stats.executed;
    s.denied = stats.denied;
    // Each call denied, with how often: the log shows only its first denial.
    s.denials = nlohmann::json::array();
    for (const policy::DenialCount& d : c->denials->Summary()) {
      s.denials.push_back({{"call", d.call},
                           {"level", abi::LevelName(d.level)},
                           {"key", fmt::format("{:#x}", d.key)},
                           {"capability", d.capability},
                           {"count", d.count},
                           {"processes", d.processes}});
    }
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
      ContainerMeter::Snapshot snapshot = c->meter.Read();
      totals.Add(snapshot);
      if (!c->finished) live.push_back({c->status.id, std::move(snapshot)});
    }
  }
  WriteAgentMetrics(out, live, totals);
}

tl::expected<std::string, std::string> QueryStatus(const std::string& socket_path) {
  auto addr = SocketAddress(socket_path);
  if (!addr) return tl::unexpected(addr.error());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(Errno("socket"));
  std::string reply;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    std::string error = Errno(("connect " + socket_path).c_str());
    close(fd);
    return tl::unexpected(error);
  }
  if (!SendAll(fd, R"({"request":"status"})") || shutdown(fd, SHUT_WR) != 0) {
    std::string error = Errno("send");
    close(fd);
    return tl::unexpected(error);
  }
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  if (reply.empty()) return tl::unexpected("the agent on " + socket_path + " sent no reply");
  return reply;
}

}  // namespace nvgate::agent
