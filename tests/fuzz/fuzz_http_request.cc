// Fuzzes what the HTTP front end does with a client's bytes before a handler
// runs: Beast's request parser with the server's limits, then the request
// target split into the path routes see and the query. Any input is a request
// or an error, never a crash; a path that comes out starts with '/', holds no
// NUL and no "." or ".." segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include "prescale/http/query_string.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(64 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !ec && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (n == 0 && !ec) break;  // needs more than there is
    used += n;
  }
  if (ec || !parser.is_header_done()) return 0;
  const auto target = parser.get().target();
  std::string path;
  std::string query;
  if (!prescale::http::SplitRequestTarget(std::string_view(target.data(), target.size()), &path, &query)) return 0;
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos) std::abort();
  if (path.find("/./") != std::string::npos || path.find("/../") != std::string::npos || path.ends_with("/..") ||
      path.ends_with("/.")) {
    std::abort();
  }
  return 0;
}
