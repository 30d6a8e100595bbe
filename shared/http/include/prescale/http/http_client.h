// HttpClient: outgoing HTTP for prescale (scraping services, later pushing to
// the aggregator). The production implementation, CurlHttpClient, keeps its
// connection alive between calls; one instance serves one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

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

class HttpClient {
 public:
  HttpClient() = default;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  virtual ~HttpClient() = default;

  // GETs url. Any HTTP status is a successful Result; a connection failure or
  // timeout is Unavailable; a body over the limit is ResourceExhausted.
  virtual Result<HttpClientResponse> Get(const std::string& url, const GetOptions& options) = 0;
};

// libcurl with one easy handle (keep-alive); http and https only, no redirects.
std::unique_ptr<HttpClient> NewCurlHttpClient();

}  // namespace prescale::http
