#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "error/error.h"

namespace nvgate::metrics {
namespace {

constexpr std::string_view kForms = "HOST:PORT (127.0.0.1:9464, [::1]:9464) or unix:PATH";
constexpr int kBacklog = 64;
// What is read and dropped after an answer, waiting for the client to close:
// a request body, say. A client that sends more is cut off, so that one
// cannot keep the server's thread reading.
constexpr std::size_t kMaxDrain = 64 * 1024;

bool AllOf(std::string_view text, char low, char high) {
  return std::all_of(text.begin(), text.end(), [&](char c) { return c >= low && c <= high; });
}

Result<std::uint16_t> ParsePort(std::string_view text, std::string_view whole) {
  if (text.empty() || text.size() > 5 || !AllOf(text, '0', '9') || std::stoul(std::string(text)) > 65535) {
    return tl::unexpected(
        Error::Usage(fmt::format("metrics address '{}': the port must be a number from 0 to 65535", whole)));
  }
  return static_cast<std::uint16_t>(std::stoul(std::string(text)));
}

// Where the request line and headers end (the blank line), if they have.
std::optional<std::size_t> HeadEnd(std::string_view in) {
  std::size_t crlf = in.find("\r\n\r\n");
  std::size_t lf = in.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::nullopt;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) return crlf + 4;
  return lf + 2;
}

std::string Response(int code, std::string_view reason, std::string_view content_type, std::string_view body,
                     bool with_body = true, std::string_view extra_headers = "") {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n", code, reason,
      content_type, body.size(), extra_headers);
  if (with_body) out.append(body);
  return out;
}

std::string ErrorResponse(int code, std::string_view reason, std::string_view extra_headers = "") {
  return Response(code, reason, "text/plain; charset=utf-8", fmt::format("{} {}\n", code, reason), true,
                  extra_headers);
}

}  // namespace

// The request line is "METHOD TARGET HTTP/1.x"; headers are read past and
// ignored.
std::string AnswerRequest(std::string_view head, const HttpServer::Render& render) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  std::size_t first = line.find(' ');
  std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    return ErrorResponse(400, "Bad Request");
  }
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (method.empty() || !AllOf(method, 'A', 'Z') || target.empty() || !version.starts_with("HTTP/")) {
    return ErrorResponse(400, "Bad Request");
  }
  if (version != "HTTP/1.0" && version != "HTTP/1.1") return ErrorResponse(505, "HTTP Version Not Supported");
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") return ErrorResponse(404, "Not Found");
  if (method != "GET" && method != "HEAD") return ErrorResponse(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
  std::string body;
  try {
    body = render();
  } catch (const std::exception& e) {
    spdlog::error("metrics: {}", e.what());
    return ErrorResponse(500, "Internal Server Error");
  }
  return Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, method == "GET");
}

namespace {

std::string SocketName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(in.sin_port));
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
  inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
  return fmt::format("[{}]:{}", host, ntohs(in6.sin6_port));
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  if (text.starts_with("unix:")) {
    out.unix_path = text.substr(5);
    if (out.unix_path.empty()) {
      return tl::unexpected(Error::Usage(fmt::format("metrics address '{}': unix: needs a path", text)));
    }
    if (out.unix_path.size() >= sizeof(sockaddr_un::sun_path)) {
      return tl::unexpected(Error::Usage(fmt::format("metrics address '{}': the path is longer than {} bytes", text,
                                                     sizeof(sockaddr_un::sun_path) - 1)));
    }
    return out;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return tl::unexpected(Error::Usage(fmt::format("metrics address '{}' is not {}", text, kForms)));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return tl::unexpected(Error::Usage(fmt::format("metrics address '{}' has no port; write {}", text, kForms)));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return tl::unexpected(
          Error::Usage(fmt::format("metrics address '{}': write an IPv6 address in brackets, as in [::1]:9464", text)));
    }
  }
  if (host.empty()) {
    return tl::unexpected(Error::Usage(fmt::format(
        "metrics address '{}' names no host: 127.0.0.1:PORT serves this host only, 0.0.0.0:PORT every interface",
        text)));
  }
  auto number = ParsePort(port, text);
  if (!number) return tl::unexpected(number.error());
  out.host = host;
  out.port = *number;
  return out;
}

struct HttpServer::Client {
  enum class State : std::uint8_t { kReading, kWriting, kDraining, kDone };
  fd::OwnedFd fd;
  std::chrono::steady_clock::time_point deadline{};
  State state = State::kReading;
  std::string in{};
  std::string out{};
  std::size_t sent = 0;
  std::size_t drained = 0;
};

HttpServer::HttpServer(Render render, HttpServerOptions options)
    : render_(std::move(render)), options_(options) {}

HttpServer::~HttpServer() {
  Stop();
  listen_fd_.reset();
  wake_fd_.reset();
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

Result<void> HttpServer::Listen(const ListenAddress& address) {
  if (listen_fd_) return tl::unexpected(Error::Internal("already listening"));
  wake_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) return tl::unexpected(Error::Errno("eventfd"));

  if (!address.unix_path.empty()) {
    const std::string& path = address.unix_path;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
      return tl::unexpected(Error::Usage(fmt::format("{}: path too long", path)));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return tl::unexpected(Error::Usage(fmt::format("{} exists and is not a socket", path)));
      }
      // A socket left by a process that died; a live one still answers on it.
      bool alive = false;
      {
        fd::OwnedFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        alive = probe && connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
      }
      if (alive) return tl::unexpected(Error::System(EADDRINUSE, fmt::format("another process serves on {}", path)));
      unlink(path.c_str());
    }
    fd::OwnedFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return tl::unexpected(Error::Errno("socket(AF_UNIX)"));
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return tl::unexpected(Error::Errno("bind " + path));
    }
    unix_path_ = path;
    if (chmod(path.c_str(), 0666) != 0 || listen(fd.get(), kBacklog) != 0) {
      return tl::unexpected(Error::Errno("listen " + path));
    }
    listen_fd_ = std::move(fd);
    bound_address_ = "unix:" + path;
    return {};
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return tl::unexpected(Error::NotFound(fmt::format("cannot resolve '{}': {}", address.host, gai_strerror(rc))));
  }
  Error error = Error::NotFound(fmt::format("'{}' has no address", address.host));
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd::OwnedFd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
      const bool family_forbidden = errno == EAFNOSUPPORT;
      error = Error::Errno("socket");
      // systemd's RestrictAddressFamilies= (nvgate-agent.service has AF_UNIX only).
      if (family_forbidden) error.message += " (is this address family forbidden here? unix:PATH still works)";
      continue;
    }
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd.get(), kBacklog) != 0) {
      error = Error::Errno(fmt::format("bind {}:{}", address.host, address.port));
      continue;
    }
    listen_fd_ = std::move(fd);
    break;
  }
  freeaddrinfo(found);
  if (!listen_fd_) return tl::unexpected(error);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  bound_address_ = SocketName(bound);
  return {};
}

void HttpServer::Start() {
  if (!listen_fd_ || thread_.joinable()) return;
  thread_ = std::thread([this] { Serve(); });
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
}

void HttpServer::Serve() {
  using Clock = std::chrono::steady_clock;
  using State = Client::State;
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  char buffer[4096];

  // Moves one client on as far as it goes without blocking.
  auto progress = [&](Client& c) {
    while (c.state == State::kReading) {
      ssize_t n = recv(c.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 || (n == 0 && c.in.empty())) {
        c.state = State::kDone;
        return;
      }
      if (n == 0) {
        c.out = ErrorResponse(400, "Bad Request");  // the client stopped sending mid-request
      } else {
        c.in.append(buffer, static_cast<std::size_t>(n));
        if (auto end = HeadEnd(c.in); end && *end <= options_.max_request) {
          c.out = AnswerRequest(std::string_view(c.in).substr(0, *end), render_);
        } else if (c.in.size() > options_.max_request) {
          c.out = ErrorResponse(431, "Request Header Fields Too Large");
        } else {
          continue;
        }
      }
      c.in.clear();
      c.state = State::kWriting;
    }
    while (c.state == State::kWriting) {
      ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) {
        c.state = State::kDone;
        return;
      }
      c.sent += static_cast<std::size_t>(n);
      if (c.sent == c.out.size()) {
        // Read what the client still sends until it closes: closing with
        // unread data would reset the connection, and could lose the answer.
        shutdown(c.fd.get(), SHUT_WR);
        c.state = State::kDraining;
      }
    }
    while (c.state == State::kDraining) {
      ssize_t n = recv(c.fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n > 0) c.drained += static_cast<std::size_t>(n);
      if (n <= 0 || c.drained > kMaxDrain) c.state = State::kDone;
    }
  };

  // Out of fds (EMFILE): the pending connection stays queued, and accepting
  // waits a moment instead of spinning on it.
  Clock::time_point accept_after{};
  for (;;) {
    const Clock::time_point now = Clock::now();
    const bool accepting = now >= accept_after;
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
    int timeout = -1;
    if (!accepting) {
      timeout = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(accept_after - now).count());
    }
    for (const Client& c : clients) {
      fds.push_back({c.fd.get(), static_cast<short>(c.state == State::kWriting ? POLLOUT : POLLIN), 0});
      auto left = std::chrono::ceil<std::chrono::milliseconds>(c.deadline - now).count();
      int wait = static_cast<int>(std::max<decltype(left)>(left, 0));
      timeout = timeout < 0 ? wait : std::min(timeout, wait);
    }
    int ready = poll(fds.data(), fds.size(), timeout);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("metrics: {}; no longer serving", Error::Errno("poll"));
      break;
    }
    if (ready > 0 && fds[0].revents != 0) break;
    const Clock::time_point after = Clock::now();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      if (ready > 0 && fds[i + 2].revents != 0) progress(c);
      if (c.state != State::kDone && after >= c.deadline) c.state = State::kDone;
      if (c.state == State::kDone) c.fd.reset();
    }
    std::erase_if(clients, [](const Client& c) { return !c.fd; });
    if (ready <= 0 || !(fds[1].revents & POLLIN)) continue;
    // At most a backlog's worth at a time: a flood of connections must not
    // keep the clients already accepted waiting.
    for (int accepted = 0; accepted < kBacklog; ++accepted) {
      fd::OwnedFd fd(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd && (errno == EMFILE || errno == ENFILE)) accept_after = after + std::chrono::milliseconds(100);
      if (!fd) break;  // EAGAIN: none left; anything else: that client is gone already
      if (clients.size() >= options_.max_clients) {
        const std::string busy = ErrorResponse(503, "Service Unavailable");
        [[maybe_unused]] ssize_t n = send(fd.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        continue;
      }
      clients.push_back({.fd = std::move(fd), .deadline = after + options_.timeout});
      progress(clients.back());
      if (clients.back().state == State::kDone) clients.pop_back();
    }
  }
}

}  // namespace nvgate::metrics
