#include "directive_fetcher.h"

#include <curl/curl.h>

#include <mutex>

namespace prescale::agent {
namespace {

struct Sink {
  std::string* body;
  size_t limit;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, n);
  return n;
}

}  // namespace

DirectiveFetcher::DirectiveFetcher() {
  // curl_global_init is reference counted and not thread-safe before 7.84:
  // call it once per process (shared/http's client does the same through dlopen).
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  handle_ = curl_easy_init();
}

DirectiveFetcher::~DirectiveFetcher() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

Result<http::HttpClientResponse> DirectiveFetcher::Get(const std::string& url, const std::string& token,
                                                       const std::string& ca_file, std::chrono::milliseconds timeout,
                                                       size_t max_body_bytes) {
  if (handle_ == nullptr) return Status::Internal("curl_easy_init failed");
  auto* h = static_cast<CURL*>(handle_);
  curl_easy_reset(h);  // keeps the live connection cache
  http::HttpClientResponse out;
  Sink sink{&out.body, max_body_bytes};
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string authorization = "Authorization: Bearer " + token;
  if (!token.empty()) headers = curl_slist_append(headers, authorization.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "prescale-agent/0.1");
  if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
  const CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (sink.overflow) {
    return Status::ResourceExhausted(url + ": response exceeds " + std::to_string(max_body_bytes) + " bytes");
  }
  if (rc != CURLE_OK) return Status::Unavailable(url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  const char* ct = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) out.content_type = ct;
  return out;
}

}  // namespace prescale::agent
