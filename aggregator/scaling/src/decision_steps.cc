#include "decision_steps.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <utility>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/base/log.h"

namespace prescale::aggregator::decision_steps {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void String(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// {"cpu": {"current": .., "model": .., "forecast_upper": ..|null}, ...}
void WriteDemand(Writer& w, const ServiceInput& input) {
  w.Key("demand");
  w.StartObject();
  for (const ResourceDemand& r : input.demand) {
    w.Key(r.resource.c_str());
    w.StartObject();
    w.Key("current");
    w.Double(std::isfinite(r.current) ? r.current : 0);
    auto model = input.models.find(r.resource);
    String(w, "model", model == input.models.end() ? std::string() : model->second);
    w.Key("forecast_upper");
    if (r.forecast_upper && std::isfinite(*r.forecast_upper)) {
      w.Double(*r.forecast_upper);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndObject();
}

void WriteTenantUse(Writer& w, const AllocationResult::TenantUse& use) {
  w.Key("tenant_use");
  w.StartObject();
  w.Key("cpu_cores");
  w.Double(use.cpu_cores);
  w.Key("memory_bytes");
  w.Double(use.memory_bytes);
  w.Key("replicas");
  w.Int64(use.replicas);
  w.EndObject();
}

// {"reason": "hpa_conflict", "by": .., "message": .., "since": RFC 3339}
void WriteHold(Writer& w, const ServiceHold& hold) {
  w.StartObject();
  String(w, "reason", hold.refusal.reason);
  String(w, "by", hold.refusal.by);
  String(w, "message", hold.refusal.message);
  String(w, "since", FormatRfc3339(hold.since_ms));
  w.EndObject();
}

// The action and what it was decided from (the audit record's after_json).
std::string DecidedFromJson(const ScaleAction& a, const Decision& d, const ServiceInput& input,
                            const AllocationResult::TenantUse* tenant_use, const ServiceHold* hold,
                            int64_t approval_seq) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  String(w, "action_id", a.id);
  w.Key("replicas");
  w.Int64(d.to_replicas);
  w.Key("desired");
  w.Int64(d.desired);
  String(w, "driver", d.driver);
  String(w, "reason", d.reason);
  String(w, "trigger", d.trigger);
  String(w, "policy", input.spec.policy);
  String(w, "executor", input.spec.executor.type);
  w.Key("constrained");
  w.Bool(d.constrained);
  String(w, "limited_by", d.limited_by);
  WriteDemand(w, input);
  w.Key("cpu_cap_cores");
  if (d.cpu_cap_cores) {
    w.Double(*d.cpu_cap_cores);
  } else {
    w.Null();
  }
  if (tenant_use != nullptr) WriteTenantUse(w, *tenant_use);
  if (hold != nullptr) {
    w.Key("hold");
    WriteHold(w, *hold);
  }
  if (approval_seq > 0) {
    w.Key("approval_seq");
    w.Int64(approval_seq);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

const char* KindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kTenant: return "tenant";
    case ObjectKind::kService: return "service";
    case ObjectKind::kPolicy: return "policy";
  }
  return "unknown";
}

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

void SpecErrors::Begin(ObjectKind kind) {
  for (auto& [key, entry] : entries_) {
    if (std::get<0>(key) == kind) entry.reported = false;
  }
}

void SpecErrors::Report(const StoredObject& object, const std::string& error) {
  auto [it, inserted] = entries_.try_emplace({object.key.kind, object.key.tenant, object.key.name});
  Entry& e = it->second;
  e.reported = true;
  if (!inserted && e.version == object.version) return;
  e.version = object.version;
  ++logged_;
  Log(LogLevel::kWarning, "decisions: " + error + " (stored " + std::string(KindName(object.key.kind)) + " version " +
                              std::to_string(object.version) + " does not parse: skipped until it changes)");
}

void SpecErrors::End(ObjectKind kind) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (std::get<0>(it->first) == kind && !it->second.reported) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t SpecErrors::Count(ObjectKind kind) const {
  return static_cast<size_t>(
      std::count_if(entries_.begin(), entries_.end(), [kind](const auto& e) { return std::get<0>(e.first) == kind; }));
}

DemandKey KeyOf(const Service& s, const std::string& resource) {
  auto label = [&](const char* name, const std::string& fallback) {
    auto it = s.selector.find(name);
    return it == s.selector.end() ? fallback : it->second;
  };
  return DemandKey{label("tenant", s.tenant), label("service", s.name), resource};
}

std::vector<AllocationTenant> ReadTenants(const std::vector<StoredObject>& tenants, SpecErrors* errors) {
  if (errors != nullptr) errors->Begin(ObjectKind::kTenant);
  std::vector<AllocationTenant> out;
  for (const StoredObject& o : tenants) {
    if (auto t = ParseTenant(o.spec_json); t.ok()) {
      out.push_back({t->name, t->weight, t->quotas});
    } else if (errors != nullptr) {
      errors->Report(o, "tenant " + o.key.name + ": " + t.status().message());
    }
  }
  if (errors != nullptr) errors->End(ObjectKind::kTenant);
  return out;
}

UseIndex CurrentUse(const DemandRollups& demand) {
  std::vector<std::pair<DemandKey, double>> current =
      demand.Recent(std::chrono::seconds(30), std::chrono::seconds(10), /*or_latest_minute=*/true);
  UseIndex use;
  use.reserve(current.size());
  for (auto& [key, value] : current) use.emplace(std::move(key), value);
  return use;
}

ForecastIndex IndexForecasts(const std::vector<SeriesForecast>& forecasts) {
  ForecastIndex out;
  out.reserve(forecasts.size());
  for (const SeriesForecast& f : forecasts) {
    if (!f.horizons.empty() && f.points >= kMinForecastMinutes) out.emplace(f.key, &f);
  }
  return out;
}

void AddDemand(const DemandKey& cpu, const DemandKey& memory, const DemandContext& context, ServiceInput* in) {
  auto p = context.policies.find(in->spec.policy);
  if (p != context.policies.end()) in->policy = p->second;
  const int64_t horizon_ms =
      (in->policy != nullptr ? in->policy->spec().horizon_seconds : kDefaultHorizonSeconds) * 1000;
  for (const auto& [resource, key] : {std::pair<const char*, const DemandKey*>{"cpu", &cpu}, {"memory", &memory}}) {
    auto u = context.use.find(*key);
    if (u == context.use.end()) continue;
    ResourceDemand d{resource, u->second, std::nullopt};
    if (auto found = context.forecasts.find(*key); found != context.forecasts.end()) {
      const SeriesForecast& f = *found->second;
      in->models[resource] = f.model;
      for (const HorizonForecast& h : f.horizons) {
        if (h.target_ms >= context.now_ms - 60'000 && h.target_ms <= context.now_ms + horizon_ms) {
          d.forecast_upper = std::max(d.forecast_upper.value_or(h.upper), h.upper);
        }
      }
      if (!d.forecast_upper) d.forecast_upper = f.horizons.front().upper;
    }
    in->demand.push_back(std::move(d));
  }
}

std::vector<AllocationResult::TenantUse> TenantUseOf(const std::vector<AllocationTenant>& tenants,
                                                     const std::vector<ServiceInput>& services,
                                                     const std::vector<Decision>& decisions) {
  std::vector<AllocationResult::TenantUse> use(tenants.size());
  std::unordered_map<std::string_view, size_t> index;
  for (size_t t = 0; t < tenants.size(); ++t) index.emplace(tenants[t].name, t);
  for (size_t i = 0; i < services.size() && i < decisions.size(); ++i) {
    auto t = index.find(services[i].spec.tenant);
    if (t == index.end()) continue;
    const auto replicas = static_cast<double>(decisions[i].to_replicas);
    use[t->second].cpu_cores += replicas * services[i].spec.request_cpu_cores;
    use[t->second].memory_bytes += replicas * services[i].spec.request_memory_bytes;
    use[t->second].replicas += decisions[i].to_replicas;
  }
  return use;
}

ScaleAction ActionOf(const Decision& d, std::string id, int64_t now_ms) {
  ScaleAction a;
  a.id = std::move(id);
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
  return a;
}

AuditRecord ActionAudit(const ScaleAction& action, const Decision& d, const ServiceInput& input,
                        const AllocationResult::TenantUse* tenant_use, const ServiceHold* hold, int64_t approval_seq) {
  AuditRecord audit;
  audit.time_ms = action.created_ms;
  audit.request_id = action.id;
  audit.actor = "decision-engine";
  audit.action = d.execute ? "scale" : "recommend";
  audit.kind = "service";
  audit.tenant = d.tenant;
  audit.name = d.service;
  audit.before_json = "{\"replicas\":" + std::to_string(d.from_replicas) + "}";
  audit.after_json = DecidedFromJson(action, d, input, tenant_use, hold, approval_seq);
  audit.message = d.reason;
  return audit;
}

std::optional<OutboxEntry> OutboxEntryFor(const ScaleAction& action, const std::string& executor_type) {
  if (executor_type != "webhook" && executor_type != "kubernetes") return std::nullopt;
  OutboxEntry entry;
  entry.action_id = action.id;
  entry.tenant = action.tenant;
  entry.service = action.service;
  entry.executor = executor_type;
  entry.payload_json = ActionJson(action);
  entry.created_ms = action.created_ms;
  entry.next_attempt_ms = action.created_ms;
  return entry;
}

}  // namespace prescale::aggregator::decision_steps
