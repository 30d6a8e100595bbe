// HttpClient: outgoing HTTP for prescale (scraping services, pushing to the
// aggregator, fetching directives, webhooks, the Kubernetes API). The
// production implementations, on libcurl and on Boost.Beast, keep their
// connections alive between calls; one instance serves one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::http {

struct HttpClientResponse {
  long status = 0;
  std::string content_type;
  std::string body;
};

struct GetOptions {
  std::chrono::milliseconds timeout{5000};
  size_t max_body_bytes = 4 << 20;
  std::string accept = "text/plain;version=0.0.4";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization; Accept comes from `accept`
  std::string ca_file;                                       // for https: a CA bundle to trust instead of the system's
  // For https: accept any certificate and host name. Only for peers whose
  // serving certificate no CA vouches for (a kubelet's self-signed one, as
  // metrics-server's --kubelet-insecure-tls); off unless an operator sets it.
  bool insecure_skip_verify = false;
};

// Options of a request with a body (Post and Send).
struct PostOptions {
  std::chrono::milliseconds timeout{10000};
  size_t max_response_bytes = 1 << 20;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Content-Encoding, Authorization
  std::string ca_file;                                       // for https: a CA bundle to trust instead of the system's
  bool insecure_skip_verify = false;                         // as GetOptions'
};

class HttpClient {
 public:
  HttpClient() = default;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  virtual ~HttpClient() = default;

  // GETs url. Any HTTP status is a successful Result; a connection failure or
  // timeout is Unavailable; a body over the limit is ResourceExhausted.
  virtual Result<HttpClientResponse> Get(const std::string& url, const GetOptions& options) = 0;
  // Sends body to url with `method` ("POST", "PUT", "PATCH", "DELETE", ...; an
  // HTTP token in capitals, else InvalidArgument); the same outcomes as Get.
  // Set Content-Type in options.headers: without it a body goes as
  // application/x-www-form-urlencoded.
  virtual Result<HttpClientResponse> Send(const std::string& method, const std::string& url, std::string_view body,
                                          const PostOptions& options) = 0;

  // Send("POST", ...).
  Result<HttpClientResponse> Post(const std::string& url, std::string_view body, const PostOptions& options) {
    return Send("POST", url, body, options);
  }
};

// libcurl with one easy handle (keep-alive); http and https only, no redirects.
std::unique_ptr<HttpClient> NewCurlHttpClient();

// Boost.Beast over Asio and the OpenSSL prescale links: the same behaviour as
// the curl client (its options, keep-alive with one retry on a connection the
// server closed, gzip, TLS checks) without loading libcurl and the ~6.5 MiB
// of libraries it pulls in. HTTP/1.1 only; one instance serves one thread at
// a time.
std::unique_ptr<HttpClient> NewBeastHttpClient();

}  // namespace prescale::http
