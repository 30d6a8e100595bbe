// HttpServer: prescale's embedded HTTP server (civetweb underneath, kept out of
// this header). Routes are fixed at start; handlers run on the server's worker
// threads and must be thread-safe. Request bodies over the limit get 413
// before a handler runs; unknown paths get 404 and wrong methods 405, both with
// a JSON reason. A route's path may hold {name} segments (path parameters).
// With a certificate and a key in the options it serves HTTPS only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // Case-insensitive header lookup; empty when absent.
  std::string_view Header(std::string_view name) const;
  // The value of path parameter `name`; empty when absent.
  std::string_view PathParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Sent after `body`, without copying: for large shared buffers such as /metrics.
  std::vector<std::shared_ptr<const std::string>> body_parts;
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
// holds it: already percent-decoded (civetweb decodes the request line), so
// it is not decoded again (%2541 stays %41) and an encoded '/' separates
// segments like a plain one. A {name} segment matches one non-empty segment
// other than "." and "..". On a match *params (when not null) is set to the
// {name} segments in order; otherwise it is left alone.
bool MatchRoutePath(std::string_view pattern, std::string_view path,
                    std::vector<std::pair<std::string, std::string>>* params);

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // ADDR:PORT; port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  // PEM files. With both set the listen port speaks HTTPS only (TLS 1.2 or
  // later); the certificate file may hold the chain after the leaf. TLS is
  // terminated in-process and relayed to civetweb listening in plain HTTP on
  // an ephemeral 127.0.0.1 port (src/tls_bridge.h says why).
  std::string tls_cert_file;
  std::string tls_key_file;
};

class TlsBridge;  // shared/http/src/tls_bridge.h

class HttpServer {
 public:
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // Starts serving. Fails with a message naming the address when it cannot
  // bind, the route when a path pattern is malformed, and the option or file
  // when the TLS certificate or key is missing, unreadable or mismatched.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, std::vector<Route> routes);

  // The bound port (the real one when 0 was asked for).
  int port() const { return port_; }
  void Stop();

  // Dispatches one request (filling its path_params); public so the civetweb
  // callback can reach it.
  HttpResponse Dispatch(HttpRequest request) const;
  size_t max_body_bytes() const { return options_.max_body_bytes; }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  HttpServer(HttpServerOptions options, std::vector<Route> routes);

  HttpServerOptions options_;
  std::vector<Route> routes_;
  void* context_ = nullptr;  // struct mg_context*
  std::unique_ptr<TlsBridge> tls_;
  int port_ = 0;
};

}  // namespace prescale::http
