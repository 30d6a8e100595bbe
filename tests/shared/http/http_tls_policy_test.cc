// HttpServer's TLS policy: client certificates, protocol versions, cipher
// suites and groups, seen from a bare OpenSSL client (tests/support/test_tls.h)
// that pins what the HTTP clients cannot.
#include <gtest/gtest.h>

#include <string>

#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"
#include "tests/support/test_tls.h"

namespace prescale::http {
namespace {

using testing::TlsClientOptions;
using testing::TlsExchange;
using testing::TlsFiles;

class HttpsPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(trusted_.ok());
    ASSERT_TRUE(other_.ok());
    auto server = trusted_.IssueServer("server");
    auto good = trusted_.IssueClient("prometheus");
    auto stranger = other_.IssueClient("stranger");
    ASSERT_TRUE(server && good && stranger);
    server_ = *server;
    good_client_ = *good;
    stranger_client_ = *stranger;
  }

  HttpServerOptions Options() const {
    HttpServerOptions options;
    options.tls_cert_file = server_.cert_file;
    options.tls_key_file = server_.key_file;
    return options;
  }

  static std::vector<Route> Routes() {
    return {{"GET", "/metrics", [](const HttpRequest&) {
               HttpResponse r;
               r.body = "up 1\n";
               return r;
             }}};
  }

  // One GET /metrics; the server's certificate is checked against the trusted CA.
  TlsExchange Get(int port, TlsClientOptions options = {}) const {
    options.ca_file = trusted_.cert_file();
    return testing::TlsRequest(port, testing::HttpGetRequest("/metrics"), options);
  }
  TlsExchange GetWith(int port, const TlsFiles& client) const {
    TlsClientOptions options;
    options.client = client;
    return Get(port, options);
  }

  std::unique_ptr<HttpServer> StartOrDie(const HttpServerOptions& options) const {
    auto server = HttpServer::Start(options, Routes());
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  testing::TempDir dir_{"prescale-http-tls-policy"};
  testing::TestCa trusted_{dir_.path(), "trusted"};
  testing::TestCa other_{dir_.path(), "other"};
  TlsFiles server_;
  TlsFiles good_client_;
  TlsFiles stranger_client_;
};

TEST_F(HttpsPolicyTest, RequireAndVerifyClientCertServesOnlyCertificatesOfTheClientCa) {
  HttpServerOptions options = Options();
  options.tls_client_auth = TlsClientAuth::kRequireAndVerifyClientCert;
  options.tls_client_ca_file = trusted_.cert_file();
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const TlsExchange none = Get(server->port());
  EXPECT_EQ(none.status(), 0) << none.response;
  EXPECT_FALSE(none.error.empty());
  const TlsExchange good = GetWith(server->port(), good_client_);
  EXPECT_EQ(good.status(), 200) << good.error;
  EXPECT_NE(good.response.find("up 1"), std::string::npos);
  const TlsExchange stranger = GetWith(server->port(), stranger_client_);
  EXPECT_EQ(stranger.status(), 0) << stranger.response;
  EXPECT_FALSE(stranger.error.empty());
  // The same over TLS 1.2, where the refusal is part of the handshake itself.
  TlsClientOptions tls12;
  tls12.max_version = testing::kTls12;
  const TlsExchange none12 = Get(server->port(), tls12);
  EXPECT_FALSE(none12.handshake_ok);
  tls12.client = stranger_client_;
  EXPECT_FALSE(Get(server->port(), tls12).handshake_ok);
  tls12.client = good_client_;
  EXPECT_EQ(Get(server->port(), tls12).status(), 200);
}

TEST_F(HttpsPolicyTest, VerifyClientCertIfGivenServesNoCertificateButRefusesAStranger) {
  HttpServerOptions options = Options();
  options.tls_client_auth = TlsClientAuth::kVerifyClientCertIfGiven;
  options.tls_client_ca_file = trusted_.cert_file();
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Get(server->port()).status(), 200);
  EXPECT_EQ(GetWith(server->port(), good_client_).status(), 200);
  EXPECT_EQ(GetWith(server->port(), stranger_client_).status(), 0);
}

TEST_F(HttpsPolicyTest, RequireAnyClientCertTakesAnyCertificateButNeedsOne) {
  HttpServerOptions options = Options();
  options.tls_client_auth = TlsClientAuth::kRequireAnyClientCert;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Get(server->port()).status(), 0);
  EXPECT_EQ(GetWith(server->port(), stranger_client_).status(), 200);
}

TEST_F(HttpsPolicyTest, RequestClientCertAndNoClientCertServeEveryClient) {
  for (TlsClientAuth policy : {TlsClientAuth::kRequestClientCert, TlsClientAuth::kNoClientCert}) {
    HttpServerOptions options = Options();
    options.tls_client_auth = policy;
    auto server = StartOrDie(options);
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(Get(server->port()).status(), 200);
    EXPECT_EQ(GetWith(server->port(), stranger_client_).status(), 200);
  }
}

TEST_F(HttpsPolicyTest, VerifyingPoliciesNeedAReadableClientCaFile) {
  HttpServerOptions options = Options();
  options.tls_client_auth = TlsClientAuth::kRequireAndVerifyClientCert;
  auto server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("tls_client_ca_file"), std::string::npos) << server.status().message();
  options.tls_client_ca_file = dir_.path() + "/missing-ca.pem";
  server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(options.tls_client_ca_file), std::string::npos) << server.status().message();
  options.tls_client_ca_file = dir_.Write("junk-ca.pem", "not a certificate\n");
  server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(options.tls_client_ca_file), std::string::npos) << server.status().message();
}

TEST_F(HttpsPolicyTest, MinVersionTls13RefusesATls12OnlyClient) {
  HttpServerOptions options = Options();
  options.tls_min_version = TlsVersion::kTls13;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  TlsClientOptions tls12;
  tls12.max_version = testing::kTls12;
  const TlsExchange refused = Get(server->port(), tls12);
  EXPECT_FALSE(refused.handshake_ok);
  EXPECT_EQ(refused.status(), 0);
  const TlsExchange served = Get(server->port());
  EXPECT_EQ(served.status(), 200) << served.error;
  EXPECT_EQ(served.version, "TLSv1.3");
}

TEST_F(HttpsPolicyTest, MaxVersionTls12RefusesATls13OnlyClient) {
  HttpServerOptions options = Options();
  options.tls_max_version = TlsVersion::kTls12;
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  TlsClientOptions tls13;
  tls13.min_version = testing::kTls13;
  EXPECT_FALSE(Get(server->port(), tls13).handshake_ok);
  const TlsExchange served = Get(server->port());
  EXPECT_EQ(served.status(), 200) << served.error;
  EXPECT_EQ(served.version, "TLSv1.2");
}

TEST_F(HttpsPolicyTest, RefusesAMinimumAboveTheMaximum) {
  HttpServerOptions options = Options();
  options.tls_min_version = TlsVersion::kTls13;
  options.tls_max_version = TlsVersion::kTls12;
  auto server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("tls_min_version"), std::string::npos) << server.status().message();
}

TEST_F(HttpsPolicyTest, CipherSuitesLimitTls12AndTheServerOrderWinsWhenPreferred) {
  HttpServerOptions options = Options();
  options.tls_max_version = TlsVersion::kTls12;
  options.tls_cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  TlsClientOptions client;
  client.cipher_list = "ECDHE-ECDSA-CHACHA20-POLY1305";  // not in the server's list
  EXPECT_FALSE(Get(server->port(), client).handshake_ok);
  client.cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
  const TlsExchange server_order = Get(server->port(), client);
  EXPECT_EQ(server_order.status(), 200) << server_order.error;
  EXPECT_EQ(server_order.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
  server->Stop();

  options.tls_prefer_server_cipher_suites = false;
  server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  const TlsExchange client_order = Get(server->port(), client);
  EXPECT_EQ(client_order.status(), 200) << client_order.error;
  EXPECT_EQ(client_order.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
}

TEST_F(HttpsPolicyTest, CurvesLimitTheKeyExchange) {
  HttpServerOptions options = Options();
  options.tls_curves = {"P-384"};
  auto server = StartOrDie(options);
  ASSERT_NE(server, nullptr);
  TlsClientOptions client;
  client.groups = "X25519";
  EXPECT_FALSE(Get(server->port(), client).handshake_ok);
  client.groups = "X25519:P-384";
  EXPECT_EQ(Get(server->port(), client).status(), 200);
}

TEST_F(HttpsPolicyTest, StartNamesAnUnknownCipherSuiteOrCurve) {
  HttpServerOptions options = Options();
  options.tls_cipher_suites = {"TLS_MADE_UP_WITH_ROT13"};
  auto server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("TLS_MADE_UP_WITH_ROT13"), std::string::npos) << server.status().message();
  options = Options();
  options.tls_curves = {"P-999"};
  server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("P-999"), std::string::npos) << server.status().message();
}

TEST_F(HttpsPolicyTest, TlsSettingsWithoutACertificateAreAnError) {
  HttpServerOptions options;
  options.tls_client_auth = TlsClientAuth::kRequireAnyClientCert;
  auto server = HttpServer::Start(options, Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("tls_cert_file"), std::string::npos) << server.status().message();
}

}  // namespace
}  // namespace prescale::http
