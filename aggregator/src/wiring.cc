#include <malloc.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>

#include "prescale/aggregator/actions/kubernetes_executor.h"
#include "prescale/aggregator/actions/webhook_executor.h"
#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/console_assets.h"
#include "prescale/aggregator/api/session_api.h"
#include "prescale/aggregator/control/control_bootstrap.h"
#include "prescale/aggregator/events/amqp_sink.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/aggregator/scaling/directives.h"
#include "prescale/base/json_writer.h"
#include "prescale/base/log.h"
#include "prescale/http/http_client.h"
#include "prescale/metrics/process_metrics.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

KubernetesOptions KubernetesOptionsOf(const AggregatorConfig& config) {
  KubernetesOptions k8s;  // the in-cluster defaults unless configured
  if (!config.kubernetes_api_server.empty()) k8s.api_server = config.kubernetes_api_server;
  if (!config.kubernetes_token_file.empty()) k8s.token_file = config.kubernetes_token_file;
  if (!config.kubernetes_ca_file.empty()) k8s.ca_file = config.kubernetes_ca_file;
  k8s.timeout = config.webhook_timeout;
  return k8s;
}

namespace {

// replica_name, else the host name (a StatefulSet pod's name).
std::string ReplicaName(const AggregatorConfig& config) {
  if (!config.replica_name.empty()) return config.replica_name;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "aggregator";
  return host;
}

}  // namespace

std::map<std::string, std::unique_ptr<Executor>> MakeExecutors(const AggregatorConfig& config, const Clock& clock) {
  std::map<std::string, std::unique_ptr<Executor>> out;
  out["webhook"] = std::make_unique<WebhookExecutor>(http::NewCurlHttpClient(), clock,
                                                     WebhookOptions{.timeout = config.webhook_timeout, .ca_file = {}});
  out["kubernetes"] =
      std::make_unique<KubernetesExecutor>(http::NewCurlHttpClient(), KubernetesOptionsOf(config), clock);
  return out;
}

Aggregator::Aggregator(AggregatorConfig config, const Clock& clock, ExecutorFactory executors)
    : config_(std::move(config)),
      clock_(clock),
      executors_(std::move(executors)),
      auth_(config_.tokens),
      demand_(config_.demand, clock),
      forecasts_(config_.forecast, demand_, clock),
      store_(SeriesStoreOptions{.max_series = config_.max_series, .raw_retention = config_.raw_retention}, clock,
             &demand_),
      trigger_rules_(std::make_shared<TriggerRules>(config_.triggers)),
      ingest_api_(&store_, clock,
                  IngestOptions{.max_body_bytes = config_.max_body_bytes,
                                .sender_samples_per_second = config_.sender_samples_per_second,
                                .tenant_label = config_.demand.tenant_label}),
      demand_api_(&demand_, &forecasts_, clock) {
  loaded_ = config_;
  last_reload_success_ms_ = ToUnixMillis(clock_.Now());  // the start's load, as Prometheus counts it
  AddRoutes();
}

Aggregator::~Aggregator() = default;

void Aggregator::UseControlStore(std::unique_ptr<ControlStore> store) {
  control_store_ = std::move(store);
  auth_.UseStore(control_store_.get(), &clock_);
  // A shared store (PostgreSQL) may have several replicas: they elect a
  // leader through it. On SQLite this process is the only one: it acts.
  const std::string replica = ReplicaName(config_);
  if (!config_.control_store.empty()) {
    leader_ = std::make_unique<LeaderElection>(control_store_.get(), clock_,
                                               LeaderOptions{.replica = replica, .lease = config_.leader_lease});
  }
  decisions_ =
      std::make_unique<DecisionLoop>(control_store_.get(), &demand_, &forecasts_, &store_, clock_, config_.decisions);
  dispatcher_ = std::make_unique<ActionDispatcher>(control_store_.get(), clock_, DispatcherOptions{});
  if (leader_ != nullptr) {
    // The audit records of actions say which replica recorded and delivered them.
    decisions_->NameReplica(replica);
    dispatcher_->NameReplica(replica);
  }
  dispatcher_->ActOnlyWhile([this] { return Leads(); });
  for (auto& [type, executor] : executors_(config_, clock_)) dispatcher_->AddExecutor(type, std::move(executor));
  if (config_.events_amqp) {
    // Scaling events through the outbox (docs/events.md), and the trigger source.
    dispatcher_->AddEventSink("amqp", std::make_unique<AmqpEventSink>(*config_.events_amqp));
    decisions_->PublishEventsTo({"amqp"});
    if (config_.events_amqp->triggers) {
      amqp_source_ = std::make_unique<AmqpTriggerSource>(*config_.events_amqp, &triggers_);
      amqp_source_->ConsumeOnlyWhile([this] { return Leads(); });
    }
  }
  decisions_->OnActionsQueued([d = dispatcher_.get()] { d->Notify(); });
  decisions_->ReadHoldsFrom([d = dispatcher_.get()] { return d->Holds(); });
  scaling_api_ = std::make_unique<ScalingApi>(decisions_.get(), &store_, control_store_.get(), &triggers_, clock_,
                                              ScalingApiOptions{.directive_lease = config_.directive_lease});
  scaling_api_->ReadCapsFrom([this] { return CapsFromLeader(); });
  control_api_ = std::make_unique<ControlApi>(control_store_.get(), clock_);
  if (config_.kubernetes_discovery) {
    discovery_ = std::make_unique<WorkloadDiscovery>(control_store_.get(), http::NewCurlHttpClient(),
                                                     KubernetesOptionsOf(config_), clock_);
  }
  AddRoutes();
}

namespace {

http::HttpResponse Text(std::string body) {
  http::HttpResponse r;
  r.body = std::move(body) + "\n";
  return r;
}

// POST /-/reload's answer: 200 {"status":"ok","applied":[...],"restart_required":[...],"objects":{...}},
// or 500 {"error":"reload_failed","message":"FILE:LINE: KEY: what"} (the running configuration stays).
http::HttpResponse ReloadResponse(const ReloadResult& result) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](std::string_view text) { w.String(text.data(), static_cast<rapidjson::SizeType>(text.size())); };
  auto list = [&](const char* key, const std::vector<std::string>& items) {
    w.Key(key);
    w.StartArray();
    for (const std::string& item : items) str(item);
    w.EndArray();
  };
  w.StartObject();
  if (!result.ok) {
    w.Key("error");
    str("reload_failed");
    w.Key("message");
    str(result.error);
    w.EndObject();
    return JsonResponse(500, std::string(buf.GetString(), buf.GetSize()));
  }
  w.Key("status");
  str("ok");
  list("applied", result.applied);
  list("restart_required", result.restart_required);
  w.Key("objects");
  w.StartObject();
  w.Key("created");
  w.Int(result.objects_created);
  w.Key("replaced");
  w.Int(result.objects_replaced);
  w.Key("unchanged");
  w.Int(result.objects_unchanged);
  w.EndObject();
  w.EndObject();
  return JsonResponse(200, std::string(buf.GetString(), buf.GetSize()));
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

void Aggregator::AddRoutes() {
  front_ = std::make_unique<Front>(&auth_, clock_,
                                   FrontOptions{.requests_per_second = config_.api_requests_per_second,
                                                .allow_anonymous_push = config_.allow_anonymous_push});
  front_->Add(ingest_api_.Routes());
  front_->Add(demand_api_.Routes());
  front_->Add(SessionRoutes());
  const Access kPublic{};
  // The exposition holds every tenant's usage, forecasts and decisions: only
  // admins and scrapers (monitor tokens) read it, unless the operator opens it.
  const Access kScrapers{.roles = {Role::kAdmin, Role::kMonitor}};
  front_->Add({"GET",
               "/metrics",
               "metrics",
               config_.allow_anonymous_metrics ? kPublic : kScrapers,
               [this](Call&) -> Result<http::HttpResponse> {
                 http::HttpResponse r;
                 r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                 r.body = MetricsText();
                 return r;
               },
               {}});
  front_->Add(
      {"GET", "/healthz", "healthz", kPublic, [](Call&) -> Result<http::HttpResponse> { return Text("ok"); }, {}});
  // Ready as soon as the routes serve: the store starts empty (snapshots are
  // not loaded yet). Followers are ready too: they take pushes and serve reads.
  front_->Add(
      {"GET", "/readyz", "readyz", kPublic, [this](Call&) -> Result<http::HttpResponse> { return Readiness(); }, {}});
  // Reads the configuration again (docs/configuration.md, "Reload"): admins only.
  front_->Add({"POST",
               "/-/reload",
               "reload",
               Access{.roles = {Role::kAdmin}},
               [this](Call& call) -> Result<http::HttpResponse> {
                 if (!call.request.body.empty()) return ErrorResponse(400, "POST /-/reload takes no body");
                 return ReloadResponse(Reload(call.principal.name));
               },
               {}});
  if (scaling_api_ != nullptr) front_->Add(scaling_api_->Routes());
  if (control_api_ != nullptr) front_->Add(control_api_->Routes());
}

std::vector<http::Route> Aggregator::Routes() const {
  std::vector<http::Route> routes = front_->Routes();
  // The web console's static files under /ui/ (no data, no token: docs/console.md).
  for (http::Route& r : ConsoleRoutes(EmbeddedConsoleAssets())) routes.push_back(std::move(r));
  return routes;
}

std::string Aggregator::AccessWarning() const {
  std::string warning;
  auto add = [&warning](std::string_view text) {
    if (!warning.empty()) warning += "; ";
    warning += text;
  };
  if (config_.allow_anonymous_push) {
    add("allow_anonymous_push is on: the data plane accepts unauthenticated pushes (POST /api/v1/write, "
        "/api/v1/ingest) from anyone who can reach the port, for any tenant, and pushed demand drives scaling; "
        "give the senders tokens and turn it off");
  }
  if (config_.allow_anonymous_metrics) {
    add("allow_anonymous_metrics is on: anyone who can reach the port reads every tenant's usage, forecasts and "
        "decisions on GET /metrics; give the scrapers a monitor token and turn it off");
  }
  if (!config_.allow_anonymous_push && !auth_.HasTokens()) {
    add("no tokens: every request but /healthz and /readyz is refused until there is one (tokens: in the config, "
        "or `prescale-aggregator token create --role agent --data-dir DIR`)");
  }
  return warning;
}

http::HttpResponse Aggregator::Handle(const std::string& name, const http::HttpRequest& request) const {
  for (const RouteSpec& spec : front_->table()) {
    if (spec.name == name && spec.method == request.method) return front_->Serve(spec, request);
  }
  return ErrorResponse(404, "no route named " + name + " for " + request.method);
}

http::HttpServerOptions Aggregator::ServerOptions() const {
  http::HttpServerOptions o;
  o.listen = config_.listen;
  o.threads = config_.http_threads;
  // Writes wait for the control store (the audit chain takes one writer at a
  // time, and PostgreSQL's commit a round trip and a flush): they run on a pool
  // of their own so that reads sharing their connections' loops do not queue
  // behind them. Pushes stay on the loops: their handlers never wait.
  o.blocking = [](std::string_view method, std::string_view path) {
    return method != "GET" && method != "HEAD" && path != "/api/v1/write" && path != "/api/v1/ingest";
  };
  o.blocking_threads = std::max(2, config_.http_threads / 2);
  o.max_connections = config_.http_max_connections;
  o.max_connections_per_client = config_.http_max_connections_per_client;
  o.idle_timeout = config_.http_idle_timeout;
  o.max_body_bytes = config_.max_body_bytes;
  o.tls_cert_file = config_.tls_cert_file;
  o.tls_key_file = config_.tls_key_file;
  return o;
}

http::HttpResponse Aggregator::Readiness() const {
  http::HttpResponse r;
  r.content_type = "application/json";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  WriteStringField(w, "status", "ready");
  if (leader_ == nullptr) {
    if (decisions_ != nullptr) WriteStringField(w, "role", "standalone");  // the only replica of its store: it acts
  } else {
    const bool leads = leader_->IsLeader();
    WriteStringField(w, "replica", leader_->replica());
    WriteStringField(w, "role", leads ? "leader" : "follower");
    WriteStringField(w, "leader", leads ? leader_->replica() : leader_->leader());
    w.Key("fencing_token");
    w.Int64(leader_->token());
  }
  w.EndObject();
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return r;
}

size_t Aggregator::Tick() {
  ingest_api_.Sweep();
  front_->Sweep();
  demand_.Finalize();
  const size_t forecast = forecasts_.Tick();
  if (decisions_ != nullptr) {
    Rules()->Evaluate(store_, forecasts_, clock_, &triggers_);
    Decide(triggers_.Drain());
  }
  return forecast;
}

bool Aggregator::EvaluateTriggers() {
  if (decisions_ == nullptr || !triggers_.pending()) return false;
  Decide(triggers_.Drain());
  return true;
}

void Aggregator::Decide(const std::vector<TriggerEvent>& events) {
  const bool acting = Leads();
  if (Status s = decisions_->Run(events, acting); !s.ok())
    Log(LogLevel::kError, "decisions: " + s.message(), {{"component", "decisions"}});
  if (leader_ == nullptr) return;  // no other replica: nothing to publish or read
  if (acting) {
    PublishCaps();
  } else {
    published_.reset();  // published again at once on taking over
    ReadPublishedCaps();
  }
}

void Aggregator::PublishCaps() {
  std::vector<PublishedCap> caps = CapsOf(decisions_->Latest(""));
  const int64_t token = leader_->token();
  if (published_ == caps && published_token_ == token) return;
  if (Status s = control_store_->PublishCaps(caps); !s.ok()) {
    Log(LogLevel::kWarning, "publishing the caps for the other replicas: " + s.message(), {{"component", "replicas"}});
    return;
  }
  published_ = std::move(caps);
  published_token_ = token;
}

void Aggregator::ReadPublishedCaps() {
  auto caps = control_store_->PublishedCaps();
  if (!caps.ok()) {
    Log(LogLevel::kWarning, "reading the caps the leader published: " + caps.status().message(),
        {{"component", "replicas"}});
    return;
  }
  std::lock_guard lock(caps_mu_);
  leader_caps_ = std::move(caps).value();
}

std::optional<std::vector<PublishedCap>> Aggregator::CapsFromLeader() const {
  if (Leads()) return std::nullopt;
  std::lock_guard lock(caps_mu_);
  return leader_caps_;  // nullopt before the first read: this replica's own decisions' caps
}

std::shared_ptr<TriggerRules> Aggregator::Rules() const {
  std::lock_guard lock(rules_mu_);
  return trigger_rules_;
}

void Aggregator::ReloadFrom(ConfigLoader loader) {
  std::lock_guard lock(reload_mu_);
  loader_ = std::move(loader);
}

ReloadResult Aggregator::Reload(const std::string& by) {
  std::lock_guard lock(reload_mu_);
  ReloadResult result;
  auto fail = [&](std::string error) {
    result.ok = false;
    result.error = std::move(error);
    last_reload_ok_ = false;
    Log(LogLevel::kError, "configuration reload failed; the running configuration stays",
        {{"component", "reload"}, {"by", by}, {"error", result.error}});
    return result;
  };
  if (!loader_) return fail("no configuration source to reload from");
  Result<AggregatorConfig> next = loader_();
  if (!next.ok()) return fail(next.status().message());
  // Everything is validated before anything is applied: the objects too (a null store only validates).
  AuditRecord actor;
  actor.time_ms = ToUnixMillis(clock_.Now());
  actor.actor = "reload";
  actor.actor_role = "admin";
  if (!next->bootstrap_yaml.empty()) {
    auto valid = ApplyObjects(nullptr, next->bootstrap_yaml, next->bootstrap_file, actor, false);
    if (!valid.ok()) return fail(valid.status().message());
  }
  if (!next->bootstrap_dir.empty()) {
    auto valid = ApplyDirectory(nullptr, next->bootstrap_dir, actor);
    if (!valid.ok()) return fail(valid.status().message());
  }
  // The objects, as a start applies them (idempotently): the one step that
  // may still fail (the store), so it goes first and a failure changes nothing else.
  if (control_store_ != nullptr) {
    auto add = [&result](const ApplySummary& s) {
      result.objects_created += s.created;
      result.objects_replaced += s.replaced;
      result.objects_unchanged += s.unchanged;
    };
    if (!next->bootstrap_yaml.empty()) {
      auto applied = ApplyObjects(control_store_.get(), next->bootstrap_yaml, next->bootstrap_file, actor, false);
      if (!applied.ok()) return fail(applied.status().message());
      add(*applied);
    }
    if (!next->bootstrap_dir.empty()) {
      auto applied = ApplyDirectory(control_store_.get(), next->bootstrap_dir, actor);
      if (!applied.ok()) return fail(applied.status().message());
      add(*applied);
    }
  }
  for (const std::string& key : ChangedSections(loaded_, *next)) {
    if (ReloadsLive(key)) {
      result.applied.push_back(key);
      if (auto it = next->sections.find(key); it != next->sections.end()) {
        loaded_.sections[key] = it->second;
      } else {
        loaded_.sections.erase(key);
      }
    } else {
      result.restart_required.push_back(key);  // compared with what runs again next time
    }
  }
  auth_.SetTokens(next->tokens);
  if (std::find(result.applied.begin(), result.applied.end(), "triggers") != result.applied.end()) {
    auto rules = std::make_shared<TriggerRules>(next->triggers);
    std::lock_guard rules_lock(rules_mu_);
    trigger_rules_ = std::move(rules);
  }
  SetLogLevel(next->log_level);
  SetLogFormat(next->log_format);
  loaded_.tokens = next->tokens;
  loaded_.triggers = next->triggers;
  loaded_.log_level = next->log_level;
  loaded_.log_format = next->log_format;
  result.ok = true;
  last_reload_ok_ = true;
  last_reload_success_ms_ = ToUnixMillis(clock_.Now());
  Log(LogLevel::kInfo, "configuration reloaded",
      {{"component", "reload"},
       {"by", by},
       {"applied", Joined(result.applied)},
       {"tokens", next->tokens.size()},
       {"triggers", next->triggers.size()},
       {"objects_created", result.objects_created},
       {"objects_replaced", result.objects_replaced}});
  if (!result.restart_required.empty()) {
    Log(LogLevel::kWarning, "configuration reloaded, but some changed keys take effect only after a restart",
        {{"component", "reload"}, {"restart_required", Joined(result.restart_required)}});
  }
  if (const std::string warning = AccessWarning(); !warning.empty()) {
    Log(LogLevel::kWarning, warning, {{"component", "auth"}});
  }
  return result;
}

size_t Aggregator::ExpireIdle() {
  const size_t n = store_.ExpireIdle();
  series_expired_ += n;
  if (n > 0) Log(LogLevel::kDebug, "expired " + std::to_string(n) + " idle series", {{"component", "store"}});
  // The memory expired series and chunks left goes back to the system (about
  // 9% less RSS on a 500k-series store).
  ::malloc_trim(0);
  return n;
}

Result<WalReplayStats> Aggregator::OpenWal(const WalReplayObserver& observer) {
  if (config_.data_dir.empty()) return WalReplayStats{};
  auto wal = WriteAheadLog::Open(
      WalOptions{.dir = WalDir(config_.data_dir), .sync_interval = config_.wal_sync_interval}, clock_);
  if (!wal.ok()) return wal.status();
  auto replayed = (*wal)->Replay(&store_, observer);
  if (!replayed.ok()) return replayed.status();
  wal_ = std::move(wal).value();
  ingest_api_.UseWal(wal_.get());
  return replayed;
}

void Aggregator::Snapshot() {
  if (config_.data_dir.empty()) return;
  // Every push logged before the cut is in the store once it returns: the
  // snapshot holds them, so their segments can go once it is written.
  const uint64_t first_kept = wal_ != nullptr ? wal_->Cut() : 0;
  auto written = WriteSnapshot(store_, &demand_, config_.data_dir);
  if (!written.ok()) {
    Log(LogLevel::kError, "snapshot failed: " + written.status().message(), {{"component", "snapshot"}});
  } else {
    Log(LogLevel::kDebug,
        "snapshot: " + std::to_string(written->series) + " series, " + std::to_string(written->bytes) + " bytes",
        {{"component", "snapshot"}});
    const Status removed = wal_ != nullptr ? wal_->RemoveBefore(first_kept) : Status::Ok();
    if (!removed.ok()) Log(LogLevel::kWarning, "write-ahead log: " + removed.message(), {{"component", "wal"}});
  }
  // A full data directory: what pushes bring could not be kept past a crash,
  // so they are refused (503: senders keep and retry them) until a snapshot
  // fits again. Other failures are only logged.
  const bool full = !written.ok() && written.status().code() == StatusCode::kResourceExhausted;
  if (full == data_dir_full_) return;
  data_dir_full_ = full;
  if (full) {
    const std::string reason = "the data directory " + config_.data_dir + " is full (" + written.status().message() +
                               "): pushes are refused until a snapshot fits again";
    Log(LogLevel::kError, reason, {{"component", "snapshot"}});
    ingest_api_.RefusePushes(reason);
  } else {
    Log(LogLevel::kInfo, "the data directory " + config_.data_dir + " takes snapshots again: pushes are accepted",
        {{"component", "snapshot"}});
    ingest_api_.RefusePushes("");
  }
}

Status Aggregator::Schedule(Scheduler* work, Scheduler* delivery, Scheduler* lease) {
  if (leader_ != nullptr) {
    LeaderElection* l = leader_.get();
    PRESCALE_RETURN_IF_ERROR((lease != nullptr ? lease : work)
                                 ->Every(
                                     "lease", l->renew_interval(), [l] { l->Step(); }, std::chrono::milliseconds(0)));
  }
  PRESCALE_RETURN_IF_ERROR(work->Every("tick", config_.tick_interval, [this] { Tick(); }));
  PRESCALE_RETURN_IF_ERROR(work->OnWake("triggers", [this] { EvaluateTriggers(); }));
  triggers_.OnPublish([work] { work->Wake(); });
  // A walk over every series (0.1 core every 10 s for 2.5M series): once a minute.
  PRESCALE_RETURN_IF_ERROR(work->Every("expire", std::chrono::minutes(1), [this] { ExpireIdle(); }));
  if (!config_.data_dir.empty() && config_.snapshot_interval.count() > 0) {
    PRESCALE_RETURN_IF_ERROR(work->Every("snapshot", config_.snapshot_interval, [this] { Snapshot(); }));
  }
  if (dispatcher_ == nullptr) return Status::Ok();
  ActionDispatcher* d = dispatcher_.get();
  PRESCALE_RETURN_IF_ERROR(delivery->OnWake("deliver", [d] { d->RunOnce(); }));
  PRESCALE_RETURN_IF_ERROR(delivery->Every("retry", std::chrono::milliseconds(500), [d] { d->RunOnce(); }));
  // Someone may scale a target by hand: the kubernetes executor's targets are read back.
  PRESCALE_RETURN_IF_ERROR(delivery->Every(
      "read_back", std::chrono::seconds(30), [d] { d->RefreshReplicas(); }, std::chrono::milliseconds(0)));
  if (discovery_ != nullptr) {
    WorkloadDiscovery* k = discovery_.get();
    PRESCALE_RETURN_IF_ERROR(delivery->Every(
        "kubernetes_discovery", config_.kubernetes_discovery_interval,
        [this, k] {
          if (!Leads()) return;  // the leader writes the services it finds
          auto report = k->RunOnce();
          if (!report.ok()) {
            Log(LogLevel::kWarning, "kubernetes discovery: " + report.status().message(),
                {{"component", "kubernetes"}});
          }
        },
        std::chrono::milliseconds(0)));
  }
  decisions_->OnActionsQueued([d, delivery] {
    d->Notify();
    delivery->Wake();
  });
  if (amqp_source_ != nullptr) amqp_source_->Start();
  return Status::Ok();
}

namespace {

// prescale_service_usage{tenant,service,resource}: the newest final minute of every demand series.
void AppendUsageGauges(const DemandRollups& demand, metrics::TextWriter& w) {
  const auto latest = demand.Latest();
  if (latest.empty()) return;
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

void Scalar(metrics::TextWriter& w, const char* name, const char* help, metrics::MetricType type, double value) {
  w.Family(name, help, type);
  w.Sample(name, std::span<const metrics::LabelRef>(), value);
}

}  // namespace

std::string Aggregator::MetricsText() const {
  std::string text;
  metrics::AppendBuildInfo(&text);
  metrics::AppendProcessMetrics(&text);
  front_->AppendMetrics(&text);
  ingest_api_.AppendMetrics(&text);
  {
    metrics::TextWriter w(&text);
    using metrics::MetricType;
    Scalar(w, "prescale_aggregator_series_expired_total",
           "Series removed after raw_retention without samples, or stale", MetricType::kCounter,
           static_cast<double>(series_expired_.load()));
    Scalar(w, "prescale_aggregator_active_series", "Series held in the raw store", MetricType::kGauge,
           static_cast<double>(store_.active_series()));
    Scalar(w, "prescale_aggregator_max_series", "The configured limit of series (max_series)", MetricType::kGauge,
           static_cast<double>(config_.max_series));
    Scalar(w, "prescale_aggregator_data_dir_full",
           "1 while the data directory has no room for the snapshot or the write-ahead log and pushes are refused "
           "with 503, 0 otherwise",
           MetricType::kGauge, data_dir_full_.load() || (wal_ != nullptr && wal_->out_of_space()) ? 1.0 : 0.0);
    Scalar(w, "prescale_aggregator_anonymous_push_allowed",
           "1 when requests without a token may push samples (allow_anonymous_push), 0 otherwise", MetricType::kGauge,
           config_.allow_anonymous_push ? 1.0 : 0.0);
    Scalar(w, "prescale_config_last_reload_successful",
           "1 when the last reload of the configuration (SIGHUP, POST /-/reload) succeeded or none was tried, 0 "
           "when it failed and the configuration running is older than the file",
           MetricType::kGauge, last_reload_ok_.load() ? 1.0 : 0.0);
    Scalar(w, "prescale_config_last_reload_success_timestamp_seconds",
           "When the configuration was last loaded successfully (the start, or a reload), in Unix seconds",
           MetricType::kGauge, static_cast<double>(last_reload_success_ms_.load()) / 1000.0);
    Scalar(w, "prescale_aggregator_anonymous_metrics_allowed",
           "1 when GET /metrics answers requests without a token (allow_anonymous_metrics), 0 otherwise",
           MetricType::kGauge, config_.allow_anonymous_metrics ? 1.0 : 0.0);
    if (const http::HttpServer* server = server_.load(); server != nullptr) {
      const http::HttpServerStats s = server->stats();
      Scalar(w, "prescale_aggregator_http_connections", "Connections open to the HTTP front end", MetricType::kGauge,
             static_cast<double>(s.open_connections));
      Scalar(w, "prescale_aggregator_http_connections_accepted_total", "Connections the HTTP front end accepted",
             MetricType::kCounter, static_cast<double>(s.accepted_connections));
      Scalar(w, "prescale_aggregator_http_connections_refused_total",
             "Connections answered 503 and closed for http_max_connections or http_max_connections_per_client",
             MetricType::kCounter, static_cast<double>(s.refused_connections));
      Scalar(w, "prescale_aggregator_http_connections_timed_out_total",
             "Connections closed because a client stayed idle, or sent its header, body or TLS handshake too slowly",
             MetricType::kCounter, static_cast<double>(s.timed_out_connections));
    }
    const DemandStats demand = demand_.Stats();
    w.Family("prescale_aggregator_store_bytes",
             "Memory held by the history (approximate): raw series and samples, demand rollups", MetricType::kGauge);
    w.Sample("prescale_aggregator_store_bytes", {{"part", "raw"}}, static_cast<double>(store_.bytes()));
    w.Sample("prescale_aggregator_store_bytes", {{"part", "rollups"}}, static_cast<double>(demand.bytes));
    Scalar(w, "prescale_aggregator_demand_series", "Demand series (tenant, service, resource) held as rollups",
           MetricType::kGauge, static_cast<double>(demand.keys));
    Scalar(w, "prescale_aggregator_demand_late_intervals",
           "Sample intervals that arrived after their minute was final (cumulative)", MetricType::kGauge,
           static_cast<double>(demand.late_intervals));
    const int64_t newest = store_.newest_timestamp_ms();
    Scalar(w, "prescale_aggregator_ingest_lag_seconds", "Now minus the newest sample timestamp received (0 before any)",
           MetricType::kGauge, newest == 0 ? 0.0 : static_cast<double>(ToUnixMillis(clock_.Now()) - newest) / 1000.0);
    AppendUsageGauges(demand_, w);
  }
  if (wal_ != nullptr) wal_->AppendMetrics(&text);
  forecasts_.AppendMetrics(&text);
  if (leader_ != nullptr) leader_->AppendMetrics(&text);
  if (control_store_ != nullptr) control_store_->AppendMetrics(&text);
  if (decisions_ != nullptr) {
    // The decisions and deliveries are the leader's: exported by it alone,
    // so that sums over the replicas count each service once.
    if (Leads()) {
      decisions_->AppendMetrics(&text);
      dispatcher_->AppendMetrics(&text);
    }
    triggers_.AppendMetrics(&text);
    Rules()->AppendMetrics(&text);
    scaling_api_->AppendMetrics(&text);
  }
  if (discovery_ != nullptr) discovery_->AppendMetrics(&text);
  if (amqp_source_ != nullptr) amqp_source_->AppendMetrics(&text);
  return text;
}

}  // namespace prescale::aggregator
