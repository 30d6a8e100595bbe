// Trace replay (`prescale-sim replay`): runs a Scenario on a virtual clock
// through prescale's real decision engine (aggregator::DecisionEngine, fed by
// prescale's forecasters the way the aggregator feeds them) and, in the same
// run, through three baselines that know nothing of priorities:
//   hpa     Kubernetes HPA: reactive on current use, 15 s sync, the use seen
//           `metric_lag` late, HPA's default behavior, tolerance 0.1;
//   keda    the same controller fed by a poller that samples the use every 30 s;
//   static  a fixed replica count sized for the trace's peak at the target.
// All four start new replicas with the service's start-up delay; a replica
// serves only once ready (provided capacity = ready replicas x per-replica
// CPU, less prescale's CPU cap when one is in force). Baselines get capacity
// first-come: a scale-up that does not fit the tenant's quota or the cluster
// is cut to what fits (services in scenario order within one instant).
// Everything is deterministic; single-threaded.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/sim/scenario.h"

namespace prescale::sim {

inline constexpr size_t kPriorities = 5;  // aggregator::Priority, critical first
inline constexpr size_t kPolicies = 4;
inline constexpr std::array<const char*, kPolicies> kPolicyNames = {"prescale", "hpa", "keda", "static"};

struct ReplayTotals {
  std::array<double, kPriorities> under_minutes{};      // service-minutes with demand > provided
  std::array<double, kPriorities> throttled_minutes{};  // service-minutes under a CPU cap (prescale only)
  double provisioned_core_hours = 0;                    // replicas that exist (starting ones too) x per-replica CPU
  double over_core_hours = 0;                           // provisioned beyond demand
  double demand_core_hours = 0;
  int64_t actions = 0;           // replica-count changes made
  double inversion_minutes = 0;  // service-minutes in a priority inversion (see docs/scaling.md)
  // Of the under-provisioned service-minutes, those while a quota or the
  // cluster's capacity cut the service's last scaling (the rest: timing).
  double under_limited_minutes = 0;
  double under_total() const {
    double s = 0;
    for (double v : under_minutes) s += v;
    return s;
  }
};

// One service's minute-by-minute record for plots: the mean over each virtual minute.
struct ServiceTrack {
  std::string tenant, service;
  aggregator::Priority priority = aggregator::Priority::kNormal;
  std::vector<double> demand_cores;
  std::array<std::vector<double>, kPolicies> provided_cores;
  std::array<ReplayTotals, kPolicies> totals;  // this service's share of the policy totals
};

struct ReplayResult {
  int64_t start_ms = 0;  // virtual time of minute 0
  double measured_minutes = 0;
  std::array<ReplayTotals, kPolicies> totals;
  std::vector<ServiceTrack> services;  // scenario order
  std::vector<std::string> notes;      // e.g. the model "auto" chose per service
};

struct ReplayOptions {
  std::string traces_dir = "../shared/traces";
  // Called now and then with virtual ms done and total.
  std::function<void(int64_t done_ms, int64_t total_ms)> progress;
};

// NotFound / InvalidArgument naming the trace file or the scenario key when a
// trace cannot be read or has no data in the replayed window.
Result<ReplayResult> RunReplay(const Scenario& scenario, const ReplayOptions& options);

}  // namespace prescale::sim
