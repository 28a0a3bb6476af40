#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nvgate::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ListenAddressTest, AcceptsHostPortBracketedIpv6AndUnixPaths) {
  auto v4 = ParseListenAddress("127.0.0.1:9464");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9464);
  auto v6 = ParseListenAddress("[::1]:9464");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  auto name = ParseListenAddress("localhost:0");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(name->port, 0);
  auto unix_socket = ParseListenAddress("unix:/run/nvgate/metrics.sock");
  ASSERT_TRUE(unix_socket) << unix_socket.error().message;
  EXPECT_EQ(unix_socket->unix_path, "/run/nvgate/metrics.sock");
}

TEST(ListenAddressTest, MalformedAddressesSayWhatIsWrong) {
  EXPECT_THAT(ParseListenAddress("9464").error().message, HasSubstr("has no port"));
  EXPECT_THAT(ParseListenAddress(":9464").error().message, HasSubstr("names no host"));
  EXPECT_THAT(ParseListenAddress("::1:9464").error().message, HasSubstr("in brackets"));
  EXPECT_THAT(ParseListenAddress("[::1]9464").error().message, HasSubstr("is not HOST:PORT"));
  EXPECT_THAT(ParseListenAddress("[::1").error().message, HasSubstr("is not HOST:PORT"));
  EXPECT_THAT(ParseListenAddress("127.0.0.1:").error().message, HasSubstr("port must be a number"));
  EXPECT_THAT(ParseListenAddress("127.0.0.1:65536").error().message, HasSubstr("port must be a number"));
  EXPECT_THAT(ParseListenAddress("127.0.0.1:http").error().message, HasSubstr("port must be a number"));
  EXPECT_THAT(ParseListenAddress("127.0.0.1:-1").error().message, HasSubstr("port must be a number"));
  EXPECT_THAT(ParseListenAddress("unix:").error().message, HasSubstr("needs a path"));
  EXPECT_THAT(ParseListenAddress("unix:" + std::string(200, 'x')).error().message, HasSubstr("longer than"));
}

// A connected client; reads are bounded so that a broken server fails the
// test instead of hanging it.
class TestClient {
 public:
  explicit TestClient(const std::string& address) {
    if (address.starts_with("unix:")) {
      fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, address.c_str() + 5, sizeof addr.sun_path - 1);
      connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    } else {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      std::size_t colon = address.rfind(':');
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
      addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
      connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    timeval guard{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  }
  ~TestClient() { close(fd_); }

  bool connected() const { return connected_; }
  void CloseWrite() { shutdown(fd_, SHUT_WR); }
  bool Send(const std::string& data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Everything until the server closes.
  std::string ReadAll() {
    std::string out;
    char buffer[4096];
    for (;;) {
      ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Exchange(const std::string& address, const std::string& request) {
  TestClient client(address);
  EXPECT_TRUE(client.connected());
  EXPECT_TRUE(client.Send(request));
  return client.ReadAll();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>([this] { return body_; }, options);
    auto listening = server_->Listen(*ParseListenAddress("127.0.0.1:0"));
    ASSERT_TRUE(listening) << listening.error().message;
    server_->Start();
  }
  std::string address() const { return server_->address(); }

  std::string body_ = "# TYPE x counter\nx 1\n";
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetMetricsAnswersTheRenderedTextAndCloses) {
  Start();
  EXPECT_THAT(address(), StartsWith("127.0.0.1:"));
  std::string reply = Exchange(address(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(reply, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(reply, HasSubstr("Content-Length: " + std::to_string(body_.size()) + "\r\n"));
  EXPECT_THAT(reply, HasSubstr("Connection: close\r\n"));
  EXPECT_TRUE(reply.ends_with("\r\n\r\n" + body_)) << reply;
  // HTTP/1.0, bare newlines and a query string are fine too.
  EXPECT_TRUE(Exchange(address(), "GET /metrics?x=1 HTTP/1.0\n\n").ends_with(body_));
  // HEAD: the headers alone.
  std::string head = Exchange(address(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
}

TEST_F(HttpServerTest, OtherPathsMethodsAndMalformedRequestsGetErrors) {
  Start();
  EXPECT_THAT(Exchange(address(), "GET / HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_THAT(Exchange(address(), "GET /metricsx HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404 "));
  std::string post = Exchange(address(), "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
  for (const char* malformed : {"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
                                "GET /metrics HTTP/1.1 extra\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                                "GET /metrics FTP/1.0\r\n\r\n", "\r\n\r\n"}) {
    EXPECT_THAT(Exchange(address(), malformed), StartsWith("HTTP/1.1 400 Bad Request\r\n")) << malformed;
  }
  EXPECT_THAT(Exchange(address(), "GET /metrics HTTP/2.0\r\n\r\n"), StartsWith("HTTP/1.1 505 "));
  // A request cut short: the client closes its side before the blank line.
  TestClient cut(address());
  ASSERT_TRUE(cut.Send("GET /metrics HTTP/1.1\r\n"));
  cut.CloseWrite();
  EXPECT_THAT(cut.ReadAll(), StartsWith("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(HttpServerTest, OversizedRequestGets431) {
  Start({.timeout = std::chrono::milliseconds(5000), .max_request = 1024, .max_clients = 4});
  std::string request = "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(4096, 'a') + "\r\n\r\n";
  EXPECT_THAT(Exchange(address(), request), StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  // The server is still there for the next one.
  EXPECT_THAT(Exchange(address(), "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_F(HttpServerTest, SilentAndSlowClientsDoNotHoldUpOthersAndAreDroppedAtTheirDeadline) {
  Start({.timeout = std::chrono::milliseconds(2000), .max_request = 8192, .max_clients = 8});
  TestClient silent(address());
  ASSERT_TRUE(silent.connected());
  TestClient slow(address());
  ASSERT_TRUE(slow.Send("GET /met"));
  // Both still connected and unanswered: another client gets its answer.
  EXPECT_THAT(Exchange(address(), "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 200 OK\r\n"));
  // Past their deadline the server closes them without an answer.
  EXPECT_EQ(silent.ReadAll(), "");
  EXPECT_EQ(slow.ReadAll(), "");
}

TEST_F(HttpServerTest, AClientThatKeepsSendingAfterItsAnswerIsCutOff) {
  Start();
  TestClient flood(address());
  ASSERT_TRUE(flood.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  std::size_t sent = 0;
  std::thread sender([&] {
    const std::string chunk(64 * 1024, 'x');
    // Bounded, so that a server that never cuts it off fails the test.
    while (sent < (256u << 20) && flood.Send(chunk)) sent += chunk.size();
  });
  EXPECT_THAT(Exchange(address(), "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 200 OK\r\n"));
  sender.join();
  EXPECT_LT(sent, 256u << 20);
}

TEST_F(HttpServerTest, ClientsBeyondTheLimitGet503) {
  Start({.timeout = std::chrono::milliseconds(5000), .max_request = 8192, .max_clients = 1});
  TestClient holder(address());
  ASSERT_TRUE(holder.Send("GET /met"));
  EXPECT_THAT(Exchange(address(), "GET /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 503 "));
  ASSERT_TRUE(holder.Send("rics HTTP/1.1\r\n\r\n"));
  EXPECT_THAT(holder.ReadAll(), StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(HttpServerUnixTest, ServesOnAUnixSocketReplacesAStaleOneAndRefusesALiveOne) {
  std::string path = "/tmp/nvgate-metrics-test-" + std::to_string(getpid()) + ".sock";
  // A socket file nobody listens on, as a killed agent leaves it.
  {
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(stale, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    close(stale);
  }
  {
    HttpServer server([] { return std::string("x 1\n"); });
    auto listening = server.Listen(*ParseListenAddress("unix:" + path));
    ASSERT_TRUE(listening) << listening.error().message;
    EXPECT_EQ(server.address(), "unix:" + path);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666u);
    server.Start();
    EXPECT_TRUE(Exchange(server.address(), "GET /metrics HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nx 1\n"));

    HttpServer second([] { return std::string(); });
    auto refused = second.Listen(*ParseListenAddress("unix:" + path));
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message, HasSubstr("another process serves on"));
  }
  // Removed with the server.
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(HttpServerBindTest, AnAddressInUseOrNotOfThisHostIsAnError) {
  HttpServer first([] { return std::string(); });
  ASSERT_TRUE(first.Listen(*ParseListenAddress("127.0.0.1:0")));
  HttpServer second([] { return std::string(); });
  auto in_use = second.Listen(*ParseListenAddress(first.address()));
  ASSERT_FALSE(in_use);
  EXPECT_THAT(in_use.error().message, HasSubstr("Address already in use"));
  HttpServer foreign([] { return std::string(); });
  // TEST-NET-1 (RFC 5737): no host has it.
  auto not_here = foreign.Listen(*ParseListenAddress("192.0.2.1:0"));
  ASSERT_FALSE(not_here);
  EXPECT_THAT(not_here.error().message, HasSubstr("bind 192.0.2.1:0"));
}

}  // namespace
}  // namespace nvgate::metrics
