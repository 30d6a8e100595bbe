#include "prescale/decide/decision.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace prescale::aggregator {
namespace {

// Without a configured target, a replica is sized to run at 80% of its request.
constexpr double kDefaultTarget = 0.8;

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

double PerReplicaRequest(const Service& spec, const std::string& resource) {
  if (resource == "cpu") return spec.request_cpu_cores;
  if (resource == "memory") return spec.request_memory_bytes;
  return 0;
}

}  // namespace

int64_t DesiredReplicas(const Service& spec, PolicyMode mode, const std::vector<ResourceDemand>& demand,
                        double tolerance, std::string* reason, std::string* driver, std::optional<double>* forecast) {
  std::string driver_unused;
  std::optional<double> forecast_unused;
  if (driver == nullptr) driver = &driver_unused;
  if (forecast == nullptr) forecast = &forecast_unused;
  forecast->reset();
  const int64_t current = spec.replicas.current;
  if (mode == PolicyMode::kOff) {
    *reason = "policy off";
    *driver = "off";
    return current;
  }
  int64_t desired = -1;
  for (const ResourceDemand& d : demand) {
    const double request = PerReplicaRequest(spec, d.resource);
    auto target_it = spec.target_utilization.find(d.resource);
    const double target = target_it == spec.target_utilization.end() ? kDefaultTarget : target_it->second;
    const double per_replica = request * target;
    if (per_replica <= 0) continue;
    // The larger of predictive and reactive: a forecast below current use never shrinks a service.
    const bool predictive = mode != PolicyMode::kReactive && d.forecast_upper && *d.forecast_upper > d.current;
    const double value = predictive ? *d.forecast_upper : d.current;
    int64_t candidate = static_cast<int64_t>(std::ceil(value / per_replica - 1e-9));
    std::string why = d.resource + (predictive ? " forecast " : " use ") + Number(value) + " / (" + Number(request) +
                      " x " + Number(target) + ")";
    const char* kind = predictive ? "forecast" : "use";
    if (current > 0 && std::abs(value / (static_cast<double>(current) * per_replica) - 1) <= tolerance) {
      candidate = current;  // HPA's tolerance: close enough, no churn
      why += " within tolerance of " + std::to_string(current);
      kind = "tolerance";
    }
    if (candidate > desired) {
      desired = candidate;
      *reason = std::move(why);
      *driver = kind;
      if (predictive) {
        *forecast = *d.forecast_upper;
      } else {
        forecast->reset();
      }
    }
  }
  if (desired < 0) {
    *reason = "no resource with a request and demand";
    *driver = "none";
    return current;
  }
  return desired;
}

std::vector<Decision> DecisionEngine::Evaluate(const std::vector<AllocationTenant>& tenants,
                                               const std::vector<ServiceInput>& services,
                                               std::chrono::system_clock::time_point now) {
  static const ScalingPolicy kDefault(DefaultPolicy());
  std::vector<Decision> decisions(services.size());
  std::vector<ServiceState*> states(services.size());
  std::vector<bool> off(services.size());  // off (by policy or executor mode): the replicas are kept
  AllocationInput allocation{options_.capacity_cpu_cores, options_.capacity_memory_bytes, tenants, {}};
  allocation.services.reserve(services.size());
  for (size_t i = 0; i < services.size(); ++i) {
    const ServiceInput& in = services[i];
    const Service& spec = in.spec;
    const ScalingPolicy& policy = in.policy != nullptr ? *in.policy : kDefault;
    ServiceState& st = state_[{spec.tenant, spec.name}];
    st.evaluation = evaluations_;
    states[i] = &st;
    if (in.changes_refused) {
      st.scaling.events.clear();
      st.scaling.last_scale_up = st.scaling.last_scale_down = {};
    }
    Decision& d = decisions[i];
    d.tenant = spec.tenant;
    d.service = spec.name;
    d.trigger = in.trigger;
    d.from_replicas = spec.replicas.current;
    // The service's own executor mode can only make its policy stricter.
    const bool service_off = spec.executor.mode == "off";
    const PolicyMode mode = service_off ? PolicyMode::kOff : policy.spec().mode;
    off[i] = mode == PolicyMode::kOff;
    const int64_t raw = DesiredReplicas(spec, mode, in.demand, options_.tolerance, &d.reason, &d.driver, &d.forecast);
    if (service_off) d.reason = "executor mode off";
    d.desired = mode == PolicyMode::kOff
                    ? spec.replicas.current
                    : policy.Decide(spec.replicas.current, raw, spec.replicas.min, spec.replicas.max, now, &st.scaling);
    if (mode != PolicyMode::kOff && d.desired != raw) {
      d.driver = "bounds";
      d.reason += "; behaviour and bounds give " + std::to_string(d.desired);
    }
    d.execute = mode != PolicyMode::kOff && mode != PolicyMode::kRecommendOnly &&
                spec.executor.type != "recommend-only" && spec.executor.mode == "act";
    allocation.services.push_back({spec.tenant, spec.name, spec.priority, spec.request_cpu_cores,
                                   spec.request_memory_bytes, spec.replicas.min, d.desired});
  }
  const AllocationResult granted = Allocate(allocation);
  for (size_t i = 0; i < services.size(); ++i) {
    const Service& spec = services[i].spec;
    const ScalingPolicy& policy = services[i].policy != nullptr ? *services[i].policy : kDefault;
    ServiceState& st = *states[i];
    Decision& d = decisions[i];
    const AllocationGrant& g = granted.grants[i];
    // Off keeps the replicas even when the tenant's quota or the cluster grants
    // fewer: nothing is recommended (or could be approved); the limit is named.
    d.to_replicas = off[i] ? d.desired : g.replicas;
    d.constrained = g.constrained;
    d.limited_by = g.limited_by;
    if (d.constrained) {
      d.driver = g.limited_by.find("capacity") != std::string::npos ? "capacity" : "quota";
      d.reason +=
          "; granted " + std::to_string(g.replicas) + " of " + std::to_string(d.desired) + " (" + g.limited_by + ")";
      if (off[i]) d.reason += "; off: kept at " + std::to_string(d.desired);
    }
    if (d.execute) policy.Record(d.from_replicas, d.to_replicas, now, &st.scaling);
    // Throttling: a constrained low-priority service is held to the CPU it was
    // granted; the cap stays until it has been unconstrained for release_ticks.
    const bool throttle = d.constrained && spec.priority >= Priority::kLow && spec.request_cpu_cores > 0;
    if (throttle) {
      st.cap = static_cast<double>(g.replicas) * spec.request_cpu_cores;
      st.unconstrained_ticks = 0;
    } else if (st.cap && ++st.unconstrained_ticks >= options_.release_ticks) {
      st.cap.reset();
    }
    d.cpu_cap_cores = st.cap;
  }
  // Services no longer evaluated (deleted) leave no state behind.
  std::erase_if(state_, [this](const auto& entry) { return entry.second.evaluation != evaluations_; });
  ++evaluations_;
  return decisions;
}

}  // namespace prescale::aggregator
