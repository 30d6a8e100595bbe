// The HTTP server's front end under the connections a fleet and an attacker
// open: idle and slow connections hold no thread, timeouts close them, limits
// refuse connections over them, and the request line and headers are checked
// before a handler runs. Raw sockets on 127.0.0.1, so the test controls every byte.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"
#include "tests/support/test_tls.h"

namespace prescale::http {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(10);

// A client socket to 127.0.0.1:port, optionally from another loopback address.
class RawClient {
 public:
  explicit RawClient(int port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) Reset();
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) Reset();
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { Reset(); }

  bool ok() const { return fd_ >= 0; }
  int local_port() const {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
    return ntohs(local.sin_port);
  }
  bool Send(const std::string& data) const {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `until` is in what arrived, the server closes, or the deadline.
  std::string ReadUntil(const std::string& until, bool* closed = nullptr) {
    const auto deadline = Clock::now() + kDeadline;
    while (received_.find(until) == std::string::npos && Clock::now() < deadline) {
      if (!ReadSome(deadline)) {
        if (closed != nullptr) *closed = true;
        break;
      }
    }
    return received_;
  }
  // True when the server closed the connection within `wait` (what it sends meanwhile is kept).
  bool ClosedWithin(milliseconds wait) {
    const auto deadline = Clock::now() + wait;
    while (Clock::now() < deadline) {
      if (!ReadSome(deadline)) return eof_;
    }
    return eof_;
  }
  // True when the server closed the connection before the deadline.
  bool ClosedByServer() {
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
      if (!ReadSome(deadline)) return eof_;
    }
    return false;
  }
  // One whole response with a Content-Length body, taken off what arrived.
  std::string ReadResponse() {
    ReadUntil("\r\n\r\n");
    const size_t end = received_.find("\r\n\r\n");
    if (end == std::string::npos) return std::exchange(received_, "");
    size_t length = 0;
    const size_t at = received_.find("Content-Length: ");
    if (at != std::string::npos && at < end) length = std::stoul(received_.substr(at + 16));
    const auto deadline = Clock::now() + kDeadline;
    while (received_.size() < end + 4 + length && Clock::now() < deadline && ReadSome(deadline)) {
    }
    std::string response = received_.substr(0, end + 4 + length);
    received_.erase(0, response.size());
    return response;
  }

 private:
  bool ReadSome(Clock::time_point deadline) {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) <= 0) return false;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    received_.append(buf, static_cast<size_t>(n));
    return true;
  }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string received_;
};

int StatusOf(const std::string& response) { return testing::HttpStatusOf(response); }

std::vector<Route> TestRoutes() {
  std::vector<Route> routes;
  routes.push_back({"GET", "/healthz", [](const HttpRequest&) {
                      HttpResponse r;
                      r.body = "ok";
                      return r;
                    }});
  routes.push_back({"GET", "/whoami", [](const HttpRequest& r) {
                      HttpResponse resp;
                      resp.body = r.remote_address;
                      return resp;
                    }});
  routes.push_back({"POST", "/echo", [](const HttpRequest& r) {
                      HttpResponse resp;
                      resp.body = r.path + " " + r.body;
                      return resp;
                    }});
  routes.push_back(
      {"GET", "/throws", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("a handler bug"); }});
  return routes;
}

std::unique_ptr<HttpServer> StartServer(const HttpServerOptions& options) {
  auto server = HttpServer::Start(options, TestRoutes());
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
  }
  return server.ok() ? std::move(server).value() : nullptr;
}

std::string Get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

// Polls `condition` until it holds or the deadline passes (the project's PollUntil).
template <class F>
bool Eventually(F condition) {
  return testing::PollUntil(condition, std::chrono::duration_cast<milliseconds>(kDeadline), milliseconds(5));
}

// With two threads, 300 open connections (idle, or halfway through a header)
// do not keep a new client from its answer. A thread-per-connection server
// with 2 threads would not answer at all.
TEST(HttpFront, IdleAndSlowConnectionsHoldNoThread) {
  HttpServerOptions options;
  options.threads = 2;
  options.max_connections_per_client = 0;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 300; ++i) {
    held.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_TRUE(held.back()->ok());
    if (i % 2 == 0) {
      ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\nHo"));  // never finished
    }
  }
  ASSERT_TRUE(Eventually([&] { return server->stats().open_connections == 300; })) << server->stats().open_connections;
  auto client = NewBeastHttpClient();
  auto r = client->Get("http://127.0.0.1:" + std::to_string(server->port()) + "/healthz", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
}

TEST(HttpFront, AHeaderSentAByteAtATimeIsCutOffAtTheHeaderTimeout) {
  HttpServerOptions options;
  options.header_timeout = milliseconds(300);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawClient slow(server->port());
  ASSERT_TRUE(slow.ok());
  const std::string request = Get("/healthz", "X-Padding: " + std::string(200, 'p') + "\r\n");
  bool closed = false;
  const auto deadline = Clock::now() + kDeadline;
  for (size_t i = 0; i < request.size() && Clock::now() < deadline; ++i) {
    if (!slow.Send(request.substr(i, 1))) {
      closed = true;  // the server closed while the header was still coming
      break;
    }
    if (slow.ClosedWithin(milliseconds(20))) {  // the next byte after 20 ms, unless the server closes first
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed || slow.ClosedByServer());
  EXPECT_GE(server->stats().timed_out_connections, 1u);
}

TEST(HttpFront, AKeptAliveConnectionIsClosedAfterTheIdleTimeoutAndServedBefore) {
  HttpServerOptions options;
  options.idle_timeout = milliseconds(200);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(client.ReadResponse()), 200);
  ASSERT_TRUE(client.Send(Get("/healthz")));  // kept alive
  EXPECT_EQ(StatusOf(client.ReadResponse()), 200);
  EXPECT_TRUE(client.ClosedByServer());
  EXPECT_GE(server->stats().timed_out_connections, 1u);
}

TEST(HttpFront, ATlsClientThatNeverSendsItsHelloIsClosedAtTheHeaderTimeout) {
  const std::string dir = ::testing::TempDir() + "http_front_tls_hello";
  std::filesystem::create_directories(dir);
  auto files = testing::WriteSelfSignedCert(dir, "server");
  ASSERT_TRUE(files.has_value());
  HttpServerOptions options;
  options.tls_cert_file = files->cert_file;
  options.tls_key_file = files->key_file;
  options.header_timeout = milliseconds(200);
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawClient silent(server->port());
  ASSERT_TRUE(silent.ok());
  EXPECT_TRUE(silent.ClosedByServer());
  // And one that does handshake is served, with its own address.
  const auto exchange = testing::TlsRequest(server->port(), testing::HttpGetRequest("/whoami"), {});
  ASSERT_TRUE(exchange.handshake_ok) << exchange.error;
  EXPECT_EQ(exchange.status(), 200);
  EXPECT_NE(exchange.response.find("127.0.0.1:"), std::string::npos) << exchange.response;
}

TEST(HttpFront, ConnectionsOverAClientsLimitAreAnswered503AndOtherClientsAreServed) {
  HttpServerOptions options;
  options.max_connections_per_client = 3;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_TRUE(held.back()->Send(Get("/healthz")));
    EXPECT_EQ(StatusOf(held.back()->ReadResponse()), 200);
  }
  RawClient fourth(server->port());
  ASSERT_TRUE(fourth.ok());
  bool closed = false;
  const std::string refused = fourth.ReadUntil("}\n", &closed);
  EXPECT_EQ(StatusOf(refused), 503) << refused;
  EXPECT_NE(refused.find("too_many_connections"), std::string::npos) << refused;
  EXPECT_TRUE(closed || fourth.ClosedByServer());
  EXPECT_EQ(server->stats().refused_connections, 1u);
  // Another loopback address is another client.
  RawClient other(server->port(), "127.0.0.2");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(other.ReadResponse()), 200);
  // A closed connection frees its place.
  held.pop_back();
  ASSERT_TRUE(Eventually([&] { return server->stats().open_connections == 3; }));
  RawClient again(server->port());
  ASSERT_TRUE(again.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(again.ReadResponse()), 200);
}

TEST(HttpFront, ConnectionsOverTheServersLimitAreRefused) {
  HttpServerOptions options;
  options.max_connections = 2;
  options.max_connections_per_client = 0;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  RawClient a(server->port());
  RawClient b(server->port(), "127.0.0.3");
  ASSERT_TRUE(Eventually([&] { return server->stats().open_connections == 2; }));
  RawClient c(server->port(), "127.0.0.4");
  EXPECT_EQ(StatusOf(c.ReadUntil("}\n")), 503);
}

TEST(HttpFront, HeadersOverTheLimitAre431AndMalformedRequests400WithAJsonReason) {
  HttpServerOptions options;
  options.max_header_bytes = 8192;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  {
    RawClient flood(server->port());
    std::string headers;
    for (int i = 0; i < 400; ++i) headers += "X-Flood-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
    flood.Send(Get("/healthz", headers));
    const std::string answer = flood.ReadUntil("}\n");
    EXPECT_EQ(StatusOf(answer), 431) << answer.substr(0, 300);
    EXPECT_NE(answer.find("\"error\":\"headers_too_large\""), std::string::npos) << answer;
    EXPECT_TRUE(flood.ClosedByServer());
  }
  for (const std::string& garbage :
       {std::string("NOT HTTP AT ALL\r\n\r\n"), std::string("GET /healthz HTTP/9\r\n\r\n"),
        Get("/healthz", "Content-Length: nope\r\n"), std::string("GET * HTTP/1.1\r\n\r\n"), Get("/bad%zzescape")}) {
    RawClient bad(server->port());
    bad.Send(garbage);
    const std::string answer = bad.ReadUntil("}\n");
    EXPECT_EQ(StatusOf(answer), 400) << garbage << " -> " << answer.substr(0, 300);
    EXPECT_NE(answer.find("\"error\":\"bad_request\""), std::string::npos) << answer;
  }
  RawClient fine(server->port());
  fine.Send(Get("/healthz"));
  EXPECT_EQ(StatusOf(fine.ReadResponse()), 200);
}

TEST(HttpFront, KeepsTheClientsAddressAndAnswersPipelinedRequestsInOrder) {
  auto server = StartServer(HttpServerOptions{});
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/whoami") + "POST /a/../echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none" +
                          Get("/healthz")));
  const std::string first = client.ReadResponse();
  EXPECT_EQ(StatusOf(first), 200);
  EXPECT_NE(first.find("\r\n\r\n127.0.0.1:" + std::to_string(client.local_port())), std::string::npos) << first;
  const std::string second = client.ReadResponse();
  EXPECT_NE(second.find("\r\n\r\n/echo one"), std::string::npos) << second;  // dot segments removed
  EXPECT_EQ(StatusOf(client.ReadResponse()), 200);
}

TEST(HttpFront, AnswersExpectContinueBeforeTheBodyIsSent) {
  auto server = StartServer(HttpServerOptions{});
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const std::string interim = client.ReadUntil("\r\n\r\n");
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  ASSERT_TRUE(client.Send("hello"));
  EXPECT_NE(client.ReadUntil("/echo hello").find("/echo hello"), std::string::npos);
}

TEST(HttpFront, AHandlerThatThrowsIsA500AndTheServerGoesOn) {
  auto server = StartServer(HttpServerOptions{});
  ASSERT_NE(server, nullptr);
  RawClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/throws") + Get("/healthz")));
  const std::string failed = client.ReadResponse();
  EXPECT_EQ(StatusOf(failed), 500) << failed;
  EXPECT_NE(failed.find("\"error\":\"internal\""), std::string::npos);
  EXPECT_EQ(StatusOf(client.ReadResponse()), 200);
}

// A write whose handler waits (on the audit chain's lock, a database) runs on
// the blocking pool: with a single loop thread, a read on another connection
// is answered while the write still waits, and the write's own connection
// gets its answer and then the next pipelined request's, in order.
TEST(HttpFront, BlockingRequestsWaitOffTheLoopAndAnswerInOrder) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> waiting{0};
  std::vector<Route> routes = TestRoutes();
  routes.push_back({"PUT", "/slow", [&](const HttpRequest& r) {
                      ++waiting;
                      std::unique_lock lock(mu);
                      cv.wait(lock, [&] { return release; });
                      HttpResponse resp;
                      resp.body = "wrote " + r.body;
                      return resp;
                    }});
  HttpServerOptions options;
  options.threads = 1;
  options.blocking = [](std::string_view method, std::string_view) { return method == "PUT"; };
  auto started = HttpServer::Start(options, routes);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto server = std::move(started).value();
  RawClient writer(server->port());
  ASSERT_TRUE(writer.Send("PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nw" + Get("/healthz")));
  ASSERT_TRUE(Eventually([&] { return waiting.load() == 1; }));
  RawClient reader(server->port());
  ASSERT_TRUE(reader.Send(Get("/healthz")));
  const std::string read = reader.ReadResponse();  // the only loop thread is free
  EXPECT_EQ(StatusOf(read), 200) << read;
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  const std::string wrote = writer.ReadResponse();
  EXPECT_EQ(StatusOf(wrote), 200) << wrote;
  EXPECT_NE(wrote.find("\r\n\r\nwrote w"), std::string::npos) << wrote;
  EXPECT_NE(wrote.find("X-Request-Id: "), std::string::npos) << wrote;
  const std::string next = writer.ReadResponse();
  EXPECT_EQ(StatusOf(next), 200) << next;
  EXPECT_NE(next.find("\r\n\r\nok"), std::string::npos) << next;
}

TEST(HttpFront, StopClosesOpenConnections) {
  auto server = StartServer(HttpServerOptions{});
  ASSERT_NE(server, nullptr);
  RawClient idle(server->port());
  RawClient halfway(server->port());
  ASSERT_TRUE(halfway.Send("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"));
  ASSERT_TRUE(Eventually([&] { return server->stats().open_connections == 2; }));
  server->Stop();
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_TRUE(halfway.ClosedByServer());
}

}  // namespace
}  // namespace prescale::http
