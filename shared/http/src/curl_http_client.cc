// libcurl is loaded with dlopen on first use: it and the libraries it pulls
// in (OpenSSL, GnuTLS, Kerberos, LDAP, ...) cost a process about 6 MiB of
// resident memory, which an agent with nothing to fetch should not pay.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>

#include <mutex>
#include <string>
#include <type_traits>

#include "prescale/http/http_client.h"

namespace prescale::http {
namespace {

struct CurlApi {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// The loaded API, or nullptr with *error set. Loaded and initialised once.
const CurlApi* LoadCurl(std::string* error) {
  static CurlApi api{};
  static std::string load_error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      load_error = std::string("cannot load libcurl: ") + ::dlerror();
      return;
    }
    bool ok = true;
    auto sym = [&](auto* fn, const char* name) {
      void* p = ::dlsym(lib, name);
      ok = ok && p != nullptr;
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(p);
    };
    sym(&api.global_init, "curl_global_init");
    sym(&api.easy_init, "curl_easy_init");
    sym(&api.easy_cleanup, "curl_easy_cleanup");
    sym(&api.easy_reset, "curl_easy_reset");
    sym(&api.easy_setopt, "curl_easy_setopt");
    sym(&api.easy_perform, "curl_easy_perform");
    sym(&api.easy_getinfo, "curl_easy_getinfo");
    sym(&api.easy_strerror, "curl_easy_strerror");
    sym(&api.slist_append, "curl_slist_append");
    sym(&api.slist_free_all, "curl_slist_free_all");
    if (!ok) {
      load_error = "libcurl lacks an expected function";
      return;
    }
    api.global_init(CURL_GLOBAL_DEFAULT);
  });
  if (!load_error.empty()) {
    *error = load_error;
    return nullptr;
  }
  return &api;
}

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

// RFC 9110 methods are tokens; prescale sends only capitalised ones, and
// anything else (spaces, CR/LF) must not reach the request line.
bool IsMethodToken(const std::string& method) {
  if (method.empty() || method.size() > 16) return false;
  for (char ch : method) {
    if ((ch < 'A' || ch > 'Z') && ch != '-' && ch != '_') return false;
  }
  return true;
}

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient() {
    api_ = LoadCurl(&load_error_);
    if (api_ != nullptr) handle_ = api_->easy_init();
  }
  ~CurlHttpClient() override {
    if (handle_ != nullptr) api_->easy_cleanup(handle_);
  }

  Result<HttpClientResponse> Get(const std::string& url, const GetOptions& options) override {
    Request r;
    r.url = &url;
    r.timeout = options.timeout;
    r.max_response_bytes = options.max_body_bytes;
    r.headers.push_back("Accept: " + options.accept);
    for (const auto& [k, v] : options.headers) r.headers.push_back(k + ": " + v);
    r.accept_encoding = true;
    r.ca_file = &options.ca_file;
    r.insecure_skip_verify = options.insecure_skip_verify;
    return Perform(r);
  }

  Result<HttpClientResponse> Send(const std::string& method, const std::string& url, std::string_view body,
                                  const PostOptions& options) override {
    if (!IsMethodToken(method)) return Status::InvalidArgument("HTTP method \"" + method + "\" is not a method token");
    Request r;
    r.url = &url;
    r.timeout = options.timeout;
    r.max_response_bytes = options.max_response_bytes;
    for (const auto& [k, v] : options.headers) r.headers.push_back(k + ": " + v);
    r.headers.emplace_back("Expect:");  // no 100-continue round trip
    r.body = body;
    r.method = &method;
    r.ca_file = &options.ca_file;
    r.insecure_skip_verify = options.insecure_skip_verify;
    return Perform(r);
  }

 private:
  struct Request {
    const std::string* url = nullptr;
    std::chrono::milliseconds timeout{};
    size_t max_response_bytes = 0;
    std::vector<std::string> headers;
    bool accept_encoding = false;
    const std::string* method = nullptr;  // null: GET
    std::string_view body;
    const std::string* ca_file = nullptr;
    bool insecure_skip_verify = false;
  };

  Result<HttpClientResponse> Perform(const Request& r) {
    if (api_ == nullptr) return Status::Unavailable(load_error_);
    if (handle_ == nullptr) return Status::Internal("curl_easy_init failed");
    const CurlApi& c = *api_;
    HttpClientResponse out;
    BodySink sink{&out.body, r.max_response_bytes};
    CURL* h = handle_;
    c.easy_reset(h);  // keeps the live connection cache
    curl_slist* headers = nullptr;
    for (const std::string& header : r.headers) headers = c.slist_append(headers, header.c_str());
    c.easy_setopt(h, CURLOPT_URL, r.url->c_str());
    c.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    c.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    c.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    c.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    c.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.timeout.count()));
    c.easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    c.easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    c.easy_setopt(h, CURLOPT_USERAGENT, "prescale/0.1");
    if (r.accept_encoding) c.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // gzip if the peer offers it
    if (r.method != nullptr) {
      // POST semantics (the body from memory, Content-Length) under another
      // verb when asked: curl's documented way to send PUT or PATCH bodies.
      c.easy_setopt(h, CURLOPT_POST, 1L);
      c.easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
      c.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      if (*r.method != "POST") c.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method->c_str());
    }
    if (r.ca_file != nullptr && !r.ca_file->empty()) c.easy_setopt(h, CURLOPT_CAINFO, r.ca_file->c_str());
    if (r.insecure_skip_verify) {
      c.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      c.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    const CURLcode rc = c.easy_perform(h);
    c.slist_free_all(headers);
    if (sink.overflow) {
      return Status::ResourceExhausted("response of " + *r.url + " exceeds " + std::to_string(r.max_response_bytes) +
                                       " bytes");
    }
    if (rc != CURLE_OK) return Status::Unavailable(*r.url + ": " + c.easy_strerror(rc));
    c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    const char* ct = nullptr;
    if (c.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) out.content_type = ct;
    return out;
  }

  const CurlApi* api_ = nullptr;
  std::string load_error_;
  CURL* handle_ = nullptr;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient() { return std::make_unique<CurlHttpClient>(); }

}  // namespace prescale::http
