// The web console's serving (aggregator/api/src/console_assets.cc) and the
// whoami route it signs in with (session_api.cc), through a real HttpServer on
// 127.0.0.1:0 and curl: /ui redirects, files with their Content-Type, ETag and
// Cache-Control, 304 on If-None-Match, index.html for the application's deep
// links, 404 for missing files, a strict Content-Security-Policy everywhere;
// the embedded build holds index.html and the bundle, with no inline script.
#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/console_assets.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using testing::Curl;
using testing::CurlReply;

const ConsoleAsset kAssets[] = {
    {"index.html", "text/html; charset=utf-8", "\"idx1\"", "<!doctype html><title>t</title>"},
    {"assets/index-abc.js", "text/javascript; charset=utf-8", "\"js1\"", "console.log(1)"},
    {"favicon.svg", "image/svg+xml", "\"svg1\"", "<svg/>"},
};

class ConsoleServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    auto server = http::HttpServer::Start(options, ConsoleRoutes(kAssets));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  CurlReply Get(const std::string& path, const std::vector<std::string>& headers = {}) const {
    return Curl("GET", "http://127.0.0.1:" + std::to_string(server_->port()) + path, "", headers);
  }
  static void ExpectStrictPolicy(const CurlReply& r) {
    const std::string csp = r.Header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
  }

  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(ConsoleServingTest, UiRedirectsToUiSlash) {
  const CurlReply r = Get("/ui");
  EXPECT_EQ(r.status, 308) << r.headers;
  EXPECT_EQ(r.Header("Location"), "/ui/");
}

TEST_F(ConsoleServingTest, ServesIndexAndFilesWithTheirTypesAndCaching) {
  const CurlReply index = Get("/ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>t</title>");
  EXPECT_EQ(index.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.Header("ETag"), "\"idx1\"");
  EXPECT_EQ(index.Header("Cache-Control"), "no-cache");
  ExpectStrictPolicy(index);

  const CurlReply js = Get("/ui/assets/index-abc.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.Header("Cache-Control"), "public, max-age=31536000, immutable");
  ExpectStrictPolicy(js);

  EXPECT_EQ(Get("/ui/favicon.svg").Header("Content-Type"), "image/svg+xml");
}

TEST_F(ConsoleServingTest, IfNoneMatchGets304WithoutABody) {
  for (const char* tag : {"\"js1\"", "W/\"js1\"", "\"other\", \"js1\"", "*"}) {
    const CurlReply r = Get("/ui/assets/index-abc.js", {std::string("If-None-Match: ") + tag});
    EXPECT_EQ(r.status, 304) << tag;
    EXPECT_EQ(r.body, "") << tag;
    EXPECT_EQ(r.Header("ETag"), "\"js1\"");
  }
  EXPECT_EQ(Get("/ui/assets/index-abc.js", {"If-None-Match: \"stale\""}).status, 200);
}

TEST_F(ConsoleServingTest, DeepLinksGetIndexAndMissingFilesA404) {
  for (const char* path : {"/ui/signin", "/ui/audit", "/ui/tenants/acme", "/ui/tenants/acme/services/web"}) {
    const CurlReply r = Get(path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<!doctype html><title>t</title>") << path;
    ExpectStrictPolicy(r);
  }
  for (const char* path : {"/ui/assets/gone-123.js", "/ui/missing.css", "/ui/tenants/acme/x.png"}) {
    const CurlReply r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("\"not_found\""), std::string::npos) << r.body;
  }
  // Deeper than any of the console's own routes: not served.
  EXPECT_EQ(Get("/ui/a/b/c/d/e").status, 404);
}

TEST(ConsoleEmbeddedTest, TheBuildHoldsIndexAndItsBundleWithNoInlineScript) {
  const auto assets = EmbeddedConsoleAssets();
  const ConsoleAsset* index = nullptr;
  for (const ConsoleAsset& a : assets) {
    if (a.path == "index.html") index = &a;
  }
  ASSERT_NE(index, nullptr) << "the console's build was not embedded";
  const std::string html(index->body);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  // Every <script> has a src under /ui/assets/ that is embedded too, and none is inline.
  const std::regex script(R"re(<script\b([^>]*)>([^<]*)</script>)re");
  int scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script); it != std::sregex_iterator(); ++it) {
    ++scripts;
    const std::string attrs = (*it)[1];
    EXPECT_EQ(std::string((*it)[2]), "") << "an inline script";
    std::smatch src;
    ASSERT_TRUE(std::regex_search(attrs, src, std::regex(R"re(src="/ui/([^"]+)")re"))) << attrs;
    bool found = false;
    for (const ConsoleAsset& a : assets) found = found || (a.path == src[1].str() && !a.body.empty());
    EXPECT_TRUE(found) << src[1] << " is not embedded";
  }
  EXPECT_EQ(scripts, 1);
  EXPECT_EQ(html.find(" style="), std::string::npos) << "inline styles are refused by the policy";
  for (const ConsoleAsset& a : assets) {
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_FALSE(a.path.ends_with(".map")) << "source maps are not shipped";
  }
}

TEST(ConsoleEmbeddedTest, TheAggregatorServesTheConsoleWithoutAToken) {
  testing::FakeClock clock;
  AggregatorConfig config;
  config.listen = "127.0.0.1:0";
  config.tokens.push_back({"op", Sha256Hex("op-secret"), "operator", "acme"});
  config.tokens.push_back({"watch", Sha256Hex("mon-secret"), "monitor", ""});
  Aggregator aggregator(config, clock);
  auto server = http::HttpServer::Start(aggregator.ServerOptions(), aggregator.Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  const CurlReply index = Curl("GET", base + "/ui/tenants/acme/services/web", "", {});
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<div id=\"app\">"), std::string::npos) << index.body;

  // whoami: the caller's token; 401 without one, 403 for a monitor token (it reads /metrics only).
  const CurlReply me = Curl("GET", base + "/api/v1/whoami", "", {"Authorization: Bearer op-secret"});
  EXPECT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.body, "{\"name\":\"op\",\"role\":\"operator\",\"tenant\":\"acme\"}\n");
  EXPECT_EQ(Curl("GET", base + "/api/v1/whoami", "", {}).status, 401);
  EXPECT_EQ(Curl("GET", base + "/api/v1/whoami", "", {"Authorization: Bearer mon-secret"}).status, 403);
  const CurlReply bad = Curl("GET", base + "/api/v1/whoami?x=1", "", {"Authorization: Bearer op-secret"});
  EXPECT_EQ(bad.status, 400) << bad.body;
}

}  // namespace
}  // namespace prescale::aggregator
