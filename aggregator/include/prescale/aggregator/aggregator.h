// Aggregator: the one place that wires prescale-aggregator together from a
// config, a Clock and an executor factory (src/wiring.cc):
//   history   SeriesStore -> DemandRollups -> ForecastEngine
//   control   a ControlStore (attached with UseControlStore), the Authenticator
//   scaling   DecisionLoop, TriggerBus, TriggerRules
//   actions   ActionDispatcher with the executors the factory makes; the
//             services it holds (an executor refuses to act) the decision
//             loop decides as recommend-only
//   api       one Front with the ingest, demand, scaling and control routes
// main.cc adds the process: flags, the control store's file, snapshots,
// backfill, the HTTP server and the schedule of the periodic work below.
// Handlers are thread-safe; Tick, EvaluateTriggers and ExpireIdle are called
// from the scheduler's one thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/api/control_api.h"
#include "prescale/aggregator/api/demand_api.h"
#include "prescale/aggregator/api/front.h"
#include "prescale/aggregator/api/ingest_api.h"
#include "prescale/aggregator/api/scaling_api.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control/auth.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/control/leader.h"
#include "prescale/aggregator/events/amqp_source.h"
#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/aggregator/history/wal.h"
#include "prescale/aggregator/kubernetes/workload_discovery.h"
#include "prescale/aggregator/scaling/decision_loop.h"
#include "prescale/aggregator/scaling/triggers.h"
#include "prescale/base/clock.h"
#include "prescale/base/scheduler.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

// Makes the executors by type ("webhook", "kubernetes") for a config.
using ExecutorFactory =
    std::function<std::map<std::string, std::unique_ptr<Executor>>(const AggregatorConfig&, const Clock&)>;
// The real ones: webhooks and the Kubernetes scale subresource over libcurl.
std::map<std::string, std::unique_ptr<Executor>> MakeExecutors(const AggregatorConfig& config, const Clock& clock);
// The API server, token, CA and timeout of the config (the in-cluster
// defaults for what it leaves out): the kubernetes executor's and discovery's.
KubernetesOptions KubernetesOptionsOf(const AggregatorConfig& config);

// What a reload did (SIGHUP, POST /-/reload).
struct ReloadResult {
  bool ok = false;
  // When !ok: why nothing changed (the file, line and key of a bad value).
  std::string error;
  // Keys whose values changed in the file and now apply.
  std::vector<std::string> applied;
  // Keys whose values changed in the file but take effect only at the next
  // start (the listen address, data_dir, ...): reported at every reload until then.
  std::vector<std::string> restart_required;
  // The bootstrap objects (tenants, policies, services; bootstrap_dir) applied again.
  int objects_created = 0;
  int objects_replaced = 0;
  int objects_unchanged = 0;
};

// Reads the configuration again: the --config file with the flags on top.
using ConfigLoader = std::function<Result<AggregatorConfig>()>;

class Aggregator {
 public:
  Aggregator(AggregatorConfig config, const Clock& clock, ExecutorFactory executors = MakeExecutors);
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // The control plane's store (tenants, services, policies, tokens, audit):
  // its tokens authenticate too; the decision loop, the dispatcher and the
  // control and scaling routes come with it, and the workload discovery
  // when the config turns it on. On a shared store (PostgreSQL: a
  // control_store URL), so does the leader election among the replicas
  // sharing it: only the leader records and delivers actions, publishes caps,
  // reads targets back and runs the discovery; the others evaluate without
  // acting, so that reads answer everywhere and a takeover starts warm. On
  // SQLite the process is the store's only replica and always acts.
  void UseControlStore(std::unique_ptr<ControlStore> store);
  // Whether this replica acts: it leads (always without an election).
  bool Leads() const { return leader_ == nullptr || leader_->IsLeader(); }
  // Null unless a shared control store elects a leader.
  LeaderElection* leader() { return leader_.get(); }

  // Every route, each behind the front (roles, errors, counting).
  std::vector<http::Route> Routes() const;
  // What to warn about whenever the config is (re)loaded, "" when nothing:
  // allow_anonymous_push is on (the data plane takes unauthenticated pushes),
  // allow_anonymous_metrics is on (anyone reads every tenant's metrics), or
  // no token exists at all (config or control store: everything is refused).
  std::string AccessWarning() const;
  // Listen address, threads, connection limits and the body limit from the config.
  http::HttpServerOptions ServerOptions() const;
  // The server serving Routes(): its connection counts go into MetricsText().
  // It must outlive the aggregator or be detached (nullptr) before it stops.
  void AttachServer(const http::HttpServer* server) { server_.store(server); }
  // Serves one request through the route named `name` (RouteSpec::name), as
  // the server would once it matched the path: for tests.
  http::HttpResponse Handle(const std::string& name, const http::HttpRequest& request) const;

  // Every tick: the demand minutes that are due become final, every demand
  // series is forecast and (with a control store) every service is evaluated;
  // returns the series forecast.
  size_t Tick();
  // The services the trigger bus named since the last evaluation, evaluated
  // now (no forecast refresh); false when nothing was pending.
  bool EvaluateTriggers();
  // Removes idle and ended series, then hands freed memory back to the
  // system; returns how many.
  size_t ExpireIdle();
  // With a data_dir: opens data_dir/wal, replays it into the store (call
  // after the snapshot was loaded, before serving) and logs every push from
  // then on. IoError naming a segment that cannot be read. Nothing without one.
  Result<WalReplayStats> OpenWal(const WalReplayObserver& observer = {});
  // Writes the history to data_dir (nothing without one); errors are logged.
  // The write-ahead log is cut first and the segments the snapshot holds are
  // removed once it is written (a failed one removes nothing).
  // While the data directory is full (the snapshot fails for lack of space)
  // pushes are refused with 503; the next snapshot that fits lifts it.
  void Snapshot();
  // The periodic work, on `work` (one thread): the tick every tick_interval,
  // trigger evaluations as soon as one is published, idle series' expiry every
  // minute, a snapshot every snapshot_interval (with a data_dir and an
  // interval). With a control store, the deliveries on `delivery` (a thread of
  // their own, so a slow receiver never delays a tick): as soon as actions are
  // queued and every 500 ms for retries that come due, and the executors'
  // targets read back (and held services' refusals checked) every 30 s, and
  // the workload discovery (when on) every kubernetes_discovery_interval,
  // also on `delivery`: both talk to the API server, which must never delay a
  // tick. Call once, after UseControlStore.
  // The lease is renewed every leader_lease / 3 on `lease` (its own thread
  // in the program, so that no tick or store call of the others delays it;
  // `work` when null), first at once.
  Status Schedule(Scheduler* work, Scheduler* delivery, Scheduler* lease = nullptr);
  // Where Reload reads the configuration (main.cc: the --config file and the
  // flags). Without one, Reload fails.
  void ReloadFrom(ConfigLoader loader);
  // Reads the configuration again and, only when all of it is valid (the
  // file, and the bootstrap objects of the file and of bootstrap_dir), applies
  // what can change while running (ReloadsLive: tokens, trigger rules, the log
  // level and format, bootstrap objects); anything invalid changes nothing.
  // Logs the outcome and sets prescale_config_last_reload_successful.
  // `by`: who asked ("SIGHUP", a token's name), for the log. Thread-safe; one
  // reload at a time.
  ReloadResult Reload(const std::string& by);
  // The text exposition of the self metrics.
  std::string MetricsText() const;

  const AggregatorConfig& config() const { return config_; }
  const Authenticator& authenticator() const { return auth_; }
  const Front& front() const { return *front_; }
  SeriesStore& store() { return store_; }
  DemandRollups& demand() { return demand_; }
  ForecastEngine& forecasts() { return forecasts_; }
  TriggerBus& triggers() { return triggers_; }
  // Null until UseControlStore.
  ControlStore* control_store() { return control_store_.get(); }
  const DecisionLoop* decisions() const { return decisions_.get(); }
  ActionDispatcher* dispatcher() { return dispatcher_.get(); }
  // Null unless kubernetes_discovery is on and a control store is attached.
  WorkloadDiscovery* discovery() { return discovery_.get(); }

 private:
  void AddRoutes();
  // One evaluation (acting when this replica leads), then the caps: the
  // leader publishes its own when they changed, the others read the leader's.
  void Decide(const std::vector<TriggerEvent>& events);
  void PublishCaps();
  void ReadPublishedCaps();
  // For /api/v1/directives: nullopt while leading (or before the first read), else the leader's caps.
  std::optional<std::vector<PublishedCap>> CapsFromLeader() const;
  // GET /readyz: ready, and which replica leads.
  http::HttpResponse Readiness() const;

  AggregatorConfig config_;
  const Clock& clock_;
  ExecutorFactory executors_;
  Authenticator auth_;
  DemandRollups demand_;  // before store_, which feeds it
  ForecastEngine forecasts_;
  SeriesStore store_;
  TriggerBus triggers_;
  // Replaced whole by a reload that changes `triggers`: Tick evaluates the
  // rules it read under rules_mu_ (a reload during a tick waits for none).
  mutable std::mutex rules_mu_;
  std::shared_ptr<TriggerRules> trigger_rules_;
  std::shared_ptr<TriggerRules> Rules() const;
  // Reloads: one at a time; `loaded_` is the config the running state was
  // built from (the sections of keys that need a restart stay as they started).
  std::mutex reload_mu_;
  ConfigLoader loader_;
  AggregatorConfig loaded_;
  std::atomic<bool> last_reload_ok_{true};
  std::atomic<int64_t> last_reload_success_ms_{0};
  std::atomic<uint64_t> series_expired_{0};
  std::atomic<const http::HttpServer*> server_{nullptr};
  std::atomic<bool> data_dir_full_{false};  // written by Snapshot() (one caller at a time)
  std::unique_ptr<ControlStore> control_store_;
  std::unique_ptr<LeaderElection> leader_;
  std::optional<std::vector<PublishedCap>> published_;    // what this replica last published (work thread)
  int64_t published_token_ = 0;                           // under which fencing token
  mutable std::mutex caps_mu_;                            // guards leader_caps_
  std::optional<std::vector<PublishedCap>> leader_caps_;  // what the leader published, as last read
  std::unique_ptr<DecisionLoop> decisions_;
  std::unique_ptr<ActionDispatcher> dispatcher_;
  std::unique_ptr<WorkloadDiscovery> discovery_;
  std::unique_ptr<WriteAheadLog> wal_;  // before ingest_api_, which writes to it
  IngestApi ingest_api_;
  DemandApi demand_api_;
  std::unique_ptr<ScalingApi> scaling_api_;
  std::unique_ptr<ControlApi> control_api_;
  std::unique_ptr<Front> front_;
  // Last: stopped (on destruction) before what it reads (triggers_, leader_) goes.
  std::unique_ptr<AmqpTriggerSource> amqp_source_;  // events.amqp.triggers
};

}  // namespace prescale::aggregator
