#include "prescale/agent/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <tuple>
#include <type_traits>

#include "prescale/agent/aggregator_urls.h"
#include "prescale/base/duration.h"
#include "prescale/base/flags.h"
#include "prescale/base/numbers.h"
#include "prescale/base/yaml_config.h"
#include "prescale/metrics/names.h"

namespace prescale::agent {
namespace {

constexpr std::string_view kReservedLabels[] = {"id", "node", "interface", "device", "cpu", "mode"};

Status ParseLabelTemplates(const YamlConfigReader& r, const ConfigNode& node, const std::string& path,
                           metrics::Labels* out) {
  if (!node.IsMap()) return r.Error(node, path, "expected a mapping of label names to templates");
  for (const ConfigNode::Entry& entry : node.Entries()) {
    const std::string& name = entry.key;
    const std::string key_path = JoinPath(path, name);
    if (!metrics::IsValidLabelName(name) || name.starts_with("__")) {
      return r.Error(entry.key_node, key_path, "invalid label name (letters, digits and _; not starting with __)");
    }
    for (std::string_view reserved : kReservedLabels) {
      if (name == reserved) return r.Error(entry.key_node, key_path, "label name is reserved for the agent's own use");
    }
    auto value = r.String(entry.value, key_path);
    if (!value.ok()) return value.status();
    out->emplace_back(name, *value);
  }
  return Status::Ok();
}

Result<MappingRule> ParseRule(const YamlConfigReader& r, const ConfigNode& node, const std::string& path) {
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, path, {"match", "preset", "labels"}));
  const bool has_match = node["match"].IsDefined();
  const bool has_preset = node["preset"].IsDefined();
  if (has_match == has_preset) return r.Error(node, path, "a rule needs exactly one of 'match' or 'preset'");
  MappingRule rule;
  if (has_preset) {
    auto preset = r.String(node["preset"], JoinPath(path, "preset"));
    if (!preset.ok()) return preset.status();
    if (*preset == "kubernetes") {
      rule = KubernetesPreset();
    } else if (*preset == "systemd") {
      rule = SystemdPreset();
    } else {
      return r.Error(node["preset"], JoinPath(path, "preset"),
                     "unknown preset '" + *preset + "' (kubernetes, systemd)");
    }
  } else {
    auto pattern = r.String(node["match"], JoinPath(path, "match"));
    if (!pattern.ok()) return pattern.status();
    rule.kind = MappingRule::Kind::kRegex;
    rule.pattern = *pattern;
    // libstdc++'s regex compiler reads a back-reference or a {n,m} count into
    // a long without an overflow check (undefined behaviour): refuse such
    // numbers of more than 9 digits before compiling.
    for (size_t i = 0, run = 0; i < rule.pattern.size(); ++i) {
      const char c = rule.pattern[i];
      const bool digit = c >= '0' && c <= '9';
      const char before = i > run ? rule.pattern[i - run - 1] : '\0';
      run = digit ? run + 1 : 0;
      if (run > 9 && (before == '\\' || before == '{' || before == ',')) {
        return r.Error(node["match"], JoinPath(path, "match"),
                       "invalid regular expression: a back-reference or repeat count of more than 9 digits");
      }
    }
    try {
      rule.regex = std::regex(rule.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return r.Error(node["match"], JoinPath(path, "match"), std::string("invalid regular expression: ") + e.what());
    }
    if (!node["labels"].IsDefined()) {
      return r.Error(node, JoinPath(path, "labels"), "a 'match' rule needs labels, e.g. {tenant: '$1', service: '$2'}");
    }
  }
  if (node["labels"].IsDefined()) {
    metrics::Labels labels;
    PRESCALE_RETURN_IF_ERROR(ParseLabelTemplates(r, node["labels"], JoinPath(path, "labels"), &labels));
    for (auto& [k, v] : labels) {
      bool replaced = false;
      for (auto& existing : rule.labels) {
        if (existing.first == k) {
          existing.second = v;
          replaced = true;
        }
      }
      if (!replaced) rule.labels.emplace_back(k, v);
    }
  }
  return rule;
}

Result<ScrapeTarget> ParseTarget(const YamlConfigReader& r, const ConfigNode& node, const std::string& path) {
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, path, {"url", "tenant", "service"}));
  ScrapeTarget t;
  for (auto [key, field] : {std::pair{"url", &t.url}, {"tenant", &t.tenant}, {"service", &t.service}}) {
    if (!node[key].IsDefined()) return r.Error(node, JoinPath(path, key), "required key is missing");
    auto v = r.String(node[key], JoinPath(path, key));
    if (!v.ok()) return v.status();
    *field = *v;
  }
  if (!t.url.starts_with("http://") && !t.url.starts_with("https://")) {
    return r.Error(node["url"], JoinPath(path, "url"), "expected an http:// or https:// URL");
  }
  return t;
}

constexpr uint64_t kMinSpoolBytes = 1 << 20;

bool IsHttpUrl(std::string_view url) { return url.starts_with("http://") || url.starts_with("https://"); }

Status CheckInterval(std::chrono::milliseconds interval, const std::function<Status(std::string)>& fail) {
  if (interval < std::chrono::milliseconds(100)) return fail("must be at least 100ms");
  return Status::Ok();
}

// Checks for ReadOptional: given the value and a `fail` that turns a reason
// into the key's error.
constexpr auto kAnyValue = [](const auto& /*value*/, const auto& /*fail*/) { return Status::Ok(); };
constexpr auto kPositive = [](const auto& value, const auto& fail) {
  return value <= std::decay_t<decltype(value)>{} ? fail("must be positive") : Status::Ok();
};

// root[key], when present, read by `read` into *out; `check` may reject the value.
template <typename V, typename T, typename Check>
Status ReadOptional(const YamlConfigReader& r, const ConfigNode& root, const char* key,
                    Result<V> (YamlConfigReader::*read)(const ConfigNode&, std::string_view) const, const Check& check,
                    T* out) {
  const ConfigNode node = root[key];
  if (!node.IsDefined()) return Status::Ok();
  auto value = (r.*read)(node, key);
  if (!value.ok()) return value.status();
  PRESCALE_RETURN_IF_ERROR(check(*value, [&](const std::string& why) { return r.Error(node, key, why); }));
  *out = *value;
  return Status::Ok();
}

// The keys whose values are non-empty strings.
Status ReadStrings(const YamlConfigReader& r, const ConfigNode& root, AgentConfig* c) {
  for (auto [key, field] : {std::pair{"listen", &c->listen},
                            {"web_config_file", &c->web_config_file},
                            {"cgroup_root", &c->cgroup_root},
                            {"proc_root", &c->proc_root},
                            {"node", &c->node},
                            {"aggregator_url", &c->aggregator_url},
                            {"token_file", &c->token_file},
                            {"ca_file", &c->ca_file},
                            {"data_dir", &c->data_dir},
                            {"aggregator_api_url", &c->aggregator_api_url}}) {
    if (!root[key].IsDefined()) continue;
    auto v = r.String(root[key], key);
    if (!v.ok()) return v.status();
    if (v->empty()) return r.Error(root[key], key, "must not be empty");
    *field = *v;
  }
  return Status::Ok();
}

// A list of http(s) URLs (aggregator_urls, aggregator_api_urls): a sequence of at least one,
// no URL twice, and never together with its single-URL key.
Status ReadUrlList(const YamlConfigReader& r, const ConfigNode& root, const char* key, const char* single_key,
                   const std::string& example, std::vector<std::string>* out) {
  const ConfigNode node = root[key];
  if (!node.IsDefined()) return Status::Ok();
  if (const ConfigNode single = root[single_key]; single.IsDefined()) {
    return r.Error(node, key,
                   std::string("cannot be set together with ") + single_key + " (line " +
                       std::to_string(single.Line()) + "): list every URL under " + key);
  }
  PRESCALE_RETURN_IF_ERROR(r.CheckSequence(node, key));
  if (node.size() == 0) return r.Error(node, key, "expected at least one URL, e.g. [" + example + "]");
  out->clear();
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = IndexPath(key, i);
    PRESCALE_ASSIGN_OR_RETURN(std::string url, r.String(node[i], path));
    if (!IsHttpUrl(url)) return r.Error(node[i], path, "expected an http:// or https:// URL, e.g. " + example);
    for (size_t j = 0; j < out->size(); ++j) {
      if ((*out)[j] == url) {
        return r.Error(node[i], path, "'" + url + "' is listed twice (also " + IndexPath(key, j) + ")");
      }
    }
    out->push_back(std::move(url));
  }
  return Status::Ok();
}

// A flag's URLs (one, or several split by SplitUrlList) added to *urls; `fail` names the flag.
Status AddFlagUrls(const std::string& value, std::vector<std::string>* urls,
                   const std::function<Status(std::string)>& fail) {
  const std::vector<std::string> pieces = SplitUrlList(value);
  for (const std::string& url : pieces) {
    if (!IsHttpUrl(url)) {
      return fail(pieces.size() == 1 ? "expected an http:// or https:// URL"
                                     : "'" + url + "': expected an http:// or https:// URL");
    }
    if (std::find(urls->begin(), urls->end(), url) != urls->end()) return fail("'" + url + "' is given twice");
    urls->push_back(url);
  }
  return Status::Ok();
}

// One URL goes to the single-URL field, several to the list (so that one URL reads as it always did).
void SetUrls(std::vector<std::string> urls, std::string* single, std::vector<std::string>* list) {
  single->clear();
  list->clear();
  if (urls.size() == 1) {
    *single = std::move(urls[0]);
  } else {
    *list = std::move(urls);
  }
}

// Both URL forms of one setting as a config built in code may hold them; keys name them in errors.
Status CheckUrlForms(const std::string& single, const std::vector<std::string>& list, const std::string& single_key,
                     const std::string& list_key) {
  if (!single.empty() && !list.empty()) {
    return Status::InvalidArgument(list_key + ": cannot be set together with " + single_key);
  }
  if (!single.empty() && !IsHttpUrl(single)) {
    return Status::InvalidArgument(single_key + " '" + single + "': expected an http:// or https:// URL");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = IndexPath(list_key, i);
    if (!IsHttpUrl(list[i])) {
      return Status::InvalidArgument(path + " '" + list[i] + "': expected an http:// or https:// URL");
    }
    for (size_t j = 0; j < i; ++j) {
      if (list[j] == list[i]) {
        return Status::InvalidArgument(path + ": '" + list[i] + "' is listed twice (also " + IndexPath(list_key, j) +
                                       ")");
      }
    }
  }
  return Status::Ok();
}

// The collection and directive intervals, and the aggregator's URLs (the single ones read by ReadStrings).
Status ReadCycles(const YamlConfigReader& r, const ConfigNode& root, AgentConfig* c) {
  PRESCALE_RETURN_IF_ERROR(ReadOptional(r, root, "interval", &YamlConfigReader::Duration, CheckInterval, &c->interval));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "discovery_interval", &YamlConfigReader::Duration, kAnyValue, &c->discovery_interval));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "detail_interval", &YamlConfigReader::Duration, kAnyValue, &c->detail_interval));
  if (root["aggregator_url"].IsDefined() && !IsHttpUrl(c->aggregator_url)) {
    return r.Error(root["aggregator_url"], "aggregator_url", "expected an http:// or https:// URL");
  }
  if (root["aggregator_api_url"].IsDefined() && !IsHttpUrl(c->aggregator_api_url)) {
    return r.Error(root["aggregator_api_url"], "aggregator_api_url",
                   "expected an http:// or https:// URL, e.g. http://aggregator:9570");
  }
  PRESCALE_RETURN_IF_ERROR(ReadUrlList(r, root, "aggregator_urls", "aggregator_url",
                                       "http://aggregator-0:9570/api/v1/write", &c->aggregator_urls));
  PRESCALE_RETURN_IF_ERROR(ReadUrlList(r, root, "aggregator_api_urls", "aggregator_api_url", "http://aggregator-0:9570",
                                       &c->aggregator_api_urls));
  PRESCALE_RETURN_IF_ERROR(ReadOptional(r, root, "directives", &YamlConfigReader::Bool, kAnyValue, &c->directives));
  return ReadOptional(r, root, "directive_interval", &YamlConfigReader::Duration, CheckInterval,
                      &c->directive_interval);
}

// The spool's and the scrapes' bounds, and the cgroup and open file caps.
Status ReadLimits(const YamlConfigReader& r, const ConfigNode& root, AgentConfig* c) {
  const auto at_least_1mib = [](uint64_t n, const auto& fail) {
    return n < kMinSpoolBytes ? fail("must be at least 1MiB") : Status::Ok();
  };
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "spool_max_bytes", &YamlConfigReader::ByteSize, at_least_1mib, &c->spool_max_bytes));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "spool_max_age", &YamlConfigReader::Duration, kPositive, &c->spool_max_age));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "scrape_timeout", &YamlConfigReader::Duration, kPositive, &c->scrape_timeout));
  PRESCALE_RETURN_IF_ERROR(ReadOptional(r, root, "scrape_max_body_bytes", &YamlConfigReader::ByteSize, kPositive,
                                        &c->scrape_max_body_bytes));
  for (auto [key, field, minimum] : {std::tuple{"max_cgroups", &c->max_cgroups, uint64_t{1}},
                                     std::tuple{"max_open_files", &c->max_open_files, uint64_t{0}}}) {
    const ConfigNode n = root[key];
    if (!n.IsDefined()) continue;
    uint64_t v = 0;
    if (!n.IsScalar() || !ParseU64(n.Scalar(), &v) || v < minimum) {
      return r.Error(n, key, minimum > 0 ? "expected a positive whole number" : "expected a whole number");
    }
    *field = v;
  }
  return Status::Ok();
}

Status ReadMappingAndTargets(const YamlConfigReader& r, const ConfigNode& root, AgentConfig* c) {
  if (root["mapping"].IsDefined()) {
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(root["mapping"], "mapping"));
    c->mapping.clear();
    for (size_t i = 0; i < root["mapping"].size(); ++i) {
      auto rule = ParseRule(r, root["mapping"][i], IndexPath("mapping", i));
      if (!rule.ok()) return rule.status();
      c->mapping.push_back(std::move(rule).value());
    }
  }
  if (root["scrape_targets"].IsDefined()) {
    PRESCALE_RETURN_IF_ERROR(r.CheckSequence(root["scrape_targets"], "scrape_targets"));
    for (size_t i = 0; i < root["scrape_targets"].size(); ++i) {
      auto t = ParseTarget(r, root["scrape_targets"][i], IndexPath("scrape_targets", i));
      if (!t.ok()) return t.status();
      c->scrape_targets.push_back(std::move(t).value());
    }
  }
  return Status::Ok();
}

// pod_metadata: {source, url, token_file, ca_file, insecure_skip_verify, refresh_interval,
// min_refresh_interval, timeout}.
Status ReadPodMetadata(const YamlConfigReader& r, const ConfigNode& node, PodSourceOptions* o) {
  if (!node.IsDefined() || node.IsNull()) return Status::Ok();
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, "pod_metadata",
                                      {"source", "url", "token_file", "ca_file", "insecure_skip_verify",
                                       "refresh_interval", "min_refresh_interval", "timeout"}));
  if (node["source"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(const std::string source, r.String(node["source"], "pod_metadata.source"));
    auto kind = ParsePodSourceKind(source);
    if (!kind.ok()) return r.Error(node["source"], "pod_metadata.source", kind.status().message());
    o->kind = *kind;
  }
  for (auto [key, field] :
       {std::pair{"url", &o->url}, std::pair{"token_file", &o->token_file}, std::pair{"ca_file", &o->ca_file}}) {
    if (!node[key].IsDefined()) continue;
    PRESCALE_ASSIGN_OR_RETURN(*field, r.String(node[key], JoinPath("pod_metadata", key)));
  }
  if (node["url"].IsDefined() && !IsHttpUrl(o->url)) {
    return r.Error(node["url"], "pod_metadata.url", "expected an http:// or https:// URL");
  }
  if (node["insecure_skip_verify"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(o->insecure_skip_verify,
                              r.Bool(node["insecure_skip_verify"], "pod_metadata.insecure_skip_verify"));
  }
  for (auto [key, field] :
       {std::pair{"refresh_interval", &o->refresh_interval},
        std::pair{"min_refresh_interval", &o->min_refresh_interval}, std::pair{"timeout", &o->timeout}}) {
    if (!node[key].IsDefined()) continue;
    const std::string path = JoinPath("pod_metadata", key);
    PRESCALE_ASSIGN_OR_RETURN(*field, r.Duration(node[key], path));
    if (field->count() <= 0) return r.Error(node[key], path, "must be positive");
  }
  return Status::Ok();
}

}  // namespace

bool DirectivesEnabled(const AgentConfig& config) { return config.directives; }

std::vector<std::string> PushUrls(const AgentConfig& config) {
  if (!config.aggregator_urls.empty()) return config.aggregator_urls;
  if (!config.aggregator_url.empty()) return {config.aggregator_url};
  return {};
}

std::vector<std::string> DirectiveApiUrls(const AgentConfig& config) {
  if (!config.aggregator_api_urls.empty()) return config.aggregator_api_urls;
  if (!config.aggregator_api_url.empty()) return {config.aggregator_api_url};
  std::vector<std::string> out;
  for (const std::string& url : PushUrls(config)) {
    std::string base = ApiBaseOf(url);
    // Two push URLs on one host and port (different paths) are one API.
    if (!base.empty() && std::find(out.begin(), out.end(), base) == out.end()) out.push_back(std::move(base));
  }
  return out;
}

std::string DirectiveApiUrl(const AgentConfig& config) {
  std::vector<std::string> urls = DirectiveApiUrls(config);
  return urls.empty() ? "" : std::move(urls.front());
}

Status CheckAggregatorUrls(const AgentConfig& config) {
  PRESCALE_RETURN_IF_ERROR(
      CheckUrlForms(config.aggregator_url, config.aggregator_urls, "aggregator_url", "aggregator_urls"));
  return CheckUrlForms(config.aggregator_api_url, config.aggregator_api_urls, "aggregator_api_url",
                       "aggregator_api_urls");
}

AgentConfig DefaultAgentConfig() {
  AgentConfig c;
  c.mapping = {PrescaleLayoutRule(), KubernetesPreset(), SystemdPreset()};
  return c;
}

Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, const std::string& file_name) {
  YamlConfigReader r(file_name);
  auto parsed = r.Parse(yaml_text);
  if (!parsed.ok()) return parsed.status();
  const ConfigNode root = *parsed;
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(root, "",
                                      {"listen",
                                       "web_config_file",
                                       "interval",
                                       "discovery_interval",
                                       "detail_interval",
                                       "skip_idle_cgroups",
                                       "cgroup_root",
                                       "proc_root",
                                       "node",
                                       "keep_unmatched",
                                       "mapping",
                                       "scrape_targets",
                                       "scrape_timeout",
                                       "scrape_max_body_bytes",
                                       "max_cgroups",
                                       "max_open_files",
                                       "log_level",
                                       "log_format",
                                       "aggregator_url",
                                       "aggregator_urls",
                                       "token_file",
                                       "ca_file",
                                       "data_dir",
                                       "spool_max_bytes",
                                       "spool_max_age",
                                       "directives",
                                       "aggregator_api_url",
                                       "aggregator_api_urls",
                                       "directive_interval",
                                       "pod_metadata"}));
  AgentConfig c = DefaultAgentConfig();
  PRESCALE_RETURN_IF_ERROR(ReadStrings(r, root, &c));
  PRESCALE_RETURN_IF_ERROR(ReadCycles(r, root, &c));
  PRESCALE_RETURN_IF_ERROR(ReadLimits(r, root, &c));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "skip_idle_cgroups", &YamlConfigReader::Bool, kAnyValue, &c.skip_idle_cgroups));
  PRESCALE_RETURN_IF_ERROR(
      ReadOptional(r, root, "keep_unmatched", &YamlConfigReader::Bool, kAnyValue, &c.keep_unmatched));
  if (root["log_level"].IsDefined()) {
    auto v = r.String(root["log_level"], "log_level");
    if (!v.ok()) return v.status();
    if (!ParseLogLevel(*v, &c.log_level))
      return r.Error(root["log_level"], "log_level", "expected debug, info, warn or error");
  }
  if (root["log_format"].IsDefined()) {
    auto v = r.String(root["log_format"], "log_format");
    if (!v.ok()) return v.status();
    if (!ParseLogFormat(*v, &c.log_format)) return r.Error(root["log_format"], "log_format", "expected logfmt or json");
  }
  PRESCALE_RETURN_IF_ERROR(ReadMappingAndTargets(r, root, &c));
  PRESCALE_RETURN_IF_ERROR(ReadPodMetadata(r, root["pod_metadata"], &c.pods));
  return c;
}

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  auto text = ReadConfigFile(path);
  if (!text.ok()) return text.status();
  return ParseAgentConfig(*text, path);
}

std::string AgentUsage() {
  return "usage: prescale-agent [--config FILE] [--listen ADDR:PORT] [--web.config.file FILE]\n"
         "                      [--interval DURATION]\n"
         "                      [--discovery-interval DURATION] [--detail-interval DURATION]\n"
         "                      [--cgroup-root DIR] [--proc-root DIR] [--node NAME]\n"
         "                      [--aggregator URL[,URL...]] [--token-file FILE] [--ca-file FILE]\n"
         "                      [--data-dir DIR] [--directives BOOL] [--aggregator-api URL[,URL...]]\n"
         "                      [--directive-interval DURATION]\n"
         "                      [--pod-metadata SOURCE] [--pod-metadata-url URL]\n"
         "                      [--log-level LEVEL] [--log-format logfmt|json] [--once] [--table] [--help] "
         "[--version]\n"
         "\n"
         "Collects per-cgroup and node resource usage and serves it as Prometheus metrics.\n"
         "\n"
         "  --config FILE        YAML configuration (docs/configuration.md); flags override it\n"
         "  --listen ADDR:PORT   where /metrics, /healthz and /readyz are served (default 0.0.0.0:9560)\n"
         "  --web.config.file FILE\n"
         "                       TLS, client certificates and basic auth for them, in the Prometheus\n"
         "                       exporter toolkit's web config format (default: plain HTTP, open)\n"
         "  --interval DURATION  collection interval, e.g. 1s, 5s (default 5s)\n"
         "  --discovery-interval DURATION\n"
         "                       how often every cgroup is read in full and limits re-read\n"
         "                       (default 10s; 0 = every cycle); new and removed cgroups are\n"
         "                       seen through inotify at the next cycle\n"
         "  --detail-interval DURATION\n"
         "                       how often memory.stat, pressure and IO files are re-read; CPU\n"
         "                       and memory usage are read every cycle (default 10s; 0 = every cycle)\n"
         "  --cgroup-root DIR    cgroup filesystem root (default /sys/fs/cgroup)\n"
         "  --proc-root DIR      proc filesystem root (default /proc)\n"
         "  --node NAME          value of the node label (default: the host name)\n"
         "  --aggregator URL     push every cycle over Prometheus remote write to URL, e.g.\n"
         "                       http://aggregator:9570/api/v1/write (default: no push); repeat the\n"
         "                       flag or separate URLs by commas to push every batch to each\n"
         "  --token-file FILE    bearer token for the aggregator\n"
         "  --ca-file FILE       CA bundle to trust for an https aggregator\n"
         "  --data-dir DIR       where batches are spooled while an aggregator is unreachable\n"
         "                       (default /var/lib/prescale-agent)\n"
         "  --directives BOOL    poll the aggregator for CPU caps on this node's cgroups and write\n"
         "                       them into the cgroup files (default false; true needs --aggregator\n"
         "                       or --aggregator-api, and the cgroup tree writable)\n"
         "  --aggregator-api URL the aggregator's API, e.g. http://aggregator:9570 (default: the\n"
         "                       scheme, host and port of --aggregator); several (repeated or\n"
         "                       comma-separated) are tried in order, failing over on errors\n"
         "  --directive-interval DURATION\n"
         "                       how often directives are polled (default: --interval)\n"
         "  --pod-metadata SOURCE\n"
         "                       where Kubernetes pods' namespace, name, containers and workload\n"
         "                       are read: kubelet, kubelet-read-only, apiserver or none (default)\n"
         "  --pod-metadata-url URL\n"
         "                       the kubelet's /pods URL or the API server's base URL (default:\n"
         "                       https://127.0.0.1:10250/pods for kubelet)\n"
         "  --log-level LEVEL    debug, info, warn (or warning) or error (default info)\n"
         "  --log-format FORMAT  logfmt or json (default logfmt)\n"
         "  --once               collect once, print the exposition to stdout and exit\n"
         "  --table              also print a refreshing per-service table every interval\n"
         "  --help               print this help\n"
         "  --version            print the version, git revision and branch, and exit\n";
}

Result<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  static constexpr std::string_view kSwitches[] = {"once", "table", "help", "version"};
  static constexpr std::string_view kValueFlags[] = {
      "config",       "discovery-interval", "detail-interval", "listen",
      "interval",     "cgroup-root",        "proc-root",       "node",
      "log-level",    "aggregator",         "token-file",      "ca-file",
      "data-dir",     "directives",         "aggregator-api",  "directive-interval",
      "pod-metadata", "pod-metadata-url",   "web.config.file", "log-format"};
  auto flags = ParseFlags(argc, argv, kSwitches, kValueFlags);
  if (!flags.ok()) return flags.status();
  CommandLine cli;
  cli.config_path = flags->config_path;
  cli.once = flags->Has("once");
  cli.table = flags->Has("table");
  cli.help = flags->Has("help");
  cli.version = flags->Has("version");
  cli.overrides = std::move(flags->values);
  return cli;
}

Status ApplyOverrides(const CommandLine& cli, AgentConfig* config) {
  // --aggregator and --aggregator-api, each repeatable: together they replace the file's URLs.
  std::vector<std::string> push_urls;
  std::vector<std::string> api_urls;
  for (const auto& flag_value : cli.overrides) {
    const std::string& flag = flag_value.first;  // named, not bound: clang 14 cannot capture bindings
    const std::string& value = flag_value.second;
    auto fail = [&](const std::string& why) {
      return Status::InvalidArgument("--" + flag + " '" + value + "': " + why);
    };
    if (value.empty()) return fail("must not be empty");
    if (flag == "listen") {
      config->listen = value;
    } else if (flag == "web.config.file") {
      config->web_config_file = value;
    } else if (flag == "interval") {
      auto d = ParseDuration(value);
      if (!d.ok()) return fail(d.status().message());
      config->interval = *d;
      PRESCALE_RETURN_IF_ERROR(CheckInterval(config->interval, fail));
    } else if (flag == "discovery-interval") {
      auto d = ParseDuration(value);
      if (!d.ok()) return fail(d.status().message());
      config->discovery_interval = *d;
    } else if (flag == "detail-interval") {
      auto d = ParseDuration(value);
      if (!d.ok()) return fail(d.status().message());
      config->detail_interval = *d;
    } else if (flag == "cgroup-root") {
      config->cgroup_root = value;
    } else if (flag == "proc-root") {
      config->proc_root = value;
    } else if (flag == "node") {
      config->node = value;
    } else if (flag == "aggregator") {
      PRESCALE_RETURN_IF_ERROR(AddFlagUrls(value, &push_urls, fail));
    } else if (flag == "token-file") {
      config->token_file = value;
    } else if (flag == "ca-file") {
      config->ca_file = value;
    } else if (flag == "data-dir") {
      config->data_dir = value;
    } else if (flag == "directives") {
      if (value == "true") {
        config->directives = true;
      } else if (value == "false") {
        config->directives = false;
      } else {
        return fail("expected true or false");
      }
    } else if (flag == "aggregator-api") {
      PRESCALE_RETURN_IF_ERROR(AddFlagUrls(value, &api_urls, fail));
    } else if (flag == "directive-interval") {
      auto d = ParseDuration(value);
      if (!d.ok()) return fail(d.status().message());
      config->directive_interval = *d;
      PRESCALE_RETURN_IF_ERROR(CheckInterval(config->directive_interval, fail));
    } else if (flag == "pod-metadata") {
      auto kind = ParsePodSourceKind(value);
      if (!kind.ok()) return fail(kind.status().message());
      config->pods.kind = *kind;
    } else if (flag == "pod-metadata-url") {
      if (!IsHttpUrl(value)) return fail("expected an http:// or https:// URL");
      config->pods.url = value;
    } else if (flag == "log-level") {
      if (!ParseLogLevel(value, &config->log_level)) return fail("expected debug, info, warn or error");
    } else if (flag == "log-format") {
      if (!ParseLogFormat(value, &config->log_format)) return fail("expected logfmt or json");
    }
  }
  if (!push_urls.empty()) SetUrls(std::move(push_urls), &config->aggregator_url, &config->aggregator_urls);
  if (!api_urls.empty()) SetUrls(std::move(api_urls), &config->aggregator_api_url, &config->aggregator_api_urls);
  if (config->node.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) config->node = host;
    if (config->node.empty()) config->node = "unknown";
  }
  return Status::Ok();
}

}  // namespace prescale::agent
