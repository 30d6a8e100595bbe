// HttpServer's routing, apart from its front end: HttpRequest's lookups,
// HttpResponse::JsonError, and Dispatch (authorize, then the routes, then the
// headers added to every response), which a connection calls for each request.
// The front end and the server's life are in http_server.cc.
#include <strings.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/http/http_server.h"
#include "route_match.h"

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

}  // namespace prescale::http
