// The aggregator's throttle directives for one node (issue 6), as the agent
// receives them from GET /api/v1/directives?node=NAME:
//   {"node": "NAME", "lease_seconds": 30,
//    "directives": [{"tenant": "a", "service": "web", "cpu_cores": 1.5}, ...]}
// A directive caps the CPU of all of that service's cgroups on the node
// together until the lease runs out, unless a later answer renews it.
// Decoding is strict about what the agent uses (types, ranges, required
// fields, one directive per service) and ignores fields it does not know, so
// the aggregator can add some. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::agent {

struct Directive {
  std::string tenant;
  std::string service;
  double cpu_cores = 0;  // > 0: the cap for all the service's cgroups on the node together
};

struct DirectiveSet {
  std::string node;
  std::chrono::milliseconds lease{0};  // > 0
  std::vector<Directive> directives;   // at most one per (tenant, service)
};

// The longest lease and the largest cap the decoder accepts.
inline constexpr double kMaxLeaseSeconds = 86400;
inline constexpr double kMaxCpuCores = 1e6;

// Decodes a 200 response body. When `expected_node` is not empty the body's
// node must be it. ParseError naming the field (e.g. "directives[2].cpu_cores")
// on anything else; never throws, whatever the input.
Result<DirectiveSet> ParseDirectives(std::string_view body, std::string_view expected_node);

// A one-line description of an error response for logs:
// "HTTP 403 forbidden: <message> (field x)" from the aggregator's
// {"error","message","field"} body, else "HTTP 502" and the body's start.
std::string DescribeDirectiveError(long http_status, std::string_view body);

}  // namespace prescale::agent
