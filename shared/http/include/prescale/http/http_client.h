// HttpClient: outgoing HTTP for prescale (scraping services, later pushing to
// the aggregator). The production implementation, CurlHttpClient, keeps its
// connection alive between calls; one instance serves one thread at a time.
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
};

struct PostOptions {
  std::chrono::milliseconds timeout{10000};
  size_t max_response_bytes = 1 << 20;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Content-Encoding, Authorization
  std::string ca_file;                                       // for https: a CA bundle to trust instead of the system's
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
  // POSTs body to url; the same outcomes as Get.
  virtual Result<HttpClientResponse> Post(const std::string& url, std::string_view body,
                                          const PostOptions& options) = 0;
};

// libcurl with one easy handle (keep-alive); http and https only, no redirects.
std::unique_ptr<HttpClient> NewCurlHttpClient();

}  // namespace prescale::http
