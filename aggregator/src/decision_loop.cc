#include "prescale/aggregator/decision_loop.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

// Every object of a kind, page by page.
Result<std::vector<StoredObject>> ListAll(ControlStore* store, ObjectKind kind) {
  std::vector<StoredObject> out;
  ListQuery q;
  q.kind = kind;
  q.limit = 1000;
  do {
    auto page = store->List(q);
    if (!page.ok()) return page.status();
    for (StoredObject& o : page->items) out.push_back(std::move(o));
    q.page_token = page->next_page_token;
  } while (!q.page_token.empty());
  return out;
}

// The service's demand key: its selector's tenant and service labels, else its own names.
DemandKey KeyOf(const Service& s, const std::string& resource) {
  auto label = [&](const char* name, const std::string& fallback) {
    auto it = s.selector.find(name);
    return it == s.selector.end() ? fallback : it->second;
  };
  return DemandKey{label("tenant", s.tenant), label("service", s.name), resource};
}

}  // namespace

DecisionLoop::DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
                           const SeriesStore* series, const Clock& clock, DecisionLoopOptions options)
    : store_(store),
      demand_(demand),
      forecasts_(forecasts),
      series_(series),
      clock_(clock),
      options_(options),
      engine_(DecisionOptions{}) {}

double DecisionLoop::AgentsTotal(const char* metric) const {
  double total = 0;
  for (const SeriesData& s : series_->Query(metric, {})) {
    if (!s.samples.empty() && std::isfinite(s.samples.back().value)) total += s.samples.back().value;
  }
  return total;
}

Status DecisionLoop::Run() {
  auto tenant_objects = ListAll(store_, ObjectKind::kTenant);
  if (!tenant_objects.ok()) return tenant_objects.status();
  auto policy_objects = ListAll(store_, ObjectKind::kPolicy);
  if (!policy_objects.ok()) return policy_objects.status();
  auto service_objects = ListAll(store_, ObjectKind::kService);
  if (!service_objects.ok()) return service_objects.status();
  if (service_objects->empty()) {
    // Nothing to decide: no capacity lookup (a walk over every raw series).
    std::lock_guard<std::mutex> lock(mu_);
    latest_.clear();
    tenants_.clear();
    tenant_use_.clear();
    return Status::Ok();
  }

  std::vector<AllocationTenant> tenants;
  for (const StoredObject& o : *tenant_objects) {
    FieldError e;
    if (auto t = ParseTenant(o.spec_json, nullptr, &e)) tenants.push_back({t->name, t->weight, t->quotas});
  }
  std::map<std::string, std::shared_ptr<const ScalingPolicy>> policies;
  for (const StoredObject& o : *policy_objects) {
    std::string error;
    if (auto p = policies_.Get(o, &error)) {
      policies[o.key.name] = std::move(p);
    } else {
      Log(LogLevel::kWarning, "decisions: " + error);
    }
  }
  policies_.Sweep();
  // Current use: the newest final minute of each demand series.
  std::map<DemandKey, double> use;
  for (const auto& [key, point] : demand_->Latest()) use[key] = point.avg;
  std::vector<ServiceInput> inputs;
  for (const StoredObject& o : *service_objects) {
    FieldError e;
    auto spec = ParseService(o.spec_json, nullptr, &e);
    if (!spec) continue;
    ServiceInput in;
    in.spec = std::move(*spec);
    auto p = policies.find(in.spec.policy);
    if (p != policies.end()) in.policy = p->second;
    const int64_t horizon_ms = (in.policy != nullptr ? in.policy->spec().horizon_seconds : 900) * 1000;
    for (const char* resource : {"cpu", "memory"}) {
      const DemandKey key = KeyOf(in.spec, resource);
      auto u = use.find(key);
      if (u == use.end()) continue;
      ResourceDemand d{resource, u->second, std::nullopt};
      // The upper bound over the policy's horizon: every forecast horizon up to
      // it (the shortest one when the policy's is shorter still).
      for (const SeriesForecast& f : forecasts_->Latest(key)) {
        if (!(f.key == key)) continue;
        for (const HorizonForecast& h : f.horizons) {
          if (h.horizon.count() <= horizon_ms || h.horizon == f.horizons.front().horizon) {
            d.forecast_upper = std::max(d.forecast_upper.value_or(h.upper), h.upper);
          }
        }
      }
      in.demand.push_back(std::move(d));
    }
    inputs.push_back(std::move(in));
  }
  // The agents' capacity walks every raw series: once a minute is enough (nodes come and go slowly).
  const auto now = clock_.Monotonic();
  if (!agents_read_ || now - agents_read_at_ >= std::chrono::minutes(1)) {
    agents_cpu_ = options_.cluster_cpu_cores > 0 ? 0 : AgentsTotal("machine_cpu_cores");
    agents_memory_ = options_.cluster_memory_bytes > 0 ? 0 : AgentsTotal("machine_memory_bytes");
    agents_read_ = true;
    agents_read_at_ = now;
  }
  const double keep = 1 - std::clamp(options_.capacity_reserve, 0.0, 1.0);
  const double cpu = (options_.cluster_cpu_cores > 0 ? options_.cluster_cpu_cores : agents_cpu_) * keep;
  const double memory = (options_.cluster_memory_bytes > 0 ? options_.cluster_memory_bytes : agents_memory_) * keep;
  engine_.SetCapacity(cpu, memory);
  std::vector<Decision> decisions = engine_.Evaluate(tenants, inputs, clock_.Now());
  // What each tenant holds after the decisions, for quota utilisation.
  std::vector<AllocationResult::TenantUse> tenant_use(tenants.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (size_t t = 0; t < tenants.size(); ++t) {
      if (tenants[t].name != inputs[i].spec.tenant) continue;
      const auto replicas = static_cast<double>(decisions[i].to_replicas);
      tenant_use[t].cpu_cores += replicas * inputs[i].spec.request_cpu_cores;
      tenant_use[t].memory_bytes += replicas * inputs[i].spec.request_memory_bytes;
      tenant_use[t].replicas += decisions[i].to_replicas;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(decisions);
  tenants_ = std::move(tenants);
  tenant_use_ = std::move(tenant_use);
  capacity_cpu_ = cpu;
  capacity_memory_ = memory;
  return Status::Ok();
}

std::vector<Decision> DecisionLoop::Latest(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Decision> out;
  for (const Decision& d : latest_) {
    if (tenant.empty() || d.tenant == tenant) out.push_back(d);
  }
  return out;
}

void DecisionLoop::AppendMetrics(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  metrics::TextWriter w(out);
  struct Gauge {
    const char* name;
    const char* help;
    double (*value)(const Decision&);
  };
  static const Gauge kGauges[] = {
      {"prescale_desired_replicas", "Replicas the decision engine grants each service (after behaviour and quotas)",
       [](const Decision& d) { return static_cast<double>(d.to_replicas); }},
      {"prescale_current_replicas", "Replicas each service runs, as last known",
       [](const Decision& d) { return static_cast<double>(d.from_replicas); }},
      {"prescale_constrained", "1 when a service is granted fewer replicas than it wants (quota or capacity)",
       [](const Decision& d) { return d.constrained ? 1.0 : 0.0; }},
      {"prescale_throttled", "The CPU cap (cores) of a throttled service; 0 when it is not throttled",
       [](const Decision& d) { return d.cpu_cap_cores.value_or(0); }},
  };
  if (!latest_.empty()) {
    for (const Gauge& g : kGauges) {
      w.Family(g.name, g.help, metrics::MetricType::kGauge);
      for (const Decision& d : latest_) w.Sample(g.name, {{"service", d.service}, {"tenant", d.tenant}}, g.value(d));
    }
  }
  w.Family("prescale_quota_utilization", "Share of each tenant's quota its granted replicas request",
           metrics::MetricType::kGauge);
  for (size_t t = 0; t < tenants_.size(); ++t) {
    const TenantQuotas& q = tenants_[t].quotas;
    const AllocationResult::TenantUse& u = tenant_use_[t];
    const std::string& name = tenants_[t].name;
    if (q.cpu_cores && *q.cpu_cores > 0) {
      w.Sample("prescale_quota_utilization", {{"resource", "cpu"}, {"tenant", name}}, u.cpu_cores / *q.cpu_cores);
    }
    if (q.memory_bytes && *q.memory_bytes > 0) {
      w.Sample("prescale_quota_utilization", {{"resource", "memory"}, {"tenant", name}},
               u.memory_bytes / *q.memory_bytes);
    }
    if (q.replicas && *q.replicas > 0) {
      w.Sample("prescale_quota_utilization", {{"resource", "replicas"}, {"tenant", name}},
               static_cast<double>(u.replicas) / static_cast<double>(*q.replicas));
    }
  }
  w.Family("prescale_cluster_capacity", "Capacity the decision engine arbitrates (after the reserve); 0: unlimited",
           metrics::MetricType::kGauge);
  w.Sample("prescale_cluster_capacity", {{"resource", "cpu"}}, capacity_cpu_);
  w.Sample("prescale_cluster_capacity", {{"resource", "memory"}}, capacity_memory_);
}

}  // namespace prescale::aggregator
