#include "prescale/aggregator/scaling/capacity.h"

#include <algorithm>
#include <cmath>

namespace prescale::aggregator {

double AgentsCapacity::Total(const char* metric) const {
  double total = 0;
  for (const SeriesData& s : series_->Query(metric, {})) {
    if (!s.samples.empty() && std::isfinite(s.samples.back().value)) total += s.samples.back().value;
  }
  return total;
}

Capacity AgentsCapacity::Read() {
  const auto now = clock_.Monotonic();
  if (!read_ || now - read_at_ >= kRefresh) {
    last_.cpu_cores = cpu_ ? Total("machine_cpu_cores") : 0;
    last_.memory_bytes = memory_ ? Total("machine_memory_bytes") : 0;
    read_ = true;
    read_at_ = now;
  }
  return last_;
}

Capacity ConfiguredCapacity::Read() {
  Capacity out = configured_;
  if (out.cpu_cores > 0 && out.memory_bytes > 0) return out;
  const Capacity rest = rest_ != nullptr ? rest_->Read() : Capacity{};
  if (out.cpu_cores <= 0) out.cpu_cores = rest.cpu_cores;
  if (out.memory_bytes <= 0) out.memory_bytes = rest.memory_bytes;
  return out;
}

std::unique_ptr<CapacitySource> MakeCapacitySource(Capacity configured, const SeriesStore* series, const Clock& clock) {
  const bool cpu = configured.cpu_cores <= 0, memory = configured.memory_bytes <= 0;
  if (cpu && memory) return std::make_unique<AgentsCapacity>(series, clock);
  std::unique_ptr<CapacitySource> agents;
  if (cpu || memory) agents = std::make_unique<AgentsCapacity>(series, clock, cpu, memory);
  return std::make_unique<ConfiguredCapacity>(configured, std::move(agents));
}

Capacity AfterReserve(Capacity raw, double reserve) {
  const double keep = 1 - std::clamp(reserve, 0.0, 1.0);
  return {raw.cpu_cores * keep, raw.memory_bytes * keep};
}

}  // namespace prescale::aggregator
