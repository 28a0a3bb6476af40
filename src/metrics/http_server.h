// A minimal HTTP/1.x responder for Prometheus scrapes, on a thread of its own.
//
//   auto address = metrics::ParseListenAddress("127.0.0.1:9464");  // or "unix:/run/nvgate/metrics.sock"
//   metrics::HttpServer server([&] { return RenderMetrics(); });
//   if (auto r = server.Listen(*address); !r) die(r.error());
//   server.Start();                 // serves until Stop() or the destructor
//
// GET (or HEAD) /metrics answers 200 with what `render` returns, as text
// exposition 0.0.4; any other path 404, any other method 405, a malformed
// request 400, a request larger than `max_request` 431. Each connection gets
// one answer and is closed (after up to 64 KiB more of what the client sends,
// read and dropped). One thread polls every client without blocking, and
// each client has `timeout` in all to send its request and read the answer: a
// slow or silent client holds one of `max_clients` slots for that long and
// never holds up another client, nor anything outside this thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "error/error.h"
#include "fd/owned_fd.h"

namespace nvgate::metrics {

// Where to listen: HOST:PORT (127.0.0.1:9464, [::1]:9464, localhost:9464;
// port 0 picks a free one) or unix:PATH.
struct ListenAddress {
  std::string unix_path;  // set for unix:PATH
  std::string host;       // otherwise: an address or a name, without brackets
  std::uint16_t port = 0;
};

// Errors say what is wrong and show the accepted forms.
Result<ListenAddress> ParseListenAddress(std::string_view text);

struct HttpServerOptions {
  std::chrono::milliseconds timeout{5000};
  std::size_t max_request = 8192;  // request line and headers
  std::size_t max_clients = 32;    // more are answered 503 at once
};

class HttpServer {
 public:
  using Render = std::function<std::string()>;
  explicit HttpServer(Render render, HttpServerOptions options = {});
  // Stops; removes the unix socket it bound.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. A unix socket file left by a dead process is replaced;
  // one that a live process answers on is an error. The socket is 0666: as
  // reachable as a TCP port on localhost.
  Result<void> Listen(const ListenAddress& address);
  // Where it listens, the port resolved: "127.0.0.1:41234", "[::1]:9464",
  // "unix:/run/nvgate/metrics.sock".
  const std::string& address() const { return bound_address_; }

  // Serves on a thread of its own until Stop().
  void Start();
  // Closes every connection and joins the thread. Idempotent.
  void Stop();

 private:
  struct Client;

  void Serve();

  Render render_;
  HttpServerOptions options_;
  fd::OwnedFd listen_fd_;
  fd::OwnedFd wake_fd_;
  std::string unix_path_;  // to remove, once bound
  std::string bound_address_;
  std::thread thread_;
};

// What the server sends for one request: `head` is its request line and
// headers, up to the blank line. Always a whole HTTP/1.1 response for a
// connection that then closes.
std::string AnswerRequest(std::string_view head, const HttpServer::Render& render);

}  // namespace nvgate::metrics
