#include "prescale/aggregator/api/scaling_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <initializer_list>
#include <map>

#include "json_envelope.h"
#include "prescale/aggregator/scaling/directives.h"
#include "prescale/base/json_depth.h"
#include "prescale/base/log.h"
#include "prescale/decide/control_model.h"
#include "prescale/http/query_string.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

// None of these routes lets an anonymous caller through, allow_anonymous_push or not.
const Access kDecisionReaders{.roles = {Role::kAdmin, Role::kOperator, Role::kViewer}, .tenant_bound = true};
// Agents read the caps of the node they ask for (agent tokens are not bound to a
// node: one Secret serves a DaemonSet); operators and viewers see only their
// tenant's services' caps on any node.
const Access kDirectiveReaders{.roles = {Role::kAgent, Role::kAdmin, Role::kOperator, Role::kViewer},
                               .tenant_bound = true};
// Operators send alerts about their own tenant only (the handler checks each alert).
const Access kAlertSenders{.roles = {Role::kAdmin, Role::kOperator, Role::kAgent}, .tenant_bound = true};
const Access kReplicaReporters{.roles = {Role::kAdmin, Role::kOperator, Role::kAgent}, .tenant_bound = true};
// Operators approve their own tenant's recommendations (the front checks the path's tenant).
const Access kApprovers{.roles = {Role::kAdmin, Role::kOperator}, .tenant_bound = true, .rate_limited = true};

// The query parameters in `names` (empty when absent); any other is refused naming it.
Result<std::map<std::string, std::string>> Params(std::string_view query, std::initializer_list<const char*> names) {
  PRESCALE_ASSIGN_OR_RETURN(auto params, http::ParseQueryString(query));
  std::map<std::string, std::string> out;
  for (const char* name : names) out[name];
  for (auto& [key, v] : params) {
    auto it = out.find(key);
    if (it == out.end()) return Status::InvalidArgument("unknown parameter " + key).WithField(key);
    it->second = std::move(v);
  }
  return out;
}

void WriteOptionalDouble(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

// null, or why the service only recommends: {"reason","by","message","since"}.
void WriteHold(JsonWriter& w, const ServiceHold* hold) {
  w.Key("hold");
  if (hold == nullptr) {
    w.Null();
    return;
  }
  w.StartObject();
  WriteStringField(w, "reason", hold->refusal.reason);
  WriteStringField(w, "by", hold->refusal.by);
  WriteStringField(w, "message", hold->refusal.message);
  WriteStringField(w, "since", FormatRfc3339(hold->since_ms));
  w.EndObject();
}

void WriteDecision(JsonWriter& w, const Decision& d, const ServiceHold* hold) {
  w.StartObject();
  WriteStringField(w, "tenant", d.tenant);
  WriteStringField(w, "service", d.service);
  w.Key("from_replicas");
  w.Int64(d.from_replicas);
  w.Key("to_replicas");
  w.Int64(d.to_replicas);
  w.Key("desired");
  w.Int64(d.desired);
  WriteStringField(w, "reason", d.reason);
  WriteStringField(w, "trigger", d.trigger);
  w.Key("constrained");
  w.Bool(d.constrained);
  WriteStringField(w, "limited_by", d.limited_by);
  WriteOptionalDouble(w, "cpu_cap_cores", d.cpu_cap_cores);
  w.Key("execute");
  w.Bool(d.execute);
  WriteStringField(w, "driver", d.driver);
  WriteOptionalDouble(w, "forecast", d.forecast);
  WriteHold(w, hold);
  w.EndObject();
}

std::string Finish(const rapidjson::StringBuffer& buf) { return {buf.GetString(), buf.GetSize()}; }

}  // namespace

ScalingApi::ScalingApi(const DecisionLoop* decisions, const SeriesStore* series, ControlStore* control,
                       TriggerBus* triggers, const Clock& clock, ScalingApiOptions options)
    : decisions_(decisions),
      series_(series),
      control_(control),
      triggers_(triggers),
      clock_(clock),
      options_(options) {}

std::vector<RouteSpec> ScalingApi::Routes() {
  return {
      {"GET", "/api/v1/decisions", "decisions", kDecisionReaders, [this](Call& c) { return Decisions(c); }, {}},
      {"GET", "/api/v1/directives", "directives", kDirectiveReaders, [this](Call& c) { return Directives(c); }, {}},
      {"POST",
       "/api/v1/alerts/alertmanager",
       "alerts_alertmanager",
       kAlertSenders,
       [this](Call& c) { return Alertmanager(c); },
       {}},
      {"POST",
       "/api/v1/tenants/{tenant}/services/{service}/replicas",
       "replicas_report",
       kReplicaReporters,
       [this](Call& c) { return ReplicasReport(c); },
       {}},
      {"POST", "/api/v1/tenants/{tenant}/services/{service}/approve", "approve", kApprovers,
       [this](Call& c) { return Approve(c); },
       [this](const Call& c, const http::HttpResponse& r) { AuditRefusedApproval(c, r); }},
  };
}

Result<http::HttpResponse> ScalingApi::Decisions(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto params, Params(call.request.query, {"tenant"}));
  std::string& tenant = params["tenant"];
  PRESCALE_RETURN_IF_ERROR(call.BindTenant(&tenant));
  http::HttpResponse r;
  r.content_type = "application/json";
  ServiceHolds held;
  const std::vector<Decision> decisions = decisions_->Latest(tenant, &held);
  r.body = RenderSuccessJson([&](JsonWriter& w) {
    for (const Decision& d : decisions) {
      auto h = held.find({d.tenant, d.service});
      WriteDecision(w, d, h == held.end() ? nullptr : &h->second);
    }
  });
  return r;
}

Result<http::HttpResponse> ScalingApi::Directives(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto params, Params(call.request.query, {"node", "tenant"}));
  const std::string& node = params["node"];
  if (node.empty()) return Status::InvalidArgument("node is required").WithField("node");
  std::string& tenant = params["tenant"];  // empty: every tenant's caps
  PRESCALE_RETURN_IF_ERROR(call.BindTenant(&tenant));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "node", node);
  w.Key("lease_seconds");
  w.Int64(std::max<int64_t>(1, options_.directive_lease.count() / 1000));
  w.Key("directives");
  w.StartArray();
  std::optional<std::vector<PublishedCap>> caps = published_ ? published_() : std::nullopt;
  if (!caps) {
    caps = CapsOf(decisions_->Latest(tenant));
  } else if (!tenant.empty()) {
    std::erase_if(*caps, [&tenant](const PublishedCap& c) { return c.tenant != tenant; });
  }
  for (const NodeDirective& d : DirectivesForNode(*caps, *series_, node)) {
    w.StartObject();
    WriteStringField(w, "tenant", d.tenant);
    WriteStringField(w, "service", d.service);
    w.Key("cpu_cores");
    w.Double(d.cpu_cores);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return JsonResponse(200, Finish(buf));
}

Result<http::HttpResponse> ScalingApi::Alertmanager(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto alerts, ParseAlertmanagerWebhook(call.request.body));
  // An operator's alerts concern its own tenant only: all refused when one does not.
  if (call.principal.role == Role::kOperator) {
    for (const AlertmanagerAlert& a : alerts) {
      if (!a.tenant.empty() && a.tenant != call.principal.tenant) {
        return Status::PermissionDenied("this token is bound to tenant " + call.principal.tenant).WithField("tenant");
      }
    }
  }
  int64_t triggered = 0, repeats = 0, ignored = 0;
  for (const AlertmanagerAlert& a : alerts) {
    const bool known_action = a.action.empty() || a.action == "evaluate" || a.action == "scale_up";
    if (a.tenant.empty() || a.service.empty() || !known_action) {
      ++ignored;
      continue;
    }
    if (!alerts_.Observe(a)) {
      ++repeats;
      continue;
    }
    TriggerEvent e;
    e.source = "alertmanager";
    e.name = a.fingerprint;
    e.tenant = a.tenant;
    e.service = a.service;
    if (!a.action.empty()) e.action = a.action;
    e.resolved = a.status == "resolved";
    if (triggers_->Publish(std::move(e))) ++triggered;
  }
  {
    std::lock_guard lock(alerts_mu_);
    alerts_received_["triggered"] += static_cast<double>(triggered);
    alerts_received_["repeat"] += static_cast<double>(repeats);
    alerts_received_["ignored"] += static_cast<double>(ignored);
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "status", "success");
  w.Key("data");
  w.StartObject();
  w.Key("alerts");
  w.Int64(static_cast<int64_t>(alerts.size()));
  w.Key("triggered");
  w.Int64(triggered);
  w.Key("repeats");
  w.Int64(repeats);
  w.Key("ignored");
  w.Int64(ignored);
  w.EndObject();
  w.EndObject();
  return JsonResponse(200, Finish(buf));
}

Result<http::HttpResponse> ScalingApi::ReplicasReport(Call& call) {
  const std::string tenant(call.request.PathParam("tenant"));
  const std::string service(call.request.PathParam("service"));
  PRESCALE_RETURN_IF_ERROR(CheckJsonDepth(call.request.body));
  PRESCALE_RETURN_IF_ERROR(CheckJsonEscapes(call.request.body));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(call.request.body.data(),
                                                                                    call.request.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument("expected a JSON object {\"current\": N}");
  }
  const rapidjson::Value& value = doc;
  if (!value.HasMember("current") || !value["current"].IsInt64() || value["current"].GetInt64() < 0) {
    return Status::Unprocessable("expected a whole number >= 0").WithField("current");
  }
  const int64_t current = value["current"].GetInt64();
  auto object = control_->Get(ObjectKey{ObjectKind::kService, tenant, service});
  if (!object.ok()) {
    if (object.status().code() == StatusCode::kNotFound) return Status::NotFound(object.status().message());
    return Status::Unavailable(object.status().message());
  }
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  if (Status s = control_->SetCurrentReplicas(tenant, service, current, "report", now_ms); !s.ok()) {
    return Status::Unavailable(s.message());
  }
  return NoContent();
}

namespace {

// The "approve" audit record of a request (its status and message still to fill in).
AuditRecord ApprovalAudit(const Call& call, int64_t now_ms) {
  AuditRecord a;
  a.time_ms = now_ms;
  a.request_id = call.request_id;
  a.actor = call.principal.name;
  a.actor_role = std::string(RoleName(call.principal.role));
  a.actor_tenant = call.principal.tenant;
  a.action = "approve";
  a.kind = "service";
  a.tenant = std::string(call.request.PathParam("tenant"));
  a.name = std::string(call.request.PathParam("service"));
  return a;
}

// The replicas of an approval's value {"replicas": N}; 400 when it is not a
// JSON object, 422 naming the member that is wrong or unknown.
Result<int64_t> ParseApprovalBody(const std::string& body) {
  PRESCALE_RETURN_IF_ERROR(CheckJsonDepth(body));
  PRESCALE_RETURN_IF_ERROR(CheckJsonEscapes(body));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument("expected a JSON object {\"replicas\": N}");
  }
  const rapidjson::Value& value = doc;
  for (const auto& m : value.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name != "replicas") return Status::Unprocessable("unknown member " + name).WithField(name);
  }
  if (!value.HasMember("replicas") || !value["replicas"].IsInt64() || value["replicas"].GetInt64() < 0) {
    return Status::Unprocessable("expected the recommended replicas, a whole number >= 0").WithField("replicas");
  }
  return value["replicas"].GetInt64();
}

}  // namespace

Result<http::HttpResponse> ScalingApi::Approve(Call& call) {
  const std::string tenant(call.request.PathParam("tenant"));
  const std::string service(call.request.PathParam("service"));
  PRESCALE_ASSIGN_OR_RETURN(const int64_t replicas, ParseApprovalBody(call.request.body));
  auto object = control_->Get(ObjectKey{ObjectKind::kService, tenant, service});
  if (!object.ok()) {
    if (object.status().code() == StatusCode::kNotFound)
      return Status::NotFound("no service " + tenant + "/" + service);
    return Status::Unavailable(object.status().message());
  }
  // What this replica decided last: the recommendation the caller saw.
  ServiceHolds held;
  const std::vector<Decision> decisions = decisions_->Latest(tenant, &held);
  auto d = std::find_if(decisions.begin(), decisions.end(), [&](const Decision& x) { return x.service == service; });
  const std::string what = "service " + tenant + "/" + service;
  if (d == decisions.end()) return Status::Conflict(what + " has no decision yet: nothing to approve");
  if (auto h = held.find({tenant, service}); h != held.end()) {
    return Status::Conflict(what + " is held (" + h->second.refusal.reason + "): " + h->second.refusal.message);
  }
  Result<Service> spec = ParseService(object->spec_json);
  const std::string executor = spec.ok() ? spec->executor.type : "";
  if (executor != "webhook" && executor != "kubernetes") {
    return Status::Conflict(what + " has executor " + (executor.empty() ? "(unparsable spec)" : executor) +
                            ": nothing could act on an approval");
  }
  if (d->execute) return Status::Conflict(what + " acts on its own: there is no recommendation to approve");
  if (!d->changed()) {
    return Status::Conflict(what + " has no pending recommendation (it runs " + std::to_string(d->from_replicas) +
                            " replicas, as recommended)");
  }
  if (d->to_replicas != replicas) {
    return Status::Conflict(what + ": the recommendation is " + std::to_string(d->to_replicas) + " replicas, not " +
                            std::to_string(replicas) + " (reload and approve what is recommended now)")
        .WithField("replicas");
  }
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  AuditRecord audit = ApprovalAudit(call, now_ms);
  audit.before_json = "{\"replicas\":" + std::to_string(d->from_replicas) + "}";
  audit.after_json = "{\"replicas\":" + std::to_string(replicas) + "}";
  audit.status = 202;
  audit.message = "approved the recommendation of " + std::to_string(replicas) + " replicas (from " +
                  std::to_string(d->from_replicas) + "): the leader's next decision acts on it once";
  Approval approval{tenant, service, replicas, 0, call.principal.name, now_ms};
  auto stored = control_->Approve(std::move(approval), std::move(audit));
  if (!stored.ok()) return Status::Unavailable(stored.status().message());
  // Evaluated at once (on the leader: acted on), not at the next tick.
  triggers_->Publish(TriggerEvent{"approval", call.principal.name, tenant, service});
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "tenant", tenant);
  WriteStringField(w, "service", service);
  w.Key("from_replicas");
  w.Int64(d->from_replicas);
  w.Key("replicas");
  w.Int64(replicas);
  w.Key("approval_seq");
  w.Int64(stored->seq);
  WriteStringField(w, "approved_by", stored->actor);
  WriteStringField(w, "approved_at", FormatRfc3339(now_ms));
  WriteStringField(w, "status", "pending");
  w.EndObject();
  return JsonResponse(202, Finish(buf));
}

// A refused approval is audited as the control API's refused writes are (not 401, not 429).
void ScalingApi::AuditRefusedApproval(const Call& call, const http::HttpResponse& r) {
  if (r.status < 400 || r.status == 429) return;
  AuditRecord a = ApprovalAudit(call, ToUnixMillis(clock_.Now()));
  a.status = r.status;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  a.message = d.IsObject() && d.HasMember("message") && d["message"].IsString() ? d["message"].GetString() : r.body;
  if (auto appended = control_->AppendAudit(std::move(a)); !appended.ok()) {
    Log(LogLevel::kError, "cannot audit a refused approval: " + appended.status().ToString());
  }
}

void ScalingApi::AppendMetrics(std::string* out) const {
  std::lock_guard lock(alerts_mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_alertmanager_alerts_total",
           "Alerts received from Alertmanager, by outcome (triggered, repeat, ignored: no tenant and service labels)",
           metrics::MetricType::kCounter);
  for (const auto& [outcome, count] : alerts_received_) {
    w.Sample("prescale_alertmanager_alerts_total", {{"outcome", outcome}}, count);
  }
}

}  // namespace prescale::aggregator
