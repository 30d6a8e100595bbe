// DecisionLoop: the decision engine run on the aggregator's own data at every
// tick. It reads tenants, services and policies from the ControlStore, each
// service's current use from the demand rollups and its forecast's upper bound
// at the policy's horizon from the forecast engine, and the cluster's capacity
// (configured, or the agents' machine_cpu_cores / machine_memory_bytes less a
// reserve). It runs DecisionEngine and keeps the latest decisions for
// GET /api/v1/decisions and /metrics. Executors, which act on the decisions,
// come next (docs/scaling.md). Run from one thread (the tick);
// Latest and AppendMetrics from any.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "prescale/aggregator/control_store.h"
#include "prescale/aggregator/decision.h"
#include "prescale/aggregator/demand.h"
#include "prescale/aggregator/forecasts.h"
#include "prescale/aggregator/scaling_policy.h"
#include "prescale/aggregator/series_store.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

struct DecisionLoopOptions {
  double cluster_cpu_cores = 0;     // 0: the sum of the agents' machine_cpu_cores
  double cluster_memory_bytes = 0;  // 0: the sum of the agents' machine_memory_bytes
  double capacity_reserve = 0.1;    // the share of the capacity kept out of arbitration
};

class DecisionLoop {
 public:
  // None of the pointers is owned; all outlive the loop.
  DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
               const SeriesStore* series, const Clock& clock, DecisionLoopOptions options);

  // One evaluation of every service; fails only when the store cannot be read.
  Status Run();
  // The latest decisions (one tenant's when `tenant` is not empty).
  std::vector<Decision> Latest(const std::string& tenant) const;
  // prescale_desired_replicas, prescale_current_replicas, prescale_constrained,
  // prescale_throttled, prescale_quota_utilization, prescale_cluster_capacity.
  void AppendMetrics(std::string* out) const;

 private:
  double AgentsTotal(const char* metric) const;

  ControlStore* store_;
  const DemandRollups* demand_;
  const ForecastEngine* forecasts_;
  const SeriesStore* series_;
  const Clock& clock_;
  DecisionLoopOptions options_;
  DecisionEngine engine_;
  PolicyFactory policies_;
  bool agents_read_ = false;  // the agents' capacity, refreshed once a minute
  std::chrono::steady_clock::time_point agents_read_at_;
  double agents_cpu_ = 0, agents_memory_ = 0;

  mutable std::mutex mu_;  // guards what follows
  std::vector<Decision> latest_;
  std::vector<AllocationTenant> tenants_;
  std::vector<AllocationResult::TenantUse> tenant_use_;
  double capacity_cpu_ = 0, capacity_memory_ = 0;
};

}  // namespace prescale::aggregator
