// CurlHttpClient against a real shared/http HttpServer on 127.0.0.1:0: GET
// sends its headers and Accept, Send carries other verbs (PATCH, PUT) with
// their body and content type, a method that is not a token is refused before
// anything is sent, and GET trusts the CA file it is given over HTTPS.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/test_env.h"

namespace prescale::http {
namespace {

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

class HttpClientTest : public ::testing::Test {
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
  std::unique_ptr<HttpClient> client_ = NewCurlHttpClient();
};

TEST_F(HttpClientTest, GetSendsItsHeadersAndAccept) {
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

TEST_F(HttpClientTest, SendPatchCarriesItsBodyAndContentType) {
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

TEST_F(HttpClientTest, OneClientMixesVerbsOnItsKeptAliveConnection) {
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

TEST_F(HttpClientTest, SendRefusesAMethodThatIsNotAToken) {
  for (const char* method : {"", "patch", "PATCH /x HTTP/1.1\r\nX:", "GET X"}) {
    auto r = client_->Send(method, base_ + "/things/web", "{}", PostOptions{});
    ASSERT_FALSE(r.ok()) << method;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(recorder_.requests().empty());
}

TEST_F(HttpClientTest, GetNamesTheUrlWhenNothingListens) {
  const std::string url = base_ + "/things/web";
  server_->Stop();
  GetOptions options;
  options.timeout = std::chrono::milliseconds(2000);
  auto r = client_->Get(url, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().message();
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

TEST(HttpClientTls, GetTrustsItsCaFileAndSendsItsHeaders) {
  testing::TempDir dir("prescale-http-client-tls");
  const std::string cert = dir.path() + "/cert.pem";
  const std::string key = dir.path() + "/key.pem";
  ASSERT_TRUE(WriteSelfSignedPair(cert, key));
  Recorder recorder;
  HttpServerOptions server_options;
  server_options.tls_cert_file = cert;
  server_options.tls_key_file = key;
  auto server = HttpServer::Start(server_options, recorder.Routes());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string url = "https://127.0.0.1:" + std::to_string((*server)->port()) + "/things/web";

  GetOptions options;
  options.ca_file = cert;
  options.headers = {{"Authorization", "Bearer over-tls"}};
  auto r = NewCurlHttpClient()->Get(url, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(recorder.requests().size(), 1u);
  EXPECT_EQ(recorder.requests()[0].Header("Authorization"), "Bearer over-tls");
  // Without the CA file the self-signed certificate is refused, unless the caller opts out of
  // verification (a kubelet's self-signed serving certificate).
  EXPECT_FALSE(NewCurlHttpClient()->Get(url, GetOptions{}).ok());
  GetOptions insecure;
  insecure.insecure_skip_verify = true;
  auto unverified = NewCurlHttpClient()->Get(url, insecure);
  ASSERT_TRUE(unverified.ok()) << unverified.status().ToString();
  EXPECT_EQ(unverified->status, 200);
  PostOptions patch;
  patch.ca_file = cert;
  auto p = NewCurlHttpClient()->Send("PATCH", url, "{}", patch);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->body, "PATCH /things/web");
  (*server)->Stop();
}

}  // namespace
}  // namespace prescale::http
