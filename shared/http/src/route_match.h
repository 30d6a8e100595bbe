// Helpers for routes with {name} segments, beside MatchRoutePath (http_server.h).
#pragma once

#include <string_view>

#include "prescale/base/status.h"

namespace prescale::http {

// True when the route path holds a {name} segment.
bool IsRoutePattern(std::string_view path);

// Checks a route path: it starts with '/', and a segment with a brace is a
// whole {name} with a non-empty name used once. The error names the path.
Status ValidateRoutePath(std::string_view path);

}  // namespace prescale::http
