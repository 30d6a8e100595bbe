// Aggregator: the aggregator's ingest and API wired together: authentication,
// the remote-write and JSON receivers, the series store, /api/v1/raw and the
// self metrics. main.cc starts an HttpServer with Routes() and calls
// ExpireIdle() periodically. Handlers are thread-safe (they run on the HTTP
// server's pool); prometheus-cpp stays behind this header.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prescale/aggregator/actions.h"
#include "prescale/aggregator/alertmanager.h"
#include "prescale/aggregator/auth.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/control_api.h"
#include "prescale/aggregator/control_store.h"
#include "prescale/aggregator/decision_loop.h"
#include "prescale/aggregator/demand.h"
#include "prescale/aggregator/forecasts.h"
#include "prescale/aggregator/series_store.h"
#include "prescale/aggregator/triggers.h"
#include "prescale/base/clock.h"
#include "prescale/base/rate_limiter.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

class Aggregator {
 public:
  Aggregator(AggregatorConfig config, const Clock& clock);
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // The control plane's store (tenants, services, policies, tokens, audit):
  // its tokens authenticate too, and Routes() serves the control API.
  void UseControlStore(std::unique_ptr<ControlStore> store);
  ControlStore* control_store() { return control_store_.get(); }
  // The decision loop (null without a control store).
  const DecisionLoop* decisions() const { return decisions_.get(); }
  // Delivers the scaling actions (null without a control store): main runs
  // RunOnce on its own thread.
  ActionDispatcher* dispatcher() { return dispatcher_.get(); }
  TriggerBus& triggers() { return triggers_; }

  // /api/v1/write, /api/v1/ingest, /api/v1/raw, /api/v1/series, /api/v1/forecasts,
  // /metrics, /healthz, /readyz, and the control API once a store is attached.
  std::vector<http::Route> Routes();
  // Listen address, threads and the body limit from the config.
  http::HttpServerOptions ServerOptions() const;

  http::HttpResponse HandleWrite(const http::HttpRequest& request);
  http::HttpResponse HandleIngest(const http::HttpRequest& request);
  http::HttpResponse HandleRaw(const http::HttpRequest& request);
  http::HttpResponse HandleSeries(const http::HttpRequest& request);
  http::HttpResponse HandleForecasts(const http::HttpRequest& request);
  http::HttpResponse HandleDecisions(const http::HttpRequest& request);
  // POST /api/v1/alerts/alertmanager: Alertmanager's webhook (version 4).
  http::HttpResponse HandleAlertmanager(const http::HttpRequest& request);
  // GET /api/v1/directives?node=NAME: the CPU caps an agent applies on its node.
  http::HttpResponse HandleDirectives(const http::HttpRequest& request);
  // POST /api/v1/tenants/{tenant}/services/{service}/replicas: the replicas a service runs.
  http::HttpResponse HandleReplicasReport(const http::HttpRequest& request);
  http::HttpResponse HandleMetrics();

  // Removes idle and ended series; returns how many.
  size_t ExpireIdle();
  // Every few seconds: the demand minutes that are due become final, every
  // demand series is forecast, and (with a control store) every service is
  // evaluated by the decision engine; returns the series forecast. (ExpireIdle
  // runs apart, less often.)
  size_t Tick();
  // The services the trigger bus named since the last evaluation, evaluated
  // now (no forecast refresh); false when nothing was pending.
  bool EvaluateTriggers();
  // The text exposition of the self metrics.
  std::string MetricsText();

  const AggregatorConfig& config() const { return config_; }
  const Authenticator& authenticator() const { return auth_; }
  SeriesStore& store() { return store_; }
  DemandRollups& demand() { return demand_; }
  ForecastEngine& forecasts() { return forecasts_; }

 private:
  struct Metrics;
  // Stores a decoded request and answers as remote write wants (204/429/500).
  // Refused whole with 429 when `sender` is over sender_samples_per_second.
  http::HttpResponse AppendAndAnswer(const std::vector<remote_write::TimeSeries>& series, const char* handler,
                                     bool json, const std::string& sender);
  http::HttpResponse Count(const char* handler, http::HttpResponse response);

  AggregatorConfig config_;
  const Clock& clock_;
  Authenticator auth_;
  DemandRollups demand_;  // before store_, which feeds it
  ForecastEngine forecasts_;
  SeriesStore store_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<RateLimiter> sender_limit_;  // null: no limit
  std::unique_ptr<ControlStore> control_store_;
  std::unique_ptr<ControlApi> control_api_;
  std::unique_ptr<DecisionLoop> decisions_;
  std::unique_ptr<ActionDispatcher> dispatcher_;
  TriggerBus triggers_;
  TriggerRules trigger_rules_;
  AlertDeduplicator alerts_;
  std::mutex alerts_mu_;                           // the alert counters below
  std::map<std::string, double> alerts_received_;  // by outcome
};

}  // namespace prescale::aggregator
