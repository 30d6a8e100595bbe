// The status line and headers of a response, as HttpServer's front end
// writes them before the body.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "prescale/http/http_server.h"

namespace prescale::http {

// The status line and headers of `r`. `length` set: Content-Length; unset and
// `chunked`: Transfer-Encoding: chunked; neither: the body ends with the connection.
std::string HeaderBlock(const HttpResponse& r, std::optional<size_t> length, bool chunked, bool keep_alive,
                        bool http10);

}  // namespace prescale::http
