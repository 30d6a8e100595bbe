// Fuzzes the agent's decoder of the aggregator's throttle directives: any body
// is either a directive set within the documented bounds (this node, a lease
// in (0, 1 day], caps in (0, 1e6] cores, one directive per service) or a
// ParseError; never a crash, a hang or an escaped exception. The error-body
// description must never fail either.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "prescale/agent/directives.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)prescale::agent::DescribeDirectiveError(503, body);
  for (std::string_view node : {std::string_view("node-1"), std::string_view()}) {
    auto set = prescale::agent::ParseDirectives(body, node);
    if (!set.ok()) {
      if (set.status().code() != prescale::StatusCode::kParseError) std::abort();
      continue;
    }
    if (set->node.empty() || (!node.empty() && set->node != node)) std::abort();
    if (set->lease.count() <= 0 || set->lease.count() > 86'400'000) std::abort();
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& d : set->directives) {
      if (d.tenant.empty() || d.service.empty()) std::abort();
      if (!std::isfinite(d.cpu_cores) || !(d.cpu_cores > 0) || d.cpu_cores > prescale::agent::kMaxCpuCores) {
        std::abort();
      }
      if (!seen.emplace(d.tenant, d.service).second) std::abort();
    }
  }
  return 0;
}
