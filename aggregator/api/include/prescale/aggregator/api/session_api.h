// GET /api/v1/whoami: the caller's own token as the aggregator sees it
// ({"name", "role", "tenant"}), so that a client such as the web console
// (docs/console.md) shows and offers what the token's role and tenant allow
// without probing routes. Any token but a monitor's (which reads /metrics
// only); never anonymous. Thread-safe.
#pragma once

#include <vector>

#include "prescale/aggregator/api/front.h"

namespace prescale::aggregator {

std::vector<RouteSpec> SessionRoutes();

}  // namespace prescale::aggregator
