#include "prescale/aggregator/aggregator.h"

#include "json_envelope.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>

#include "json_envelope.h"
#include "prescale/aggregator/ingest_json.h"
#include "prescale/aggregator/kubernetes_executor.h"
#include "prescale/aggregator/raw_json.h"
#include "prescale/aggregator/series_api.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

constexpr const char* kWrite = "write";
constexpr const char* kIngest = "ingest";
constexpr const char* kRaw = "raw";
constexpr const char* kSeries = "series";
constexpr const char* kForecasts = "forecasts";
constexpr const char* kDecisions = "decisions";
// Series expire after raw_retention at the latest; a sender retrying a 429 sooner than
// this mostly hits the limit again.
constexpr const char* kRetryAfterSeconds = "30";

http::HttpResponse Text(int status, std::string body) {
  http::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

// {"error":code,"message":message,"field":field}
http::HttpResponse JsonFieldError(int status, std::string_view code, std::string_view message, std::string_view field) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("error");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (!field.empty()) {
    w.Key("field");
    w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
  }
  w.EndObject();
  http::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return r;
}

}  // namespace

struct Aggregator::Metrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("prescale_aggregator_requests_total")
          .Help("HTTP requests to the ingest and API handlers by status code")
          .Register(*registry);
  prometheus::Counter& samples_received = prometheus::BuildCounter()
                                              .Name("prescale_aggregator_samples_received_total")
                                              .Help("Samples appended to the series store")
                                              .Register(*registry)
                                              .Add({});
  prometheus::Counter& out_of_order = prometheus::BuildCounter()
                                          .Name("prescale_aggregator_samples_out_of_order_total")
                                          .Help("Samples dropped for not being newer than their series' last sample")
                                          .Register(*registry)
                                          .Add({});
  prometheus::Counter& series_rejected = prometheus::BuildCounter()
                                             .Name("prescale_aggregator_series_rejected_total")
                                             .Help("New series refused (with a 429) because of max_series")
                                             .Register(*registry)
                                             .Add({});
  prometheus::Counter& series_expired = prometheus::BuildCounter()
                                            .Name("prescale_aggregator_series_expired_total")
                                            .Help("Series removed after raw_retention without samples, or stale")
                                            .Register(*registry)
                                            .Add({});
  prometheus::Counter& rate_limited = prometheus::BuildCounter()
                                          .Name("prescale_aggregator_samples_rate_limited_total")
                                          .Help(
                                              "Samples refused (with a 429) because their sender was over "
                                              "sender_samples_per_second")
                                          .Register(*registry)
                                          .Add({});
  prometheus::Gauge& active_series = prometheus::BuildGauge()
                                         .Name("prescale_aggregator_active_series")
                                         .Help("Series held in the raw store")
                                         .Register(*registry)
                                         .Add({});
  prometheus::Gauge& max_series = prometheus::BuildGauge()
                                      .Name("prescale_aggregator_max_series")
                                      .Help("The configured limit of series (max_series)")
                                      .Register(*registry)
                                      .Add({});
  prometheus::Family<prometheus::Gauge>& store_bytes =
      prometheus::BuildGauge()
          .Name("prescale_aggregator_store_bytes")
          .Help("Memory held by the history (approximate): raw series and samples, demand rollups")
          .Register(*registry);
  prometheus::Gauge& raw_bytes = store_bytes.Add({{"part", "raw"}});
  prometheus::Gauge& rollup_bytes = store_bytes.Add({{"part", "rollups"}});
  prometheus::Gauge& demand_series = prometheus::BuildGauge()
                                         .Name("prescale_aggregator_demand_series")
                                         .Help("Demand series (tenant, service, resource) held as rollups")
                                         .Register(*registry)
                                         .Add({});
  prometheus::Gauge& demand_late = prometheus::BuildGauge()
                                       .Name("prescale_aggregator_demand_late_intervals")
                                       .Help("Sample intervals that arrived after their minute was final (cumulative)")
                                       .Register(*registry)
                                       .Add({});
  prometheus::Gauge& ingest_lag = prometheus::BuildGauge()
                                      .Name("prescale_aggregator_ingest_lag_seconds")
                                      .Help("Now minus the newest sample timestamp received (0 before any)")
                                      .Register(*registry)
                                      .Add({});

  std::mutex mu;
  std::map<std::pair<std::string, int>, prometheus::Counter*> request_counters;

  prometheus::Counter& Request(const char* handler, int code) {
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_pair(std::string(handler), code);
    auto it = request_counters.find(key);
    if (it != request_counters.end()) return *it->second;
    prometheus::Counter* c = &requests.Add({{"handler", handler}, {"code", std::to_string(code)}});
    request_counters.emplace(std::move(key), c);
    return *c;
  }
};

Aggregator::Aggregator(AggregatorConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      auth_(config_.tokens),
      demand_(config_.demand, clock),
      forecasts_(config_.forecast, demand_, clock),
      store_(SeriesStoreOptions{.max_series = config_.max_series, .raw_retention = config_.raw_retention}, clock,
             &demand_),
      metrics_(std::make_unique<Metrics>()),
      trigger_rules_(config_.triggers) {
  metrics_->max_series.Set(static_cast<double>(config_.max_series));
  if (config_.sender_samples_per_second > 0) {
    // Ten seconds' worth: an agent's push carries one interval's samples at once.
    const auto rate = static_cast<double>(config_.sender_samples_per_second);
    sender_limit_ = std::make_unique<RateLimiter>(rate, 10 * rate, clock);
  }
}

Aggregator::~Aggregator() = default;

void Aggregator::UseControlStore(std::unique_ptr<ControlStore> store) {
  control_store_ = std::move(store);
  auth_.UseStore(control_store_.get(), &clock_);
  control_api_ = std::make_unique<ControlApi>(
      control_store_.get(), &auth_, clock_, ControlApiOptions{.requests_per_second = config_.api_requests_per_second});
  decisions_ =
      std::make_unique<DecisionLoop>(control_store_.get(), &demand_, &forecasts_, &store_, clock_, config_.decisions);
  dispatcher_ = std::make_unique<ActionDispatcher>(control_store_.get(), clock_, DispatcherOptions{});
  dispatcher_->AddExecutor(
      "webhook", std::make_unique<WebhookExecutor>(http::NewCurlHttpClient(), clock_,
                                                   WebhookOptions{.timeout = config_.webhook_timeout, .ca_file = {}}));
  KubernetesOptions k8s;  // the in-cluster defaults unless configured
  if (!config_.kubernetes_api_server.empty()) k8s.api_server = config_.kubernetes_api_server;
  if (!config_.kubernetes_token_file.empty()) k8s.token_file = config_.kubernetes_token_file;
  if (!config_.kubernetes_ca_file.empty()) k8s.ca_file = config_.kubernetes_ca_file;
  k8s.timeout = config_.webhook_timeout;
  dispatcher_->AddExecutor("kubernetes",
                           std::make_unique<KubernetesExecutor>(http::NewCurlHttpClient(), std::move(k8s)));
  decisions_->OnActionsQueued([d = dispatcher_.get()] { d->Notify(); });
}

http::HttpServerOptions Aggregator::ServerOptions() const {
  http::HttpServerOptions o;
  o.listen = config_.listen;
  o.threads = config_.http_threads;
  o.max_body_bytes = config_.max_body_bytes;
  o.tls_cert_file = config_.tls_cert_file;
  o.tls_key_file = config_.tls_key_file;
  return o;
}

std::vector<http::Route> Aggregator::Routes() {
  std::vector<http::Route> routes;
  routes.push_back({"POST", "/api/v1/write", [this](const http::HttpRequest& r) { return HandleWrite(r); }});
  routes.push_back({"POST", "/api/v1/ingest", [this](const http::HttpRequest& r) { return HandleIngest(r); }});
  routes.push_back({"GET", "/api/v1/raw", [this](const http::HttpRequest& r) { return HandleRaw(r); }});
  routes.push_back({"GET", "/api/v1/series", [this](const http::HttpRequest& r) { return HandleSeries(r); }});
  routes.push_back({"GET", "/api/v1/forecasts", [this](const http::HttpRequest& r) { return HandleForecasts(r); }});
  routes.push_back({"GET", "/metrics", [this](const http::HttpRequest&) { return HandleMetrics(); }});
  routes.push_back({"GET", "/healthz", [](const http::HttpRequest&) { return Text(200, "ok"); }});
  // Ready as soon as the routes serve: the store starts empty (snapshots are not loaded yet).
  routes.push_back({"GET", "/readyz", [](const http::HttpRequest&) { return Text(200, "ready"); }});
  if (decisions_ != nullptr) {
    routes.push_back({"GET", "/api/v1/decisions", [this](const http::HttpRequest& r) { return HandleDecisions(r); }});
    routes.push_back({"GET", "/api/v1/directives", [this](const http::HttpRequest& r) { return HandleDirectives(r); }});
    routes.push_back(
        {"POST", "/api/v1/alerts/alertmanager", [this](const http::HttpRequest& r) { return HandleAlertmanager(r); }});
    routes.push_back({"POST", "/api/v1/tenants/{tenant}/services/{service}/replicas",
                      [this](const http::HttpRequest& r) { return HandleReplicasReport(r); }});
  }
  if (control_api_ != nullptr) {
    // Counted by route pattern, like the other handlers (prescale_aggregator_requests_total).
    for (http::Route& r : control_api_->Routes()) {
      http::Handler handler = std::move(r.handler);
      const std::string name = r.path;
      r.handler = [this, handler, name](const http::HttpRequest& req) { return Count(name.c_str(), handler(req)); };
      routes.push_back(std::move(r));
    }
  }
  return routes;
}

http::HttpResponse Aggregator::Count(const char* handler, http::HttpResponse response) {
  metrics_->Request(handler, response.status).Increment();
  return response;
}

http::HttpResponse Aggregator::AppendAndAnswer(const std::vector<remote_write::TimeSeries>& series, const char* handler,
                                               bool json, const std::string& sender) {
  if (sender_limit_ != nullptr) {
    double samples = 0;
    for (const auto& ts : series) samples += static_cast<double>(ts.samples.size());
    const auto wait = sender_limit_->Take(sender, samples);
    if (wait.count() > 0) {
      metrics_->rate_limited.Increment(samples);
      const std::string why = "sender '" + sender + "' is over its limit of " +
                              std::to_string(config_.sender_samples_per_second) + " samples per second";
      http::HttpResponse r = json ? JsonFieldError(429, "rate_limited", why, "") : Text(429, "rate limited: " + why);
      r.headers.emplace_back("Retry-After", std::to_string((wait.count() + 999) / 1000));
      return Count(handler, std::move(r));
    }
  }
  AppendStats stats;
  const Status s = store_.Append(series, &stats);
  metrics_->samples_received.Increment(static_cast<double>(stats.samples_appended));
  if (stats.samples_out_of_order > 0) metrics_->out_of_order.Increment(static_cast<double>(stats.samples_out_of_order));
  if (!s.ok()) {
    if (s.code() != StatusCode::kResourceExhausted) {
      return Count(handler,
                   json ? http::HttpResponse::JsonError(500, "internal", s.message()) : Text(500, s.message()));
    }
    metrics_->series_rejected.Increment(static_cast<double>(stats.series_rejected));
    http::HttpResponse r = json ? JsonFieldError(429, "too_many_series", s.message(), "series")
                                : Text(429, "too many series: " + s.message());
    r.headers.emplace_back("Retry-After", kRetryAfterSeconds);
    return Count(handler, std::move(r));
  }
  if (!json) {
    http::HttpResponse r;
    r.status = 204;
    return Count(handler, std::move(r));
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("status");
  w.String("success");
  w.Key("series");
  w.Uint64(series.size());
  w.Key("samples_appended");
  w.Uint64(stats.samples_appended);
  w.Key("samples_out_of_order");
  w.Uint64(stats.samples_out_of_order);
  w.EndObject();
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return Count(handler, std::move(r));
}

namespace {

// Pushing samples is for agents (and admins, and anyone while ingest is open);
// tenant-bound tokens must not write other tenants' data.
bool MayPush(Role role) { return role == Role::kAgent || role == Role::kAdmin || role == Role::kAnonymous; }

// An operator or viewer reads its own tenant's demand only: the tenant filter
// is forced to it (a request for another tenant gets 403). False when refused.
bool BindTenant(const Principal& p, std::string* tenant) {
  if (p.role != Role::kOperator && p.role != Role::kViewer) return true;
  if (!tenant->empty() && *tenant != p.tenant) return false;
  *tenant = p.tenant;
  return true;
}

}  // namespace

http::HttpResponse Aggregator::HandleWrite(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kWrite, auth.ToResponse());
  if (!MayPush(auth.principal.role)) {
    return Count(kWrite, Text(403, std::string(RoleName(auth.principal.role)) + " tokens may not push samples"));
  }
  const std::string_view encoding = request.Header("Content-Encoding");
  if (!encoding.empty() && encoding != "snappy") {
    return Count(kWrite, Text(400, "unsupported Content-Encoding '" + std::string(encoding) +
                                       "': remote write 1.0 bodies are snappy block-compressed"));
  }
  remote_write::DecodeLimits limits;
  limits.max_compressed_bytes = config_.max_body_bytes;
  limits.max_decompressed_bytes = std::max<size_t>(limits.max_decompressed_bytes, 4 * config_.max_body_bytes);
  // Each HTTP worker thread keeps its decoder and request buffers between requests.
  thread_local remote_write::Decoder decoder;
  thread_local remote_write::WriteRequest decoded;
  if (Status s = decoder.Decode(request.body, limits, &decoded); !s.ok()) {
    const int status = s.code() == StatusCode::kResourceExhausted ? 413 : 400;
    return Count(kWrite, Text(status, s.message()));
  }
  return AppendAndAnswer(decoded.timeseries, kWrite, false, auth.principal.name);
}

http::HttpResponse Aggregator::HandleIngest(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kIngest, auth.ToJsonResponse());
  if (!MayPush(auth.principal.role)) {
    return Count(kIngest,
                 JsonFieldError(403, "forbidden",
                                std::string(RoleName(auth.principal.role)) + " tokens may not push samples", ""));
  }
  const std::string_view encoding = request.Header("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    return Count(kIngest,
                 JsonFieldError(400, "bad_request",
                                "unsupported Content-Encoding '" + std::string(encoding) + "'; send plain JSON", ""));
  }
  std::string field;
  auto decoded = DecodeIngestJson(request.body, ToUnixMillis(clock_.Now()), &field);
  if (!decoded.ok()) return Count(kIngest, JsonFieldError(400, "bad_request", decoded.status().message(), field));
  return AppendAndAnswer(decoded->timeseries, kIngest, true, auth.principal.name);
}

http::HttpResponse Aggregator::HandleRaw(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kRaw, auth.ToJsonResponse());
  if (!MayPush(auth.principal.role)) {
    // Raw samples carry every tenant's labels: for agents (checking what they sent) and admins.
    return Count(kRaw, JsonFieldError(403, "forbidden", "raw samples are for agent and admin tokens", ""));
  }
  auto query = ParseRawQuery(request.query);
  if (!query.ok()) return Count(kRaw, http::HttpResponse::JsonError(400, "bad_request", query.status().message()));
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = RenderRawJson(store_.Query(query->metric_name, query->equalities));
  return Count(kRaw, std::move(r));
}

http::HttpResponse Aggregator::HandleSeries(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kSeries, auth.ToJsonResponse());
  std::string field;
  auto query = ParseSeriesQuery(request.query, ToUnixMillis(clock_.Now()), &field);
  if (!query.ok()) return Count(kSeries, JsonFieldError(400, "bad_request", query.status().message(), field));
  if (!BindTenant(auth.principal, &query->filter.tenant)) {
    return Count(kSeries,
                 JsonFieldError(403, "forbidden", "this token is bound to tenant " + auth.principal.tenant, "tenant"));
  }
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = RenderSeriesJson(demand_.Query(query->filter, query->from_ms, query->to_ms, query->step), demand_);
  return Count(kSeries, std::move(r));
}

http::HttpResponse Aggregator::HandleForecasts(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kForecasts, auth.ToJsonResponse());
  std::string field;
  auto filter = ParseForecastsQuery(request.query, &field);
  if (!filter.ok()) return Count(kForecasts, JsonFieldError(400, "bad_request", filter.status().message(), field));
  if (!BindTenant(auth.principal, &filter->tenant)) {
    return Count(kForecasts,
                 JsonFieldError(403, "forbidden", "this token is bound to tenant " + auth.principal.tenant, "tenant"));
  }
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = RenderForecastsJson(forecasts_.Latest(*filter), demand_);
  return Count(kForecasts, std::move(r));
}

http::HttpResponse Aggregator::HandleDecisions(const http::HttpRequest& request) {
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kDecisions, auth.ToJsonResponse());
  if (auth.principal.role == Role::kAgent || auth.principal.role == Role::kAnonymous) {
    return Count(kDecisions, JsonFieldError(auth.principal.role == Role::kAgent ? 403 : 401,
                                            auth.principal.role == Role::kAgent ? "forbidden" : "unauthorized",
                                            "decisions are for admin, operator and viewer tokens", ""));
  }
  auto params = ParseQueryString(request.query);
  if (!params.ok()) return Count(kDecisions, JsonFieldError(400, "bad_request", params.status().message(), ""));
  std::string tenant;
  for (const auto& [key, value] : *params) {
    if (key != "tenant") return Count(kDecisions, JsonFieldError(400, "bad_request", "unknown parameter", key));
    tenant = value;
  }
  if (!BindTenant(auth.principal, &tenant)) {
    return Count(kDecisions,
                 JsonFieldError(403, "forbidden", "this token is bound to tenant " + auth.principal.tenant, "tenant"));
  }
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = RenderSuccessJson([&](JsonWriter& w) {
    for (const Decision& d : decisions_->Latest(tenant)) {
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
      w.Key("cpu_cap_cores");
      if (d.cpu_cap_cores) {
        w.Double(*d.cpu_cap_cores);
      } else {
        w.Null();
      }
      w.Key("execute");
      w.Bool(d.execute);
      WriteStringField(w, "driver", d.driver);
      w.Key("forecast");
      if (d.forecast) {
        w.Double(*d.forecast);
      } else {
        w.Null();
      }
      w.EndObject();
    }
  });
  return Count(kDecisions, std::move(r));
}

namespace {

// prescale_service_usage{tenant,service,resource}: the newest final minute of every demand series.
void AppendUsageGauges(const DemandRollups& demand, std::string* out) {
  const auto latest = demand.Latest();
  if (latest.empty()) return;
  metrics::TextWriter w(out);
  for (const char* kind : {"", "_max"}) {
    const std::string name = std::string("prescale_service_usage") + kind;
    w.Family(name,
             kind[0] == '\0' ? "Demand of each service in its newest complete minute, summed over instances: "
                               "average (cpu: cores, memory: bytes, network: bytes/s)"
                             : "Demand of each service in its newest complete minute: the highest 10 s value",
             metrics::MetricType::kGauge);
    for (const auto& entry : latest) {
      const DemandKey& key = entry.first;
      w.Sample(name, {{"resource", key.resource}, {"service", key.service}, {"tenant", key.tenant}},
               kind[0] == '\0' ? entry.second.avg : entry.second.max);
    }
  }
}

}  // namespace

std::string Aggregator::MetricsText() {
  metrics_->active_series.Set(static_cast<double>(store_.active_series()));
  const DemandStats demand = demand_.Stats();
  metrics_->raw_bytes.Set(static_cast<double>(store_.bytes()));
  metrics_->rollup_bytes.Set(static_cast<double>(demand.bytes));
  metrics_->demand_series.Set(static_cast<double>(demand.keys));
  metrics_->demand_late.Set(static_cast<double>(demand.late_intervals));
  const int64_t newest = store_.newest_timestamp_ms();
  metrics_->ingest_lag.Set(newest == 0 ? 0.0 : static_cast<double>(ToUnixMillis(clock_.Now()) - newest) / 1000.0);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metrics_->registry->Collect());
  std::string text = out.str();
  AppendUsageGauges(demand_, &text);
  forecasts_.AppendMetrics(&text);
  if (decisions_ != nullptr) decisions_->AppendMetrics(&text);
  if (dispatcher_ != nullptr) dispatcher_->AppendMetrics(&text);
  if (decisions_ != nullptr) {
    triggers_.AppendMetrics(&text);
    trigger_rules_.AppendMetrics(&text);
    std::lock_guard lock(alerts_mu_);
    metrics::TextWriter w(&text);
    w.Family("prescale_alertmanager_alerts_total",
             "Alerts received from Alertmanager, by outcome (triggered, repeat, ignored: no tenant and service labels)",
             metrics::MetricType::kCounter);
    for (const auto& [outcome, count] : alerts_received_) {
      w.Sample("prescale_alertmanager_alerts_total", {{"outcome", outcome}}, count);
    }
  }
  return text;
}

http::HttpResponse Aggregator::HandleMetrics() {
  http::HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = MetricsText();
  return r;
}

size_t Aggregator::Tick() {
  if (sender_limit_ != nullptr) sender_limit_->Sweep();
  demand_.Finalize();
  const size_t forecast = forecasts_.Tick();
  if (decisions_ != nullptr) {
    trigger_rules_.Evaluate(store_, forecasts_, clock_, &triggers_);
    if (Status s = decisions_->Run(triggers_.Drain()); !s.ok()) Log(LogLevel::kError, "decisions: " + s.message());
  }
  return forecast;
}

bool Aggregator::EvaluateTriggers() {
  if (decisions_ == nullptr || !triggers_.pending()) return false;
  if (Status s = decisions_->Run(triggers_.Drain()); !s.ok()) Log(LogLevel::kError, "decisions: " + s.message());
  return true;
}

size_t Aggregator::ExpireIdle() {
  const size_t n = store_.ExpireIdle();
  if (n > 0) metrics_->series_expired.Increment(static_cast<double>(n));
  return n;
}

http::HttpResponse Aggregator::HandleAlertmanager(const http::HttpRequest& request) {
  const char* kAlerts = "alerts_alertmanager";
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kAlerts, auth.ToJsonResponse());
  const Role role = auth.principal.role;
  if (role == Role::kViewer) {
    return Count(kAlerts, JsonFieldError(403, "forbidden", "viewer tokens may not send alerts", ""));
  }
  std::string field;
  auto alerts = ParseAlertmanagerWebhook(request.body, &field);
  if (!alerts.ok()) {
    const int status = field.empty() ? 400 : 422;
    return Count(kAlerts,
                 JsonFieldError(status, status == 400 ? "bad_request" : "invalid", alerts.status().message(), field));
  }
  // An operator's alerts concern its own tenant only: all refused when one does not.
  if (role == Role::kOperator) {
    for (const AlertmanagerAlert& a : *alerts) {
      if (!a.tenant.empty() && a.tenant != auth.principal.tenant) {
        return Count(kAlerts, JsonFieldError(403, "forbidden", "this token is bound to tenant " + auth.principal.tenant,
                                             "tenant"));
      }
    }
  }
  int64_t triggered = 0, repeats = 0, ignored = 0;
  for (const AlertmanagerAlert& a : *alerts) {
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
    if (triggers_.Publish(std::move(e))) ++triggered;
  }
  {
    std::lock_guard lock(alerts_mu_);
    alerts_received_["triggered"] += static_cast<double>(triggered);
    alerts_received_["repeat"] += static_cast<double>(repeats);
    alerts_received_["ignored"] += static_cast<double>(ignored);
  }
  http::HttpResponse r;
  r.content_type = "application/json";
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "status", "success");
  w.Key("data");
  w.StartObject();
  w.Key("alerts");
  w.Int64(static_cast<int64_t>(alerts->size()));
  w.Key("triggered");
  w.Int64(triggered);
  w.Key("repeats");
  w.Int64(repeats);
  w.Key("ignored");
  w.Int64(ignored);
  w.EndObject();
  w.EndObject();
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return Count(kAlerts, std::move(r));
}

http::HttpResponse Aggregator::HandleDirectives(const http::HttpRequest& request) {
  const char* kDirectives = "directives";
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kDirectives, auth.ToJsonResponse());
  if (auth.principal.role != Role::kAgent && auth.principal.role != Role::kAdmin &&
      auth.principal.role != Role::kAnonymous) {
    return Count(kDirectives, JsonFieldError(403, "forbidden", "directives are for agent and admin tokens", ""));
  }
  auto params = ParseQueryString(request.query);
  if (!params.ok()) return Count(kDirectives, JsonFieldError(400, "bad_request", params.status().message(), ""));
  std::string node;
  for (const auto& [key, value] : *params) {
    if (key != "node") return Count(kDirectives, JsonFieldError(400, "bad_request", "unknown parameter", key));
    node = value;
  }
  if (node.empty()) return Count(kDirectives, JsonFieldError(400, "bad_request", "node is required", "node"));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "node", node);
  w.Key("lease_seconds");
  w.Int64(std::max<int64_t>(1, config_.directive_lease.count() / 1000));
  w.Key("directives");
  w.StartArray();
  // A throttled service's cap is shared among the nodes in proportion to its
  // cgroups there (the agents' container_cpu_usage_seconds_total series).
  for (const Decision& d : decisions_->Latest("")) {
    if (!d.cpu_cap_cores) continue;
    size_t here = 0, total = 0;
    for (const SeriesData& s :
         store_.Query("container_cpu_usage_seconds_total", {{"tenant", d.tenant}, {"service", d.service}})) {
      ++total;
      for (const remote_write::Label& l : s.labels) {
        if (l.name == "node" && l.value == node) ++here;
      }
    }
    if (here == 0) continue;
    w.StartObject();
    WriteStringField(w, "tenant", d.tenant);
    WriteStringField(w, "service", d.service);
    w.Key("cpu_cores");
    w.Double(*d.cpu_cap_cores * static_cast<double>(here) / static_cast<double>(total));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return Count(kDirectives, std::move(r));
}

http::HttpResponse Aggregator::HandleReplicasReport(const http::HttpRequest& request) {
  const char* kReport = "replicas_report";
  const AuthResult auth = auth_.Authenticate(request);
  if (!auth.ok()) return Count(kReport, auth.ToJsonResponse());
  const std::string tenant(request.PathParam("tenant"));
  const std::string service(request.PathParam("service"));
  const Role role = auth.principal.role;
  // Anonymous only while no tokens are configured (the authenticator is open), as for pushes.
  if (role == Role::kViewer || (role == Role::kOperator && auth.principal.tenant != tenant)) {
    return Count(kReport, JsonFieldError(403, "forbidden",
                                         "replicas are reported by admin, agent and the tenant's operator tokens", ""));
  }
  rapidjson::Document doc;
  doc.Parse(request.body.data(), request.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Count(kReport, JsonFieldError(400, "bad_request", "expected a JSON object {\"current\": N}", ""));
  }
  const rapidjson::Value& body = doc;
  if (!body.HasMember("current") || !body["current"].IsInt64() || body["current"].GetInt64() < 0) {
    return Count(kReport, JsonFieldError(422, "invalid", "expected a whole number >= 0", "current"));
  }
  const int64_t current = body["current"].GetInt64();
  auto object = control_store_->Get(ObjectKey{ObjectKind::kService, tenant, service});
  if (!object.ok()) {
    const bool missing = object.status().code() == StatusCode::kNotFound;
    return Count(kReport, JsonFieldError(missing ? 404 : 503, missing ? "not_found" : "unavailable",
                                         object.status().message(), ""));
  }
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  if (Status s = control_store_->SetCurrentReplicas(tenant, service, current, "report", now_ms); !s.ok()) {
    return Count(kReport, JsonFieldError(503, "unavailable", s.message(), ""));
  }
  http::HttpResponse r;
  r.status = 204;
  return Count(kReport, std::move(r));
}

}  // namespace prescale::aggregator
