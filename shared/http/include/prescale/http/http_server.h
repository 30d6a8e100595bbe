// HttpServer: prescale's embedded HTTP/1.1 server, event-driven (Boost.Asio and
// Beast underneath, kept out of this header): an idle or slow connection holds
// no thread, only a socket and a timer, so a fleet's kept-alive connections and
// slow clients cost memory, not workers. Routes are fixed at start; handlers run
// on the server's threads and must be thread-safe. Request bodies over the limit
// get 413 before a handler runs, headers over the limit 431, malformed requests
// 400; unknown paths get 404 and wrong methods 405, all with a JSON reason. A
// route's path may hold {name} segments (path parameters). With a certificate
// and a key in the options it serves HTTPS only, TLS terminated in the same
// event loop, optionally asking for or requiring client certificates.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/log.h"
#include "prescale/base/status.h"

namespace prescale::http {

struct HttpRequest {
  std::string method;
  std::string path;  // percent-decoded, without the query
  std::string query;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The {name} segments of the route that matched, percent-decoded, in the
  // route's order; empty for an exact route.
  std::vector<std::pair<std::string, std::string>> path_params;
  // The client's address and port as the server saw them ("10.0.0.7:51234",
  // "[::1]:51234"); empty when the request did not come over a connection.
  std::string remote_address;
  // Case-insensitive header lookup; empty when absent.
  std::string_view Header(std::string_view name) const;
  // The value of path parameter `name`; empty when absent.
  std::string_view PathParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Sent after `body`, without copying: for large shared buffers.
  std::vector<std::shared_ptr<const std::string>> body_parts;
  // Instead of body and body_parts: called once, on a thread of its own (not the event
  // loop's), to produce the body in pieces through `write`, which returns once the piece is
  // sent (false once the client is gone or stopped taking it within write_timeout: stop).
  // Sent with Transfer-Encoding: chunked (to an HTTP/1.0 client: until the connection
  // closes), so a large answer (the agent's /metrics) is never held whole.
  std::function<void(const std::function<bool(std::string_view)>& write)> body_writer;
  std::vector<std::pair<std::string, std::string>> headers;

  // {"error": code, "message": message}
  static HttpResponse JsonError(int status, std::string_view code, std::string_view message);
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct Route {
  std::string method;  // "GET", "POST", ...
  // An exact path, or a pattern with {name} segments, e.g.
  // /api/v1/tenants/{tenant}/services/{service}. A {name} segment matches one
  // non-empty path segment. For a request, a route matching path and method
  // wins: an exact one first, else the first pattern registered.
  std::string path;
  Handler handler;
};

// True when `path` matches `pattern`. `path` is taken as HttpRequest::path
// holds it: already percent-decoded (the server decodes the request line), so
// it is not decoded again (%2541 stays %41) and an encoded '/' separates
// segments like a plain one. A {name} segment matches one non-empty segment
// other than "." and "..". On a match *params (when not null) is set to the
// {name} segments in order; otherwise it is left alone.
bool MatchRoutePath(std::string_view pattern, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* params);

// Whether and how an HTTPS server asks for client certificates; the names are
// Go's tls.ClientAuthType, which the Prometheus exporter toolkit's
// client_auth_type uses.
enum class TlsClientAuth {
  kNoClientCert,                // none asked for
  kRequestClientCert,           // asked for; neither required nor verified
  kRequireAnyClientCert,        // required; not verified
  kVerifyClientCertIfGiven,     // not required; verified against tls_client_ca_file when sent
  kRequireAndVerifyClientCert,  // required and verified against tls_client_ca_file
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

struct HttpServerOptions {
  // ADDR:PORT, [ADDR6]:PORT or PORT (all IPv4 addresses); port 0 picks a free port.
  std::string listen = "127.0.0.1:0";
  // Threads running the event loop and the handlers: at most this many
  // requests are handled at once; connections waiting for a request, a
  // header or a body hold none.
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  // The request line and headers of one request; more: 431 and the connection closes.
  size_t max_header_bytes = 64 << 10;
  // Connections open at once, and from one client address. A connection over
  // either limit is answered 503 and closed at once; 0: no limit.
  size_t max_connections = 16384;
  size_t max_connections_per_client = 256;
  // A kept-alive connection waiting for its next request is closed after
  // idle_timeout. From the first byte of a request its header must arrive
  // within header_timeout (a client sending a byte at a time is closed) and
  // its body within body_timeout; a TLS handshake gets header_timeout. A
  // response (each piece of a streamed one) the client does not take within
  // write_timeout closes the connection.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};
  // PEM files. With both set the listen port speaks HTTPS only (TLS 1.2 or
  // later unless tls_min_version says otherwise); the certificate file may
  // hold the chain after the leaf.
  std::string tls_cert_file;
  std::string tls_key_file;
  // The TLS settings below need the certificate and the key. A client whose
  // certificate the policy refuses fails the handshake; no request is served.
  TlsClientAuth tls_client_auth = TlsClientAuth::kNoClientCert;
  // PEM CA certificates: client certificates are verified against them (the
  // two verifying policies need the file), and their names are sent to
  // clients as the accepted issuers.
  std::string tls_client_ca_file;
  TlsVersion tls_min_version = TlsVersion::kTls12;
  TlsVersion tls_max_version = TlsVersion::kTls13;
  // Cipher suites for TLS 1.2 and older by their IANA names
  // ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), in the server's order of
  // preference; empty: OpenSSL's defaults. TLS 1.3's suites are not set here.
  std::vector<std::string> tls_cipher_suites;
  // Key exchange groups in order of preference ("X25519", "P-256", "P-384",
  // "P-521"); empty: OpenSSL's defaults.
  std::vector<std::string> tls_curves;
  // true: the server's order of cipher suites wins over the client's.
  bool tls_prefer_server_cipher_suites = true;

  // Runs before routing on every request (unknown paths and wrong methods
  // included): a response it returns is sent instead of routing, e.g. a 401.
  // Runs on the server's worker threads, like the handlers. Empty: none.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> authorize;
  // Requests this answers true for (by method and path, before authorize)
  // are authorized and handled on a pool of blocking_threads threads instead
  // of their connection's loop: handlers that wait on a lock or a database
  // (audited writes, serialised by their audit chain) then stall none of the
  // loop's other connections. The response is written from the loop as
  // usual. Empty: every request runs on its connection's loop.
  std::function<bool(std::string_view method, std::string_view path)> blocking;
  int blocking_threads = 4;
  // Added to every response that does not set the header itself.
  std::vector<std::pair<std::string, std::string>> response_headers;
  // Every request is logged at this level (5xx answers at warn): method,
  // path without the query, status, duration, bytes, remote address and
  // request id. The request id is the request's X-Request-Id when it is 1 to
  // 128 visible ASCII characters other than '"' and '\\', else a new one (16
  // hex digits); handlers see it in that header, and the response carries it
  // back in X-Request-Id.
  LogLevel request_log_level = LogLevel::kDebug;
};

// What the front end has seen since it started; read at any time.
struct HttpServerStats {
  uint64_t open_connections = 0;
  uint64_t accepted_connections = 0;
  // Refused for a connection limit (answered 503 and closed).
  uint64_t refused_connections = 0;
  // Closed because a timeout above ran out (idle ones included).
  uint64_t timed_out_connections = 0;
};

class HttpServer {
 public:
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // Starts serving. Fails with a message naming the address when it cannot
  // bind, the route when a path pattern is malformed, and the option or file
  // when the TLS certificate, key or client CA file is missing, unreadable or
  // mismatched, or a TLS setting is not valid.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, std::vector<Route> routes);

  // The bound port (the real one when 0 was asked for).
  int port() const { return port_; }
  // Closes the listener and every connection, waits for the handlers running,
  // and joins the threads.
  void Stop();
  HttpServerStats stats() const;

  // Dispatches one request (filling its path_params) through `authorize` and
  // the routes, and adds `response_headers`: what a connection does with each
  // request it reads; public for tests that need no socket.
  HttpResponse Dispatch(HttpRequest request) const;
  size_t max_body_bytes() const { return options_.max_body_bytes; }
  const std::vector<Route>& routes() const { return routes_; }

  class Front;  // the event loop, its threads and connections: src/http_server.cc's alone

 private:
  HttpServer(HttpServerOptions options, std::vector<Route> routes);
  HttpResponse RouteRequest(HttpRequest request) const;  // the routes alone

  HttpServerOptions options_;
  std::vector<Route> routes_;
  std::unique_ptr<Front> front_;
  int port_ = 0;
};

}  // namespace prescale::http
