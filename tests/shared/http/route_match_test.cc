#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"

namespace prescale::http {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(MatchRoutePath, ExtractsNamedSegmentsInOrder) {
  Params params;
  ASSERT_TRUE(
      MatchRoutePath("/api/v1/tenants/{tenant}/services/{service}", "/api/v1/tenants/acme/services/web", &params));
  EXPECT_EQ(params, (Params{{"tenant", "acme"}, {"service", "web"}}));
  EXPECT_TRUE(MatchRoutePath("/metrics", "/metrics", nullptr));
  EXPECT_TRUE(MatchRoutePath("/", "/", nullptr));
}

TEST(MatchRoutePath, TakesTheDecodedPathAndDoesNotDecodeAgain) {
  Params params;
  ASSERT_TRUE(MatchRoutePath("/t/{tenant}/s/{service}", "/t/acme corp/s/50%41", &params));
  EXPECT_EQ(params, (Params{{"tenant", "acme corp"}, {"service", "50%41"}}));
}

TEST(MatchRoutePath, RejectsEmptySegmentsMalformedEscapesAndOtherShapes) {
  Params params = {{"kept", "as is"}};
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}/s", "/t//s", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}", "/t/", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}/s", "/t/../s", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}/s", "/t/./s", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}", "/t/a/b", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}", "/t/a/", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}/x", "/t/a", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}", "/u/a", &params));
  EXPECT_FALSE(MatchRoutePath("/t/{tenant}", "t/a", &params));
  EXPECT_EQ(params, (Params{{"kept", "as is"}}));  // untouched without a match
}

HttpResponse Echo(const HttpRequest& r, const std::string& route) {
  HttpResponse resp;
  resp.body = route;
  for (const auto& [k, v] : r.path_params) resp.body += " " + k + "=" + v;
  return resp;
}

Route EchoRoute(const std::string& method, const std::string& path) {
  return {method, path, [path](const HttpRequest& r) { return Echo(r, path); }};
}

class PathParamServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Route> routes;
    routes.push_back(EchoRoute("GET", "/api/v1/tenants/{tenant}/services/{service}"));
    routes.push_back(EchoRoute("GET", "/api/v1/tenants/{tenant}"));
    routes.push_back(EchoRoute("GET", "/api/v1/tenants/{other}"));  // never reached: the first wins
    routes.push_back(EchoRoute("GET", "/api/v1/tenants/default"));  // exact beats the patterns
    routes.push_back({"DELETE", "/api/v1/tenants/{tenant}/services/{service}", [](const HttpRequest& r) {
                        HttpResponse resp;
                        resp.body = std::string(r.PathParam("service"));
                        return resp;
                      }});
    auto server = HttpServer::Start({}, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  HttpClientResponse Get(const std::string& path) {
    auto r = client_->Get(base_ + path, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : HttpClientResponse{};
  }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_ = NewCurlHttpClient();
  std::string base_;
};

TEST_F(PathParamServerTest, ExtractsPercentDecodedParametersOverHttp) {
  auto r = Get("/api/v1/tenants/acme%20corp/services/web%2Bapi");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/api/v1/tenants/{tenant}/services/{service} tenant=acme corp service=web+api");
  EXPECT_EQ(Get("/api/v1/tenants/acme").body, "/api/v1/tenants/{tenant} tenant=acme");
  EXPECT_EQ(Get("/api/v1/tenants/50%2541").body, "/api/v1/tenants/{tenant} tenant=50%41");  // decoded once
  // An encoded '/' is decoded before routing, so it separates segments.
  EXPECT_EQ(Get("/api/v1/tenants/a%2Fservices%2Fb").body,
            "/api/v1/tenants/{tenant}/services/{service} tenant=a service=b");
}

TEST_F(PathParamServerTest, ExactRouteBeatsPatternsAndTheFirstPatternWins) {
  EXPECT_EQ(Get("/api/v1/tenants/default").body, "/api/v1/tenants/default");
  EXPECT_EQ(Get("/api/v1/tenants/x").body, "/api/v1/tenants/{tenant} tenant=x");
}

TEST_F(PathParamServerTest, UnmatchedPathIs404AndEmptySegmentDoesNotMatch) {
  for (const char* path : {"/api/v1/tenants", "/api/v1/tenants/a/services", "/api/v1/tenants//services/web",
                           "/api/v1/tenants/a/services/web/more"}) {
    auto r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("not_found"), std::string::npos) << path << ": " << r.body;
  }
}

TEST_F(PathParamServerTest, WrongMethodOnAPatternRouteIs405) {
  auto r = client_->Post(base_ + "/api/v1/tenants/acme/services/web", "{}", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 405);
  EXPECT_NE(r->body.find("method_not_allowed"), std::string::npos) << r->body;
}

TEST_F(PathParamServerTest, DispatchFillsPathParamsForEveryMethod) {
  HttpRequest req;
  req.method = "DELETE";
  req.path = "/api/v1/tenants/acme/services/web";
  EXPECT_EQ(server_->Dispatch(req).body, "web");
  req.method = "HEAD";  // served by the GET route
  EXPECT_EQ(server_->Dispatch(req).status, 200);
  req.method = "GET";
  req.path = "/api/v1/tenants/a b/services/web";
  EXPECT_EQ(server_->Dispatch(req).body, "/api/v1/tenants/{tenant}/services/{service} tenant=a b service=web");
}

TEST_F(PathParamServerTest, ExposesItsRoutes) {
  ASSERT_EQ(server_->routes().size(), 5u);
  EXPECT_EQ(server_->routes()[0].path, "/api/v1/tenants/{tenant}/services/{service}");
  EXPECT_EQ(server_->routes()[4].method, "DELETE");
}

TEST(HttpRequest, PathParamIsEmptyWhenAbsent) {
  HttpRequest req;
  req.path_params = {{"tenant", "acme"}};
  EXPECT_EQ(req.PathParam("tenant"), "acme");
  EXPECT_EQ(req.PathParam("service"), "");
}

TEST(HttpServer, StartRejectsMalformedRoutePatterns) {
  for (const char* path : {"/t/{}", "/t/{a}{b}", "/t/x{a}", "/t/{a}/s/{a}", "no-slash"}) {
    std::vector<Route> routes = {EchoRoute("GET", path)};
    auto server = HttpServer::Start({}, std::move(routes));
    ASSERT_FALSE(server.ok()) << path;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(server.status().message().find(path), std::string::npos) << server.status().message();
  }
}

}  // namespace
}  // namespace prescale::http
