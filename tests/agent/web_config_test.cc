// The web config file (--web.config.file): the Prometheus exporter toolkit's
// format, every key, and errors naming the file, the line and the key.
#include "prescale/agent/web_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "prescale/agent/basic_auth.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// bcrypt of "secret" at cost 4 (python3 crypt.mksalt(METHOD_BLOWFISH, rounds=16)).
constexpr const char* kSecretHash = "$2b$04$rDDp62Y0iB0FR.rS/HiCMO.rWVMyXwqfiKWavlo2jT.JuouMVnmRO";
// bcrypt of "hunter2", written $2y$ as htpasswd writes it.
constexpr const char* kHunter2Hash = "$2y$04$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS";

TEST(WebConfig, ParsesEveryKey) {
  const std::string yaml = std::string(R"(
tls_server_config:
  cert_file: server.pem
  key_file: /abs/server-key.pem
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca/clients.pem
  min_version: TLS13
  max_version: TLS13
  cipher_suites:
    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    - TLS_AES_128_GCM_SHA256
    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256, CurveP384, CurveP521]
http_server_config:
  http2: true
  headers:
    Strict-Transport-Security: max-age=31536000
    X-Content-Type-Options: nosniff
    X-Frame-Options: sameorigin
    X-XSS-Protection: ''
    Content-Security-Policy: default-src 'none'
basic_auth_users:
  prometheus: )") + kSecretHash +
                           "\n  alice: '" + kHunter2Hash + "'\n";
  auto c = ParseWebConfig(yaml, "/etc/prescale/web.yml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tls());
  EXPECT_EQ(c->cert_file, "/etc/prescale/server.pem") << "relative to the web config's directory, as the toolkit";
  EXPECT_EQ(c->key_file, "/abs/server-key.pem");
  EXPECT_EQ(c->client_ca_file, "/etc/prescale/ca/clients.pem");
  EXPECT_EQ(c->client_auth, http::TlsClientAuth::kRequireAndVerifyClientCert);
  EXPECT_EQ(c->min_version, http::TlsVersion::kTls13);
  EXPECT_EQ(c->max_version, http::TlsVersion::kTls13);
  EXPECT_THAT(c->cipher_suites,
              ElementsAre("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"))
      << "TLS 1.3 suites are accepted and left out, as Go does";
  EXPECT_FALSE(c->prefer_server_cipher_suites);
  EXPECT_THAT(c->curves, ElementsAre("X25519", "P-256", "P-384", "P-521"));
  EXPECT_TRUE(c->http2_requested);
  EXPECT_THAT(c->headers, ElementsAre(Pair("Strict-Transport-Security", "max-age=31536000"),
                                      Pair("X-Content-Type-Options", "nosniff"), Pair("X-Frame-Options", "sameorigin"),
                                      Pair("Content-Security-Policy", "default-src 'none'")))
      << "a blank value unsets the header";
  EXPECT_THAT(c->users, ElementsAre(Pair("prometheus", kSecretHash), Pair("alice", kHunter2Hash)));
}

TEST(WebConfig, DefaultsAreTheToolkits) {
  for (const char* yaml :
       {"", "# nothing\n", "tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n", "tls_server_config: {}\n"}) {
    auto c = ParseWebConfig(yaml, "web.yml");
    ASSERT_TRUE(c.ok()) << yaml << ": " << c.status().ToString();
    EXPECT_FALSE(c->tls());
    EXPECT_TRUE(c->users.empty());
    EXPECT_TRUE(c->headers.empty());
    EXPECT_FALSE(c->http2_requested);
    EXPECT_EQ(c->min_version, http::TlsVersion::kTls12);
    EXPECT_EQ(c->max_version, http::TlsVersion::kTls13);
    EXPECT_TRUE(c->prefer_server_cipher_suites);
    EXPECT_EQ(DescribeWebConfig(*c), "plain HTTP");
  }
  auto tls = ParseWebConfig("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n", "web.yml");
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  EXPECT_EQ(tls->cert_file, "c.pem") << "a file name without a directory stays relative to the working directory";
  EXPECT_EQ(tls->client_auth, http::TlsClientAuth::kNoClientCert);
  EXPECT_EQ(DescribeWebConfig(*tls), "HTTPS (TLS12-TLS13, client certificates: NoClientCert)");
}

TEST(WebConfig, AcceptsEveryClientAuthType) {
  const std::pair<const char*, http::TlsClientAuth> cases[] = {
      {"NoClientCert", http::TlsClientAuth::kNoClientCert},
      {"''", http::TlsClientAuth::kNoClientCert},
      {"RequestClientCert", http::TlsClientAuth::kRequestClientCert},
      {"RequireAnyClientCert", http::TlsClientAuth::kRequireAnyClientCert},
      {"RequireClientCert", http::TlsClientAuth::kRequireAnyClientCert},
      {"VerifyClientCertIfGiven", http::TlsClientAuth::kVerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", http::TlsClientAuth::kRequireAndVerifyClientCert},
  };
  for (const auto& [name, policy] : cases) {
    std::string yaml =
        "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: " + std::string(name) + "\n";
    if (policy != http::TlsClientAuth::kNoClientCert) yaml += "  client_ca_file: ca.pem\n";
    auto c = ParseWebConfig(yaml, "web.yml");
    ASSERT_TRUE(c.ok()) << name << ": " << c.status().ToString();
    EXPECT_EQ(c->client_auth, policy) << name;
  }
}

struct BadWebConfig {
  const char* name;
  std::string yaml;
  int line;
  const char* key_path;
  const char* what;
};

const std::string kTls = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";

const BadWebConfig kBadWebConfigs[] = {
    {"unknown_top_level_key", "basic_auth_users: {}\nweb_listen_address: ':9100'\n", 2, "web_listen_address",
     "unknown key"},
    {"unknown_tls_key", kTls + "  cert_fiel: x.pem\n", 4, "tls_server_config.cert_fiel", "unknown key"},
    {"unknown_http_key", "http_server_config:\n  http3: true\n", 2, "http_server_config.http3", "unknown key"},
    {"bad_client_auth_type", kTls + "  client_auth_type: RequireCert\n", 4, "tls_server_config.client_auth_type",
     "unknown client auth type 'RequireCert'"},
    {"missing_key_file", "tls_server_config:\n  cert_file: c.pem\n", 2, "tls_server_config.key_file",
     "required key is missing"},
    {"missing_cert_file", "tls_server_config:\n  key_file: k.pem\n  min_version: TLS13\n", 2,
     "tls_server_config.cert_file", "required key is missing"},
    {"tls_setting_without_certificate", "tls_server_config:\n  client_auth_type: RequireAnyClientCert\n", 2,
     "tls_server_config.cert_file", "required key is missing"},
    {"empty_cert_file", "tls_server_config:\n  cert_file: ''\n  key_file: k.pem\n", 2, "tls_server_config.cert_file",
     "must not be empty"},
    {"verify_without_client_ca", kTls + "  client_auth_type: RequireAndVerifyClientCert\n", 2,
     "tls_server_config.client_ca_file", "required to verify client certificates"},
    {"client_ca_without_client_auth", kTls + "  client_ca_file: ca.pem\n", 4, "tls_server_config.client_ca_file",
     "client_auth_type is NoClientCert"},
    {"unknown_min_version", kTls + "  min_version: TLS14\n", 4, "tls_server_config.min_version",
     "unknown TLS version 'TLS14'"},
    {"version_as_number", kTls + "  max_version: 1.3\n", 4, "tls_server_config.max_version", "unknown TLS version"},
    {"min_above_max", kTls + "  min_version: TLS13\n  max_version: TLS12\n", 5, "tls_server_config.max_version",
     "min_version is above max_version"},
    {"unknown_cipher_suite", kTls + "  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n    - RC4-MD5\n", 6,
     "tls_server_config.cipher_suites[1]", "unknown cipher suite 'RC4-MD5'"},
    {"insecure_cipher_suite", kTls + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", 4,
     "tls_server_config.cipher_suites[0]", "unknown cipher suite"},
    {"tls13_cipher_suites_only", kTls + "  cipher_suites: [TLS_AES_256_GCM_SHA384]\n", 4,
     "tls_server_config.cipher_suites", "TLS 1.3 suites only"},
    {"cipher_suites_not_a_list", kTls + "  cipher_suites: TLS_AES_256_GCM_SHA384\n", 4,
     "tls_server_config.cipher_suites", "expected a list"},
    {"unknown_curve", kTls + "  curve_preferences: [X25519, P-256]\n", 4, "tls_server_config.curve_preferences[1]",
     "unknown curve 'P-256'"},
    {"prefer_not_a_bool", kTls + "  prefer_server_cipher_suites: maybe\n", 4,
     "tls_server_config.prefer_server_cipher_suites", "expected true or false"},
    {"inline_cert", kTls + "  cert: |\n    -----BEGIN CERTIFICATE-----\n", 4, "tls_server_config.cert",
     "not supported by prescale-agent"},
    {"client_allowed_sans", kTls + "  client_allowed_sans: [prometheus]\n", 4, "tls_server_config.client_allowed_sans",
     "not supported by prescale-agent"},
    {"rate_limit", "rate_limit:\n  interval: 1s\n  burst: 20\n", 1, "rate_limit", "not supported by prescale-agent"},
    {"header_not_allowed", "http_server_config:\n  headers:\n    Content-Type: text/html\n", 3,
     "http_server_config.headers.Content-Type", "cannot be set"},
    {"header_value_not_allowed", "http_server_config:\n  headers:\n    X-Frame-Options: allow-from x\n", 3,
     "http_server_config.headers.X-Frame-Options", "expected one of: deny, sameorigin"},
    {"header_value_with_line_break",
     "http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\r\\nSet-Cookie: a\"\n", 3,
     "http_server_config.headers.X-XSS-Protection", "line break"},
    {"http2_not_a_bool", "http_server_config:\n  http2: on\n", 2, "http_server_config.http2", "expected true or false"},
    {"user_hash_not_bcrypt", "basic_auth_users:\n  alice: secret\n", 2, "basic_auth_users.alice",
     "expected a bcrypt hash"},
    {"user_hash_cost_too_high",
     "basic_auth_users:\n  alice: $2y$32$Cn6LBy/pgQvtowZy/rGAJuReQIbMKjJi5Ln7YDiG.ZoKgfApvHQNS\n", 2,
     "basic_auth_users.alice", "expected a bcrypt hash"},
    {"user_name_with_colon", std::string("basic_auth_users:\n  'a:b': ") + kSecretHash + "\n", 2,
     "basic_auth_users.a:b", "cannot hold ':'"},
    {"duplicate_user", std::string("basic_auth_users:\n  bob: ") + kSecretHash + "\n  bob: " + kSecretHash + "\n", 3,
     "basic_auth_users.bob", "duplicate user"},
    {"users_as_a_list", "basic_auth_users:\n  - alice\n", 2, "basic_auth_users", "expected a mapping"},
    {"top_level_not_a_map", "- tls_server_config\n", 1, "(top level)", "expected a mapping"},
};

class WebConfigErrorsTest : public ::testing::TestWithParam<BadWebConfig> {};

TEST_P(WebConfigErrorsTest, NamesFileLineAndKey) {
  const BadWebConfig& bad = GetParam();
  auto c = ParseWebConfig(bad.yaml, "web.yml");
  ASSERT_FALSE(c.ok()) << bad.yaml;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("web.yml:" + std::to_string(bad.line) + ": " + bad.key_path + ": "));
  EXPECT_THAT(c.status().message(), HasSubstr(bad.what));
}

INSTANTIATE_TEST_SUITE_P(Keys, WebConfigErrorsTest, ::testing::ValuesIn(kBadWebConfigs),
                         [](const ::testing::TestParamInfo<BadWebConfig>& p) { return std::string(p.param.name); });

TEST(WebConfig, ErrorsNeverShowAHash) {
  auto c = ParseWebConfig("basic_auth_users:\n  alice: $2y$10$short\n", "web.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), ::testing::Not(HasSubstr("short")));
}

TEST(WebConfig, YamlSyntaxErrorNamesTheLine) {
  auto c = ParseWebConfig("tls_server_config:\n  cert_file: [c.pem\n", "web.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), ::testing::ContainsRegex("web.yml:[0-9]+: invalid YAML"));
}

TEST(WebConfig, TheShippedExampleParses) {
  const std::string path = testing::SourceDir() + "/deploy/agent-web-config.example.yml";
  const std::string text = testing::ReadFileOrEmpty(path);
  ASSERT_FALSE(text.empty()) << path;
  auto c = ParseWebConfig(text, path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tls());
  EXPECT_EQ(c->cert_file, testing::SourceDir() + "/deploy/tls.crt");
  ASSERT_EQ(c->users.size(), 1u);
  EXPECT_EQ(c->users[0].first, "prometheus");
  BasicAuth auth(c->users, {});
  EXPECT_TRUE(auth.Verify("prometheus", "change-me")) << "the example's hash is the one its comment names";
}

TEST(LoadWebConfig, NamesAMissingFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/absent.yml";
  auto c = LoadWebConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr(path));
  EXPECT_THAT(c.status().message(), HasSubstr("No such file"));
}

TEST(LoadWebConfig, NamesACertificateFileThatCannotBeReadAndResolvesRelativePaths) {
  testing::TempDir dir;
  const std::string path =
      dir.Write("web/web.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: key.pem\n");
  auto missing = LoadWebConfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("tls_server_config.cert_file"));
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.path() + "/web/server.pem"));
  dir.Write("web/server.pem", "PEM\n");
  auto no_key = LoadWebConfig(path);
  ASSERT_FALSE(no_key.ok());
  EXPECT_THAT(no_key.status().message(), HasSubstr("tls_server_config.key_file"));
  dir.Write("web/key.pem", "PEM\n");
  auto loaded = LoadWebConfig(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->cert_file, dir.path() + "/web/server.pem");
  EXPECT_EQ(loaded->key_file, dir.path() + "/web/key.pem");
}

TEST(ApplyWebConfig, SetsTheServersTlsHeadersAndAuth) {
  auto c = ParseWebConfig(kTls +
                              "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: /ca.pem\n"
                              "  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"
                              "  curve_preferences: [CurveP384]\n  prefer_server_cipher_suites: false\n"
                              "http_server_config:\n  headers: {X-Frame-Options: deny}\n"
                              "basic_auth_users:\n  prometheus: " +
                              kSecretHash + "\n",
                          "/etc/web.yml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  http::HttpServerOptions options;
  ApplyWebConfig(*c, &options);
  EXPECT_EQ(options.tls_cert_file, "/etc/c.pem");
  EXPECT_EQ(options.tls_key_file, "/etc/k.pem");
  EXPECT_EQ(options.tls_client_auth, http::TlsClientAuth::kVerifyClientCertIfGiven);
  EXPECT_EQ(options.tls_client_ca_file, "/ca.pem");
  EXPECT_EQ(options.tls_min_version, http::TlsVersion::kTls13);
  EXPECT_EQ(options.tls_max_version, http::TlsVersion::kTls13);
  EXPECT_THAT(options.tls_cipher_suites, ElementsAre("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
  EXPECT_THAT(options.tls_curves, ElementsAre("P-384"));
  EXPECT_FALSE(options.tls_prefer_server_cipher_suites);
  EXPECT_THAT(options.response_headers, ElementsAre(Pair("X-Frame-Options", "deny")));
  ASSERT_TRUE(options.authorize);
  http::HttpRequest metrics;
  metrics.method = "GET";
  metrics.path = "/metrics";
  EXPECT_EQ(options.authorize(metrics).value_or(http::HttpResponse{}).status, 401);
  EXPECT_EQ(DescribeWebConfig(*c),
            "HTTPS (TLS13-TLS13, client certificates: VerifyClientCertIfGiven), basic auth (1 user; /healthz and "
            "/readyz open)");

  http::HttpServerOptions plain;
  ApplyWebConfig(WebConfig{}, &plain);
  EXPECT_TRUE(plain.tls_cert_file.empty());
  EXPECT_FALSE(plain.authorize);
}

}  // namespace
}  // namespace prescale::agent
