#include <curl/curl.h>

#include <mutex>

#include "prescale/http/http_client.h"

namespace prescale::http {
namespace {

struct BodySink {
  std::string* body;
  size_t limit;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * nmemb;
  if (sink->body->size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl abort the transfer
  }
  sink->body->append(data, n);
  return n;
}

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient() {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    handle_ = curl_easy_init();
  }
  ~CurlHttpClient() override {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }

  Result<HttpClientResponse> Get(const std::string& url, const GetOptions& options) override {
    if (handle_ == nullptr) return Status::Internal("curl_easy_init failed");
    HttpClientResponse out;
    BodySink sink{&out.body, options.max_body_bytes};
    CURL* h = handle_;
    curl_easy_reset(h);  // keeps the live connection cache
    const std::string accept = "Accept: " + options.accept;
    curl_slist* headers = curl_slist_append(nullptr, accept.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "prescale-agent");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip if the target offers it
    const CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (sink.overflow) {
      return Status::ResourceExhausted("body of " + url + " exceeds " + std::to_string(options.max_body_bytes) +
                                       " bytes");
    }
    if (rc != CURLE_OK) return Status::Unavailable(url + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    const char* ct = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) out.content_type = ct;
    return out;
  }

 private:
  CURL* handle_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient() { return std::make_unique<CurlHttpClient>(); }

}  // namespace prescale::http
