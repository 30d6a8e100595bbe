#include "prescale/aggregator/api/console_assets.h"

#include <string>

namespace prescale::aggregator {

const char kConsoleContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

namespace {

constexpr std::string_view kPrefix = "/ui/";
constexpr int kMaxDepth = 4;

void AddCommonHeaders(http::HttpResponse* r) {
  r->headers.emplace_back("Content-Security-Policy", kConsoleContentSecurityPolicy);
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("X-Frame-Options", "DENY");
  r->headers.emplace_back("Referrer-Policy", "no-referrer");
}

const ConsoleAsset* Find(std::span<const ConsoleAsset> assets, std::string_view path) {
  for (const ConsoleAsset& a : assets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

// Whether an If-None-Match header lists `etag` (or is "*").
bool Matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

http::HttpResponse NotFound(std::string_view what) {
  http::HttpResponse r = http::HttpResponse::JsonError(404, "not_found", "no console file " + std::string(what));
  AddCommonHeaders(&r);
  return r;
}

}  // namespace

http::HttpResponse ServeConsole(std::span<const ConsoleAsset> assets, std::string_view path,
                                std::string_view if_none_match) {
  if (path == "/ui") {
    http::HttpResponse r;
    r.status = 308;
    r.headers.emplace_back("Location", "/ui/");
    AddCommonHeaders(&r);
    return r;
  }
  if (!path.starts_with(kPrefix)) return NotFound(path);
  std::string_view file = path.substr(kPrefix.size());
  const ConsoleAsset* asset = file.empty() ? nullptr : Find(assets, file);
  if (asset == nullptr) {
    // The application's own routes (no dot in the last segment) get index.html;
    // a file that is not there is a 404, not a page that would fail to parse as script.
    const std::string_view last = file.substr(file.rfind('/') == std::string_view::npos ? 0 : file.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) return NotFound(file);
    asset = Find(assets, "index.html");
    if (asset == nullptr) return NotFound("index.html");
  }
  http::HttpResponse r;
  // Vite names the files under assets/ by their content's hash: they never change.
  const bool immutable = asset->path.starts_with("assets/");
  r.headers.emplace_back("ETag", std::string(asset->etag));
  r.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  AddCommonHeaders(&r);
  r.content_type = std::string(asset->content_type);
  if (Matches(if_none_match, asset->etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(asset->body);
  return r;
}

std::vector<http::Route> ConsoleRoutes(std::span<const ConsoleAsset> assets) {
  std::vector<http::Route> routes;
  auto handler = [assets](const http::HttpRequest& request) {
    return ServeConsole(assets, request.path, request.Header("If-None-Match"));
  };
  routes.push_back({"GET", "/ui", handler});
  routes.push_back({"GET", "/ui/", handler});
  std::string pattern = "/ui";
  for (int depth = 1; depth <= kMaxDepth; ++depth) {
    pattern += "/{path" + std::to_string(depth) + "}";
    routes.push_back({"GET", pattern, handler});
  }
  return routes;
}

}  // namespace prescale::aggregator
