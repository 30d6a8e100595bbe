#include "prescale/http/http_server.h"

#include <gtest/gtest.h>

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

TEST(HttpResponse, JsonErrorEscapesItsMessage) {
  HttpResponse r = HttpResponse::JsonError(400, "bad", "say \"hi\"\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "{\"error\":\"bad\",\"message\":\"say \\\"hi\\\"\\n\"}\n");
}

}  // namespace
}  // namespace prescale::http
