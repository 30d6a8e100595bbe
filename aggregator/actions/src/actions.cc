#include "prescale/aggregator/actions/actions.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "prescale/base/json_writer.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

// Delivery latency buckets (seconds), as Prometheus' default ones up to 10 s.
constexpr std::array<double, 10> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace

std::string ActionJson(const ScaleAction& a) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto number = [&w](const char* key, const std::optional<double>& value) {
    w.Key(key);
    if (value && std::isfinite(*value)) {
      w.Double(*value);
    } else {
      w.Null();
    }
  };
  w.StartObject();
  WriteStringField(w, "id", a.id);
  WriteStringField(w, "tenant", a.tenant);
  WriteStringField(w, "service", a.service);
  w.Key("from_replicas");
  w.Int64(a.from_replicas);
  w.Key("to_replicas");
  w.Int64(a.to_replicas);
  WriteStringField(w, "reason", a.reason);
  WriteStringField(w, "trigger", a.trigger);
  number("forecast", a.forecast);
  w.Key("constrained");
  w.Bool(a.constrained);
  number("throttle", a.throttle);
  WriteStringField(w, "timestamp", FormatRfc3339(a.created_ms));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Result<ScaleAction> ParseActionJson(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::ParseError("an outbox action is not a JSON object");
  const rapidjson::Value& o = doc;
  ScaleAction a;
  auto str = [&o](const char* key, std::string* out) {
    if (!o.HasMember(key) || !o[key].IsString()) return false;
    *out = std::string(View(o[key]));
    return true;
  };
  auto integer = [&o](const char* key, int64_t* out) {
    if (!o.HasMember(key) || !o[key].IsInt64()) return false;
    *out = o[key].GetInt64();
    return true;
  };
  auto number = [&o](const char* key, std::optional<double>* out) {
    if (o.HasMember(key) && o[key].IsNumber()) *out = o[key].GetDouble();
  };
  std::string timestamp;
  if (!str("id", &a.id) || !str("tenant", &a.tenant) || !str("service", &a.service) ||
      !integer("from_replicas", &a.from_replicas) || !integer("to_replicas", &a.to_replicas) ||
      !str("reason", &a.reason) || !str("trigger", &a.trigger) || !str("timestamp", &timestamp)) {
    return Status::ParseError("an outbox action lacks a field");
  }
  number("forecast", &a.forecast);
  number("throttle", &a.throttle);
  a.constrained = o.HasMember("constrained") && o["constrained"].IsBool() && o["constrained"].GetBool();
  return a;
}

ActionDispatcher::ActionDispatcher(ControlStore* store, const Clock& clock, DispatcherOptions options)
    : store_(store), clock_(clock), options_(options) {}

void ActionDispatcher::AddExecutor(const std::string& type, std::unique_ptr<Executor> executor) {
  executors_[type] = std::move(executor);
}

void ActionDispatcher::AddEventSink(const std::string& type, std::unique_ptr<EventSink> sink) {
  sinks_[type] = std::move(sink);
}

void ActionDispatcher::Notify() {
  {
    std::lock_guard lock(wake_mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void ActionDispatcher::WaitForWork(std::chrono::milliseconds timeout) {
  std::unique_lock lock(wake_mu_);
  wake_.wait_for(lock, timeout, [this] { return woken_; });
  woken_ = false;
}

void ActionDispatcher::Observe(const std::string& executor, const char* result, double seconds) {
  std::lock_guard lock(mu_);
  deliveries_[{executor, result}] += 1;
  if (seconds < 0) return;
  Latency& l = latency_[executor];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) l.buckets[i] += 1;
  }
  l.count += 1;
  l.sum += seconds;
}

ExecutionResult ActionDispatcher::Attempt(const OutboxEntry& e, double* seconds) {
  if (auto sink = sinks_.find(e.executor); sink != sinks_.end()) {
    // An event: published as queued, whatever became of its service since.
    const auto started = clock_.Monotonic();
    ExecutionResult result = sink->second->Publish(e);
    *seconds = std::chrono::duration<double>(clock_.Monotonic() - started).count();
    return result;
  }
  auto action = ParseActionJson(e.payload_json);
  auto object = store_->Get(ObjectKey{ObjectKind::kService, e.tenant, e.service});
  auto executor = executors_.find(e.executor);
  ExecutionResult result;
  const Result<Service> spec = object.ok() ? ParseService(object->spec_json) : Result<Service>(object.status());
  const auto started = clock_.Monotonic();
  bool timed = false;
  if (!action.ok()) {
    result.message = action.status().message();
  } else if (!object.ok()) {
    result.message =
        object.status().code() == StatusCode::kNotFound ? "the service was deleted" : object.status().message();
    if (object.status().code() != StatusCode::kNotFound) result.outcome = ExecutionResult::Outcome::kRetry;
  } else if (!spec.ok()) {
    result.message = "the service's stored spec does not parse: " + spec.status().message();
  } else if (executor == executors_.end()) {
    result.message = "no " + e.executor + " executor is configured";
  } else {
    result = executor->second->Execute(*spec, *action);
    timed = true;
  }
  *seconds = timed ? std::chrono::duration<double>(clock_.Monotonic() - started).count() : -1.0;
  return result;
}

void ActionDispatcher::Retry(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms) {
  Observe(e.executor, "retry", seconds);
  const int64_t shift = std::min<int64_t>(e.attempts, 20);
  const int64_t backoff = std::min<int64_t>(options_.initial_backoff.count() << shift, options_.max_backoff.count());
  if (Status s = store_->RetryAction(e.action_id, now_ms + backoff, result.message); !s.ok()) {
    Log(LogLevel::kError, "actions: " + s.message());
  }
  Log(LogLevel::kWarning, std::string(sinks_.contains(e.executor) ? "event " : "action ") + e.action_id + " for " +
                              e.tenant + "/" + e.service + ": " + result.message + " (attempt " +
                              std::to_string(e.attempts + 1) + ", again in " + std::to_string(backoff) + " ms)");
}

namespace {

// The audit record of an action's end, by the executor (of `replica`, when named): `action` is
// scale.delivered, .failed or .refused.
AuditRecord ExecutorAudit(const OutboxEntry& e, const ExecutionResult& result, int64_t now_ms, std::string action,
                          const std::string& replica) {
  AuditRecord audit;
  audit.time_ms = now_ms;
  audit.actor = replica.empty() ? "executor" : "executor@" + replica;
  audit.kind = "service";
  audit.tenant = e.tenant;
  audit.name = e.service;
  audit.request_id = e.action_id;
  audit.action = std::move(action);
  audit.status = static_cast<int>(result.http_status);
  return audit;
}

}  // namespace

void ActionDispatcher::Finish(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms,
                              bool expired) {
  const bool done = result.outcome == ExecutionResult::Outcome::kDone;
  Observe(e.executor, done ? "delivered" : "failed", seconds);
  AuditRecord audit = ExecutorAudit(e, result, now_ms, done ? "scale.delivered" : "scale.failed", replica_);
  audit.message =
      result.message + (expired && !done ? " (gave up after " + std::to_string(e.attempts + 1) + " attempts)" : "");
  audit.after_json = "{\"action_id\":\"" + e.action_id + "\",\"attempts\":" + std::to_string(e.attempts + 1) +
                     ",\"executor\":\"" + e.executor + "\"}";
  if (auto s = store_->FinishAction(e.action_id, std::move(audit)); !s.ok()) {
    Log(LogLevel::kError, "actions: " + s.status().message());
  }
  if (!done) Log(LogLevel::kError, "action " + e.action_id + " failed: " + result.message);
  // The executor acted: whatever held the service is gone.
  if (done) SetHold(e.tenant, e.service, std::nullopt, now_ms);
  if (done && result.current_replicas) {
    if (Status s = store_->SetCurrentReplicas(e.tenant, e.service, *result.current_replicas, e.executor, now_ms);
        !s.ok()) {
      Log(LogLevel::kError, "actions: " + s.message());
    }
  }
}

void ActionDispatcher::FinishEvent(const OutboxEntry& e, const ExecutionResult& result, double seconds,
                                   int64_t now_ms) {
  if (result.outcome == ExecutionResult::Outcome::kDone) {
    Observe(e.executor, "delivered", seconds);
    if (Status s = store_->DropQueued(e.action_id); !s.ok()) Log(LogLevel::kError, "events: " + s.message());
    return;
  }
  Observe(e.executor, "failed", seconds);
  AuditRecord audit = ExecutorAudit(e, result, now_ms, "event.failed", replica_);
  audit.message = result.message;
  audit.after_json = "{\"event_id\":\"" + e.action_id + "\",\"attempts\":" + std::to_string(e.attempts + 1) +
                     ",\"sink\":\"" + e.executor + "\"}";
  if (auto s = store_->FinishAction(e.action_id, std::move(audit)); !s.ok()) {
    Log(LogLevel::kError, "events: " + s.status().message());
  }
  Log(LogLevel::kError, "event " + e.action_id + " for " + e.tenant + "/" + e.service + " failed: " + result.message);
}

void ActionDispatcher::FinishRefused(const OutboxEntry& e, const ExecutionResult& result, double seconds,
                                     int64_t now_ms) {
  Observe(e.executor, "refused", seconds);
  Service spec;
  std::optional<Refusal> refusal;
  std::optional<int64_t> current;
  if (Executor* executor = ExecutorOf(e.tenant, e.service, &spec); executor != nullptr) {
    // Why, as the executor tells it (its cached answer); its message alone when it cannot tell now.
    auto why = executor->WouldRefuse(spec);
    refusal = why.ok() ? *why : std::optional<Refusal>(Refusal{"refused", "", result.message});
    std::string error;
    current = executor->CurrentReplicas(spec, &error);
    if (!current && !error.empty()) {
      Log(LogLevel::kWarning, "replicas of " + e.tenant + "/" + e.service + " after a refused action: " + error);
    }
  }
  // Held before the replicas are reset below: a tick in between must not act again.
  SetHold(e.tenant, e.service, refusal, now_ms);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  WriteStringField(w, "action_id", e.action_id);
  w.Key("attempts");
  w.Int64(e.attempts + 1);
  WriteStringField(w, "executor", e.executor);
  const Refusal shown = refusal.value_or(Refusal{"refused", "", result.message});
  WriteStringField(w, "reason", shown.reason);
  WriteStringField(w, "by", shown.by);
  w.EndObject();
  AuditRecord audit = ExecutorAudit(e, result, now_ms, "scale.refused", replica_);
  audit.message = result.message;
  audit.after_json.assign(buf.GetString(), buf.GetSize());
  if (auto s = store_->FinishAction(e.action_id, std::move(audit)); !s.ok()) {
    Log(LogLevel::kError, "actions: " + s.status().message());
  }
  Log(LogLevel::kWarning,
      "action " + e.action_id + " for " + e.tenant + "/" + e.service + " refused: " + result.message);
  if (current) {
    if (Status s = store_->SetCurrentReplicas(e.tenant, e.service, *current, e.executor, now_ms); !s.ok()) {
      Log(LogLevel::kError, "actions: " + s.message());
    }
  }
}

void ActionDispatcher::SetHold(const std::string& tenant, const std::string& service,
                               const std::optional<Refusal>& refusal, int64_t now_ms) {
  std::string note;
  LogLevel level = LogLevel::kWarning;
  {
    std::lock_guard lock(holds_mu_);
    auto it = holds_.find({tenant, service});
    if (!refusal) {
      if (it == holds_.end()) return;
      const Refusal& was = it->second.refusal;
      note = "its executor acts again (no longer held: " + (was.by.empty() ? was.message : was.by) + ")";
      level = LogLevel::kInfo;
      holds_.erase(it);
    } else if (it == holds_.end()) {
      holds_.emplace(std::make_pair(tenant, service), ServiceHold{*refusal, now_ms});
      note = refusal->message;
    } else {
      if (it->second.refusal.message != refusal->message) note = refusal->message;
      it->second.refusal = *refusal;
    }
  }
  if (!note.empty()) Log(level, "service " + tenant + "/" + service + ": " + note);
}

ServiceHolds ActionDispatcher::Holds() const {
  std::lock_guard lock(holds_mu_);
  return holds_;
}

Executor* ActionDispatcher::ExecutorOf(const std::string& tenant, const std::string& service, Service* spec) {
  auto object = store_->Get(ObjectKey{ObjectKind::kService, tenant, service});
  if (!object.ok()) return nullptr;
  auto parsed = ParseService(object->spec_json);
  if (!parsed.ok()) return nullptr;
  auto executor = executors_.find(parsed->executor.type);
  if (executor == executors_.end()) return nullptr;
  *spec = std::move(parsed).value();
  return executor->second.get();
}

Result<std::vector<OutboxEntry>> ActionDispatcher::Queued() {
  if (sinks_.empty()) return store_->QueuedActions(options_.batch);
  std::vector<std::string> sinks;
  for (const auto& entry : sinks_) sinks.push_back(entry.first);
  PRESCALE_ASSIGN_OR_RETURN(std::vector<OutboxEntry> out, store_->QueuedFor(sinks, false, options_.batch));
  for (const std::string& sink : sinks) {
    PRESCALE_ASSIGN_OR_RETURN(std::vector<OutboxEntry> events, store_->QueuedFor({sink}, true, options_.batch));
    out.insert(out.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
  }
  return out;
}

size_t ActionDispatcher::RunOnce() {
  if (acting_ && !acting_()) return 0;
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  auto queued = Queued();
  if (!queued.ok()) {
    Log(LogLevel::kError, "actions: " + queued.status().message());
    return 0;
  }
  // An action waiting for its retry holds back its service's later ones: in
  // order per service. A sink's events are a lane of their own, apart from
  // the actions.
  std::set<std::tuple<std::string, std::string, std::string>> waiting;
  size_t attempted = 0;
  for (const OutboxEntry& e : *queued) {
    const bool event = sinks_.contains(e.executor);
    const auto service_key = std::make_tuple(e.tenant, e.service, event ? e.executor : std::string());
    if (waiting.contains(service_key)) continue;
    if (e.next_attempt_ms > now_ms) {
      waiting.insert(service_key);
      continue;
    }
    // A replica that lost the lease meanwhile (frozen, cut off) stops here;
    // the new leader delivers the rest, and receivers drop repeats by id.
    if (acting_ && !acting_()) break;
    double seconds = -1.0;
    const ExecutionResult result = Attempt(e, &seconds);
    ++attempted;
    const bool expired = !event && now_ms - e.created_ms >= options_.give_up_after.count();
    if (result.outcome == ExecutionResult::Outcome::kRetry && !expired) {
      Retry(e, result, seconds, now_ms);
      waiting.insert(service_key);
      continue;
    }
    if (event) {
      FinishEvent(e, result, seconds, now_ms);
      continue;
    }
    if (result.outcome == ExecutionResult::Outcome::kRefused) {
      FinishRefused(e, result, seconds, now_ms);
      continue;
    }
    Finish(e, result, seconds, now_ms, expired);
  }
  auto backlog = store_->OutboxBacklog();
  std::lock_guard lock(mu_);
  last_run_ms_ = now_ms;
  if (backlog.ok()) {
    backlog_ = backlog->first;
    oldest_ms_ = backlog->second;
  }
  return attempted;
}

size_t ActionDispatcher::RefreshReplicas() {
  if (acting_ && !acting_()) return 0;
  auto queued = Queued();
  if (!queued.ok()) return 0;
  std::set<std::pair<std::string, std::string>> pending;
  for (const OutboxEntry& e : *queued) {
    if (!sinks_.contains(e.executor)) pending.emplace(e.tenant, e.service);
  }
  // The held services not seen below (deleted, or without an executor now) are held no more.
  ServiceHolds unseen = Holds();
  size_t read = 0;
  ListQuery q;
  q.kind = ObjectKind::kService;
  q.limit = 1000;
  q.references = false;
  do {
    auto page = store_->List(q);
    if (!page.ok()) return read;
    for (const StoredObject& o : page->items) {
      const auto key = std::make_pair(o.key.tenant, o.key.name);
      const auto held = unseen.find(key);
      if (held == unseen.end() && pending.contains(key)) continue;
      auto spec = ParseService(o.spec_json);
      if (!spec.ok()) continue;
      auto executor = executors_.find(spec->executor.type);
      if (executor == executors_.end()) continue;
      if (held != unseen.end()) {
        unseen.erase(held);
        // Does the executor still refuse? When it cannot tell, the hold stays.
        auto refusal = executor->second->WouldRefuse(*spec);
        if (refusal.ok()) {
          SetHold(o.key.tenant, o.key.name, *refusal, ToUnixMillis(clock_.Now()));
        } else {
          Log(LogLevel::kDebug, "hold of " + o.key.tenant + "/" + o.key.name + ": " + refusal.status().message());
        }
        if (pending.contains(key)) continue;
      }
      std::string why;
      auto current = executor->second->CurrentReplicas(*spec, &why);
      if (!current) {
        if (!why.empty()) Log(LogLevel::kWarning, "replicas of " + o.key.tenant + "/" + o.key.name + ": " + why);
        continue;
      }
      ++read;
      const int64_t now_ms = ToUnixMillis(clock_.Now());
      if (Status s = store_->SetCurrentReplicas(o.key.tenant, o.key.name, *current, spec->executor.type, now_ms);
          !s.ok()) {
        Log(LogLevel::kError, "actions: " + s.message());
      }
    }
    q.page_token = page->next_page_token;
  } while (!q.page_token.empty());
  for (const auto& entry : unseen) SetHold(entry.first.first, entry.first.second, std::nullopt, 0);
  return read;
}

void ActionDispatcher::AppendMetrics(std::string* out) const {
  AppendDeliveryMetrics(out);
  // Executors are added before the dispatcher runs and never removed.
  for (const auto& entry : executors_) entry.second->AppendMetrics(out);
  for (const auto& entry : sinks_) entry.second->AppendMetrics(out);
}

void ActionDispatcher::AppendDeliveryMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_action_deliveries_total",
           "Attempts to deliver scaling actions, by executor and result (delivered, retry, failed, refused)",
           metrics::MetricType::kCounter);
  for (const auto& [key, count] : deliveries_) {
    w.Sample("prescale_action_deliveries_total", {{"executor", key.first}, {"result", key.second}}, count);
  }
  w.Family("prescale_action_delivery_duration_seconds", "Time an executor took to carry out one attempt",
           metrics::MetricType::kHistogram);
  for (const auto& [executor, l] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      std::ostringstream le;
      le << kBuckets[i];
      w.Sample("prescale_action_delivery_duration_seconds_bucket", {{"executor", executor}, {"le", le.str()}},
               l.buckets[i]);
    }
    w.Sample("prescale_action_delivery_duration_seconds_bucket", {{"executor", executor}, {"le", "+Inf"}}, l.count);
    w.Sample("prescale_action_delivery_duration_seconds_sum", {{"executor", executor}}, l.sum);
    w.Sample("prescale_action_delivery_duration_seconds_count", {{"executor", executor}}, l.count);
  }
  w.Family("prescale_action_outbox_size", "Scaling actions waiting in the outbox for their executor",
           metrics::MetricType::kGauge);
  w.Sample("prescale_action_outbox_size", {}, static_cast<double>(backlog_));
  w.Family("prescale_action_outbox_oldest_age_seconds", "Age of the oldest action in the outbox; 0 when empty",
           metrics::MetricType::kGauge);
  const double age = oldest_ms_ == 0 ? 0.0 : static_cast<double>(ToUnixMillis(clock_.Now()) - oldest_ms_) / 1000.0;
  w.Sample("prescale_action_outbox_oldest_age_seconds", {}, std::max(0.0, age));
  w.Family("prescale_action_dispatcher_last_run_timestamp_seconds",
           "When the dispatcher last read the outbox (Unix seconds); 0: not yet", metrics::MetricType::kGauge);
  w.Sample("prescale_action_dispatcher_last_run_timestamp_seconds", {}, static_cast<double>(last_run_ms_) / 1000.0);
}

}  // namespace prescale::aggregator
