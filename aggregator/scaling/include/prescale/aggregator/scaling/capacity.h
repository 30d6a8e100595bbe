// CapacitySource: the cluster's capacity the decision engine arbitrates,
// before the reserve is taken off. Two implementations:
//   AgentsCapacity      the sum of the agents' latest machine_cpu_cores and
//                       machine_memory_bytes (a walk over every raw series, so
//                       at most once a minute: nodes come and go slowly);
//   ConfiguredCapacity  the configured values (decisions.cluster_cpu_cores,
//                       cluster_memory_bytes), a resource not configured
//                       taken from another source (the agents).
// MakeCapacitySource picks per resource: the configured value when set (> 0),
// else the agents'. Called from the decision loop's thread only.
#pragma once

#include <chrono>
#include <memory>

#include "prescale/aggregator/history/series_store.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

struct Capacity {
  double cpu_cores = 0;     // <= 0: unknown (the engine treats it as unlimited)
  double memory_bytes = 0;  // <= 0: unknown
};

class CapacitySource {
 public:
  virtual ~CapacitySource() = default;
  // The capacity now, before the reserve.
  virtual Capacity Read() = 0;
};

class AgentsCapacity final : public CapacitySource {
 public:
  // `series` is not owned. Only the resources asked for are read (the others stay 0).
  AgentsCapacity(const SeriesStore* series, const Clock& clock, bool cpu = true, bool memory = true)
      : series_(series), clock_(clock), cpu_(cpu), memory_(memory) {}
  // The totals of the last walk; walks again when a minute has passed since it.
  Capacity Read() override;

  static constexpr std::chrono::minutes kRefresh{1};

 private:
  double Total(const char* metric) const;

  const SeriesStore* series_;
  const Clock& clock_;
  const bool cpu_, memory_;
  bool read_ = false;
  std::chrono::steady_clock::time_point read_at_;
  Capacity last_;
};

class ConfiguredCapacity final : public CapacitySource {
 public:
  // Resources configured <= 0 come from `rest` (0 when it is null).
  explicit ConfiguredCapacity(Capacity configured, std::unique_ptr<CapacitySource> rest = nullptr)
      : configured_(configured), rest_(std::move(rest)) {}
  Capacity Read() override;

 private:
  Capacity configured_;
  std::unique_ptr<CapacitySource> rest_;
};

// The configured resources (> 0) as configured, the others from the agents
// through `series` (read only when some resource is not configured).
std::unique_ptr<CapacitySource> MakeCapacitySource(Capacity configured, const SeriesStore* series, const Clock& clock);

// What the engine arbitrates: `raw` less the share `reserve` (clamped to 0..1).
Capacity AfterReserve(Capacity raw, double reserve);

}  // namespace prescale::aggregator
