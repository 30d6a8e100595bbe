#include "prescale/aggregator/config.h"

#include "config_events.h"

#include "prescale/aggregator/control/auth.h"
#include "prescale/aggregator/control/postgres_store.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "prescale/base/duration.h"
#include "prescale/base/flags.h"
#include "prescale/base/numbers.h"
#include "prescale/base/yaml_config.h"
#include "prescale/metrics/names.h"

namespace prescale::aggregator {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "" when `text` is a valid "sha256:<64 lowercase hex>", else the reason.
std::string CheckTokenHash(std::string_view text) {
  if (!text.starts_with(kHashPrefix)) return "expected \"sha256:<64 hex digits>\" (the SHA-256 of the token)";
  const std::string_view hex = text.substr(kHashPrefix.size());
  if (hex.size() != 64 || !IsLowerHex(hex)) return "expected 64 lowercase hex digits after \"sha256:\"";
  return "";
}

Status ParseTokens(const YamlConfigReader& r, const ConfigNode& node, AggregatorConfig* c) {
  PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node, "tokens"));
  for (size_t i = 0; i < node.size(); ++i) {
    const ConfigNode t = node[i];
    const std::string path = IndexPath("tokens", i);
    PRESCALE_RETURN_IF_ERROR(r.CheckMap(t, path, {"name", "sha256", "role", "tenant"}));
    TokenConfig token;
    for (auto [key, field] : {std::pair{"name", &token.name}, {"sha256", &token.sha256_hex}}) {
      if (!t[key].IsDefined()) return r.Error(t, JoinPath(path, key), "required key is missing");
      auto v = r.String(t[key], JoinPath(path, key));
      if (!v.ok()) return v.status();
      if (v->empty()) return r.Error(t[key], JoinPath(path, key), "must not be empty");
      *field = *v;
    }
    if (std::string why = CheckTokenHash(token.sha256_hex); !why.empty()) {
      return r.Error(t["sha256"], JoinPath(path, "sha256"), why);
    }
    token.sha256_hex = token.sha256_hex.substr(kHashPrefix.size());
    for (auto [key, field] : {std::pair{"role", &token.role}, {"tenant", &token.tenant}}) {
      if (!t[key].IsDefined()) continue;
      auto v = r.String(t[key], JoinPath(path, key));
      if (!v.ok()) return v.status();
      *field = *v;
    }
    if (!ParseRole(token.role)) {
      return r.Error(t["role"], JoinPath(path, "role"), "must be one of admin, operator, viewer, agent, monitor");
    }
    const bool bound = token.role == "operator" || token.role == "viewer";
    if (bound != !token.tenant.empty()) {
      return r.Error(
          t, JoinPath(path, "tenant"),
          bound ? "operator and viewer tokens need a tenant" : "only operator and viewer tokens have a tenant");
    }
    for (const TokenConfig& other : c->tokens) {
      if (other.name == token.name) {
        return r.Error(t["name"], JoinPath(path, "name"), "duplicate token name '" + token.name + "'");
      }
      if (other.sha256_hex == token.sha256_hex) {
        return r.Error(t["sha256"], JoinPath(path, "sha256"), "the same hash as token '" + other.name + "'");
      }
    }
    c->tokens.push_back(std::move(token));
  }
  return Status::Ok();
}

Status CheckRetention(std::chrono::milliseconds d, const std::function<Status(std::string)>& fail) {
  if (d < std::chrono::seconds(1)) return fail("must be at least 1s");
  return Status::Ok();
}

// An error naming the trigger's line when `key` is missing from it.
Status RequireTriggerKey(const YamlConfigReader& r, const ConfigNode& t, const std::string& path, const char* key) {
  if (!t[key].IsDefined()) return r.Error(t, JoinPath(path, key), "required key is missing");
  return Status::Ok();
}

// The kind `type` names, with the keys that kind needs and refusing those only the other has.
Status ReadTriggerKind(const YamlConfigReader& r, const ConfigNode& t, const std::string& path, const std::string& type,
                       TriggerRule* rule) {
  if (type == "threshold") {
    rule->kind = TriggerRule::Kind::kThreshold;
    PRESCALE_RETURN_IF_ERROR(RequireTriggerKey(r, t, path, "metric"));
    if (rule->metric.empty()) return r.Error(t["metric"], JoinPath(path, "metric"), "must not be empty");
    if (t["within"].IsDefined()) {
      return r.Error(t["within"], JoinPath(path, "within"), "only predictive triggers have a horizon");
    }
  } else if (type == "predictive") {
    rule->kind = TriggerRule::Kind::kPredictive;
    PRESCALE_RETURN_IF_ERROR(RequireTriggerKey(r, t, path, "tenant"));
    PRESCALE_RETURN_IF_ERROR(RequireTriggerKey(r, t, path, "service"));
    if (t["metric"].IsDefined() || t["labels"].IsDefined()) {
      return r.Error(t, path, "predictive triggers name tenant, service and resource, not metric and labels");
    }
  } else {
    return r.Error(t["type"], JoinPath(path, "type"), "must be threshold or predictive");
  }
  return Status::Ok();
}

// The keys both kinds have: labels, the comparison (op, value), the action and its timing (for, within).
Status ReadTriggerCondition(const YamlConfigReader& r, const ConfigNode& t, const std::string& path,
                            TriggerRule* rule) {
  if (const ConfigNode labels = t["labels"]; labels.IsDefined()) {
    if (!labels.IsMap()) return r.Error(labels, JoinPath(path, "labels"), "expected a map of label values");
    for (const ConfigNode::Entry& label : labels.Entries()) {
      auto v = r.String(label.value, JoinPath(JoinPath(path, "labels"), label.key));
      if (!v.ok()) return v.status();
      rule->labels[label.key] = *v;
    }
  }
  if (rule->op != ">" && rule->op != ">=" && rule->op != "<" && rule->op != "<=") {
    return r.Error(t["op"], JoinPath(path, "op"), "must be one of >, >=, <, <=");
  }
  if (!t["value"].IsScalar() || !ParseDouble(t["value"].Scalar(), &rule->value) || !std::isfinite(rule->value)) {
    return r.Error(t["value"], JoinPath(path, "value"), "expected a number");
  }
  if (rule->action != "evaluate" && rule->action != "scale_up") {
    return r.Error(t["action"], JoinPath(path, "action"), "must be evaluate or scale_up");
  }
  if (t["for"].IsDefined()) {
    auto d = r.Duration(t["for"], JoinPath(path, "for"));
    if (!d.ok()) return d.status();
    rule->for_duration = *d;
  }
  if (t["within"].IsDefined()) {
    auto d = r.Duration(t["within"], JoinPath(path, "within"));
    if (!d.ok()) return d.status();
    if (d->count() <= 0) return r.Error(t["within"], JoinPath(path, "within"), "must be longer than 0");
    rule->within = *d;
  }
  return Status::Ok();
}

// One entry of triggers; `earlier` are the entries before it, whose names it must not reuse.
Result<TriggerRule> ParseTrigger(const YamlConfigReader& r, const ConfigNode& t, const std::string& path,
                                 const std::vector<TriggerRule>& earlier) {
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(
      t, path,
      {"name", "type", "metric", "labels", "tenant", "service", "resource", "op", "value", "for", "within", "action"}));
  TriggerRule rule;
  std::string type = "threshold";
  for (auto [key, field] : {std::pair{"name", &rule.name},
                            {"type", &type},
                            {"metric", &rule.metric},
                            {"tenant", &rule.tenant},
                            {"service", &rule.service},
                            {"resource", &rule.resource},
                            {"op", &rule.op},
                            {"action", &rule.action}}) {
    if (!t[key].IsDefined()) continue;
    auto v = r.String(t[key], JoinPath(path, key));
    if (!v.ok()) return v.status();
    *field = *v;
  }
  for (const char* key : {"name", "op", "value"}) PRESCALE_RETURN_IF_ERROR(RequireTriggerKey(r, t, path, key));
  if (rule.name.empty()) return r.Error(t["name"], JoinPath(path, "name"), "must not be empty");
  for (const TriggerRule& other : earlier) {
    if (other.name == rule.name) {
      return r.Error(t["name"], JoinPath(path, "name"), "duplicate trigger name '" + rule.name + "'");
    }
  }
  PRESCALE_RETURN_IF_ERROR(ReadTriggerKind(r, t, path, type, &rule));
  PRESCALE_RETURN_IF_ERROR(ReadTriggerCondition(r, t, path, &rule));
  return rule;
}

Status ParseTriggers(const YamlConfigReader& r, const ConfigNode& node, AggregatorConfig* c) {
  PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node, "triggers"));
  for (size_t i = 0; i < node.size(); ++i) {
    auto rule = ParseTrigger(r, node[i], IndexPath("triggers", i), c->triggers);
    if (!rule.ok()) return rule.status();
    c->triggers.push_back(std::move(rule).value());
  }
  return Status::Ok();
}

Status ParseCustomMetrics(const YamlConfigReader& r, const ConfigNode& node, DemandOptions* d) {
  PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node, "demand.custom_metrics"));
  for (size_t i = 0; i < node.size(); ++i) {
    const ConfigNode m = node[i];
    const std::string path = IndexPath("demand.custom_metrics", i);
    PRESCALE_RETURN_IF_ERROR(r.CheckMap(m, path, {"metric", "resource", "type"}));
    DemandRule rule;
    std::string type = "gauge";
    for (auto [key, field] : {std::pair{"metric", &rule.metric}, {"resource", &rule.resource}, {"type", &type}}) {
      if (!m[key].IsDefined()) {
        if (std::string_view(key) == "type") continue;
        return r.Error(m, JoinPath(path, key), "required key is missing");
      }
      auto v = r.String(m[key], JoinPath(path, key));
      if (!v.ok()) return v.status();
      *field = *v;
    }
    if (!metrics::IsValidMetricName(rule.metric))
      return r.Error(m["metric"], JoinPath(path, "metric"), "not a valid metric name");
    if (!metrics::IsValidLabelName(rule.resource)) {
      return r.Error(m["resource"], JoinPath(path, "resource"), "expected a name of letters, digits and _");
    }
    if (type != "gauge" && type != "counter")
      return r.Error(m["type"], JoinPath(path, "type"), "expected gauge or counter");
    rule.counter = type == "counter";
    for (const DemandRule& other : d->rules) {
      if (other.metric == rule.metric) {
        return r.Error(m["metric"], JoinPath(path, "metric"), "'" + rule.metric + "' is already a demand source");
      }
    }
    d->rules.push_back(std::move(rule));
  }
  return Status::Ok();
}

Status ParseDemand(const YamlConfigReader& r, const ConfigNode& node, DemandOptions* d) {
  PRESCALE_RETURN_IF_ERROR(
      r.CheckMap(node, "demand", {"tenant_label", "service_label", "resolution", "settle", "custom_metrics"}));
  for (auto [key, field] : {std::pair{"tenant_label", &d->tenant_label}, {"service_label", &d->service_label}}) {
    if (!node[key].IsDefined()) continue;
    const std::string path = JoinPath("demand", key);
    auto v = r.String(node[key], path);
    if (!v.ok()) return v.status();
    if (!metrics::IsValidLabelName(*v)) return r.Error(node[key], path, "not a valid label name");
    *field = *v;
  }
  if (node["resolution"].IsDefined()) {
    auto v = r.Duration(node["resolution"], "demand.resolution");
    if (!v.ok()) return v.status();
    if (*v < std::chrono::seconds(1) || *v > std::chrono::minutes(1) || 60'000 % v->count() != 0) {
      return r.Error(node["resolution"], "demand.resolution", "must divide 1m evenly, from 1s to 1m (e.g. 10s)");
    }
    d->resolution = *v;
  }
  if (node["settle"].IsDefined()) {
    auto v = r.Duration(node["settle"], "demand.settle");
    if (!v.ok()) return v.status();
    if (*v > std::chrono::minutes(30)) return r.Error(node["settle"], "demand.settle", "must be at most 30m");
    d->settle = *v;
  }
  if (node["custom_metrics"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseCustomMetrics(r, node["custom_metrics"], d));
  return Status::Ok();
}

Status ParseForecast(const YamlConfigReader& r, const ConfigNode& node, ForecastSettings* f) {
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, "forecast", {"model", "params", "horizons", "select_horizon", "coverage"}));
  if (node["model"].IsDefined()) {
    auto v = r.String(node["model"], "forecast.model");
    if (!v.ok()) return v.status();
    f->model = *v;
  }
  if (node["params"].IsDefined()) {
    const ConfigNode params = node["params"];
    if (!params.IsMap()) return r.Error(params, "forecast.params", "expected a mapping of parameter: number");
    f->params.clear();
    for (const ConfigNode::Entry& entry : params.Entries()) {
      double v = 0;
      if (!entry.value.IsScalar() || !ParseDouble(entry.value.Scalar(), &v)) {
        return r.Error(entry.value, JoinPath("forecast.params", entry.key), "expected a number");
      }
      f->params[entry.key] = v;
    }
  }
  if (node["horizons"].IsDefined()) {
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node["horizons"], "forecast.horizons"));
    f->horizons.clear();
    for (size_t i = 0; i < node["horizons"].size(); ++i) {
      auto d = r.Duration(node["horizons"][i], IndexPath("forecast.horizons", i));
      if (!d.ok()) return d.status();
      f->horizons.push_back(*d);
    }
  }
  if (node["select_horizon"].IsDefined()) {
    auto d = r.Duration(node["select_horizon"], "forecast.select_horizon");
    if (!d.ok()) return d.status();
    f->select_horizon = *d;
  }
  if (node["coverage"].IsDefined()) {
    double v = 0;
    if (!node["coverage"].IsScalar() || !ParseDouble(node["coverage"].Scalar(), &v) || !(v > 0 && v < 1)) {
      return r.Error(node["coverage"], "forecast.coverage", "expected a number between 0 and 1, e.g. 0.9");
    }
    f->coverage = v;
  }
  if (Status s = ForecastEngine::Validate(*f); !s.ok()) return r.Error(node, "forecast", s.message());
  return Status::Ok();
}

// The keys whose values are non-empty strings.
Status ReadStrings(const YamlConfigReader& r, const ConfigNode& root, AggregatorConfig* c) {
  for (auto [key, field] : {std::pair{"listen", &c->listen},
                            {"data_dir", &c->data_dir},
                            {"control_store", &c->control_store},
                            {"replica_name", &c->replica_name},
                            {"prometheus_url", &c->prometheus_url},
                            {"tls_cert", &c->tls_cert_file},
                            {"tls_key", &c->tls_key_file},
                            {"bootstrap_dir", &c->bootstrap_dir},
                            {"kubernetes_api_server", &c->kubernetes_api_server},
                            {"kubernetes_token_file", &c->kubernetes_token_file},
                            {"kubernetes_ca_file", &c->kubernetes_ca_file}}) {
    if (!root[key].IsDefined()) continue;
    auto v = r.String(root[key], key);
    if (!v.ok()) return v.status();
    if (v->empty()) return r.Error(root[key], key, "must not be empty");
    *field = *v;
  }
  return Status::Ok();
}

// The numeric limits: series, threads, the senders' and the API's rates, and the cluster's capacity.
Status ReadNumbers(const YamlConfigReader& r, const ConfigNode& root, AggregatorConfig* c) {
  for (auto [key, maximum] : {std::pair{"max_series", uint64_t{1} << 32}, {"http_threads", uint64_t{256}}}) {
    const ConfigNode n = root[key];
    if (!n.IsDefined()) continue;
    uint64_t v = 0;
    if (!n.IsScalar() || !ParseU64(n.Scalar(), &v) || v == 0)
      return r.Error(n, key, "expected a positive whole number");
    if (v > maximum) return r.Error(n, key, "must be at most " + std::to_string(maximum));
    if (std::string_view(key) == "max_series") {
      c->max_series = v;
    } else {
      c->http_threads = static_cast<int>(v);
    }
  }
  for (auto [key, field] : {std::pair{"http_max_connections", &c->http_max_connections},
                            {"http_max_connections_per_client", &c->http_max_connections_per_client}}) {
    if (const ConfigNode n = root[key]; n.IsDefined()) {
      if (!n.IsScalar() || !ParseU64(n.Scalar(), field)) {
        return r.Error(n, key, "expected a whole number (0: no limit)");
      }
    }
  }
  if (const ConfigNode n = root["sender_samples_per_second"]; n.IsDefined()) {
    if (!n.IsScalar() || !ParseU64(n.Scalar(), &c->sender_samples_per_second)) {
      return r.Error(n, "sender_samples_per_second", "expected a whole number (0: no limit)");
    }
  }
  for (auto [key, field, max] : {std::tuple{"cluster_cpu_cores", &c->decisions.cluster_cpu_cores, 1e7},
                                 {"cluster_memory_bytes", &c->decisions.cluster_memory_bytes, 1e18},
                                 {"capacity_reserve", &c->decisions.capacity_reserve, 0.9}}) {
    const ConfigNode n = root[key];
    if (!n.IsDefined()) continue;
    if (!n.IsScalar() || !ParseDouble(n.Scalar(), field) || *field < 0 || *field > max) {
      return r.Error(n, key,
                     max < 1 ? "expected a number from 0 to 0.9" : "expected a number >= 0 (0: from the agents)");
    }
  }
  if (const ConfigNode n = root["api_requests_per_second"]; n.IsDefined()) {
    if (!n.IsScalar() || !ParseDouble(n.Scalar(), &c->api_requests_per_second) || c->api_requests_per_second < 0) {
      return r.Error(n, "api_requests_per_second", "expected a number >= 0 (0: no limit)");
    }
  }
  return Status::Ok();
}

// The request body limit and the durations: the decision loop's (tick, lease, webhook timeout) and the store's.
Status ReadTimings(const YamlConfigReader& r, const ConfigNode& root, AggregatorConfig* c) {
  if (root["max_body_bytes"].IsDefined()) {
    auto n = r.ByteSize(root["max_body_bytes"], "max_body_bytes");
    if (!n.ok()) return n.status();
    if (*n < 1024) return r.Error(root["max_body_bytes"], "max_body_bytes", "must be at least 1KiB");
    c->max_body_bytes = *n;
  }
  for (auto [key, field, minimum] :
       {std::tuple{"tick_interval", &c->tick_interval, std::chrono::milliseconds(1000)},
        {"directive_lease", &c->directive_lease, std::chrono::milliseconds(5000)},
        {"leader_lease", &c->leader_lease, std::chrono::milliseconds(1000)},
        {"webhook_timeout", &c->webhook_timeout, std::chrono::milliseconds(100)},
        {"kubernetes_discovery_interval", &c->kubernetes_discovery_interval, std::chrono::milliseconds(5000)},
        {"http_idle_timeout", &c->http_idle_timeout, std::chrono::milliseconds(1000)}}) {
    if (!root[key].IsDefined()) continue;
    auto d = r.Duration(root[key], key);
    if (!d.ok()) return d.status();
    if (*d < minimum) {
      return r.Error(root[key], key, "must be at least " + std::to_string(minimum.count()) + "ms");
    }
    *field = *d;
  }
  if (root["snapshot_interval"].IsDefined()) {
    auto d = r.Duration(root["snapshot_interval"], "snapshot_interval");
    if (!d.ok()) return d.status();
    c->snapshot_interval = *d;
  }
  if (root["wal_sync_interval"].IsDefined()) {
    auto d = r.Duration(root["wal_sync_interval"], "wal_sync_interval");
    if (!d.ok()) return d.status();
    c->wal_sync_interval = *d;
  }
  if (root["raw_retention"].IsDefined()) {
    auto d = r.Duration(root["raw_retention"], "raw_retention");
    if (!d.ok()) return d.status();
    PRESCALE_RETURN_IF_ERROR(
        CheckRetention(*d, [&](const std::string& m) { return r.Error(root["raw_retention"], "raw_retention", m); }));
    c->raw_retention = *d;
  }
  return Status::Ok();
}

// A canonical text of a node: maps by key in name order, quoted scalars apart from bare ones.
void Canonical(const ConfigNode& n, std::string* out) {
  if (n.IsMap()) {
    std::vector<ConfigNode::Entry> entries = n.Entries();
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    *out += '{';
    for (const ConfigNode::Entry& e : entries) {
      Canonical(e.key_node, out);
      *out += ':';
      Canonical(e.value, out);
      *out += ',';
    }
    *out += '}';
  } else if (n.IsSequence()) {
    *out += '[';
    for (const ConfigNode& item : n.Items()) {
      Canonical(item, out);
      *out += ',';
    }
    *out += ']';
  } else if (n.IsScalar()) {
    const std::string& text = n.Scalar();
    *out += n.IsQuoted() ? 'q' : 's';
    *out += std::to_string(text.size()) + ':' + text;  // length-prefixed: no text can fake a separator
  } else {
    *out += '~';
  }
}

// The sections with keys of their own: tokens, triggers, demand and forecast.
Status ReadSections(const YamlConfigReader& r, const ConfigNode& root, AggregatorConfig* c) {
  if (root["tokens"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseTokens(r, root["tokens"], c));
  if (root["triggers"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseTriggers(r, root["triggers"], c));
  if (root["demand"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseDemand(r, root["demand"], &c->demand));
  if (root["forecast"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseForecast(r, root["forecast"], &c->forecast));
  if (root["events"].IsDefined()) PRESCALE_RETURN_IF_ERROR(ParseEventsConfig(r, root["events"], c));
  return Status::Ok();
}

}  // namespace

Result<AggregatorConfig> ParseAggregatorConfig(std::string_view yaml_text, const std::string& file_name) {
  YamlConfigReader r(file_name);
  auto parsed = r.Parse(yaml_text);
  if (!parsed.ok()) return parsed.status();
  const ConfigNode root = *parsed;
  AggregatorConfig c;
  if (root.IsNull()) return c;  // an empty file: the defaults
  for (const ConfigNode::Entry& e : root.Entries()) Canonical(e.value, &c.sections[e.key]);
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(root, "",
                                      {"listen",
                                       "data_dir",
                                       "control_store",
                                       "replica_name",
                                       "leader_lease",
                                       "max_series",
                                       "max_body_bytes",
                                       "raw_retention",
                                       "snapshot_interval",
                                       "wal_sync_interval",
                                       "tokens",
                                       "allow_anonymous_push",
                                       "allow_anonymous_metrics",
                                       "http_threads",
                                       "http_max_connections",
                                       "http_max_connections_per_client",
                                       "http_idle_timeout",
                                       "log_level",
                                       "log_format",
                                       "demand",
                                       "events",
                                       "prometheus_url",
                                       "forecast",
                                       "sender_samples_per_second",
                                       "tls_cert",
                                       "tls_key",
                                       "api_requests_per_second",
                                       "bootstrap_dir",
                                       "tenants",
                                       "policies",
                                       "services",
                                       "cluster_cpu_cores",
                                       "cluster_memory_bytes",
                                       "capacity_reserve",
                                       "tick_interval",
                                       "directive_lease",
                                       "webhook_timeout",
                                       "kubernetes_api_server",
                                       "kubernetes_token_file",
                                       "kubernetes_ca_file",
                                       "kubernetes_discovery",
                                       "kubernetes_discovery_interval",
                                       "triggers"}));
  // When a file has several mistakes, this order decides which one is reported.
  PRESCALE_RETURN_IF_ERROR(ReadStrings(r, root, &c));
  PRESCALE_RETURN_IF_ERROR(ReadNumbers(r, root, &c));
  if (!c.control_store.empty()) {
    if (Status s = CheckPostgresUrl(c.control_store); !s.ok()) {
      return r.Error(root["control_store"], "control_store", s.message() + " (absent: SQLite in data_dir)");
    }
  }
  if (c.replica_name.find('/') != std::string::npos) {
    return r.Error(root["replica_name"], "replica_name", "must not contain '/'");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    const char* missing = c.tls_cert_file.empty() ? "tls_cert" : "tls_key";
    return r.Error(root, missing, "tls_cert and tls_key go together (HTTPS needs both)");
  }
  // The objects are validated by ApplyObjects (control_bootstrap.h), which names their lines in this file.
  if (root["tenants"].IsDefined() || root["policies"].IsDefined() || root["services"].IsDefined()) {
    c.bootstrap_yaml = std::string(yaml_text);
    c.bootstrap_file = file_name;
  }
  PRESCALE_RETURN_IF_ERROR(ReadTimings(r, root, &c));
  if (root["allow_anonymous_push"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(c.allow_anonymous_push, r.Bool(root["allow_anonymous_push"], "allow_anonymous_push"));
  }
  if (root["allow_anonymous_metrics"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(c.allow_anonymous_metrics,
                              r.Bool(root["allow_anonymous_metrics"], "allow_anonymous_metrics"));
  }
  if (root["kubernetes_discovery"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(c.kubernetes_discovery, r.Bool(root["kubernetes_discovery"], "kubernetes_discovery"));
  }
  if (root["log_level"].IsDefined()) {
    auto v = r.String(root["log_level"], "log_level");
    if (!v.ok()) return v.status();
    if (!ParseLogLevel(*v, &c.log_level)) {
      return r.Error(root["log_level"], "log_level", "expected debug, info, warn or error");
    }
  }
  if (root["log_format"].IsDefined()) {
    auto v = r.String(root["log_format"], "log_format");
    if (!v.ok()) return v.status();
    if (!ParseLogFormat(*v, &c.log_format)) return r.Error(root["log_format"], "log_format", "expected logfmt or json");
  }
  PRESCALE_RETURN_IF_ERROR(ReadSections(r, root, &c));
  if (!c.prometheus_url.empty() && !c.prometheus_url.starts_with("http://") &&
      !c.prometheus_url.starts_with("https://")) {
    return r.Error(root["prometheus_url"], "prometheus_url", "expected an http:// or https:// URL");
  }
  return c;
}

bool ReloadsLive(std::string_view key) {
  static constexpr std::string_view kLive[] = {"tokens",  "triggers", "log_level", "log_format",
                                               "tenants", "policies", "services",  "bootstrap_dir"};
  return std::find(std::begin(kLive), std::end(kLive), key) != std::end(kLive);
}

std::vector<std::string> ChangedSections(const AggregatorConfig& before, const AggregatorConfig& after) {
  std::vector<std::string> changed;
  for (const auto& [key, text] : before.sections) {
    auto it = after.sections.find(key);
    if (it == after.sections.end() || it->second != text) changed.push_back(key);
  }
  for (const auto& [key, text] : after.sections) {
    if (!before.sections.contains(key)) changed.push_back(key);
  }
  std::sort(changed.begin(), changed.end());
  return changed;
}

Result<AggregatorConfig> LoadAggregatorConfig(const std::string& path) {
  auto text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseAggregatorConfig(*text, path);
}

std::string AggregatorUsage() {
  return "usage: prescale-aggregator [--config FILE] [--listen ADDR:PORT] [--data-dir DIR] [--control-store URL]\n"
         "                           [--replica-name NAME] [--max-series N] [--prometheus-url URL] [--log-level "
         "LEVEL]\n"
         "                           [--log-format logfmt|json]\n"
         "                           [--tls-cert FILE --tls-key FILE] [--allow-anonymous-push]\n"
         "                           [--allow-anonymous-metrics] [--help] [--version]\n"
         "       prescale-aggregator token create --role ROLE [--tenant T] [--expires D] [--name N] [--config FILE | "
         "--data-dir DIR]\n"
         "       prescale-aggregator apply -f FILE [--config FILE | --data-dir DIR]\n"
         "       prescale-aggregator audit verify [--config FILE | --data-dir DIR]\n"
         "\n"
         "Receives usage from prescale-agents and any Prometheus remote-write sender\n"
         "(POST /api/v1/write) and JSON pushes (POST /api/v1/ingest); see docs/aggregator.md.\n"
         "\n"
         "  --config FILE        YAML configuration (docs/aggregator.md); flags override it\n"
         "  --listen ADDR:PORT   where the API and /metrics are served (default 0.0.0.0:9570; port 0 picks one)\n"
         "  --data-dir DIR       directory for the aggregator's state\n"
         "  --control-store URL  keep the control plane in PostgreSQL (postgres://USER@HOST:PORT/DB),\n"
         "                       shared by replicas; without it, SQLite in the data directory\n"
         "  --replica-name NAME  this replica's name in the leader election (default: the host name)\n"
         "  --max-series N       most series held in memory; beyond, writes get 429 (default 1000000)\n"
         "  --prometheus-url URL backfill the demand rollups from this Prometheus when the store starts empty\n"
         "  --log-level LEVEL    debug, info, warn (or warning) or error (default info)\n"
         "  --log-format FORMAT  logfmt or json (default logfmt)\n"
         "  --tls-cert FILE      serve HTTPS with this PEM certificate (chain); needs --tls-key\n"
         "  --tls-key FILE       the PEM private key of --tls-cert\n"
         "  --allow-anonymous-push  requests without a token may push samples (write, ingest; nothing else);\n"
         "                       without it every route but /healthz and /readyz needs a token\n"
         "  --allow-anonymous-metrics  GET /metrics without a token (it shows every tenant's usage);\n"
         "                       without it only admin and monitor tokens may scrape\n"
         "  --help               print this help\n"
         "  --version            print the version, git revision and branch, and exit\n";
}

Result<AggregatorCommandLine> ParseAggregatorCommandLine(int argc, const char* const* argv) {
  static constexpr std::string_view kSwitches[] = {"help", "version", "allow-anonymous-push",
                                                   "allow-anonymous-metrics"};
  static constexpr std::string_view kValueFlags[] = {"config",        "listen",         "data-dir",  "max-series",
                                                     "log-level",     "prometheus-url", "tls-cert",  "tls-key",
                                                     "control-store", "replica-name",   "log-format"};
  auto flags = ParseFlags(argc, argv, kSwitches, kValueFlags);
  if (!flags.ok()) return flags.status();
  AggregatorCommandLine cli;
  cli.config_path = flags->config_path;
  cli.help = flags->Has("help");
  cli.version = flags->Has("version");
  cli.allow_anonymous_push = flags->Has("allow-anonymous-push");
  cli.allow_anonymous_metrics = flags->Has("allow-anonymous-metrics");
  cli.overrides = std::move(flags->values);
  return cli;
}

Status ApplyAggregatorOverrides(const AggregatorCommandLine& cli, AggregatorConfig* config) {
  if (cli.allow_anonymous_push) config->allow_anonymous_push = true;
  if (cli.allow_anonymous_metrics) config->allow_anonymous_metrics = true;
  for (const auto& flag_value : cli.overrides) {
    const std::string& flag = flag_value.first;
    const std::string& value = flag_value.second;
    auto fail = [&](const std::string& why) {
      return Status::InvalidArgument("--" + flag + " '" + value + "': " + why);
    };
    if (value.empty()) return fail("must not be empty");
    if (flag == "listen") {
      if (value.find(':') == std::string::npos) return fail("expected ADDR:PORT, e.g. 127.0.0.1:9570");
      config->listen = value;
    } else if (flag == "data-dir") {
      config->data_dir = value;
    } else if (flag == "control-store") {
      // Not fail(): the message would repeat the URL, password and all.
      if (Status s = CheckPostgresUrl(value); !s.ok())
        return Status::InvalidArgument("--control-store: " + s.message());
      config->control_store = value;
    } else if (flag == "replica-name") {
      if (value.find('/') != std::string::npos) return fail("must not contain '/'");
      config->replica_name = value;
    } else if (flag == "max-series") {
      uint64_t n = 0;
      if (!ParseU64(value, &n) || n == 0) return fail("expected a positive whole number");
      config->max_series = n;
    } else if (flag == "prometheus-url") {
      if (!value.starts_with("http://") && !value.starts_with("https://"))
        return fail("expected an http:// or https:// URL");
      config->prometheus_url = value;
    } else if (flag == "tls-cert") {
      config->tls_cert_file = value;
    } else if (flag == "tls-key") {
      config->tls_key_file = value;
    } else if (flag == "log-level") {
      if (!ParseLogLevel(value, &config->log_level)) return fail("expected debug, info, warn or error");
    } else if (flag == "log-format") {
      if (!ParseLogFormat(value, &config->log_format)) return fail("expected logfmt or json");
    } else {
      return fail("unknown flag");
    }
  }
  return Status::Ok();
}

}  // namespace prescale::aggregator
