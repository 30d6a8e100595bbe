// The web console's files (console/, a Vue single-page application built
// with Vite), embedded into the binary at build time by cmake/console.cmake,
// and the routes that serve them under /ui/ (docs/console.md):
//   GET /ui            308 to /ui/
//   GET /ui/           index.html
//   GET /ui/<file>     a built file (assets/*.js, *.css, ...) with its Content-Type
//   GET /ui/<route>    index.html (the application's own deep links: no dot in the
//                      last segment); a missing file (a dot in it) is a 404
// The files hold no data, so the routes need no token; everything the console
// shows comes from the API with the token the user signs in with. Every answer
// carries a strict Content-Security-Policy (scripts and styles from the same
// origin only, no inline script, no framing), an ETag (If-None-Match gives 304)
// and Cache-Control: immutable for content-hashed assets/, no-cache otherwise.
// Thread-safe: the files are constant.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "prescale/http/http_server.h"

namespace prescale::aggregator {

struct ConsoleAsset {
  std::string_view path;          // relative to /ui/, e.g. "index.html", "assets/index-3f2a.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, e.g. "\"5d41402abc4b2a76\""
  std::string_view body;
};

// The files built into this binary (generated: console_assets_data.cc).
std::span<const ConsoleAsset> EmbeddedConsoleAssets();

// The Content-Security-Policy every /ui/ answer carries.
extern const char kConsoleContentSecurityPolicy[];

// The answer for GET `path` (the request's path, from /ui on) with the request's
// If-None-Match; what the routes call.
http::HttpResponse ServeConsole(std::span<const ConsoleAsset> assets, std::string_view path,
                                std::string_view if_none_match);

// GET /ui, /ui/ and /ui/<1 to 4 segments> over `assets` (which outlive the routes).
std::vector<http::Route> ConsoleRoutes(std::span<const ConsoleAsset> assets);

}  // namespace prescale::aggregator
