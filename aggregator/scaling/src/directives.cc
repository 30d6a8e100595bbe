#include "prescale/aggregator/scaling/directives.h"

namespace prescale::aggregator {

std::vector<NodeDirective> DirectivesForNode(const std::vector<Decision>& decisions, const SeriesStore& store,
                                             const std::string& node) {
  std::vector<NodeDirective> out;
  for (const Decision& d : decisions) {
    if (!d.cpu_cap_cores) continue;
    size_t here = 0, total = 0;
    for (const SeriesData& s :
         store.Query("container_cpu_usage_seconds_total", {{"tenant", d.tenant}, {"service", d.service}})) {
      ++total;
      for (const remote_write::Label& l : s.labels) {
        if (l.name == "node" && l.value == node) ++here;
      }
    }
    if (here == 0) continue;
    out.push_back({d.tenant, d.service, *d.cpu_cap_cores * static_cast<double>(here) / static_cast<double>(total)});
  }
  return out;
}

}  // namespace prescale::aggregator
