// DecisionEngine: one evaluation tick of the decision engine (issue 6), as a
// pure computation over what the aggregator knows. For every service:
//   1. demand per resource: the forecast's upper bound over the policy's
//      horizon, never less than current use (reactive policies: current use);
//   2. desired replicas: ceil(demand / (per-replica request x target
//      utilisation)), the largest over resources, with HPA's tolerance (no
//      change while the ratio to the current replicas is within 10%);
//   3. the policy's HPA behaviour (ScalingPolicy) and min/max;
// then Allocate arbitrates all services against tenant quotas and cluster
// capacity, and constrained low-priority services get a CPU cap, released
// only after `release_ticks` unconstrained ticks (hysteresis). The engine
// keeps each service's scaling history between ticks; not thread-safe (the
// aggregator's tick thread owns it).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "prescale/decide/allocator.h"
#include "prescale/decide/control_model.h"
#include "prescale/decide/scaling_policy.h"

namespace prescale::aggregator {

// What one resource of a service uses now and is forecast to use.
struct ResourceDemand {
  std::string resource;                  // "cpu" (cores), "memory" (bytes), or a custom one
  double current = 0;                    // summed over replicas, now
  std::optional<double> forecast_upper;  // the interval's upper bound at the policy's horizon
};

struct ServiceInput {
  Service spec;
  std::shared_ptr<const ScalingPolicy> policy;  // null: DefaultPolicy()
  std::vector<ResourceDemand> demand;
  std::string trigger = "tick";                    // what started this evaluation ("tick", "alert:<fingerprint>", ...)
  std::map<std::string, std::string> models = {};  // resource -> the forecasting model behind its forecast
  // An executor refuses to act on it (a hold): the changes the policy counted
  // were never made, so its rate limits and cooldowns forget them.
  bool changes_refused = false;
};

struct Decision {
  std::string tenant, service;
  int64_t from_replicas = 0;
  int64_t to_replicas = 0;  // after behaviour and arbitration
  int64_t desired = 0;      // before arbitration (after behaviour)
  std::string reason;       // which resource drove it and how ("cpu forecast 7.2 cores > 4 x 0.5 x 0.7")
  // What drove the change, in few words (a metric label): "forecast", "use",
  // "tolerance", "quota" or "capacity" (arbitration cut it), "bounds" (min/max
  // or the policy's rate limits), "off", "none".
  std::string driver;
  std::optional<double> forecast;  // the driving resource's forecast upper bound, when a forecast drove it
  std::string trigger;
  bool constrained = false;             // granted less than desired
  std::string limited_by;               // the quota or capacity that bound it
  std::optional<double> cpu_cap_cores;  // throttle: the service's total CPU on the nodes; nullopt: none
  bool execute = true;                  // false for recommend-only and off policies: record, change nothing
  bool changed() const { return to_replicas != from_replicas; }
};

struct DecisionOptions {
  double tolerance = 0.1;         // HPA's: no change while |ratio - 1| <= tolerance
  int release_ticks = 3;          // unconstrained ticks before a CPU cap is lifted
  double capacity_cpu_cores = 0;  // the cluster's, less the reserve; <= 0: unlimited
  double capacity_memory_bytes = 0;
};

// Step 2 for one service: the replicas its demand asks for (before behaviour),
// and why. Resources without a per-replica request or a target are skipped;
// with none left, the current replicas.
// `driver` (may be null) gets "forecast", "use", "tolerance", "off" or "none";
// `forecast` (may be null) the driving resource's forecast when it drove it.
int64_t DesiredReplicas(const Service& spec, PolicyMode mode, const std::vector<ResourceDemand>& demand,
                        double tolerance, std::string* reason, std::string* driver = nullptr,
                        std::optional<double>* forecast = nullptr);

class DecisionEngine {
 public:
  explicit DecisionEngine(DecisionOptions options) : options_(options) {}
  // The cluster's capacity for the next evaluations (<= 0: unlimited).
  void SetCapacity(double cpu_cores, double memory_bytes) {
    options_.capacity_cpu_cores = cpu_cores;
    options_.capacity_memory_bytes = memory_bytes;
  }

  // One tick over every service (all tenants: arbitration needs them all).
  std::vector<Decision> Evaluate(const std::vector<AllocationTenant>& tenants,
                                 const std::vector<ServiceInput>& services, std::chrono::system_clock::time_point now);

 private:
  struct ServiceState {
    ScalingState scaling;
    std::optional<double> cap;  // the CPU cap in force
    int unconstrained_ticks = 0;
    uint64_t evaluation = 0;  // the last Evaluate that saw the service
  };
  uint64_t evaluations_ = 0;
  DecisionOptions options_;
  struct KeyHash {
    size_t operator()(const std::pair<std::string, std::string>& k) const {
      return std::hash<std::string>()(k.first) * 31 + std::hash<std::string>()(k.second);
    }
  };
  // Node-based: the pointers Evaluate keeps stay valid while it inserts.
  std::unordered_map<std::pair<std::string, std::string>, ServiceState, KeyHash> state_;
};

}  // namespace prescale::aggregator
