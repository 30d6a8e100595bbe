#include "prescale/aggregator/scaling/directives.h"

namespace prescale::aggregator {

std::vector<PublishedCap> CapsOf(const std::vector<Decision>& decisions) {
  std::vector<PublishedCap> out;
  for (const Decision& d : decisions) {
    if (d.cpu_cap_cores) out.push_back({d.tenant, d.service, *d.cpu_cap_cores});
  }
  return out;
}

std::vector<NodeDirective> DirectivesForNode(const std::vector<PublishedCap>& caps, const SeriesStore& store,
                                             const std::string& node) {
  std::vector<NodeDirective> out;
  for (const PublishedCap& cap : caps) {
    size_t here = 0, total = 0;
    for (const SeriesData& s :
         store.Query("container_cpu_usage_seconds_total", {{"tenant", cap.tenant}, {"service", cap.service}})) {
      ++total;
      for (const remote_write::Label& l : s.labels) {
        if (l.name == "node" && l.value == node) ++here;
      }
    }
    if (here == 0) continue;
    out.push_back({cap.tenant, cap.service, cap.cpu_cores * static_cast<double>(here) / static_cast<double>(total)});
  }
  return out;
}

}  // namespace prescale::aggregator
