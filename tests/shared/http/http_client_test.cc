// Both HttpClients (libcurl's and Boost.Beast's) against the same servers, so
// the Beast client is held to what curl does. Against a real shared/http
// HttpServer on 127.0.0.1:0: GET sends its headers and Accept, Send carries
// other verbs (PATCH, PUT) with their body and content type, a method that is
// not a token is refused before anything is sent (HTTPS: http_tls_test.cc).
// Against WireServer, a loopback socket server that counts
// connections and answers with scripted bytes: keep-alive and its one retry,
// Connection: close, chunked and read-until-close bodies, the body limit,
// timeouts, gzip, IPv6, curl's default headers, and TLS connections kept alive.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"

namespace prescale::http {
namespace {

struct ClientKind {
  const char* name;
  std::unique_ptr<HttpClient> (*make)();
};
void PrintTo(const ClientKind& kind, std::ostream* os) { *os << kind.name; }
const auto kClients = ::testing::Values(ClientKind{"Curl", NewCurlHttpClient}, ClientKind{"Beast", NewBeastHttpClient});
std::string ClientName(const ::testing::TestParamInfo<ClientKind>& info) { return info.param.name; }
bool IsBeast(const ClientKind& kind) { return std::string(kind.name) == "Beast"; }

// Keeps every request and answers 200 with "<method> <path>".
class Recorder {
 public:
  std::vector<Route> Routes() {
    std::vector<Route> routes;
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      routes.push_back({method, "/things/{name}", [this](const HttpRequest& r) { return Handle(r); }});
    }
    return routes;
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  HttpResponse Handle(const HttpRequest& r) {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
    HttpResponse out;
    out.content_type = "application/json";
    out.body = r.method + " " + r.path;
    return out;
  }
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

// A loopback TCP server for what HttpServer cannot show: it counts
// connections, keeps each request as it came, and answers with scripted
// bytes; or it relays every connection to another port (to count TLS ones).
class WireServer {
 public:
  struct Request {
    int connection = 0;  // 0 for the first accepted, 1 for the next...
    std::string line;    // "GET /x HTTP/1.1"
    std::string head;    // the header lines
    std::string body;
    // The values of header `name`, case-insensitive.
    std::vector<std::string> Headers(std::string_view name) const {
      std::vector<std::string> out;
      size_t pos = 0;
      while (pos < head.size()) {
        size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        const std::string_view h(head.data() + pos, end - pos);
        const size_t colon = h.find(':');
        if (colon == name.size() && strncasecmp(h.data(), name.data(), name.size()) == 0) {
          const std::string_view v = h.substr(colon + 1);
          out.emplace_back(v.substr(std::min(v.find_first_not_of(' '), v.size())));
        }
        pos = end + 2;
      }
      return out;
    }
    std::string Header(std::string_view name) const {
      auto all = Headers(name);
      return all.empty() ? "" : all.front();
    }
  };
  struct Reply {
    std::string bytes;
    bool close = false;   // close the connection after the bytes
    bool silent = false;  // send nothing and keep the connection open
  };
  using Script = std::function<Reply(const Request& request, int index_on_connection)>;

  // Listens on 127.0.0.1:0, or [::1]:0 for AF_INET6; null when it cannot bind.
  static std::unique_ptr<WireServer> Start(Script script, int family = AF_INET) {
    auto server = std::unique_ptr<WireServer>(new WireServer(std::move(script), 0));
    return server->Listen(family) ? std::move(server) : nullptr;
  }
  static std::unique_ptr<WireServer> Relay(int backend_port) {
    auto server = std::unique_ptr<WireServer>(new WireServer(nullptr, backend_port));
    return server->Listen(AF_INET) ? std::move(server) : nullptr;
  }
  ~WireServer() {
    if (thread_.joinable()) {
      const char byte = 'x';
      (void)!::write(wake_[1], &byte, 1);
      thread_.join();
    }
    for (const Conn& c : conns_) Close(c);
    for (int fd : {listen_, wake_[0], wake_[1]}) {
      if (fd >= 0) ::close(fd);
    }
  }
  WireServer(const WireServer&) = delete;
  WireServer& operator=(const WireServer&) = delete;

  int port() const { return port_; }
  int connections() const { return accepted_.load(); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  struct Conn {
    int fd = -1;
    int peer = -1;  // the backend, when relaying
    int id = 0;
    int served = 0;
    bool silent = false;
    std::string in;
  };

  WireServer(Script script, int backend_port) : script_(std::move(script)), backend_port_(backend_port) {}

  bool Listen(int family) {
    if (::pipe(wake_) != 0) return false;
    listen_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listen_, 16) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return false;
    }
    port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    thread_ = std::thread([this] { Loop(); });
    return true;
  }

  static void Close(const Conn& c) {
    if (c.fd >= 0) ::close(c.fd);
    if (c.peer >= 0) ::close(c.peer);
  }

  // False when the peer is gone (or stops reading for 5 s).
  static bool SendAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Accept() {
    Conn c;
    c.fd = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c.fd < 0) return;
    const timeval send_timeout{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    c.id = accepted_.fetch_add(1);
    if (backend_port_ != 0) {
      c.peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(backend_port_));
      if (c.peer < 0 || ::connect(c.peer, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        Close(c);
        return;
      }
    }
    conns_.push_back(std::move(c));
  }

  // Answers the complete requests in c.in; false when c is to be closed.
  bool Serve(Conn& c) {
    while (!c.silent) {
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      Request r;
      r.connection = c.id;
      const size_t line_end = c.in.find("\r\n");
      r.line = c.in.substr(0, line_end);
      r.head = line_end < end ? c.in.substr(line_end + 2, end - line_end - 2) : "";
      const std::string length = r.Header("Content-Length");
      const size_t body_bytes = length.empty() ? 0 : std::stoul(length);
      if (c.in.size() < end + 4 + body_bytes) return true;
      r.body = c.in.substr(end + 4, body_bytes);
      c.in.erase(0, end + 4 + body_bytes);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
      }
      const Reply reply = script_(r, c.served++);
      if (reply.silent) {
        c.silent = true;
        return true;
      }
      if (!SendAll(c.fd, reply.bytes) || reply.close) return false;
    }
    return true;
  }

  void Loop() {
    while (true) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_, POLLIN, 0}};
      for (const Conn& c : conns_) {
        fds.push_back({c.fd, POLLIN, 0});
        fds.push_back({c.peer, POLLIN, 0});  // -1 is ignored by poll
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents != 0) return;
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        for (const bool from_peer : {false, true}) {
          if (c.fd < 0 || fds[2 + 2 * i + (from_peer ? 1 : 0)].revents == 0) continue;
          char buf[65536];
          const ssize_t n = ::recv(from_peer ? c.peer : c.fd, buf, sizeof buf, 0);
          bool keep = n > 0;
          if (keep && c.peer >= 0) {
            keep = SendAll(from_peer ? c.fd : c.peer, std::string_view(buf, static_cast<size_t>(n)));
          } else if (keep && !c.silent) {
            c.in.append(buf, static_cast<size_t>(n));
            keep = Serve(c);
          }
          if (!keep) {
            Close(c);
            c.fd = c.peer = -1;
          }
        }
      }
      std::erase_if(conns_, [](const Conn& c) { return c.fd < 0; });
      if ((fds[1].revents & POLLIN) != 0) Accept();
    }
  }

  Script script_;
  int backend_port_ = 0;
  int wake_[2] = {-1, -1};
  int listen_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<Conn> conns_;  // the server thread's
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

std::string Answer(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

// `text` compressed by zlib: window_bits 31 gzip, 15 zlib ("deflate"), -15 raw deflate.
std::string Compress(std::string_view text, int window_bits) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class HttpClientTest : public ::testing::TestWithParam<ClientKind> {
 protected:
  void SetUp() override {
    auto server = HttpServer::Start(HttpServerOptions{}, recorder_.Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  Recorder recorder_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  std::unique_ptr<HttpClient> client_ = GetParam().make();
};

INSTANTIATE_TEST_SUITE_P(Clients, HttpClientTest, kClients, ClientName);

TEST_P(HttpClientTest, GetSendsItsHeadersAndAccept) {
  GetOptions options;
  options.accept = "application/json";
  options.headers = {{"Authorization", "Bearer abc.def"}, {"X-Trace", "t1"}};
  auto r = client_->Get(base_ + "/things/web", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /things/web");
  EXPECT_EQ(r->content_type, "application/json");
  auto requests = recorder_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer abc.def");
  EXPECT_EQ(requests[0].Header("X-Trace"), "t1");
  EXPECT_EQ(requests[0].Header("Accept"), "application/json");
}

TEST_P(HttpClientTest, SendPatchCarriesItsBodyAndContentType) {
  PostOptions options;
  options.headers = {{"Content-Type", "application/merge-patch+json"}, {"Authorization", "Bearer tok"}};
  const std::string body = R"({"spec":{"replicas":3}})";
  auto r = client_->Send("PATCH", base_ + "/things/web", body, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PATCH /things/web");
  auto requests = recorder_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer tok");
  EXPECT_EQ(requests[0].Header("Content-Length"), std::to_string(body.size()));
}

TEST_P(HttpClientTest, OneClientMixesVerbsOnItsKeptAliveConnection) {
  PostOptions json;
  json.headers = {{"Content-Type", "application/json"}};
  ASSERT_TRUE(client_->Post(base_ + "/things/a", "{}", json).ok());
  ASSERT_TRUE(client_->Send("PUT", base_ + "/things/b", "[1]", json).ok());
  // A GET after a PATCH must not inherit the PATCH verb or its body.
  ASSERT_TRUE(client_->Send("PATCH", base_ + "/things/c", "{}", json).ok());
  auto get = client_->Get(base_ + "/things/d", GetOptions{});
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->body, "GET /things/d");
  ASSERT_TRUE(client_->Send("DELETE", base_ + "/things/e", "", PostOptions{}).ok());
  auto requests = recorder_.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].body, "[1]");
  EXPECT_EQ(requests[2].method, "PATCH");
  EXPECT_EQ(requests[3].method, "GET");
  EXPECT_EQ(requests[3].body, "");
  EXPECT_EQ(requests[4].method, "DELETE");
}

TEST_P(HttpClientTest, SendRefusesAMethodThatIsNotAToken) {
  for (const char* method : {"", "patch", "PATCH /x HTTP/1.1\r\nX:", "GET X"}) {
    auto r = client_->Send(method, base_ + "/things/web", "{}", PostOptions{});
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(recorder_.requests().empty());
}

TEST_P(HttpClientTest, GetNamesTheUrlWhenNothingListens) {
  const std::string url = base_ + "/things/web";
  server_->Stop();
  GetOptions options;
  options.timeout = std::chrono::milliseconds(2000);
  auto r = client_->Get(url, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().message();
}

// curl answers a malformed URL or another scheme with Unavailable; Beast says InvalidArgument.
TEST_P(HttpClientTest, RefusesAUrlThatIsNotHttp) {
  for (const std::string url : {"ftp://127.0.0.1/x", "http://", "http://[::1/x", "http://127.0.0.1:99999/x",
                                "http://127.0.0.1/a b", "127.0.0.1/x"}) {
    auto r = client_->Get(url, GetOptions{});
    ASSERT_FALSE(r.ok()) << url;
    if (IsBeast(GetParam())) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << url;
      EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().message();
    }
  }
  EXPECT_TRUE(recorder_.requests().empty());
}

// HttpServer refuses a body over its limit with 413 before reading it; the
// client must report that answer, not the broken upload.
TEST_P(HttpClientTest, ReportsA413SentBeforeTheBodyWasRead) {
  HttpServerOptions small;
  small.max_body_bytes = 1024;
  auto server = HttpServer::Start(small, recorder_.Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/things/big";
  auto r = client_->Post(url, std::string(4 << 20, 'x'), PostOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(recorder_.requests().empty());
}

class HttpClientWireTest : public ::testing::TestWithParam<ClientKind> {
 protected:
  // A server answering every request with Answer(body).
  static std::unique_ptr<WireServer> Answering(const std::string& body) {
    return WireServer::Start([body](const WireServer::Request&, int) { return WireServer::Reply{Answer(body)}; });
  }
  static std::string Url(const WireServer& server, std::string_view path = "/x") {
    return "http://127.0.0.1:" + std::to_string(server.port()) + std::string(path);
  }

  std::unique_ptr<HttpClient> client_ = GetParam().make();
};

INSTANTIATE_TEST_SUITE_P(Clients, HttpClientWireTest, kClients, ClientName);

TEST_P(HttpClientWireTest, SendsCurlsRequestLineAndDefaultHeaders) {
  auto server = Answering("ok");
  ASSERT_NE(server, nullptr);
  const std::string authority = "127.0.0.1:" + std::to_string(server->port());
  ASSERT_TRUE(client_->Get("http://" + authority + "/a/./b/../c?q=1&r=%2F#frag", GetOptions{}).ok());
  PostOptions post;
  post.headers = {{"User-Agent", "pusher/2"}, {"X-Empty", ""}};
  ASSERT_TRUE(client_->Post("http://" + authority, "k=v", post).ok());
  ASSERT_TRUE(client_->Get("http://user:p%40ss@" + authority + "/auth", GetOptions{}).ok());

  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 3u);
  const WireServer::Request& get = requests[0];
  EXPECT_EQ(get.line, "GET /a/c?q=1&r=%2F HTTP/1.1");
  EXPECT_EQ(get.Header("Host"), authority);
  EXPECT_EQ(get.Header("User-Agent"), "prescale/0.1");
  EXPECT_EQ(get.Header("Accept"), "text/plain;version=0.0.4");
  EXPECT_NE(get.Header("Accept-Encoding").find("gzip"), std::string::npos) << get.head;
  EXPECT_TRUE(get.Headers("Content-Length").empty()) << get.head;
  const WireServer::Request& post_request = requests[1];
  EXPECT_EQ(post_request.line, "POST / HTTP/1.1");
  EXPECT_EQ(post_request.Headers("User-Agent"), std::vector<std::string>{"pusher/2"});
  EXPECT_EQ(post_request.Header("Accept"), "*/*");
  EXPECT_EQ(post_request.Header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(post_request.Header("Content-Length"), "3");
  EXPECT_TRUE(post_request.Headers("X-Empty").empty()) << post_request.head;
  EXPECT_TRUE(post_request.Headers("Expect").empty()) << post_request.head;
  EXPECT_TRUE(post_request.Headers("Accept-Encoding").empty()) << post_request.head;
  EXPECT_EQ(post_request.body, "k=v");
  EXPECT_EQ(requests[2].Header("Authorization"), "Basic dXNlcjpwQHNz");  // user:p@ss
}

TEST_P(HttpClientWireTest, ReusesOneConnectionPerOrigin) {
  auto a = Answering("a");
  auto b = Answering("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (const auto* server : {a.get(), a.get(), b.get(), a.get()}) {
    auto r = client_->Get(Url(*server), GetOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  EXPECT_EQ(a->requests().size(), 3u);
  EXPECT_EQ(a->connections(), 1);  // as curl's cache of up to 5 connections
  EXPECT_EQ(b->connections(), 1);
}

// The race curl retries for: the server closes a kept-alive connection just
// as the next request goes out on it.
TEST_P(HttpClientWireTest, RetriesOnceWhenAKeptAliveConnectionDiesBeforeAnswering) {
  auto server = WireServer::Start([](const WireServer::Request& r, int index) {
    if (r.connection == 0 && index == 1) return WireServer::Reply{"", true};
    return WireServer::Reply{Answer("from connection " + std::to_string(r.connection))};
  });
  ASSERT_NE(server, nullptr);
  auto first = client_->Get(Url(*server), GetOptions{});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = client_->Post(Url(*server), "body", PostOptions{});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->body, "from connection 1");
  EXPECT_EQ(server->connections(), 2);
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].body, "body");
}

TEST_P(HttpClientWireTest, ReconnectsWhenTheServerClosedAnIdleConnection) {
  auto server = WireServer::Start([](const WireServer::Request& r, int) {
    return WireServer::Reply{Answer("from connection " + std::to_string(r.connection)), true};
  });
  ASSERT_NE(server, nullptr);
  for (int i = 0; i < 2; ++i) {
    auto r = client_->Get(Url(*server), GetOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "from connection " + std::to_string(i));
  }
  EXPECT_EQ(server->connections(), 2);
}

TEST_P(HttpClientWireTest, DoesNotRetryAFreshConnectionOrAPartAnswer) {
  auto closing = WireServer::Start([](const WireServer::Request&, int) { return WireServer::Reply{"", true}; });
  ASSERT_NE(closing, nullptr);
  auto r = client_->Get(Url(*closing), GetOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(closing->connections(), 1);

  auto partial = WireServer::Start([](const WireServer::Request&, int index) {
    if (index == 0) return WireServer::Reply{Answer("ok")};
    return WireServer::Reply{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true};
  });
  ASSERT_NE(partial, nullptr);
  ASSERT_TRUE(client_->Get(Url(*partial), GetOptions{}).ok());
  r = client_->Get(Url(*partial), GetOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(partial->connections(), 1);
  EXPECT_EQ(partial->requests().size(), 2u);
}

TEST_P(HttpClientWireTest, HonoursConnectionCloseFromTheServer) {
  // The server says close but leaves the socket open: reusing it would hang.
  auto server = WireServer::Start([](const WireServer::Request& r, int) {
    return WireServer::Reply{Answer(std::to_string(r.connection), "Connection: close\r\n")};
  });
  ASSERT_NE(server, nullptr);
  GetOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  for (const char* expected : {"0", "1"}) {
    auto r = client_->Get(Url(*server), options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, expected);
  }
  EXPECT_EQ(server->connections(), 2);
}

TEST_P(HttpClientWireTest, ReadsChunkedAndReadUntilCloseBodies) {
  auto server = WireServer::Start([](const WireServer::Request& r, int) {
    if (r.line.starts_with("GET /chunked")) {
      return WireServer::Reply{
          "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"};
    }
    if (r.line.starts_with("GET /interim")) {
      return WireServer::Reply{"HTTP/1.1 100 Continue\r\n\r\n" + Answer("after 100")};
    }
    if (r.line.starts_with("GET /http10")) return WireServer::Reply{"HTTP/1.0 404 Not Found\r\n\r\nold", true};
    return WireServer::Reply{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true};
  });
  ASSERT_NE(server, nullptr);
  auto chunked = client_->Get(Url(*server, "/chunked"), GetOptions{});
  ASSERT_TRUE(chunked.ok()) << chunked.status().ToString();
  EXPECT_EQ(chunked->body, "hello, world");
  EXPECT_EQ(chunked->content_type, "application/json; charset=utf-8");
  auto interim = client_->Get(Url(*server, "/interim"), GetOptions{});
  ASSERT_TRUE(interim.ok()) << interim.status().ToString();
  EXPECT_EQ(interim->status, 200);
  EXPECT_EQ(interim->body, "after 100");
  auto until_close = client_->Get(Url(*server, "/close"), GetOptions{});
  ASSERT_TRUE(until_close.ok()) << until_close.status().ToString();
  EXPECT_EQ(until_close->body, "until close");
  auto old = client_->Get(Url(*server, "/http10"), GetOptions{});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->status, 404);
  EXPECT_EQ(old->body, "old");
  EXPECT_EQ(old->content_type, "");
  EXPECT_EQ(server->connections(), 2);  // the read-until-close answer ends the first
}

TEST_P(HttpClientWireTest, RefusesABodyOverTheLimitWithoutReadingItAll) {
  const std::string big(8 << 20, 'x');
  auto server = WireServer::Start([&big](const WireServer::Request& r, int) {
    if (r.line.starts_with("GET /exact")) return WireServer::Reply{Answer(std::string(1000, 'e'))};
    if (r.line.starts_with("GET /chunked")) {
      std::string chunks = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (int i = 0; i < 11; ++i) chunks += "64\r\n" + std::string(100, 'c') + "\r\n";
      return WireServer::Reply{chunks + "0\r\n\r\n"};
    }
    if (r.line.starts_with("GET /unsized")) return WireServer::Reply{"HTTP/1.1 200 OK\r\n\r\n" + big, true};
    return WireServer::Reply{Answer(big)};
  });
  ASSERT_NE(server, nullptr);
  GetOptions options;
  options.max_body_bytes = 1000;
  auto exact = client_->Get(Url(*server, "/exact"), options);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(exact->body.size(), 1000u);
  for (const char* path : {"/sized", "/chunked", "/unsized"}) {
    auto r = client_->Get(Url(*server, path), options);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << path << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(Url(*server, path)), std::string::npos) << r.status().message();
  }
  PostOptions post;
  post.max_response_bytes = 1000;
  auto posted = client_->Post(Url(*server, "/sized"), "", post);
  ASSERT_FALSE(posted.ok());
  EXPECT_EQ(posted.status().code(), StatusCode::kResourceExhausted);
}

TEST_P(HttpClientWireTest, TimesOutOnAServerThatNeverAnswers) {
  auto server = WireServer::Start([](const WireServer::Request&, int) { return WireServer::Reply{"", false, true}; });
  ASSERT_NE(server, nullptr);
  GetOptions options;
  options.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto r = client_->Get(Url(*server), options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(Url(*server)), std::string::npos) << r.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(30));
  PostOptions post;
  post.timeout = std::chrono::milliseconds(300);
  auto posted = client_->Post(Url(*server), "x", post);
  ASSERT_FALSE(posted.ok());
  EXPECT_EQ(posted.status().code(), StatusCode::kUnavailable);
}

// As curl with CURLOPT_ACCEPT_ENCODING "": GET undoes gzip and deflate (with
// or without the zlib header), the limit counting decoded bytes; Send, which
// offers no coding, gets the bytes as sent.
TEST_P(HttpClientWireTest, GetDecodesGzipAndDeflateAndSendDoesNot) {
  const std::string text = std::string(3000, 'a') + "metric_total 1\n";
  auto server = WireServer::Start([&text](const WireServer::Request& r, int) {
    if (r.line.starts_with("GET /deflate"))
      return WireServer::Reply{Answer(Compress(text, 15), "Content-Encoding: deflate\r\n")};
    if (r.line.starts_with("GET /raw"))
      return WireServer::Reply{Answer(Compress(text, -15), "Content-Encoding: deflate\r\n")};
    if (r.line.starts_with("GET /bad"))
      return WireServer::Reply{Answer("not gzip at all", "Content-Encoding: gzip\r\n")};
    return WireServer::Reply{Answer(Compress(text, 31), "Content-Encoding: gzip\r\n")};
  });
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/gzip", "/deflate", "/raw"}) {
    auto r = client_->Get(Url(*server, path), GetOptions{});
    ASSERT_TRUE(r.ok()) << path << ": " << r.status().ToString();
    EXPECT_EQ(r->body, text) << path;
  }
  auto bad = client_->Get(Url(*server, "/bad"), GetOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
  GetOptions small;
  small.max_body_bytes = 1000;  // the gzip body is smaller, the text is not
  auto over = client_->Get(Url(*server, "/gzip"), small);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted) << over.status().ToString();
  auto raw = client_->Post(Url(*server, "/gzip"), "", PostOptions{});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->body, Compress(text, 31));
}

TEST_P(HttpClientWireTest, TalksToABracketedIpv6Address) {
  auto server =
      WireServer::Start([](const WireServer::Request&, int) { return WireServer::Reply{Answer("six")}; }, AF_INET6);
  if (server == nullptr) GTEST_SKIP() << "cannot listen on [::1] (no IPv6 loopback here)";
  const std::string authority = "[::1]:" + std::to_string(server->port());
  for (int i = 0; i < 2; ++i) {
    auto r = client_->Get("http://" + authority + "/v6", GetOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "six");
  }
  ASSERT_EQ(server->requests().size(), 2u);
  EXPECT_EQ(server->requests()[0].Header("Host"), authority);
  EXPECT_EQ(server->connections(), 1);
}

// A self-signed CA:TRUE certificate for 127.0.0.1 and its key, as PEM files.
bool WriteSelfSignedPair(const std::string& cert_path, const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (key == nullptr || cert == nullptr) return false;
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  for (auto [nid, value] :
       {std::pair{NID_basic_constraints, "critical,CA:TRUE"}, std::pair{NID_subject_alt_name, "IP:127.0.0.1"}}) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return false;
    const bool added = X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!added) return false;
  }
  if (X509_sign(x, key.get(), EVP_sha256()) == 0) return false;
  FILE* c = std::fopen(cert_path.c_str(), "w");
  if (c == nullptr) return false;
  bool ok = PEM_write_X509(c, x) == 1;
  ok = std::fclose(c) == 0 && ok;
  FILE* k = std::fopen(key_path.c_str(), "w");
  if (k == nullptr) return false;
  ok = PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1 && ok;
  return std::fclose(k) == 0 && ok;
}

// Over TLS too, one connection serves a loop; other TLS settings get their own.
TEST_P(HttpClientWireTest, KeepsItsTlsConnectionAlivePerCaSetting) {
  testing::TempDir dir("prescale-http-client-tls");
  HttpServerOptions options;
  options.tls_cert_file = dir.path() + "/cert.pem";
  options.tls_key_file = dir.path() + "/key.pem";
  ASSERT_TRUE(WriteSelfSignedPair(options.tls_cert_file, options.tls_key_file));
  Recorder recorder;
  auto server = HttpServer::Start(options, recorder.Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto relay = WireServer::Relay((*server)->port());  // counts the TLS connections it passes on
  ASSERT_NE(relay, nullptr);
  const std::string url = "https://127.0.0.1:" + std::to_string(relay->port()) + "/things/web";
  GetOptions get;
  get.ca_file = options.tls_cert_file;
  for (int i = 0; i < 3; ++i) {
    auto r = client_->Get(url, get);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "GET /things/web");
  }
  EXPECT_EQ(relay->connections(), 1);
  get.ca_file.clear();
  get.insecure_skip_verify = true;
  auto r = client_->Get(url, get);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(relay->connections(), 2);
  EXPECT_EQ(recorder.requests().size(), 4u);
  (*server)->Stop();
}

}  // namespace
}  // namespace prescale::http
