#include "prescale/aggregator/scaling/decision_loop.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "prescale/aggregator/actions/actions.h"

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
  q.references = false;
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

constexpr size_t kMinForecastMinutes = 15;

struct DemandKeyHash {
  size_t operator()(const DemandKey& k) const {
    const std::hash<std::string> h;
    return (h(k.tenant) * 31 + h(k.service)) * 31 + h(k.resource);
  }
};

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

Status DecisionLoop::Run(const std::vector<TriggerEvent>& events) {
  // Triggers: which services they name, and the scale_up floors they start or end.
  std::map<ServiceKey, std::string> triggered;
  std::vector<const TriggerEvent*> new_floors;
  for (const TriggerEvent& e : events) {
    const ServiceKey key{e.tenant, e.service};
    if (e.resolved) {
      if (auto it = floors_.find(key); it != floors_.end()) {
        it->second.erase(e.Label());
        if (it->second.empty()) floors_.erase(it);
      }
    } else if (e.action == "scale_up") {
      new_floors.push_back(&e);
    }
    triggered[key] = e.Label();
  }
  // The objects are read again only when the store says they may have changed.
  auto generation = store_->ObjectsGeneration();
  if (!generation.ok()) return generation.status();
  if (!objects_read_ || *generation != objects_generation_) {
    auto tenants_read = ListAll(store_, ObjectKind::kTenant);
    if (!tenants_read.ok()) return tenants_read.status();
    auto policies_read = ListAll(store_, ObjectKind::kPolicy);
    if (!policies_read.ok()) return policies_read.status();
    auto services_read = ListAll(store_, ObjectKind::kService);
    if (!services_read.ok()) return services_read.status();
    tenant_objects_ = std::move(*tenants_read);
    policy_objects_ = std::move(*policies_read);
    service_objects_ = std::move(*services_read);
    objects_generation_ = *generation;
    objects_read_ = true;
    // Specs are parsed once per version; deleted services' state goes.
    parsed_list_.clear();
    for (auto& entry : parsed_services_) entry.second.seen = false;
    for (const StoredObject& o : service_objects_) {
      ParsedService& parsed = parsed_services_[{o.key.tenant, o.key.name}];
      if (parsed.version != o.version || !parsed.spec) {
        FieldError e;
        parsed.spec = ParseService(o.spec_json, nullptr, &e);
        parsed.version = o.version;
        if (parsed.spec) {
          parsed.cpu_key = KeyOf(*parsed.spec, "cpu");
          parsed.memory_key = KeyOf(*parsed.spec, "memory");
        }
      }
      parsed.seen = true;
      if (parsed.spec) parsed_list_.push_back(&parsed);
    }
    for (auto it = parsed_services_.begin(); it != parsed_services_.end();) {
      if (!it->second.seen) {  // deleted: its recommendation and alert floors go too
        recommended_.erase(it->first);
        floors_.erase(it->first);
        it = parsed_services_.erase(it);
      } else {
        ++it;
      }
    }
  }
  const std::vector<StoredObject>* tenant_objects = &tenant_objects_;
  const std::vector<StoredObject>* policy_objects = &policy_objects_;
  const std::vector<StoredObject>* service_objects = &service_objects_;
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
  // Current use: the last 30 s of each demand series (10 s for its agents to
  // push it whole), else its newest final minute.
  std::unordered_map<DemandKey, double, DemandKeyHash> use;
  {
    std::vector<std::pair<DemandKey, double>> current =
        demand_->Recent(std::chrono::seconds(30), std::chrono::seconds(10), /*or_latest_minute=*/true);
    use.reserve(current.size());
    for (auto& [key, value] : current) use.emplace(std::move(key), value);
  }
  auto statuses = store_->ServiceStatuses();
  if (!statuses.ok()) return statuses.status();
  std::map<ServiceKey, const ServiceStatus*> status_of;
  for (const ServiceStatus& st : *statuses) status_of[{st.tenant, st.service}] = &st;
  std::map<ServiceKey, std::optional<int64_t>> observed;
  // Every forecast at once, by key (one lookup per service and resource).
  const std::shared_ptr<const std::vector<SeriesForecast>> forecasts = forecasts_->LatestAll();
  std::unordered_map<DemandKey, const SeriesForecast*, DemandKeyHash> forecast_of;
  forecast_of.reserve(forecasts->size());
  for (const SeriesForecast& f : *forecasts) {
    // A forecaster with less than kMinForecastMinutes of history has an interval
    // too wide to act on (one point: 3.8x the value at 5 minutes): such a
    // service is scaled on its use alone until then.
    if (!f.horizons.empty() && f.points >= kMinForecastMinutes) forecast_of.emplace(f.key, &f);
  }
  std::vector<ServiceInput> inputs;
  inputs.reserve(service_objects->size());
  // Per service lookups by name only when something is keyed by name.
  const bool by_name = !status_of.empty() || !triggered.empty() || !floors_.empty() || !new_floors.empty();
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  for (const ParsedService* parsed : parsed_list_) {
    ServiceInput in;
    in.spec = *parsed->spec;
    if (by_name) {
      const ServiceKey service_key{in.spec.tenant, in.spec.name};
      // The replicas it runs: the last action's target (or a report's), else its spec's.
      if (auto st = status_of.find(service_key); st != status_of.end()) {
        if (st->second->target > 0) in.spec.replicas.current = st->second->target;
        observed[service_key] = st->second->current;
      }
      if (auto t = triggered.find(service_key); t != triggered.end()) in.trigger = t->second;
      for (const TriggerEvent* f : new_floors) {
        if (f->tenant == in.spec.tenant && f->service == in.spec.name) {
          floors_[service_key].emplace(f->Label(), in.spec.replicas.current + 1);
        }
      }
      if (auto f = floors_.find(service_key); f != floors_.end()) {
        for (const auto& [label, floor] : f->second) {
          in.spec.replicas.min = std::max(in.spec.replicas.min, std::min(floor, in.spec.replicas.max));
        }
      }
    }
    auto p = policies.find(in.spec.policy);
    if (p != policies.end()) in.policy = p->second;
    const int64_t horizon_ms = (in.policy != nullptr ? in.policy->spec().horizon_seconds : 900) * 1000;
    for (const auto& [resource, key] :
         {std::pair<const char*, const DemandKey*>{"cpu", &parsed->cpu_key}, {"memory", &parsed->memory_key}}) {
      auto u = use.find(*key);
      if (u == use.end()) continue;
      ResourceDemand d{resource, u->second, std::nullopt};
      // The upper bound over the policy's horizon: every forecast whose target
      // minute falls between the last minute and now + horizon (the forecasts
      // start from the newest final minute, a few minutes back), else the nearest.
      if (auto found = forecast_of.find(*key); found != forecast_of.end()) {
        const SeriesForecast& f = *found->second;
        in.models[resource] = f.model;
        for (const HorizonForecast& h : f.horizons) {
          if (h.target_ms >= now_ms - 60'000 && h.target_ms <= now_ms + horizon_ms) {
            d.forecast_upper = std::max(d.forecast_upper.value_or(h.upper), h.upper);
          }
        }
        if (!d.forecast_upper) d.forecast_upper = f.horizons.front().upper;
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
  std::unordered_map<std::string_view, size_t> tenant_index;
  for (size_t t = 0; t < tenants.size(); ++t) tenant_index.emplace(tenants[t].name, t);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto t = tenant_index.find(inputs[i].spec.tenant);
    if (t == tenant_index.end()) continue;
    const auto replicas = static_cast<double>(decisions[i].to_replicas);
    tenant_use[t->second].cpu_cores += replicas * inputs[i].spec.request_cpu_cores;
    tenant_use[t->second].memory_bytes += replicas * inputs[i].spec.request_memory_bytes;
    tenant_use[t->second].replicas += decisions[i].to_replicas;
  }
  const size_t queued = RecordActions(inputs, decisions, tenants, tenant_use);
  if (queued > 0 && notify_) notify_();
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(decisions);
  tenants_ = std::move(tenants);
  tenant_use_ = std::move(tenant_use);
  capacity_cpu_ = cpu;
  capacity_memory_ = memory;
  observed_ = std::move(observed);
  return Status::Ok();
}

size_t DecisionLoop::RecordActions(const std::vector<ServiceInput>& inputs, const std::vector<Decision>& decisions,
                                   const std::vector<AllocationTenant>& tenants,
                                   const std::vector<AllocationResult::TenantUse>& tenant_use) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  size_t queued = 0;
  for (size_t i = 0; i < decisions.size(); ++i) {
    const Decision& d = decisions[i];
    const Service& spec = inputs[i].spec;
    const ServiceKey key{d.tenant, d.service};
    if (!d.execute) {
      // Recommend-only: recorded when the recommendation changes, nothing else.
      auto last = recommended_.find(key);
      if (last != recommended_.end() ? last->second == d.to_replicas : !d.changed()) continue;
      recommended_[key] = d.to_replicas;
    } else if (!d.changed()) {
      continue;
    }
    ScaleAction a;
    a.id = "act_" + RandomHex(12);
    a.tenant = d.tenant;
    a.service = d.service;
    a.from_replicas = d.from_replicas;
    a.to_replicas = d.to_replicas;
    a.reason = d.reason;
    a.trigger = d.trigger;
    a.forecast = d.forecast;
    a.constrained = d.constrained;
    a.throttle = d.cpu_cap_cores;
    a.created_ms = now_ms;
    // The audit record: the action and what it was decided from.
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&w](const char* k, const std::string& v) {
      w.Key(k);
      w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("action_id", a.id);
    w.Key("replicas");
    w.Int64(d.to_replicas);
    w.Key("desired");
    w.Int64(d.desired);
    str("driver", d.driver);
    str("reason", d.reason);
    str("trigger", d.trigger);
    str("policy", spec.policy);
    str("executor", spec.executor.type);
    w.Key("constrained");
    w.Bool(d.constrained);
    str("limited_by", d.limited_by);
    w.Key("demand");
    w.StartObject();
    for (const ResourceDemand& r : inputs[i].demand) {
      w.Key(r.resource.c_str());
      w.StartObject();
      w.Key("current");
      w.Double(std::isfinite(r.current) ? r.current : 0);
      auto model = inputs[i].models.find(r.resource);
      str("model", model == inputs[i].models.end() ? std::string() : model->second);
      w.Key("forecast_upper");
      if (r.forecast_upper && std::isfinite(*r.forecast_upper)) {
        w.Double(*r.forecast_upper);
      } else {
        w.Null();
      }
      w.EndObject();
    }
    w.EndObject();
    w.Key("cpu_cap_cores");
    if (d.cpu_cap_cores) {
      w.Double(*d.cpu_cap_cores);
    } else {
      w.Null();
    }
    for (size_t t = 0; t < tenants.size(); ++t) {
      if (tenants[t].name != d.tenant) continue;
      w.Key("tenant_use");
      w.StartObject();
      w.Key("cpu_cores");
      w.Double(tenant_use[t].cpu_cores);
      w.Key("memory_bytes");
      w.Double(tenant_use[t].memory_bytes);
      w.Key("replicas");
      w.Int64(tenant_use[t].replicas);
      w.EndObject();
    }
    w.EndObject();
    AuditRecord audit;
    audit.time_ms = now_ms;
    audit.request_id = a.id;
    audit.actor = "decision-engine";
    audit.action = d.execute ? "scale" : "recommend";
    audit.kind = "service";
    audit.tenant = d.tenant;
    audit.name = d.service;
    audit.before_json = "{\"replicas\":" + std::to_string(d.from_replicas) + "}";
    audit.after_json = std::string(buf.GetString(), buf.GetSize());
    audit.message = d.reason;
    if (!d.execute) {
      if (auto r = store_->AppendAudit(std::move(audit)); !r.ok())
        Log(LogLevel::kError, "decisions: " + r.status().message());
      continue;
    }
    std::optional<OutboxEntry> entry;
    if (spec.executor.type == "webhook" || spec.executor.type == "kubernetes") {
      entry.emplace();
      entry->action_id = a.id;
      entry->tenant = a.tenant;
      entry->service = a.service;
      entry->executor = spec.executor.type;
      entry->payload_json = ActionJson(a);
      entry->created_ms = now_ms;
      entry->next_attempt_ms = now_ms;
    }
    if (auto r = store_->RecordAction(std::move(audit), entry, d.to_replicas); !r.ok()) {
      Log(LogLevel::kError, "decisions: action for " + d.tenant + "/" + d.service + ": " + r.status().message());
      continue;
    }
    if (entry) ++queued;
    std::lock_guard<std::mutex> lock(mu_);
    actions_[{d.tenant, d.service, d.to_replicas > d.from_replicas ? "up" : "down", d.driver}] += 1;
  }
  return queued;
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
    w.Family("prescale_current_replicas",
             "Replicas each service runs: as its executor or a report last said, else the last target set",
             metrics::MetricType::kGauge);
    for (const Decision& d : latest_) {
      auto o = observed_.find({d.tenant, d.service});
      const bool known = o != observed_.end() && o->second.has_value();
      w.Sample("prescale_current_replicas", {{"service", d.service}, {"tenant", d.tenant}},
               static_cast<double>(known ? *o->second : d.from_replicas));
    }
  }
  w.Family("prescale_scaling_actions_total",
           "Scaling actions decided, by direction and what drove them (forecast, use, quota, capacity, bounds)",
           metrics::MetricType::kCounter);
  for (const auto& [key, count] : actions_) {
    const auto& [tenant, service, direction, driver] = key;
    w.Sample("prescale_scaling_actions_total",
             {{"direction", direction}, {"reason", driver}, {"service", service}, {"tenant", tenant}}, count);
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
