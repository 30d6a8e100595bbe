#include "prescale/http/http_server.h"

#include <civetweb.h>
#include <strings.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "prescale/base/log.h"
#include "route_match.h"
#include "tls_bridge.h"

namespace prescale::http {
namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  *out += '"';
  for (char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\t': *out += "\\t"; break;
      case '\r': *out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          *out += buf;
        } else {
          *out += c;
        }
    }
  }
  *out += '"';
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 201: return "Created";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

// A body_writer's answer: chunked. Each piece is framed and held until the next arrives, so the
// headers go out with the first piece and the last piece with the terminating chunk (see Send on
// small writes).
void SendChunked(mg_connection* conn, const HttpResponse& r, std::string header, bool head) {
  if (head) {
    mg_write(conn, header.data(), header.size());
    return;
  }
  std::string pending = std::move(header);
  bool held = false;  // pending holds a framed piece
  bool ok = true;
  auto send_pending = [&] {
    ok = ok && mg_write(conn, pending.data(), pending.size()) > 0;
    pending.clear();
  };
  char size_line[24];
  r.body_writer([&](std::string_view piece) {
    if (!ok) return false;
    if (piece.empty()) return true;  // an empty chunk would end the body
    if (held) send_pending();
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    pending.append(size_line, static_cast<size_t>(n));
    pending.append(piece);
    pending.append("\r\n");
    held = true;
    return ok;
  });
  pending.append("0\r\n\r\n");
  send_pending();
}

void Send(mg_connection* conn, const HttpResponse& r, bool head) {
  if (r.body_writer) {
    // HTTP/1.0 has no chunked encoding: the body ends when the connection closes (civetweb
    // closes a 1.0 connection that did not ask to be kept alive).
    const mg_request_info* info = mg_get_request_info(conn);
    const bool http10 = info != nullptr && info->http_version != nullptr && std::strcmp(info->http_version, "1.0") == 0;
    std::string header = "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) + "\r\n";
    header += "Content-Type: " + r.content_type + "\r\n";
    header += http10 ? "Connection: close\r\n" : "Transfer-Encoding: chunked\r\n";
    for (const auto& [k, v] : r.headers) header += k + ": " + v + "\r\n";
    header += "\r\n";
    if (!http10) {
      SendChunked(conn, r, std::move(header), head);
      return;
    }
    mg_write(conn, header.data(), header.size());
    if (head) return;
    r.body_writer(
        [conn](std::string_view piece) { return piece.empty() || mg_write(conn, piece.data(), piece.size()) > 0; });
    return;
  }
  size_t length = r.body.size();
  for (const auto& part : r.body_parts) length += part->size();
  std::string header = "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) + "\r\n";
  header += "Content-Type: " + r.content_type + "\r\n";
  header += "Content-Length: " + std::to_string(length) + "\r\n";
  for (const auto& [k, v] : r.headers) header += k + ": " + v + "\r\n";
  header += "\r\n";
  // Headers and body in one write: two small writes on a kept-alive connection
  // meet Nagle's algorithm and the client's delayed ACK (40 ms a response).
  if (!head) header += r.body;
  mg_write(conn, header.data(), header.size());
  if (head) return;  // a HEAD response has the GET headers and no body
  for (const auto& part : r.body_parts) {
    if (!part->empty()) mg_write(conn, part->data(), part->size());
  }
}

int HandleRequest(mg_connection* conn, void* cbdata) {
  const auto* server = static_cast<const HttpServer*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "";
  req.query = info->query_string ? info->query_string : "";
  for (int i = 0; i < info->num_headers; ++i) {
    req.headers.emplace_back(info->http_headers[i].name, info->http_headers[i].value);
  }
  auto too_large = [&] {
    Send(conn,
         HttpResponse::JsonError(413, "body_too_large",
                                 "the body exceeds " + std::to_string(server->max_body_bytes()) + " bytes"),
         false);
    return 413;
  };
  const long long declared = info->content_length;
  if (declared > 0 && static_cast<unsigned long long>(declared) > server->max_body_bytes()) {
    return too_large();
  }
  char buf[8192];
  int n = 0;
  while ((n = mg_read(conn, buf, sizeof buf)) > 0) {
    req.body.append(buf, static_cast<size_t>(n));
    if (req.body.size() > server->max_body_bytes()) {
      return too_large();
    }
  }
  const bool head = req.method == "HEAD";
  HttpResponse resp = server->Dispatch(std::move(req));
  Send(conn, resp, head);
  return resp.status;
}

int LogMessage(const mg_connection*, const char* message) {
  Log(LogLevel::kWarning, std::string("http server: ") + message);
  return 1;
}

std::once_flag g_init;

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

std::string_view HttpRequest::PathParam(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

HttpResponse HttpResponse::JsonError(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = "{\"error\":";
  AppendJsonString(&r.body, code);
  r.body += ",\"message\":";
  AppendJsonString(&r.body, message);
  r.body += "}\n";
  return r;
}

HttpServer::HttpServer(HttpServerOptions options, std::vector<Route> routes)
    : options_(std::move(options)), routes_(std::move(routes)) {}

HttpResponse HttpServer::Dispatch(HttpRequest request) const {
  std::optional<HttpResponse> refused;
  if (options_.authorize) refused = options_.authorize(request);
  HttpResponse response = refused.has_value() ? std::move(*refused) : RouteRequest(std::move(request));
  for (const auto& [name, value] : options_.response_headers) {
    bool set = false;
    for (const auto& header : response.headers) {
      set = set || strcasecmp(header.first.c_str(), name.c_str()) == 0;
    }
    if (!set) response.headers.emplace_back(name, value);
  }
  return response;
}

HttpResponse HttpServer::RouteRequest(HttpRequest request) const {
  auto method_fits = [&](const Route& route) {
    return route.method == request.method || (route.method == "GET" && request.method == "HEAD");
  };
  bool path_known = false;
  for (const Route& route : routes_) {
    if (route.path != request.path || IsRoutePattern(route.path)) continue;
    path_known = true;
    if (method_fits(route)) return route.handler(request);
  }
  std::vector<std::pair<std::string, std::string>> params;
  for (const Route& route : routes_) {
    if (!IsRoutePattern(route.path) || !MatchRoutePath(route.path, request.path, &params)) continue;
    path_known = true;
    if (method_fits(route)) {
      request.path_params = std::move(params);
      return route.handler(request);
    }
  }
  if (path_known) {
    return HttpResponse::JsonError(405, "method_not_allowed", request.method + " is not allowed on " + request.path);
  }
  return HttpResponse::JsonError(404, "not_found", "no route for " + request.path);
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, std::vector<Route> routes) {
  for (const Route& route : routes) PRESCALE_RETURN_IF_ERROR(ValidateRoutePath(route.path));
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  std::shared_ptr<SSL_CTX> tls_context;
  if (!tls && (options.tls_client_auth != TlsClientAuth::kNoClientCert || !options.tls_client_ca_file.empty() ||
               !options.tls_cipher_suites.empty() || !options.tls_curves.empty())) {
    return Status::InvalidArgument("TLS settings are set but tls_cert_file and tls_key_file are not");
  }
  if (tls) {
    if (options.tls_cert_file.empty()) return Status::InvalidArgument("tls_key_file is set but tls_cert_file is not");
    if (options.tls_key_file.empty()) return Status::InvalidArgument("tls_cert_file is set but tls_key_file is not");
    Result<std::shared_ptr<SSL_CTX>> context = NewServerTlsContext(options);
    if (!context.ok()) return context.status();
    tls_context = std::move(context).value();
  }
  std::call_once(g_init, [] { mg_init_library(0); });
  std::unique_ptr<HttpServer> server(new HttpServer(options, std::move(routes)));
  // With TLS, civetweb serves plain HTTP on loopback behind the bridge (see tls_bridge.h for why).
  const std::string civetweb_listen = tls ? std::string("127.0.0.1:0") : options.listen;
  const std::string threads = std::to_string(options.threads < 1 ? 1 : options.threads);
  const char* mg_options[] = {"listening_ports",
                              civetweb_listen.c_str(),
                              "num_threads",
                              threads.c_str(),
                              "enable_keep_alive",
                              "yes",
                              "request_timeout_ms",
                              "10000",
                              "tcp_nodelay",
                              "1",
                              nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogMessage;
  mg_context* ctx = mg_start(&callbacks, nullptr, mg_options);
  if (ctx == nullptr) {
    return Status::Unavailable("cannot listen on " + civetweb_listen + " (address in use, or not an ADDR:PORT)");
  }
  server->context_ = ctx;
  mg_set_request_handler(ctx, "/", HandleRequest, server.get());
  mg_server_port ports[4]{};
  const int n = mg_get_server_ports(ctx, 4, ports);
  if (n < 1) {
    server->Stop();
    return Status::Unavailable("cannot determine the port bound for " + civetweb_listen);
  }
  server->port_ = ports[0].port;
  if (tls) {
    Result<std::unique_ptr<TlsBridge>> bridge = TlsBridge::Start(options.listen, std::move(tls_context), server->port_);
    if (!bridge.ok()) {
      server->Stop();
      return bridge.status();
    }
    server->tls_ = std::move(bridge).value();
    server->port_ = server->tls_->port();
  }
  return server;
}

void HttpServer::Stop() {
  if (tls_ != nullptr) tls_->Stop();  // no more requests reach civetweb
  if (context_ != nullptr) {
    mg_stop(static_cast<mg_context*>(context_));
    context_ = nullptr;
  }
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace prescale::http
