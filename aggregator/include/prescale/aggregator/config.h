// The aggregator's configuration: YAML (--config FILE) with command-line flags
// layered on top. Every error names the key and the line (for the file) or the
// flag. Value type; parse once at start.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/auth.h"
#include "prescale/aggregator/events/amqp_options.h"
#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/aggregator/scaling/decision_loop.h"
#include "prescale/aggregator/scaling/triggers.h"
#include "prescale/base/log.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

struct AggregatorConfig {
  std::string listen = "0.0.0.0:9570";
  std::string data_dir;  // empty: nothing is written to disk
  // The control store: empty for SQLite (data_dir/control.db, or in memory
  // without a data_dir); a postgres:// or postgresql:// URL for PostgreSQL,
  // which several replicas may share (control_store, --control-store).
  std::string control_store;
  // This replica's name among those sharing a control store: in the lease,
  // /readyz and prescale_leader (replica_name, --replica-name). Empty: the
  // host name (a StatefulSet pod's name).
  std::string replica_name;
  // How long the leader's lease lasts without renewal (renewed every third of
  // it): a follower takes over at most this long, plus one renewal, after
  // the leader dies (leader_lease).
  std::chrono::milliseconds leader_lease{15'000};
  uint64_t max_series = 1'000'000;
  uint64_t max_body_bytes = 32ULL << 20;
  // Samples a second each sender (token; all anonymous senders together) may
  // push, with bursts of ten seconds' worth; over it, 429 and Retry-After. 0: no limit.
  uint64_t sender_samples_per_second = 0;
  std::chrono::milliseconds raw_retention{15 * 60 * 1000};
  // How often the history is written to data_dir (and always on SIGTERM);
  // the write-ahead log holds what came since (replayed at start). 0: only on SIGTERM.
  std::chrono::milliseconds snapshot_interval{60 * 1000};
  // How often the write-ahead log (data_dir/wal) is fdatasynced when written
  // since: what power loss may cost of the acknowledged pushes (kill -9 costs
  // none). 0: only when a segment is closed.
  std::chrono::milliseconds wal_sync_interval{1000};
  // Tokens by hash (more may live in the control store). Every route but
  // /healthz and /readyz needs one, unless allow_anonymous_push (pushes) or
  // allow_anonymous_metrics (/metrics).
  std::vector<TokenConfig> tokens;
  // Requests without a token may push (POST /api/v1/write and /api/v1/ingest),
  // and only push: reads, scaling and the control API still need a token. A
  // warning is logged at start and prescale_aggregator_anonymous_push_allowed is 1.
  bool allow_anonymous_push = false;
  // GET /metrics without a token. Off: only admin and monitor tokens may
  // scrape, since the exposition holds every tenant's usage, forecasts and
  // decisions. A warning is logged at start and
  // prescale_aggregator_anonymous_metrics_allowed is 1.
  bool allow_anonymous_metrics = false;
  // Threads of the HTTP front end: requests handled at once. Connections
  // waiting for a request or its bytes hold none.
  int http_threads = 8;
  // Connections open at once, and from one client address (an agent keeps one
  // open per node); over either, a connection is answered 503 and closed. 0: no limit.
  uint64_t http_max_connections = 16384;
  uint64_t http_max_connections_per_client = 256;
  // A kept-alive connection without a request for this long is closed.
  std::chrono::milliseconds http_idle_timeout{120 * 1000};
  // HTTPS with this certificate (chain) and key, both PEM; empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Control API requests a second per token (bursts of twice that); 0: no limit.
  double api_requests_per_second = 50;
  // Tenants, services and policies applied at start (idempotently), from the
  // config's `tenants:`, `policies:` and `services:` (YAML text, kept for the
  // store; parsed by ApplyObjects) and from every *.yaml file of bootstrap_dir.
  std::string bootstrap_yaml;
  std::string bootstrap_file;  // where bootstrap_yaml came from, for messages
  std::string bootstrap_dir;
  // The decision engine's view of the cluster (capacity from the agents unless set).
  DecisionLoopOptions decisions;
  // How often demand minutes become final, every demand series is forecast
  // and every service evaluated (triggers evaluate at once in between).
  std::chrono::milliseconds tick_interval{10'000};
  // How long a CPU cap the agents read from /api/v1/directives holds without
  // being read again: past it, the agent puts the original value back.
  std::chrono::milliseconds directive_lease{60'000};
  // One webhook delivery attempt's timeout (retried with backoff).
  std::chrono::milliseconds webhook_timeout{5'000};
  // The kubernetes executor: the API server and the service account's token
  // and CA (empty: the in-cluster defaults of KubernetesOptions).
  std::string kubernetes_api_server;
  std::string kubernetes_token_file;
  std::string kubernetes_ca_file;
  // Workload discovery (docs/kubernetes.md): services from Deployments and
  // StatefulSets annotated prescale.io/enabled: "true", listed from the same
  // API server every kubernetes_discovery_interval. Off by default.
  bool kubernetes_discovery = false;
  std::chrono::milliseconds kubernetes_discovery_interval{30'000};
  // Threshold and predictive trigger rules (evaluated at every tick).
  std::vector<TriggerRule> triggers;
  // Scaling events on RabbitMQ and its trigger source (events: {amqp: ...},
  // docs/events.md); nullopt: none.
  std::optional<AmqpOptions> events_amqp;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;  // log_format, --log-format
  // The demand series: labels, rules (defaults plus `demand.custom_metrics`), timing.
  DemandOptions demand;
  // Forecasts of every demand series at every tick (until policies name their own).
  ForecastSettings forecast;
  // When set and the store starts empty, the demand rollups are backfilled from
  // this Prometheus's query_range API.
  std::string prometheus_url;
  // The file's top-level keys, each with a canonical text of its value
  // (comments, layout and lines left out): what a reload compares to tell
  // which keys changed. Empty without a file.
  std::map<std::string, std::string> sections;
};

// The keys a reload (SIGHUP, POST /-/reload) applies to the running
// aggregator; a change to any other key is reported as needing a restart.
bool ReloadsLive(std::string_view key);
// The keys whose sections differ between two configs, in name order.
std::vector<std::string> ChangedSections(const AggregatorConfig& before, const AggregatorConfig& after);

// Parses YAML text on top of the defaults; file_name is used in messages.
Result<AggregatorConfig> ParseAggregatorConfig(std::string_view yaml_text, const std::string& file_name);
Result<AggregatorConfig> LoadAggregatorConfig(const std::string& path);

struct AggregatorCommandLine {
  std::string config_path;
  bool help = false;
  bool version = false;                                        // --version: print what the binary was built from
  bool allow_anonymous_push = false;                           // --allow-anonymous-push (only turns it on)
  bool allow_anonymous_metrics = false;                        // --allow-anonymous-metrics (only turns it on)
  std::vector<std::pair<std::string, std::string>> overrides;  // flag name -> value, applied after the file
};

std::string AggregatorUsage();
// Parses argv; an unknown flag or a missing value is InvalidArgument naming it.
Result<AggregatorCommandLine> ParseAggregatorCommandLine(int argc, const char* const* argv);
// Applies the flag overrides to a config; a bad value names the flag.
Status ApplyAggregatorOverrides(const AggregatorCommandLine& cli, AggregatorConfig* config);

}  // namespace prescale::aggregator
