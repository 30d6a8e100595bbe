#include "prescale/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "prescale/http/http_client.h"

namespace prescale::http {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Route> routes;
    routes.push_back({"GET", "/hello", [](const HttpRequest& r) {
                        HttpResponse resp;
                        resp.body = "hello " + r.query + " " + std::string(r.Header("ACCEPT"));
                        return resp;
                      }});
    // Three pieces and an empty one (which must not end the body early), as the agent's /metrics.
    routes.push_back({"GET", "/stream", [](const HttpRequest&) {
                        HttpResponse resp;
                        resp.body_writer = [](const std::function<bool(std::string_view)>& write) {
                          for (const std::string& piece :
                               {std::string(70000, 'a'), std::string(), std::string("b\n"), std::string(5, 'c')}) {
                            if (!write(piece)) return;
                          }
                        };
                        return resp;
                      }});
    routes.push_back({"POST", "/echo", [](const HttpRequest& r) {
                        HttpResponse resp;
                        resp.body = r.body;
                        return resp;
                      }});
    HttpServerOptions options;
    options.max_body_bytes = 1024;
    auto server = HttpServer::Start(options, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(HttpServerTest, BindsAnEphemeralPortAndServesRoutes) {
  EXPECT_GT(server_->port(), 0);
  auto client = NewCurlHttpClient();
  auto r = client->Get(base_ + "/hello?x=1", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello x=1 text/plain;version=0.0.4");
}

// A body_writer's pieces arrive whole and in order (chunked), and the connection stays usable.
TEST_F(HttpServerTest, StreamsABodyWriterChunkedOnAKeptAliveConnection) {
  std::unique_ptr<HttpClient> clients[] = {NewCurlHttpClient(), NewBeastHttpClient()};
  for (auto& client : clients) {
    for (int i = 0; i < 2; ++i) {
      auto r = client->Get(base_ + "/stream", {});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, std::string(70000, 'a') + "b\n" + std::string(5, 'c'));
    }
    auto after = client->Get(base_ + "/hello?y=2", {});
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->body, "hello y=2 text/plain;version=0.0.4");
  }
}

// HTTP/1.0 knows no chunked encoding: the same body unframed, ended by closing the connection.
TEST_F(HttpServerTest, StreamsABodyWriterToAnHttp10ClientUntilClose) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{10, 0};  // a deadline for every read: a server that never closes fails the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request = "GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string answer;
  char buf[16384];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(n, 0) << "the server must close the connection to end the body";
  const size_t end = answer.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << answer.substr(0, 200);
  const std::string head = answer.substr(0, end);
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(head.find("chunked"), std::string::npos) << head;
  EXPECT_EQ(answer.substr(end + 4), std::string(70000, 'a') + "b\n" + std::string(5, 'c'));
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithJsonReason) {
  auto client = NewCurlHttpClient();
  auto missing = client->Get(base_ + "/nope", {});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->content_type, "application/json");
  EXPECT_NE(missing->body.find("\"error\":\"not_found\""), std::string::npos) << missing->body;
  auto wrong = client->Get(base_ + "/echo", {});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_NE(wrong->body.find("method_not_allowed"), std::string::npos);
}

TEST_F(HttpServerTest, DispatchRejectsOversizedBodiesBeforeTheHandler) {
  HttpRequest req;
  req.method = "POST";
  req.path = "/echo";
  req.body = "ok";
  EXPECT_EQ(server_->Dispatch(req).body, "ok");
  EXPECT_EQ(server_->max_body_bytes(), 1024u);
}

TEST_F(HttpServerTest, ClientEnforcesItsBodyLimitAndReportsRefusedConnections) {
  auto client = NewCurlHttpClient();
  GetOptions small;
  small.max_body_bytes = 4;
  auto r = client->Get(base_ + "/hello", small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  const int port = server_->port();
  server_->Stop();
  auto refused = client->Get("http://127.0.0.1:" + std::to_string(port) + "/hello", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
}

TEST_F(HttpServerTest, ClientPostsBodyAndHeaders) {
  auto client = NewCurlHttpClient();
  PostOptions options;
  options.headers = {{"Content-Encoding", "snappy"}};
  const std::string body(100000, 'x');  // over the server's 1 KiB limit
  auto big = client->Post(base_ + "/echo", body, options);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  auto small = client->Post(base_ + "/echo", "payload", options);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body, "payload");
}

TEST(HttpServer, FailsClearlyWhenThePortIsTaken) {
  auto first = HttpServer::Start({}, {});
  ASSERT_TRUE(first.ok());
  HttpServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpServer::Start(options, {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(options.listen), std::string::npos);
}

// authorize runs before routing, so an unknown path or a wrong method is refused like a known
// one; response_headers go on every response, refusals included, unless the handler set them.
TEST(HttpServer, AuthorizeRunsBeforeRoutingAndResponseHeadersGoOnEveryResponse) {
  std::vector<Route> routes;
  routes.push_back({"GET", "/open", [](const HttpRequest&) { return HttpResponse{}; }});
  routes.push_back({"GET", "/own", [](const HttpRequest&) {
                      HttpResponse r;
                      r.headers.emplace_back("x-frame-options", "sameorigin");
                      return r;
                    }});
  HttpServerOptions options;
  options.authorize = [](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.Header("Authorization") == "let me in") return std::nullopt;
    return HttpResponse::JsonError(401, "unauthorized", "no");
  };
  options.response_headers = {{"X-Frame-Options", "deny"}, {"X-Content-Type-Options", "nosniff"}};
  auto server = HttpServer::Start(options, std::move(routes));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto client = NewBeastHttpClient();
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  for (const char* path : {"/open", "/nope", "/own"}) {
    auto refused = client->Get(base + path, {});
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->status, 401) << path;
  }
  GetOptions in;
  in.headers = {{"Authorization", "let me in"}};
  auto open = client->Get(base + "/open", in);
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->status, 200);
  auto request = [](std::string path, std::string authorization) {
    HttpRequest r;
    r.method = "GET";
    r.path = std::move(path);
    if (!authorization.empty()) r.headers.emplace_back("authorization", std::move(authorization));
    return r;
  };
  EXPECT_EQ((*server)->Dispatch(request("/nope", "let me in")).status, 404);
  auto headers_of = [&](HttpRequest r) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : (*server)->Dispatch(std::move(r)).headers) out[k] = v;
    return out;
  };
  auto refused = headers_of(request("/open", ""));
  EXPECT_EQ(refused["X-Frame-Options"], "deny");
  EXPECT_EQ(refused["X-Content-Type-Options"], "nosniff");
  auto own = headers_of(request("/own", "let me in"));
  EXPECT_EQ(own["x-frame-options"], "sameorigin");
  EXPECT_EQ(own.count("X-Frame-Options"), 0u);
  EXPECT_EQ(own["X-Content-Type-Options"], "nosniff");
}

TEST(HttpResponse, JsonErrorEscapesItsMessage) {
  HttpResponse r = HttpResponse::JsonError(400, "bad", "say \"hi\"\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "{\"error\":\"bad\",\"message\":\"say \\\"hi\\\"\\n\"}\n");
}

}  // namespace
}  // namespace prescale::http
