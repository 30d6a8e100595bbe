#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"
#include "tests/support/test_tls.h"

namespace prescale::http {
namespace {

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = testing::WriteSelfSignedCert(dir_.path(), "cert");
    ASSERT_TRUE(pair.has_value());
    cert_ = pair->cert_file;
    key_ = pair->key_file;
    other_key_ = dir_.path() + "/other-key.pem";
    ASSERT_TRUE(testing::WriteNewKey(other_key_));
  }

  HttpServerOptions Options(const std::string& cert, const std::string& key) const {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    return options;
  }

  static std::vector<Route> Routes() {
    std::vector<Route> routes;
    for (const char* method : {"POST", "PATCH"}) {
      routes.push_back({method, "/echo/{word}", [](const HttpRequest& r) {
                          HttpResponse resp;
                          resp.body = std::string(r.PathParam("word")) + ":" + r.body;
                          return resp;
                        }});
    }
    // GET answers with the Authorization header the client sent.
    routes.push_back({"GET", "/echo/{word}", [](const HttpRequest& r) {
                        HttpResponse resp;
                        resp.body = std::string(r.PathParam("word")) + ":" + std::string(r.Header("Authorization"));
                        return resp;
                      }});
    return routes;
  }

  testing::TempDir dir_{"prescale-http-tls"};
  std::string cert_;
  std::string key_;
  std::string other_key_;
};

// The server's HTTPS as both clients see it (libcurl's and Boost.Beast's).
struct ClientKind {
  const char* name;
  std::unique_ptr<HttpClient> (*make)();
};
void PrintTo(const ClientKind& kind, std::ostream* os) { *os << kind.name; }

class HttpsServerClientTest : public HttpsServerTest, public ::testing::WithParamInterface<ClientKind> {};

std::string ClientName(const ::testing::TestParamInfo<ClientKind>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(Clients, HttpsServerClientTest,
                         ::testing::Values(ClientKind{"Curl", NewCurlHttpClient},
                                           ClientKind{"Beast", NewBeastHttpClient}),
                         ClientName);

TEST_P(HttpsServerClientTest, ServesHttpsOnTheBoundPortAndRefusesPlainHttp) {
  auto server = HttpServer::Start(Options(cert_, key_), Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  auto client = GetParam().make();
  PostOptions post;
  post.ca_file = cert_;
  post.timeout = std::chrono::milliseconds(5000);
  for (int i = 0; i < 2; ++i) {  // the second request reuses the TLS connection
    auto r = client->Post("https://127.0.0.1:" + std::to_string(port) + "/echo/hi", "payload", post);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hi:payload");
  }
  auto plain = GetParam().make()->Post("http://127.0.0.1:" + std::to_string(port) + "/echo/hi", "payload", post);
  EXPECT_FALSE(plain.ok()) << "plain HTTP got status " << plain->status;
  // Without the CA the client refuses the self-signed certificate.
  auto untrusted = GetParam().make()->Post("https://127.0.0.1:" + std::to_string(port) + "/echo/hi", "x", {});
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kUnavailable);
  (*server)->Stop();
}

// A certificate signed by another key does not pass for the trusted one.
TEST_P(HttpsServerClientTest, RefusesACertificateTheCaFileDoesNotVouchFor) {
  auto other = testing::WriteSelfSignedCert(dir_.path(), "other-pair");
  ASSERT_TRUE(other.has_value());
  auto server = HttpServer::Start(Options(other->cert_file, other->key_file), Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  PostOptions post;
  post.ca_file = cert_;  // the first pair's: same names, another key
  auto r = GetParam().make()->Post("https://127.0.0.1:" + std::to_string((*server)->port()) + "/echo/hi", "x", post);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  (*server)->Stop();
}

TEST_P(HttpsServerClientTest, GetTrustsItsCaFileAndSendsItsHeaders) {
  auto server = HttpServer::Start(Options(cert_, key_), Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string url = "https://127.0.0.1:" + std::to_string((*server)->port()) + "/echo/hi";
  GetOptions options;
  options.ca_file = cert_;
  options.headers = {{"Authorization", "Bearer over-tls"}};
  auto r = GetParam().make()->Get(url, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hi:Bearer over-tls");
  // Without the CA file the self-signed certificate is refused, unless the caller opts out of
  // verification (a kubelet's self-signed serving certificate).
  auto untrusted = GetParam().make()->Get(url, GetOptions{});
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kUnavailable);
  GetOptions insecure;
  insecure.insecure_skip_verify = true;
  auto unverified = GetParam().make()->Get(url, insecure);
  ASSERT_TRUE(unverified.ok()) << unverified.status().ToString();
  EXPECT_EQ(unverified->status, 200);
  PostOptions patch;
  patch.ca_file = cert_;
  auto p = GetParam().make()->Send("PATCH", url, "{}", patch);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->body, "hi:{}");
  (*server)->Stop();
}

TEST_P(HttpsServerClientTest, ChecksTheHostNameUnlessTheCallerOptsOut) {
  auto server = HttpServer::Start(Options(cert_, key_), Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  // The certificate names 127.0.0.1 only; "localhost" reaches the same server.
  const std::string url = "https://localhost:" + std::to_string((*server)->port()) + "/echo/hi";
  GetOptions options;
  options.ca_file = cert_;
  auto wrong_name = GetParam().make()->Get(url, options);
  ASSERT_FALSE(wrong_name.ok());
  EXPECT_EQ(wrong_name.status().code(), StatusCode::kUnavailable);
  options.insecure_skip_verify = true;
  auto r = GetParam().make()->Get(url, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  (*server)->Stop();
}

TEST_P(HttpsServerClientTest, FailsOnACaFileThatCannotBeRead) {
  auto server = HttpServer::Start(Options(cert_, key_), Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  GetOptions options;
  options.ca_file = dir_.path() + "/missing-ca.pem";
  auto r = GetParam().make()->Get("https://127.0.0.1:" + std::to_string((*server)->port()) + "/echo/hi", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  if (std::string(GetParam().name) == "Beast") {  // curl's message does not name the file
    EXPECT_NE(r.status().message().find(options.ca_file), std::string::npos) << r.status().message();
  }
  (*server)->Stop();
}

TEST_F(HttpsServerTest, StartNamesAMissingKeyFile) {
  const std::string missing = dir_.path() + "/missing-key.pem";
  auto server = HttpServer::Start(Options(cert_, missing), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(missing), std::string::npos) << server.status().message();
  const std::string missing_cert = dir_.path() + "/missing-cert.pem";
  server = HttpServer::Start(Options(missing_cert, key_), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(missing_cert), std::string::npos) << server.status().message();
}

TEST_F(HttpsServerTest, StartNamesAKeyThatDoesNotMatchTheCertificate) {
  auto server = HttpServer::Start(Options(cert_, other_key_), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(other_key_), std::string::npos) << server.status().message();
  EXPECT_NE(server.status().message().find("does not match"), std::string::npos) << server.status().message();
}

TEST_F(HttpsServerTest, StartNamesAFileThatIsNotPem) {
  const std::string junk = dir_.Write("junk.pem", "not a certificate\n");
  auto server = HttpServer::Start(Options(junk, key_), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(junk), std::string::npos) << server.status().message();
  server = HttpServer::Start(Options(cert_, junk), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(junk), std::string::npos) << server.status().message();
}

TEST_F(HttpsServerTest, StartNamesTheMissingOptionWhenOnlyOneIsSet) {
  auto server = HttpServer::Start(Options(cert_, ""), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("tls_key_file"), std::string::npos) << server.status().message();
  server = HttpServer::Start(Options("", key_), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("tls_cert_file"), std::string::npos) << server.status().message();
}

TEST_F(HttpsServerTest, FailsNamingTheAddressWhenTheTlsPortIsTaken) {
  auto first = HttpServer::Start(Options(cert_, key_), Routes());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  HttpServerOptions options = Options(cert_, key_);
  options.listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpServer::Start(options, Routes());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(options.listen), std::string::npos) << second.status().message();
}

}  // namespace
}  // namespace prescale::http
