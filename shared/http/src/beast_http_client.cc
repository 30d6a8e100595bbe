// BeastHttpClient: HttpClient on Boost.Beast and Boost.Asio, with TLS from the
// OpenSSL prescale links anyway. It exists for memory: libcurl and what it
// pulls in (GnuTLS, Kerberos, LDAP, RTMP, SSH, ...) cost a node agent about
// 6.5 MiB of resident memory. It mirrors what CurlHttpClient does with curl
// 7.88's defaults, so the two are interchangeable; "as curl" in a comment
// marks a choice made only to match it.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <zlib.h>

#include <algorithm>
#include <array>
// GCC 12 sees a null dereference in Asio's scheduler once inlined (it is not one).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#pragma GCC diagnostic pop
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/http/http_client.h"

namespace prescale::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Deadline = std::optional<SteadyClock::time_point>;

constexpr const char* kUserAgent = "prescale/0.1";
// curl offers "deflate, gzip, br, zstd"; zlib, which prescale has, undoes the first two.
constexpr const char* kAcceptEncoding = "deflate, gzip";
constexpr const char* kDefaultContentType = "application/x-www-form-urlencoded";  // as curl for a POST body
constexpr size_t kMaxIdleConnections = 5;                                         // as curl's CURLOPT_MAXCONNECTS
constexpr auto kMaxIdleAge = std::chrono::seconds(118);                           // as curl's CURLOPT_MAXAGE_CONN
constexpr auto kCaCacheAge = std::chrono::hours(24);                              // as curl's CURLOPT_CA_CACHE_TIMEOUT
constexpr uint32_t kHeaderLimitBytes = 100 << 10;                                 // as curl's CURL_MAX_HTTP_HEADER
constexpr std::array<unsigned char, 9> kAlpnHttp11 = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

bool IEquals(std::string_view a, std::string_view b) {
  auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t") == std::string_view::npos; }

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// RFC 9110 token characters (method and header names).
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    const bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(ch) == std::string_view::npos) return false;
  }
  return true;
}

// RFC 9110 methods are tokens; prescale sends only capitalised ones, and
// anything else (spaces, CR/LF) must not reach the request line. As curl's.
bool IsMethodToken(const std::string& method) {
  if (method.empty() || method.size() > 16) return false;
  for (char ch : method) {
    if ((ch < 'A' || ch > 'Z') && ch != '-' && ch != '_') return false;
  }
  return true;
}

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 3986 section 5.2.4; as curl, which sends paths as is only with CURLOPT_PATH_AS_IS.
std::string RemoveDotSegments(std::string_view path) {
  std::string out;
  auto drop_last_segment = [&out] {
    const size_t slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  while (!path.empty()) {
    if (path.starts_with("../")) {
      path.remove_prefix(3);
    } else if (path.starts_with("./") || path.starts_with("/./")) {
      path.remove_prefix(2);
    } else if (path == "/.") {
      path = "/";
    } else if (path.starts_with("/../")) {
      path.remove_prefix(3);
      drop_last_segment();
    } else if (path == "/..") {
      path = "/";
      drop_last_segment();
    } else if (path == "." || path == "..") {
      path = {};
    } else {
      const size_t next = path.find('/', 1);
      const size_t n = next == std::string_view::npos ? path.size() : next;
      out.append(path.substr(0, n));
      path.remove_prefix(n);
    }
  }
  return out;
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

struct Url {
  bool https = false;
  std::string host;  // without brackets; an IPv6 zone as "%eth0"
  bool host_is_ip = false;
  uint16_t port = 0;
  std::string host_header;  // as curl: host, and the port when it is not the scheme's default
  std::string host_port;    // for messages: host:port, IPv6 in brackets
  std::string target;       // path and query; "/" for an empty path
  std::string credentials;  // "user:password" from the user info, percent-decoded
};

Result<Url> ParseUrl(const std::string& url) {
  auto bad = [&url](std::string_view why) {
    return Status::InvalidArgument("URL \"" + url + "\": " + std::string(why));
  };
  for (unsigned char ch : url) {
    if (ch <= 0x20 || ch == 0x7f) return bad("contains a space or a control character");
  }
  const size_t scheme_end = url.find("://");
  const std::string_view scheme = std::string_view(url).substr(0, scheme_end);
  Url out;
  if (scheme_end != std::string::npos && IEquals(scheme, "https")) {
    out.https = true;
  } else if (scheme_end == std::string::npos || !IEquals(scheme, "http")) {
    return bad("expected http:// or https://");
  }
  std::string_view rest = std::string_view(url).substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view tail = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    const size_t colon = info.find(':');
    out.credentials = PercentDecode(info.substr(0, colon)) + ":" +
                      (colon == std::string_view::npos ? "" : PercentDecode(info.substr(colon + 1)));
    authority.remove_prefix(at + 1);
  }
  std::string_view port;
  error_code ec;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("the IPv6 address has no closing ']'");
    out.host = PercentDecode(authority.substr(1, close - 1));  // a zone comes as %25eth0
    asio::ip::make_address_v6(out.host, ec);
    if (ec) return bad("\"" + out.host + "\" is not an IPv6 address");
    out.host_is_ip = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return bad("unexpected text after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char ch : out.host) {
      const bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
      if (!alnum && ch != '-' && ch != '.' && ch != '_' && static_cast<unsigned char>(ch) < 0x80) {
        return bad("the host has a character a host name cannot have");
      }
    }
    asio::ip::make_address_v4(out.host, ec);
    out.host_is_ip = !ec;
  }
  if (out.host.empty()) return bad("no host");
  const uint16_t default_port = out.https ? 443 : 80;
  out.port = default_port;
  if (!port.empty()) {  // as curl, "host:" means the default port
    unsigned value = 0;
    const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (err != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("the port is not a number from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(value);
  }
  const std::string bracketed =
      out.host.find(':') == std::string::npos ? out.host : "[" + out.host.substr(0, out.host.find('%')) + "]";
  out.host_header = out.port == default_port ? bracketed : bracketed + ":" + std::to_string(out.port);
  out.host_port = bracketed + ":" + std::to_string(out.port);
  tail = tail.substr(0, tail.find('#'));
  const size_t query = tail.find('?');
  const std::string_view path = tail.substr(0, query);
  out.target = path.empty() ? "/" : RemoveDotSegments(path);
  if (out.target.empty()) out.target = "/";
  if (query != std::string_view::npos) out.target.append(tail.substr(query));
  return out;
}

enum class BodyFailure { kNone, kTooLarge, kBadEncoding };

// A response body kept to limit_bytes after decoding. Where curl would undo a
// Content-Encoding (decode: Accept-Encoding went out), gzip and deflate are
// inflated as they arrive, so an oversized body is refused without being
// held; any other coding fails as curl's "Unrecognized content encoding".
struct ResponseBody {
  struct value_type {  // NOLINT(readability-identifier-naming): Beast's Body concept names
    std::string data;
    size_t limit_bytes = 0;
    bool decode = false;
    BodyFailure failure = BodyFailure::kNone;
    std::string failure_detail;
  };

  class reader {  // NOLINT(readability-identifier-naming)
   public:
    // Beast makes the reader with the parser, before the header arrives; init() reads it.
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>& header, value_type& body)
        : header_(&header), coding_of_(&CodingOf<bhttp::header<isRequest, Fields>>), body_(body) {}
    ~reader() {
      if (inflating_) inflateEnd(&z_);
    }
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      ec = {};
      if (body_.decode) Choose(coding_of_(header_));
      if (coding_ != Coding::kIdentity || !length) return;
      if (*length > body_.limit_bytes) {
        Fail(BodyFailure::kTooLarge, "");
        ec = bhttp::error::body_limit;
        return;
      }
      body_.data.reserve(static_cast<size_t>(*length));
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      size_t used = 0;
      for (const auto buffer : beast::buffers_range_ref(buffers)) {
        if (!Take(static_cast<const char*>(buffer.data()), buffer.size())) {
          ec = bhttp::error::body_limit;  // the caller reads body_.failure for which
          return used;
        }
        used += buffer.size();
      }
      ec = {};
      return used;
    }

    // As curl, a coded stream that stops short is not an error.
    void finish(error_code& ec) { ec = {}; }

   private:
    enum class Coding { kIdentity, kGzip, kDeflate, kUnsupported };

    template <class Header>
    static std::string_view CodingOf(const void* header) {
      const auto value = (*static_cast<const Header*>(header))[bhttp::field::content_encoding];
      return {value.data(), value.size()};
    }

    void Choose(std::string_view header) {
      int codings = 0;
      while (!header.empty()) {
        const size_t comma = header.find(',');
        const std::string_view name = Trim(header.substr(0, comma));
        header.remove_prefix(comma == std::string_view::npos ? header.size() : comma + 1);
        if (name.empty() || IEquals(name, "identity")) continue;
        ++codings;
        if (IEquals(name, "gzip") || IEquals(name, "x-gzip")) {
          coding_ = Coding::kGzip;
        } else if (IEquals(name, "deflate")) {
          coding_ = Coding::kDeflate;
        } else {
          coding_ = Coding::kUnsupported;
          unsupported_ = std::string(name);
        }
      }
      if (codings > 1 && coding_ != Coding::kUnsupported) {
        coding_ = Coding::kUnsupported;
        unsupported_ = "more than one coding";
      }
      if (coding_ == Coding::kGzip) inflating_ = inflateInit2(&z_, MAX_WBITS + 32) == Z_OK;  // as curl
      if (coding_ == Coding::kDeflate) inflating_ = inflateInit(&z_) == Z_OK;
      if ((coding_ == Coding::kGzip || coding_ == Coding::kDeflate) && !inflating_) {
        coding_ = Coding::kUnsupported;
        unsupported_ = "zlib cannot start";
      }
    }

    bool Fail(BodyFailure failure, std::string detail) {
      body_.failure = failure;
      body_.failure_detail = std::move(detail);
      return false;
    }

    bool Append(const char* data, size_t n) {
      if (n > body_.limit_bytes - body_.data.size()) return Fail(BodyFailure::kTooLarge, "");
      body_.data.append(data, n);
      return true;
    }

    bool Take(const char* data, size_t n) {
      switch (coding_) {
        case Coding::kIdentity: return Append(data, n);
        case Coding::kUnsupported:
          return Fail(BodyFailure::kBadEncoding, "unsupported Content-Encoding (" + unsupported_ + ")");
        case Coding::kGzip:
        case Coding::kDeflate: return Inflate(data, n);
      }
      return false;
    }

    bool Inflate(const char* data, size_t n) {
      if (ended_) return true;  // as curl, what follows the end of the stream is ignored
      const bool fresh = z_.total_in == 0 && !raw_;
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
      z_.avail_in = static_cast<uInt>(n);  // Beast hands over at most its read buffer
      std::array<char, 16384> out;
      do {
        z_.next_out = reinterpret_cast<Bytef*>(out.data());
        z_.avail_out = static_cast<uInt>(out.size());
        const int rc = ::inflate(&z_, Z_SYNC_FLUSH);
        if (rc == Z_DATA_ERROR && coding_ == Coding::kDeflate && fresh && !raw_) {
          // As curl: some servers send deflate without the zlib header.
          inflateEnd(&z_);
          z_ = {};
          inflating_ = inflateInit2(&z_, -MAX_WBITS) == Z_OK;
          if (!inflating_) return Fail(BodyFailure::kBadEncoding, "zlib cannot start");
          raw_ = true;
          z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
          z_.avail_in = static_cast<uInt>(n);
          continue;
        }
        if (!Append(out.data(), out.size() - z_.avail_out)) return false;
        if (rc == Z_STREAM_END) {
          ended_ = true;
          break;
        }
        if (rc == Z_BUF_ERROR) break;  // no progress possible without more input
        if (rc != Z_OK) {
          return Fail(BodyFailure::kBadEncoding,
                      std::string("cannot decode the body: ") + (z_.msg != nullptr ? z_.msg : "zlib error"));
        }
      } while (z_.avail_in > 0 || z_.avail_out == 0);
      return true;
    }

    const void* header_;
    std::string_view (*coding_of_)(const void* header);
    value_type& body_;
    Coding coding_ = Coding::kIdentity;
    std::string unsupported_;
    z_stream z_{};
    bool inflating_ = false;
    bool raw_ = false;
    bool ended_ = false;
  };
};

using OutgoingRequest = bhttp::request<bhttp::span_body<const char>>;
using ResponseParser = bhttp::response_parser<ResponseBody>;

// One request, as the curl client sets it up.
struct Request {
  const std::string& url;
  std::string method;
  std::chrono::milliseconds timeout{};
  size_t max_response_bytes = 0;
  const std::vector<std::pair<std::string, std::string>>& headers;
  const std::string* accept = nullptr;  // Get's; Send's is curl's */*
  bool has_body = false;
  std::string_view body;
  const std::string& ca_file;
  bool insecure_skip_verify = false;
  bool decode = false;  // send Accept-Encoding and undo the Content-Encoding (Get)
};

bool HasHeader(const Request& r, std::string_view name) {
  if (r.accept != nullptr && IEquals(name, "Accept")) return true;
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [name](const auto& header) { return IEquals(header.first, name); });
}

Result<OutgoingRequest> BuildRequest(const Request& r, const Url& url) {
  OutgoingRequest m;
  m.version(11);
  m.method_string(r.method);
  m.target(url.target);
  // As curl: a header with an empty value is not sent, yet it stands in for the default of that name.
  if (r.accept != nullptr && !IsBlank(*r.accept)) m.insert(bhttp::field::accept, *r.accept);
  for (const auto& [name, value] : r.headers) {
    if (!IsToken(name) || value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return Status::InvalidArgument("HTTP header \"" + name + "\" of " + r.url +
                                     " is not a token with a value on one line");
    }
    if (!IsBlank(value)) m.insert(name, value);
  }
  if (!HasHeader(r, "Host")) m.set(bhttp::field::host, url.host_header);
  if (!url.credentials.empty() && !HasHeader(r, "Authorization")) {
    m.set(bhttp::field::authorization, "Basic " + Base64(url.credentials));
  }
  if (!HasHeader(r, "User-Agent")) m.set(bhttp::field::user_agent, kUserAgent);
  if (!HasHeader(r, "Accept")) m.set(bhttp::field::accept, "*/*");
  if (r.decode && !HasHeader(r, "Accept-Encoding")) m.set(bhttp::field::accept_encoding, kAcceptEncoding);
  if (r.has_body) {
    if (!HasHeader(r, "Content-Type")) m.set(bhttp::field::content_type, kDefaultContentType);
    m.erase(bhttp::field::transfer_encoding);
    m.body() = beast::span<const char>(r.body.data(), r.body.size());
    m.content_length(r.body.size());
  }
  return m;
}

// The bytes a coded body may take on the wire for limit bytes decoded: zlib's
// worst case (stored blocks) stays far inside a thousandth plus a kibibyte.
uint64_t RawBodyLimit(size_t limit) {
  const uint64_t slack = limit / 1024 + 1024;
  return limit > UINT64_MAX - slack ? UINT64_MAX : limit + slack;
}

struct Connection {
  std::string key;  // scheme, host, port and TLS settings: when it may be reused
  std::shared_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<beast::ssl_stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since;

  tcp::socket& socket() { return tls != nullptr ? tls->next_layer() : *plain; }
  template <class F>
  void Visit(F&& f) {
    if (tls != nullptr) {
      f(*tls);
    } else {
      f(*plain);
    }
  }
};

// The outcome of one request on one connection.
struct Exchange {
  Result<HttpClientResponse> result = Status::Internal("no exchange");
  bool keep_alive = false;
  bool retryable = false;  // the connection died before any byte of an answer
};

class BeastHttpClient final : public HttpClient {
 public:
  Result<HttpClientResponse> Get(const std::string& url, const GetOptions& options) override {
    Request r{.url = url,
              .method = "GET",
              .timeout = options.timeout,
              .max_response_bytes = options.max_body_bytes,
              .headers = options.headers,
              .accept = &options.accept,
              .has_body = false,
              .body = {},
              .ca_file = options.ca_file,
              .insecure_skip_verify = options.insecure_skip_verify,
              .decode = true};
    return Guarded(r);
  }

  Result<HttpClientResponse> Send(const std::string& method, const std::string& url, std::string_view body,
                                  const PostOptions& options) override {
    if (!IsMethodToken(method)) return Status::InvalidArgument("HTTP method \"" + method + "\" is not a method token");
    Request r{.url = url,
              .method = method,
              .timeout = options.timeout,
              .max_response_bytes = options.max_response_bytes,
              .headers = options.headers,
              .accept = nullptr,
              .has_body = true,
              .body = body,
              .ca_file = options.ca_file,
              .insecure_skip_verify = options.insecure_skip_verify,
              .decode = false};
    return Guarded(r);
  }

 private:
  Result<HttpClientResponse> Guarded(const Request& r) {
    try {
      return Perform(r);
    } catch (const std::exception& e) {  // allocation, or Asio on a failure it reports only so
      return Status::Internal(r.url + ": " + e.what());
    }
  }

  Result<HttpClientResponse> Perform(const Request& r) {
    PRESCALE_ASSIGN_OR_RETURN(const Url url, ParseUrl(r.url));
    PRESCALE_ASSIGN_OR_RETURN(const OutgoingRequest message, BuildRequest(r, url));
    std::shared_ptr<asio::ssl::context> tls;
    if (url.https) {
      PRESCALE_ASSIGN_OR_RETURN(tls, TlsContext(r));
    }
    const Deadline deadline = r.timeout.count() > 0 ? Deadline(SteadyClock::now() + r.timeout) : std::nullopt;
    std::string key = (url.https ? "https://" : "http://") + url.host_port;
    if (url.https) key += r.insecure_skip_verify ? " insecure" : " ca=" + r.ca_file;
    for (bool retried = false;; retried = true) {
      std::unique_ptr<Connection> conn = TakeIdle(key);
      const bool reused = conn != nullptr;
      if (!reused) {
        PRESCALE_ASSIGN_OR_RETURN(conn, Connect(r, url, key, tls, deadline));
      }
      Exchange x = RoundTrip(*conn, message, r, deadline);
      if (x.result.ok() && x.keep_alive) Park(std::move(conn));
      // As curl: a kept-alive connection the server closed as we sent gets one fresh try.
      if (!x.result.ok() && x.retryable && reused && !retried) continue;
      return std::move(x.result);
    }
  }

  static Status Failure(const Request& r, std::string_view doing, error_code ec) {
    if (ec == asio::error::timed_out) {
      return Status::Unavailable(r.url + ": timed out after " + std::to_string(r.timeout.count()) + " ms " +
                                 std::string(doing));
    }
    return Status::Unavailable(r.url + ": " + std::string(doing) + ": " + ec.message());
  }

  // Runs the io_context until `done` or the deadline; false when it passed.
  bool Run(const bool& done, Deadline deadline) {
    ioc_.restart();
    while (!done) {
      if (deadline && SteadyClock::now() >= *deadline) return false;
      const size_t ran = deadline ? ioc_.run_one_until(*deadline) : ioc_.run_one();
      if (ran == 0 && ioc_.stopped()) return done;  // no work left that could set it
    }
    return true;
  }

  // Starts one operation on c and waits for it until the deadline; then closes
  // the socket, which ends the operation, and reports timed_out.
  template <class Start>
  error_code Await(Connection& c, Deadline deadline, Start&& start) {
    bool done = false;
    error_code result;
    start([&done, &result](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    if (Run(done, deadline)) return result;
    error_code ignored;
    c.socket().close(ignored);
    Run(done, std::nullopt);
    return asio::error::timed_out;
  }

  Result<std::vector<tcp::endpoint>> Resolve(const Request& r, const Url& url, Deadline deadline) {
    error_code ec;
    const asio::ip::address ip = asio::ip::make_address(url.host, ec);
    if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(ip, url.port)};
    // Shared with the handler: a lookup past the deadline is abandoned, not waited for.
    struct Lookup {
      bool done = false;
      error_code ec;
      tcp::resolver::results_type results;
    };
    auto lookup = std::make_shared<Lookup>();
    resolver_.async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                            [lookup](error_code e, tcp::resolver::results_type results) {
                              lookup->ec = e;
                              lookup->results = std::move(results);
                              lookup->done = true;
                            });
    if (!Run(lookup->done, deadline)) {
      resolver_.cancel();
      return Failure(r, "resolving " + url.host, asio::error::timed_out);
    }
    if (lookup->ec) return Failure(r, "cannot resolve host " + url.host, lookup->ec);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : lookup->results) endpoints.push_back(entry.endpoint());
    return endpoints;
  }

  Result<std::unique_ptr<Connection>> Connect(const Request& r, const Url& url, const std::string& key,
                                              const std::shared_ptr<asio::ssl::context>& tls, Deadline deadline) {
    PRESCALE_ASSIGN_OR_RETURN(const std::vector<tcp::endpoint> endpoints, Resolve(r, url, deadline));
    auto c = std::make_unique<Connection>();
    c->key = key;
    if (tls != nullptr) {
      c->tls_context = tls;
      c->tls = std::make_unique<beast::ssl_stream<tcp::socket>>(ioc_, *tls);
    } else {
      c->plain = std::make_unique<tcp::socket>(ioc_);
    }
    error_code ec = Await(*c, deadline, [&](auto done) { asio::async_connect(c->socket(), endpoints, done); });
    if (ec) return Failure(r, "cannot connect to " + url.host_port, ec);
    c->socket().set_option(tcp::no_delay(true), ec);  // as curl
    if (tls == nullptr) return c;
    SSL* ssl = c->tls->native_handle();
    // SNI for names only (RFC 6066); peer and host checked unless the caller opted out.
    bool ok = url.host_is_ip || SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                         const_cast<char*>(url.host.c_str())) == 1;
    if (!r.insecure_skip_verify) {
      ok = ok && (url.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) == 1
                                 : SSL_set1_host(ssl, url.host.c_str()) == 1);
    }
    if (!ok) return Status::Unavailable(r.url + ": cannot set up TLS for host " + url.host);
    ec = Await(*c, deadline, [&](auto done) { c->tls->async_handshake(asio::ssl::stream_base::client, done); });
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify == X509_V_OK || ec == asio::error::timed_out) {
        return Failure(r, "TLS handshake with " + url.host_port, ec);
      }
      return Status::Unavailable(r.url + ": TLS handshake with " + url.host_port +
                                 ": certificate verify failed: " + X509_verify_cert_error_string(verify));
    }
    return c;
  }

  Exchange RoundTrip(Connection& c, const OutgoingRequest& message, const Request& r, Deadline deadline) {
    Exchange x;
    const error_code write_ec =
        Await(c, deadline, [&](auto done) { c.Visit([&](auto& s) { bhttp::async_write(s, message, done); }); });
    if (write_ec == asio::error::timed_out) {
      x.result = Failure(r, "sending the request", write_ec);
      return x;
    }
    // Even when sending failed, a server that answers early and closes (413) may have answered.
    std::optional<ResponseParser> parser;
    error_code ec;
    for (bool first = true;; first = false) {
      parser.emplace();
      parser->header_limit(kHeaderLimitBytes);
      parser->body_limit(RawBodyLimit(r.max_response_bytes));
      parser->get().body().limit_bytes = r.max_response_bytes;
      parser->get().body().decode = r.decode;
      parser->skip(r.method == "HEAD");
      ec = Await(c, deadline,
                 [&](auto done) { c.Visit([&](auto& s) { bhttp::async_read(s, c.buffer, *parser, done); }); });
      if (ec == asio::ssl::error::stream_truncated && parser->is_header_done() && parser->need_eof()) {
        parser->put_eof(ec);  // a read-until-close body from a server that skips close_notify
      }
      if (ec) {
        x.retryable = first && ec != asio::error::timed_out && !parser->got_some() && c.buffer.size() == 0;
        break;
      }
      const unsigned status = parser->get().result_int();
      if (status < 100 || status >= 200 || status == 101) break;  // past interim answers, as curl
    }
    if (ec) {
      const ResponseBody::value_type& body = parser->get().body();
      if (body.failure == BodyFailure::kBadEncoding) {
        x.result = Status::Unavailable(r.url + ": " + body.failure_detail);
      } else if (body.failure == BodyFailure::kTooLarge || ec == bhttp::error::body_limit) {
        x.result = Status::ResourceExhausted("response of " + r.url + " exceeds " +
                                             std::to_string(r.max_response_bytes) + " bytes");
      } else if (write_ec && x.retryable) {
        x.result = Failure(r, "sending the request", write_ec);
      } else {
        x.result = Failure(r, "reading the response", ec);
      }
      return x;
    }
    auto& response = parser->get();
    HttpClientResponse out;
    out.status = response.result_int();
    for (const auto& field : response) {  // as curl, the last Content-Type
      if (field.name() == bhttp::field::content_type && !field.value().empty()) {
        out.content_type = std::string(field.value());
      }
    }
    out.body = std::move(response.body().data);
    x.keep_alive = !write_ec && parser->keep_alive() && c.buffer.size() == 0;
    x.result = std::move(out);
    return x;
  }

  // A connection kept for `key`, or null. As curl, one idle too long or that
  // the peer closed (or sent something unasked) is dropped rather than used.
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    auto it = std::find_if(idle_.begin(), idle_.end(), [&key](const auto& c) { return c->key == key; });
    if (it == idle_.end()) return nullptr;
    std::unique_ptr<Connection> c = std::move(*it);
    idle_.erase(it);
    if (SteadyClock::now() - c->idle_since > kMaxIdleAge) return nullptr;
    pollfd p{.fd = c->socket().native_handle(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) != 0) return nullptr;
    return c;
  }

  void Park(std::unique_ptr<Connection> c) {
    c->buffer.shrink_to_fit();  // an idle connection holds no read buffer (it is empty here)
    c->idle_since = SteadyClock::now();
    idle_.push_back(std::move(c));
    if (idle_.size() > kMaxIdleConnections) idle_.erase(idle_.begin());  // the longest idle
  }

  // The TLS context for the request's CA settings, kept so a loop does not
  // re-read the CA bundle on every call.
  Result<std::shared_ptr<asio::ssl::context>> TlsContext(const Request& r) {
    auto key = std::make_pair(r.insecure_skip_verify ? std::string() : r.ca_file, r.insecure_skip_verify);
    const auto now = SteadyClock::now();
    if (auto it = tls_contexts_.find(key); it != tls_contexts_.end() && now - it->second.loaded < kCaCacheAge) {
      return it->second.context;
    }
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    error_code ec;
    if (r.insecure_skip_verify) {
      context->set_verify_mode(asio::ssl::verify_none, ec);
    } else {
      context->set_verify_mode(asio::ssl::verify_peer, ec);
      if (r.ca_file.empty()) {
        context->set_default_verify_paths(ec);
        if (ec) return Failure(r, "cannot load the system's CA certificates", ec);
      } else {
        context->load_verify_file(r.ca_file, ec);
        if (ec) return Failure(r, "cannot load the CA file " + r.ca_file, ec);
      }
    }
    SSL_CTX_set_alpn_protos(context->native_handle(), kAlpnHttp11.data(), kAlpnHttp11.size());
    SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);  // idle connections hold none
    tls_contexts_[key] = TlsEntry{context, now};
    return context;
  }

  struct TlsEntry {
    std::shared_ptr<asio::ssl::context> context;
    SteadyClock::time_point loaded;
  };

  // Declared first so that it outlives every socket and the resolver.
  asio::io_context ioc_{1};
  tcp::resolver resolver_{ioc_};
  std::map<std::pair<std::string, bool>, TlsEntry> tls_contexts_;
  std::vector<std::unique_ptr<Connection>> idle_;  // oldest first
};

}  // namespace

std::unique_ptr<HttpClient> NewBeastHttpClient() { return std::make_unique<BeastHttpClient>(); }

}  // namespace prescale::http
