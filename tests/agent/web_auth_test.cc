// The agent's endpoints behind a web config: basic auth with bcrypt (and its
// cache), TLS with client certificates and pinned versions, over real HTTP on
// 127.0.0.1 with the server the agent runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "prescale/agent/basic_auth.h"
#include "prescale/agent/web_config.h"
#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"
#include "tests/support/test_tls.h"

namespace prescale::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// bcrypt at cost 4 of "secret" ($2b$), "hunter2" ($2y$, as htpasswd writes) and "s3cr3t" ($2a$).
constexpr const char* kSecretHash = "$2b$04$rDDp62Y0iB0FR.rS/HiCMO.rWVMyXwqfiKWavlo2jT.JuouMVnmRO";
constexpr const char* kHunter2Hash = "$2y$04$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS";
constexpr const char* kS3cr3tHash = "$2a$04$RUel.tkQVNX62HzoH6Wg/.4RNKTDwOUd2LalJ0jgy7V2WbmvrKN.K";

// "Authorization: Basic ..." for user:password (base64 computed by hand).
constexpr const char* kPrometheusSecret = "Basic cHJvbWV0aGV1czpzZWNyZXQ=";  // prometheus:secret
constexpr const char* kPrometheusWrong = "Basic cHJvbWV0aGV1czp3cm9uZw==";   // prometheus:wrong
constexpr const char* kAliceHunter2 = "Basic YWxpY2U6aHVudGVyMg==";          // alice:hunter2

http::HttpRequest Get(const std::string& path, const std::string& authorization = "") {
  http::HttpRequest r;
  r.method = "GET";
  r.path = path;
  if (!authorization.empty()) r.headers.emplace_back("Authorization", authorization);
  return r;
}

std::unique_ptr<BasicAuth> NewAuth() {
  return std::make_unique<BasicAuth>(
      std::vector<std::pair<std::string, std::string>>{
          {"prometheus", kSecretHash}, {"alice", kHunter2Hash}, {"carol", kS3cr3tHash}},
      std::vector<std::string>{"/healthz", "/readyz"});
}

TEST(IsBcryptHash, TakesTheThreeVariantsAndCosts4To31) {
  EXPECT_TRUE(IsBcryptHash(kSecretHash));
  EXPECT_TRUE(IsBcryptHash(kHunter2Hash));
  EXPECT_TRUE(IsBcryptHash(kS3cr3tHash));
  EXPECT_TRUE(IsBcryptHash("$2y$31$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS"));
  for (const char* bad : {"", "secret", "$2x$04$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS",
                          "$2y$03$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS",
                          "$2y$32$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS",
                          "$2y$04$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQN",
                          "$2y$04$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQ+S",
                          "$6$salt$0123456789012345678901234567890123456789012345678901"}) {
    EXPECT_FALSE(IsBcryptHash(bad)) << bad;
  }
}

TEST(BasicAuth, VerifiesEachBcryptVariant) {
  auto auth = NewAuth();
  EXPECT_TRUE(auth->Verify("prometheus", "secret"));
  EXPECT_TRUE(auth->Verify("alice", "hunter2"));
  EXPECT_TRUE(auth->Verify("carol", "s3cr3t"));
  EXPECT_FALSE(auth->Verify("prometheus", "Secret"));
  EXPECT_FALSE(auth->Verify("prometheus", "hunter2")) << "another user's password";
  EXPECT_FALSE(auth->Verify("prometheus", ""));
  EXPECT_FALSE(auth->Verify("mallory", "secret")) << "an unknown user, with a known user's password";
  EXPECT_FALSE(auth->Verify("", "secret"));
}

TEST(BasicAuth, CachesSuccessesOnlyAndStillRunsBcryptForUnknownUsers) {
  auto auth = NewAuth();
  EXPECT_TRUE(auth->Verify("prometheus", "secret"));
  EXPECT_EQ(auth->bcrypt_runs(), 1u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(auth->Verify("prometheus", "secret"));
  EXPECT_EQ(auth->bcrypt_runs(), 1u) << "a cached success does not run bcrypt again";
  EXPECT_FALSE(auth->Verify("prometheus", "wrong"));
  EXPECT_FALSE(auth->Verify("prometheus", "wrong"));
  EXPECT_EQ(auth->bcrypt_runs(), 3u) << "failures are not cached";
  EXPECT_FALSE(auth->Verify("mallory", "secret"));
  EXPECT_EQ(auth->bcrypt_runs(), 4u) << "an unknown user costs one bcrypt too, so timing does not tell users apart";
  EXPECT_TRUE(auth->Verify("alice", "hunter2"));
  EXPECT_EQ(auth->bcrypt_runs(), 5u) << "the cache is per user and password";
}

TEST(BasicAuth, TheCacheIsBounded) {
  std::vector<std::pair<std::string, std::string>> users;
  const size_t n = BasicAuth::kCacheEntries + 1;
  for (size_t i = 0; i < n; ++i) users.emplace_back("user" + std::to_string(i), kSecretHash);
  BasicAuth auth(users, {});
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(auth.Verify("user" + std::to_string(i), "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), n);
  EXPECT_TRUE(auth.Verify("user" + std::to_string(n - 1), "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), n) << "the newest entry is still cached";
  EXPECT_TRUE(auth.Verify("user0", "secret"));
  EXPECT_EQ(auth.bcrypt_runs(), n + 1) << "the oldest entry made room";
}

// The server's worker threads share one BasicAuth.
TEST(BasicAuth, ThreadsShareOneInstance) {
  auto auth = NewAuth();
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> wrong_answers{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&auth, &wrong_answers, t] {
      for (int i = 0; i < 20; ++i) {
        const bool right = (i + t) % 3 != 0;
        if (auth->Verify(t % 2 == 0 ? "prometheus" : "alice", right ? (t % 2 == 0 ? "secret" : "hunter2") : "x") !=
            right) {
          ++wrong_answers;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong_answers.load(), 0);
}

TEST(BasicAuth, AuthorizeAnswers401WithAChallengeAndAJsonReason) {
  auto auth = NewAuth();
  EXPECT_FALSE(auth->Authorize(Get("/metrics", kPrometheusSecret)).has_value());
  EXPECT_FALSE(auth->Authorize(Get("/metrics", kAliceHunter2)).has_value());
  EXPECT_FALSE(auth->Authorize(Get("/metrics", "basic cHJvbWV0aGV1czpzZWNyZXQ=")).has_value())
      << "the scheme is case-insensitive";
  const struct {
    const char* authorization;
    const char* reason;
  } refused[] = {
      {"", "authentication required"},
      {kPrometheusWrong, "wrong user or password"},
      {"Bearer cHJvbWV0aGV1czpzZWNyZXQ=", "not 'Basic'"},
      {"Basic cHJvbWV0aGV1czpzZWNyZXQ", "not 'Basic'"},       // no padding
      {"Basic cHJvbWV0aGV1cw==", "not 'Basic'"},              // "prometheus", no colon
      {"Basic cHJvbWV0aGV1czpzZWNyZXQAeA==", "not 'Basic'"},  // "prometheus:secret\0x"
      {"Basic !!!!", "not 'Basic'"},
      {"Basic cHJv=WV0aGV1czpzZWNyZXQ=", "not 'Basic'"},   // '=' before the end
      {"Basic cHJv bWV0aGV1czpzZWNyZXQ=", "not 'Basic'"},  // a space inside
  };
  for (const auto& r : refused) {
    auto answer = auth->Authorize(Get("/metrics", r.authorization));
    ASSERT_TRUE(answer.has_value()) << r.authorization;
    EXPECT_EQ(answer->status, 401);
    EXPECT_EQ(answer->content_type, "application/json");
    EXPECT_THAT(answer->body, HasSubstr("\"error\":\"unauthorized\""));
    EXPECT_THAT(answer->body, HasSubstr(r.reason)) << r.authorization;
    ASSERT_EQ(answer->headers.size(), 1u);
    EXPECT_EQ(answer->headers[0].first, "WWW-Authenticate");
    EXPECT_THAT(answer->headers[0].second, StartsWith("Basic"));
  }
}

TEST(BasicAuth, OpenPathsNeedNoCredentialsButOnlyExactly) {
  auto auth = NewAuth();
  EXPECT_FALSE(auth->Authorize(Get("/healthz")).has_value());
  EXPECT_FALSE(auth->Authorize(Get("/readyz")).has_value());
  EXPECT_TRUE(auth->Authorize(Get("/healthz/")).has_value());
  EXPECT_TRUE(auth->Authorize(Get("/metrics")).has_value());
  EXPECT_TRUE(auth->Authorize(Get("/")).has_value());
  EXPECT_EQ(auth->bcrypt_runs(), 0u);
}

// The agent's routes, as agent/main.cc serves them, behind a web config.
std::vector<http::Route> AgentRoutes() {
  auto text = [](const std::string& body) {
    return [body](const http::HttpRequest&) {
      http::HttpResponse r;
      r.body = body;
      return r;
    };
  };
  return {{"GET", "/metrics", text("up 1\n")}, {"GET", "/healthz", text("ok\n")}, {"GET", "/readyz", text("ready\n")}};
}

class WebConfigServerTest : public ::testing::Test {
 protected:
  // Writes `yaml` as <dir>/web.yml, loads it as the agent does and starts the server.
  void Start(const std::string& yaml) {
    auto web = LoadWebConfig(dir_.Write("web.yml", yaml));
    ASSERT_TRUE(web.ok()) << web.status().ToString();
    http::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    ApplyWebConfig(*web, &options);
    auto server = http::HttpServer::Start(options, AgentRoutes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  std::string Plain(const std::string& path, const std::string& authorization = "") const {
    return testing::PlainHttpRequest(
        server_->port(),
        testing::HttpGetRequest(path, authorization.empty() ? "" : "Authorization: " + authorization + "\r\n"));
  }

  testing::TempDir dir_{"prescale-web-config"};
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(WebConfigServerTest, BasicAuthGuardsMetricsAndUnknownPathsButNotTheProbes) {
  Start(std::string("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
                    "basic_auth_users:\n  prometheus: ") +
        kSecretHash + "\n");
  const std::string ok = Plain("/metrics", kPrometheusSecret);
  EXPECT_EQ(testing::HttpStatusOf(ok), 200) << ok;
  EXPECT_THAT(ok, HasSubstr("up 1"));
  EXPECT_EQ(testing::HttpHeaderOf(ok, "X-Content-Type-Options"), "nosniff");
  for (const std::string& response : {Plain("/metrics"), Plain("/metrics", kPrometheusWrong), Plain("/nope")}) {
    EXPECT_EQ(testing::HttpStatusOf(response), 401) << response;
    EXPECT_THAT(testing::HttpHeaderOf(response, "WWW-Authenticate"), StartsWith("Basic")) << response;
    EXPECT_THAT(response, HasSubstr("\"error\":\"unauthorized\""));
    EXPECT_EQ(testing::HttpHeaderOf(response, "X-Content-Type-Options"), "nosniff") << "headers go on refusals too";
  }
  EXPECT_EQ(testing::HttpStatusOf(Plain("/healthz")), 200);
  EXPECT_EQ(testing::HttpStatusOf(Plain("/readyz")), 200);
  // A client that puts the credentials in the URL, as Prometheus's basic_auth sends them.
  auto client = http::NewBeastHttpClient();
  auto r = client->Get("http://prometheus:secret@127.0.0.1:" + std::to_string(server_->port()) + "/metrics", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "up 1\n");
}

TEST_F(WebConfigServerTest, RequireAndVerifyClientCertWithBasicAuthNeedsBoth) {
  testing::TestCa ca(dir_.path(), "clients");
  testing::TestCa other(dir_.path(), "strangers");
  ASSERT_TRUE(ca.ok() && other.ok());
  auto server_cert = ca.IssueServer("server");
  auto prometheus = ca.IssueClient("prometheus");
  auto stranger = other.IssueClient("stranger");
  ASSERT_TRUE(server_cert && prometheus && stranger);
  // Relative names: the files sit beside web.yml.
  Start(std::string("tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n"
                    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients-ca.pem\n"
                    "basic_auth_users:\n  prometheus: ") +
        kSecretHash + "\n");
  const int port = server_->port();
  const std::string authorized =
      testing::HttpGetRequest("/metrics", std::string("Authorization: ") + kPrometheusSecret + "\r\n");
  testing::TlsClientOptions options;
  options.ca_file = ca.cert_file();
  const testing::TlsExchange no_cert = testing::TlsRequest(port, authorized, options);
  EXPECT_EQ(no_cert.status(), 0) << no_cert.response;
  EXPECT_FALSE(no_cert.error.empty());
  options.client = *prometheus;
  const testing::TlsExchange both = testing::TlsRequest(port, authorized, options);
  EXPECT_EQ(both.status(), 200) << both.error;
  EXPECT_THAT(both.response, HasSubstr("up 1"));
  const testing::TlsExchange cert_only = testing::TlsRequest(port, testing::HttpGetRequest("/metrics"), options);
  EXPECT_EQ(cert_only.status(), 401) << cert_only.error;
  options.client = *stranger;
  const testing::TlsExchange wrong_ca = testing::TlsRequest(port, authorized, options);
  EXPECT_EQ(wrong_ca.status(), 0) << wrong_ca.response;
  EXPECT_EQ(testing::PlainHttpRequest(port, authorized).find("HTTP/1.1 200"), std::string::npos)
      << "plain HTTP on the TLS port is not served";
}

TEST_F(WebConfigServerTest, MinVersionTls13RefusesATls12OnlyClient) {
  testing::TestCa ca(dir_.path(), "ca");
  ASSERT_TRUE(ca.ok());
  auto server_cert = ca.IssueServer("server");
  ASSERT_TRUE(server_cert);
  Start("tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\n  min_version: TLS13\n");
  testing::TlsClientOptions tls12;
  tls12.ca_file = ca.cert_file();
  tls12.max_version = testing::kTls12;
  const testing::TlsExchange refused = testing::TlsRequest(server_->port(), testing::HttpGetRequest("/metrics"), tls12);
  EXPECT_FALSE(refused.handshake_ok);
  EXPECT_EQ(refused.status(), 0);
  testing::TlsClientOptions any;
  any.ca_file = ca.cert_file();
  const testing::TlsExchange served = testing::TlsRequest(server_->port(), testing::HttpGetRequest("/metrics"), any);
  EXPECT_EQ(served.status(), 200) << served.error;
  EXPECT_EQ(served.version, "TLSv1.3");
}

}  // namespace
}  // namespace prescale::agent
