#include "prescale/aggregator/scaling/decision_loop.h"

#include <algorithm>
#include <utility>

#include "decision_steps.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

namespace steps = decision_steps;

DecisionLoop::DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
                           const SeriesStore* series, const Clock& clock, DecisionLoopOptions options,
                           std::function<std::string()> new_action_id)
    : store_(store),
      demand_(demand),
      forecasts_(forecasts),
      clock_(clock),
      options_(options),
      new_action_id_(std::move(new_action_id)),
      capacity_source_(MakeCapacitySource({options.cluster_cpu_cores, options.cluster_memory_bytes}, series, clock)),
      engine_(DecisionOptions{}),
      spec_errors_(std::make_unique<steps::SpecErrors>()) {}

DecisionLoop::~DecisionLoop() = default;

Status DecisionLoop::Run(const std::vector<TriggerEvent>& events, bool act) {
  const auto started = clock_.Monotonic();
  Status done = RunTick(events, act);
  const std::chrono::duration<double> took = clock_.Monotonic() - started;
  std::lock_guard<std::mutex> lock(mu_);
  last_duration_s_ = took.count();
  if (done.ok()) {
    ++runs_ok_;
    last_success_s_ = static_cast<double>(ToUnixMillis(clock_.Now())) / 1000.0;
  } else {
    ++runs_failed_;
  }
  return done;
}

Status DecisionLoop::RunTick(const std::vector<TriggerEvent>& events, bool act) {
  const Triggers triggers = TakeTriggers(events);
  PRESCALE_RETURN_IF_ERROR(RefreshObjects());
  if (service_objects_.empty()) {
    // Nothing to decide: no capacity lookup (a walk over every raw series).
    std::lock_guard<std::mutex> lock(mu_);
    latest_.clear();
    latest_held_.clear();
    tenants_.clear();
    tenant_use_.clear();
    CountSpecErrorsLocked();
    return Status::Ok();
  }
  const ServiceHolds holds = holds_ ? holds_() : ServiceHolds();
  PRESCALE_ASSIGN_OR_RETURN(Inputs inputs, BuildInputs(triggers, holds));
  const Capacity capacity = AfterReserve(capacity_source_->Read(), options_.capacity_reserve);
  engine_.SetCapacity(capacity.cpu_cores, capacity.memory_bytes);
  std::vector<Decision> decisions = engine_.Evaluate(inputs.tenants, inputs.services, clock_.Now());
  ExplainHolds(&inputs, &decisions);
  std::vector<AllocationResult::TenantUse> tenant_use = steps::TenantUseOf(inputs.tenants, inputs.services, decisions);
  // A trigger's event goes before the events of the actions it brought.
  size_t queued = act && !sinks_.empty() ? RecordTriggerEvents(events) : 0;
  if (act) queued += RecordActions(inputs, decisions, tenant_use);
  if (act) queued += UseApprovals(inputs, tenant_use, &decisions);
  if (queued > 0 && notify_) notify_();
  ServiceHolds held;
  for (auto& [key, h] : inputs.held) held.emplace(key, std::move(h.hold));
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(decisions);
  latest_held_ = std::move(held);
  tenants_ = std::move(inputs.tenants);
  tenant_use_ = std::move(tenant_use);
  capacity_cpu_ = capacity.cpu_cores;
  capacity_memory_ = capacity.memory_bytes;
  observed_ = std::move(inputs.observed);
  CountSpecErrorsLocked();
  return Status::Ok();
}

DecisionLoop::Triggers DecisionLoop::TakeTriggers(const std::vector<TriggerEvent>& events) {
  Triggers out;
  for (const TriggerEvent& e : events) {
    const ServiceKey key{e.tenant, e.service};
    if (e.resolved) {
      if (auto it = floors_.find(key); it != floors_.end()) {
        it->second.erase(e.Label());
        if (it->second.empty()) floors_.erase(it);
      }
    } else if (e.action == "scale_up") {
      out.new_floors.push_back(&e);
    }
    out.label[key] = e.Label();
  }
  return out;
}

Status DecisionLoop::RefreshObjects() {
  // The objects are read again only when the store says they may have changed.
  auto generation = store_->ObjectsGeneration();
  if (!generation.ok()) return generation.status();
  generation_now_ = *generation;
  if (objects_read_ && *generation == objects_generation_) return Status::Ok();
  auto tenants_read = steps::ListAll(store_, ObjectKind::kTenant);
  if (!tenants_read.ok()) return tenants_read.status();
  auto policies_read = steps::ListAll(store_, ObjectKind::kPolicy);
  if (!policies_read.ok()) return policies_read.status();
  auto services_read = steps::ListAll(store_, ObjectKind::kService);
  if (!services_read.ok()) return services_read.status();
  tenant_objects_ = std::move(*tenants_read);
  policy_objects_ = std::move(*policies_read);
  service_objects_ = std::move(*services_read);
  objects_generation_ = *generation;
  objects_read_ = true;
  ParseServices();
  return Status::Ok();
}

void DecisionLoop::ParseServices() {
  // Specs are parsed once per version; deleted services' state goes.
  parsed_list_.clear();
  for (auto& entry : parsed_services_) entry.second.seen = false;
  spec_errors_->Begin(ObjectKind::kService);
  for (const StoredObject& o : service_objects_) {
    ParsedService& parsed = parsed_services_[{o.key.tenant, o.key.name}];
    if (parsed.version != o.version || !parsed.spec) {
      Result<Service> spec = ParseService(o.spec_json);
      parsed.version = o.version;
      if (spec.ok()) {
        parsed.spec = std::move(spec).value();
        parsed.cpu_key = steps::KeyOf(*parsed.spec, "cpu");
        parsed.memory_key = steps::KeyOf(*parsed.spec, "memory");
      } else {
        parsed.spec.reset();
        spec_errors_->Report(o, "service " + o.key.tenant + "/" + o.key.name + ": " + spec.status().message());
      }
    }
    parsed.seen = true;
    if (parsed.spec) parsed_list_.push_back(&parsed);
  }
  spec_errors_->End(ObjectKind::kService);
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

Result<DecisionLoop::Inputs> DecisionLoop::BuildInputs(const Triggers& triggers, const ServiceHolds& holds) {
  Inputs out;
  out.tenants = steps::ReadTenants(tenant_objects_, spec_errors_.get());
  const std::map<std::string, std::shared_ptr<const ScalingPolicy>> policies = ReadPolicies();
  const steps::UseIndex use = steps::CurrentUse(*demand_);
  auto statuses = store_->ServiceStatuses();
  if (!statuses.ok()) return statuses.status();
  std::map<ServiceKey, const ServiceStatus*> status_of;
  for (const ServiceStatus& st : *statuses) status_of[{st.tenant, st.service}] = &st;
  // Every forecast at once, by key (one lookup per service and resource).
  const std::shared_ptr<const std::vector<SeriesForecast>> forecasts = forecasts_->LatestAll();
  const steps::ForecastIndex forecast_of = steps::IndexForecasts(*forecasts);
  const steps::DemandContext context{use, forecast_of, policies, ToUnixMillis(clock_.Now())};
  // Per service lookups by name only when something is keyed by name.
  const bool by_name = !status_of.empty() || !triggers.label.empty() || !floors_.empty() ||
                       !triggers.new_floors.empty() || !holds.empty();
  out.services.reserve(parsed_list_.size());
  for (const ParsedService* parsed : parsed_list_) {
    ServiceInput in;
    in.spec = *parsed->spec;
    if (by_name) ApplyServiceState(triggers, status_of, holds, &in, &out);
    steps::AddDemand(parsed->cpu_key, parsed->memory_key, context, &in);
    out.services.push_back(std::move(in));
  }
  return out;
}

std::map<std::string, std::shared_ptr<const ScalingPolicy>> DecisionLoop::ReadPolicies() {
  std::map<std::string, std::shared_ptr<const ScalingPolicy>> out;
  spec_errors_->Begin(ObjectKind::kPolicy);
  for (const StoredObject& o : policy_objects_) {
    std::string error;
    if (auto p = policies_.Get(o, &error)) {
      out[o.key.name] = std::move(p);
    } else {
      spec_errors_->Report(o, error);
    }
  }
  spec_errors_->End(ObjectKind::kPolicy);
  policies_.Sweep();
  return out;
}

void DecisionLoop::ApplyServiceState(const Triggers& triggers,
                                     const std::map<ServiceKey, const ServiceStatus*>& status_of,
                                     const ServiceHolds& holds, ServiceInput* in, Inputs* out) {
  const ServiceKey key{in->spec.tenant, in->spec.name};
  // The replicas it runs: the last action's target (or a report's), else its spec's.
  if (auto st = status_of.find(key); st != status_of.end()) {
    if (st->second->target > 0) in->spec.replicas.current = st->second->target;
    out->observed[key] = st->second->current;
  }
  // Held: decided as recommend-only, so that the engine neither counts the
  // change in the policy's rate limits nor asks for an action; and the change
  // refused before the hold is forgotten (it was never made).
  if (auto h = holds.find(key); h != holds.end()) {
    out->held.emplace(key, Held{h->second, in->spec.executor.type});
    in->spec.executor.type = "recommend-only";
    in->changes_refused = true;
  }
  if (auto t = triggers.label.find(key); t != triggers.label.end()) in->trigger = t->second;
  for (const TriggerEvent* f : triggers.new_floors) {
    if (f->tenant == in->spec.tenant && f->service == in->spec.name) {
      floors_[key].emplace(f->Label(), in->spec.replicas.current + 1);
    }
  }
  if (auto f = floors_.find(key); f != floors_.end()) {
    ReplicaSpec& r = in->spec.replicas;
    for (const auto& [label, floor] : f->second) r.min = std::max(r.min, std::min(floor, r.max));
  }
}

void DecisionLoop::ExplainHolds(Inputs* inputs, std::vector<Decision>* decisions) {
  if (inputs->held.empty()) return;
  for (size_t i = 0; i < inputs->services.size() && i < decisions->size(); ++i) {
    Service& spec = inputs->services[i].spec;
    auto h = inputs->held.find({spec.tenant, spec.name});
    if (h == inputs->held.end()) continue;
    spec.executor.type = h->second.executor;  // the audit record names the executor that refuses
    (*decisions)[i].reason += "; " + h->second.hold.refusal.message;
  }
}

size_t DecisionLoop::RecordActions(const Inputs& inputs, const std::vector<Decision>& decisions,
                                   const std::vector<AllocationResult::TenantUse>& tenant_use) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  size_t queued = 0;
  for (size_t i = 0; i < decisions.size(); ++i) {
    const Decision& d = decisions[i];
    if (!WantsAction(d)) continue;
    const AllocationResult::TenantUse* use = nullptr;
    for (size_t t = 0; t < inputs.tenants.size() && use == nullptr; ++t) {
      if (inputs.tenants[t].name == d.tenant) use = &tenant_use[t];
    }
    const ServiceHold* hold = nullptr;
    if (auto h = inputs.held.find({d.tenant, d.service}); h != inputs.held.end()) hold = &h->second.hold;
    if (RecordAction(d, inputs.services[i], use, hold, now_ms)) ++queued;
  }
  return queued;
}

size_t DecisionLoop::UseApprovals(const Inputs& inputs, const std::vector<AllocationResult::TenantUse>& tenant_use,
                                  std::vector<Decision>* latest) {
  const std::vector<Decision>& decisions = *latest;
  // An approval changes the store's generation: read again only when it did,
  // or when an approval was left for a later tick.
  if (approvals_read_ && !approvals_left_ && approvals_generation_ == generation_now_) return 0;
  auto pending = store_->PendingApprovals();
  if (!pending.ok()) {
    Log(LogLevel::kError, "decisions: approvals: " + pending.status().message());
    return 0;
  }
  approvals_read_ = true;
  approvals_left_ = false;
  approvals_generation_ = generation_now_;
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  size_t queued = 0;
  for (const Approval& approval : *pending) {
    size_t i = 0;
    while (i < decisions.size() &&
           (decisions[i].tenant != approval.tenant || decisions[i].service != approval.service)) {
      ++i;
    }
    const std::string why = i < decisions.size() ? ApprovalRefusal(approval, decisions[i], inputs.services[i], inputs)
                                                 : "the service is not decided any more (deleted, or its spec does "
                                                   "not parse)";
    if (!why.empty()) {
      SkipApproval(approval, why, now_ms);
      continue;
    }
    // The recommendation as approved, carried out as an action of its own.
    Decision d = decisions[i];
    d.execute = true;
    d.trigger = "approval:" + approval.actor;
    d.reason += "; approved by " + approval.actor + " (audit record " + std::to_string(approval.seq) + ")";
    const AllocationResult::TenantUse* use = nullptr;
    for (size_t t = 0; t < inputs.tenants.size() && use == nullptr; ++t) {
      if (inputs.tenants[t].name == d.tenant) use = &tenant_use[t];
    }
    if (!RecordAction(d, inputs.services[i], use, nullptr, now_ms, &approval)) continue;
    ++queued;
    recommended_.erase({d.tenant, d.service});  // recommending again from the new replicas
    // Carried out: the service runs what was recommended, so nothing is pending any more.
    (*latest)[i].from_replicas = d.to_replicas;
    (*latest)[i].trigger = d.trigger;
  }
  return queued;
}

std::string DecisionLoop::ApprovalRefusal(const Approval& approval, const Decision& d, const ServiceInput& input,
                                          const Inputs& inputs) {
  if (auto h = inputs.held.find({d.tenant, d.service}); h != inputs.held.end()) {
    return "the service is held: " + h->second.hold.refusal.message;
  }
  const std::string& executor = input.spec.executor.type;
  if (executor != "webhook" && executor != "kubernetes") {
    return "its executor is " + executor + ": nothing could act";
  }
  if (d.execute) return "the service acts on its own now (its policy or executor changed)";
  if (d.to_replicas != approval.replicas) {
    return "the recommendation is " + std::to_string(d.to_replicas) + " replicas now, not the " +
           std::to_string(approval.replicas) + " approved";
  }
  if (!d.changed()) return "it runs " + std::to_string(d.to_replicas) + " replicas already";
  return "";
}

void DecisionLoop::SkipApproval(const Approval& approval, const std::string& why, int64_t now_ms) {
  AuditRecord audit;
  audit.time_ms = now_ms;
  audit.actor = replica_.empty() ? "decision-engine" : "decision-engine@" + replica_;
  audit.action = "approve.skipped";
  audit.kind = "service";
  audit.tenant = approval.tenant;
  audit.name = approval.service;
  audit.after_json =
      "{\"replicas\":" + std::to_string(approval.replicas) + ",\"approval_seq\":" + std::to_string(approval.seq) + "}";
  audit.message = "approval " + std::to_string(approval.seq) + " by " + approval.actor + " not carried out: " + why;
  auto r = store_->UseApproval(approval.seq, audit, {}, std::nullopt);
  if (r.ok()) {
    Log(LogLevel::kInfo, "decisions: " + approval.tenant + "/" + approval.service + ": " + audit.message);
  } else if (r.status().code() != StatusCode::kNotFound) {  // kNotFound: used or replaced meanwhile
    approvals_left_ = true;
    Log(LogLevel::kError, "decisions: approval " + std::to_string(approval.seq) + ": " + r.status().message());
  }
}

bool DecisionLoop::WantsAction(const Decision& d) {
  const ServiceKey key{d.tenant, d.service};
  if (d.execute) {
    // Acting (again): a later hold starts its recommendations afresh.
    if (!recommended_.empty()) recommended_.erase(key);
    return d.changed();
  }
  // Recommend-only: recorded when the recommendation changes, nothing else.
  auto last = recommended_.find(key);
  if (last != recommended_.end() ? last->second == d.to_replicas : !d.changed()) return false;
  recommended_[key] = d.to_replicas;
  return true;
}

bool DecisionLoop::RecordAction(const Decision& d, const ServiceInput& input,
                                const AllocationResult::TenantUse* tenant_use, const ServiceHold* hold, int64_t now_ms,
                                const Approval* approval) {
  const ScaleAction a = steps::ActionOf(d, new_action_id_(), now_ms);
  AuditRecord audit = steps::ActionAudit(a, d, input, tenant_use, hold, approval != nullptr ? approval->seq : 0);
  if (!replica_.empty()) audit.actor += "@" + replica_;
  const std::optional<OutboxEntry> entry =
      d.execute ? steps::OutboxEntryFor(a, input.spec.executor.type) : std::optional<OutboxEntry>();
  if (approval != nullptr) {
    // The approval is used in the action's transaction: once, by the leader only.
    std::vector<OutboxEntry> entries;
    if (entry) entries.push_back(*entry);
    if (!sinks_.empty()) {
      for (OutboxEntry& e : ActionEvents(a, kEventAction, input.spec.executor.type)) entries.push_back(std::move(e));
    }
    auto r = store_->UseApproval(approval->seq, std::move(audit), entries, d.to_replicas);
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kNotFound) approvals_left_ = true;
      Log(LogLevel::kError,
          "decisions: approved action for " + d.tenant + "/" + d.service + ": " + r.status().message());
      return false;
    }
  } else if (!sinks_.empty()) {
    // With its events, in the same transaction; a recommendation sets no target.
    std::vector<OutboxEntry> entries;
    if (entry) entries.push_back(*entry);
    for (OutboxEntry& e : ActionEvents(a, d.execute ? kEventAction : kEventRecommendation, input.spec.executor.type)) {
      entries.push_back(std::move(e));
    }
    auto r = store_->RecordAndQueue(std::move(audit), entries,
                                    d.execute ? std::optional<int64_t>(d.to_replicas) : std::nullopt);
    if (!r.ok()) {
      Log(LogLevel::kError, "decisions: action for " + d.tenant + "/" + d.service + ": " + r.status().message());
      return false;
    }
    if (!d.execute) return true;  // its events wake the dispatcher
  } else if (!d.execute) {
    if (auto r = store_->AppendAudit(std::move(audit)); !r.ok()) {
      Log(LogLevel::kError, "decisions: " + r.status().message());
    }
    return false;
  } else if (auto r = store_->RecordAction(std::move(audit), entry, d.to_replicas); !r.ok()) {
    Log(LogLevel::kError, "decisions: action for " + d.tenant + "/" + d.service + ": " + r.status().message());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  actions_[{d.tenant, d.service, d.to_replicas > d.from_replicas ? "up" : "down", d.driver}] += 1;
  return entry.has_value() || !sinks_.empty();
}

std::string DecisionLoop::NewEventId() {
  std::string id = new_action_id_();
  return "evt_" + (id.starts_with("act_") ? id.substr(4) : id);
}

std::vector<OutboxEntry> DecisionLoop::ActionEvents(const ScaleAction& a, std::string_view kind,
                                                    const std::string& executor) {
  ScalingEvent event;
  event.id = NewEventId();
  event.kind = std::string(kind);
  event.tenant = a.tenant;
  event.service = a.service;
  event.time_ms = a.created_ms;
  event.replica = replica_;
  event.action = a;
  event.executor = executor;
  std::vector<OutboxEntry> out;
  for (const std::string& sink : sinks_) {
    out.push_back(EventOutboxEntry(event, sink));
    event.id = NewEventId();  // each sink's entry has an id of its own
  }
  return out;
}

size_t DecisionLoop::RecordTriggerEvents(const std::vector<TriggerEvent>& events) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  size_t queued = 0;
  for (const TriggerEvent& t : events) {
    ScalingEvent event;
    event.kind = std::string(kEventTrigger);
    event.tenant = t.tenant;
    event.service = t.service;
    event.time_ms = now_ms;
    event.replica = replica_;
    event.trigger = EventTrigger{t.source, t.name, t.action, t.resolved};
    std::vector<OutboxEntry> entries;
    for (const std::string& sink : sinks_) {
      event.id = NewEventId();
      entries.push_back(EventOutboxEntry(event, sink));
    }
    if (auto r = store_->RecordAndQueue(std::nullopt, entries, std::nullopt); !r.ok()) {
      Log(LogLevel::kError, "decisions: trigger event for " + t.tenant + "/" + t.service + ": " + r.status().message());
      continue;
    }
    queued += entries.size();
  }
  return queued;
}

void DecisionLoop::CountSpecErrorsLocked() {
  for (ObjectKind kind : {ObjectKind::kTenant, ObjectKind::kService, ObjectKind::kPolicy}) {
    unparsable_[static_cast<size_t>(kind)] = static_cast<double>(spec_errors_->Count(kind));
  }
}

std::vector<Decision> DecisionLoop::Latest(const std::string& tenant, ServiceHolds* held) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Decision> out;
  for (const Decision& d : latest_) {
    if (tenant.empty() || d.tenant == tenant) out.push_back(d);
  }
  if (held != nullptr) {
    held->clear();
    for (const auto& [key, hold] : latest_held_) {
      if (tenant.empty() || key.first == tenant) held->emplace(key, hold);
    }
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
  w.Family("prescale_decision_loop_runs_total", "Decision ticks run, by result (ok, error: logged)",
           metrics::MetricType::kCounter);
  w.Sample("prescale_decision_loop_runs_total", {{"result", "error"}}, runs_failed_);
  w.Sample("prescale_decision_loop_runs_total", {{"result", "ok"}}, runs_ok_);
  w.Family("prescale_decision_loop_last_success_timestamp_seconds",
           "When the last decision tick that succeeded ended (Unix seconds); 0 before the first",
           metrics::MetricType::kGauge);
  w.Sample("prescale_decision_loop_last_success_timestamp_seconds", {}, last_success_s_);
  w.Family("prescale_decision_loop_duration_seconds", "How long the last decision tick took",
           metrics::MetricType::kGauge);
  w.Sample("prescale_decision_loop_duration_seconds", {}, last_duration_s_);
  w.Family("prescale_decision_unparsable_specs",
           "Stored objects the decision engine skips because their spec does not parse (each logged once per version)",
           metrics::MetricType::kGauge);
  for (ObjectKind kind : {ObjectKind::kPolicy, ObjectKind::kService, ObjectKind::kTenant}) {
    w.Sample("prescale_decision_unparsable_specs", {{"kind", steps::KindName(kind)}},
             unparsable_[static_cast<size_t>(kind)]);
  }
}

}  // namespace prescale::aggregator
