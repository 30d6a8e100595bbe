// HttpServer: prescale's embedded HTTP server (civetweb underneath, kept out of
// this header). Routes are fixed at start; handlers run on the server's worker
// threads and must be thread-safe. Request bodies over the limit get 413
// before a handler runs; unknown paths get 404 and wrong methods 405, both with
// a JSON reason.
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
  std::string path;
  std::string query;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Case-insensitive header lookup; empty when absent.
  std::string_view Header(std::string_view name) const;
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
  std::string path;    // exact path
  Handler handler;
};

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // ADDR:PORT; port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // Starts serving; fails with a message naming the address when it cannot bind.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, std::vector<Route> routes);

  // The bound port (the real one when 0 was asked for).
  int port() const { return port_; }
  void Stop();

  // Dispatches one request; public so the civetweb callback can reach it.
  HttpResponse Dispatch(const HttpRequest& request) const;
  size_t max_body_bytes() const { return options_.max_body_bytes; }

 private:
  HttpServer(HttpServerOptions options, std::vector<Route> routes)
      : options_(std::move(options)), routes_(std::move(routes)) {}

  HttpServerOptions options_;
  std::vector<Route> routes_;
  void* context_ = nullptr;  // struct mg_context*
  int port_ = 0;
};

}  // namespace prescale::http
