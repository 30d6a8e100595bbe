// The Grafana dashboards in dashboards/ (issue 7, "dashboards/"):
//   static: each file is valid JSON at the current schemaVersion, with unique
//     panel ids, grid positions that do not overlap, a unit on every panel, a
//     `datasource` variable that every panel and target uses (no hard-coded
//     uid) and the tenant, service and node variables;
//   the committed ConfigMap is what dashboards/make-configmap.sh writes;
//   live: the built aggregator (2 s ticks, one tenant, a webhook service) and
//     agent (real cgroups with a burner) and a real Prometheus scraping both on
//     127.0.0.1. Every panel target and annotation, with the dashboard
//     variables filled in, runs through Prometheus's /api/v1/query without an
//     error and, unless allow-listed below, with a non-empty answer; every
//     metric a query names is on the live /metrics of the aggregator or agent.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::CgroupSandbox;
using testing::FindProgram;
using testing::PollUntil;
using testing::ReadFileOrEmpty;
using testing::SourceDir;
using testing::Subprocess;
using testing::TempDir;
using testing::UrlEncode;

// Grafana's dashboard schema version as of Grafana 12 (what its JSON model export writes).
constexpr int kSchemaVersion = 42;
constexpr char kDatasourceRef[] = "${datasource}";

struct Dashboard {
  std::string file;
  rapidjson::Document doc;
};

std::vector<std::string> DashboardFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/dashboards")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Dashboard> LoadDashboards() {
  std::vector<Dashboard> out;
  for (const std::string& file : DashboardFiles()) {
    Dashboard d;
    d.file = std::filesystem::path(file).filename().string();
    const std::string text = ReadFileOrEmpty(file);
    d.doc.Parse(text.c_str(), text.size());
    out.push_back(std::move(d));
  }
  return out;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? std::string(v[key].GetString()) : "";
}

// Every object named "datasource" anywhere below `v` (panels, targets, variables, annotations).
void CollectDatasources(const rapidjson::Value& v, const std::string& where, std::vector<std::string>* bad) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const std::string name = m.name.GetString();
      if (name == "datasource") {
        const std::string uid = m.value.IsString() ? m.value.GetString() : Str(m.value, "uid");
        // The one exception: Grafana's built-in annotation query names its own data source.
        if (uid != kDatasourceRef && uid != "-- Grafana --") bad->push_back(where + ": datasource uid '" + uid + "'");
      } else {
        CollectDatasources(m.value, where + "." + name, bad);
      }
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      CollectDatasources(v[i], where + "[" + std::to_string(i) + "]", bad);
    }
  }
}

TEST(DashboardsTest, EveryDashboardIsWellFormed) {
  const std::vector<Dashboard> dashboards = LoadDashboards();
  int data_links = 0;
  ASSERT_EQ(dashboards.size(), 5u) << "fleet, tenant, service forecast, scaling and agent dashboards";
  std::set<std::string> uids;
  for (const Dashboard& d : dashboards) {
    SCOPED_TRACE(d.file);
    ASSERT_FALSE(d.doc.HasParseError()) << "invalid JSON at offset " << d.doc.GetErrorOffset();
    ASSERT_TRUE(d.doc.IsObject());
    ASSERT_TRUE(d.doc.HasMember("schemaVersion") && d.doc["schemaVersion"].IsInt());
    EXPECT_EQ(d.doc["schemaVersion"].GetInt(), kSchemaVersion);
    EXPECT_FALSE(Str(d.doc, "title").empty());
    EXPECT_TRUE(uids.insert(Str(d.doc, "uid")).second) << "uid '" << Str(d.doc, "uid") << "' is used twice";

    // Variables: the data source (any Prometheus) and tenant, service, node from label_values().
    ASSERT_TRUE(d.doc.HasMember("templating") && d.doc["templating"]["list"].IsArray());
    std::map<std::string, const rapidjson::Value*> vars;
    for (const auto& v : d.doc["templating"]["list"].GetArray()) vars[Str(v, "name")] = &v;
    ASSERT_TRUE(vars.contains("datasource"));
    EXPECT_EQ(Str(*vars["datasource"], "type"), "datasource");
    EXPECT_EQ(Str(*vars["datasource"], "query"), "prometheus");
    for (const char* name : {"tenant", "service", "node"}) {
      ASSERT_TRUE(vars.contains(name)) << "no '" << name << "' variable";
      const rapidjson::Value& v = *vars[name];
      EXPECT_EQ(Str(v, "type"), "query") << name;
      EXPECT_TRUE(Str(v, "definition").starts_with("label_values(")) << name;
      EXPECT_EQ(Str(v["datasource"], "uid"), kDatasourceRef) << name;
    }

    // From monitoring/config.yaml (scripts/generate-monitoring): the cluster variable, hidden
    // while one cluster is assumed, and the job regular expressions as hidden constants.
    ASSERT_TRUE(vars.contains("cluster"));
    EXPECT_EQ(Str(*vars["cluster"], "type"), "query");
    EXPECT_EQ(Str(*vars["cluster"], "allValue"), ".*");
    for (const char* name : {"agent_job", "aggregator_job"}) {
      ASSERT_TRUE(vars.contains(name)) << "no '" << name << "' variable";
      EXPECT_EQ(Str(*vars[name], "type"), "constant") << name;
      EXPECT_EQ((*vars[name])["hide"].GetInt(), 2) << name;
    }
    // A link to every prescale dashboard that keeps the time range and the variables.
    ASSERT_TRUE(d.doc.HasMember("links") && d.doc["links"].IsArray() && d.doc["links"].Size() == 1);
    const rapidjson::Value& link = d.doc["links"][0];
    EXPECT_EQ(Str(link, "type"), "dashboards");
    EXPECT_TRUE(link["keepTime"].GetBool() && link["includeVars"].GetBool());
    ASSERT_TRUE(link["tags"].IsArray() && link["tags"].Size() == 1);
    EXPECT_EQ(std::string(link["tags"][0].GetString()), "prescale");

    std::vector<std::string> bad;
    CollectDatasources(d.doc, d.file, &bad);
    EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);

    ASSERT_TRUE(d.doc.HasMember("panels") && d.doc["panels"].IsArray());
    EXPECT_GE(d.doc["panels"].Size(), 4u);
    std::set<int> ids;
    struct Box {
      int x, y, w, h;
      std::string title;
    };
    std::vector<Box> boxes;
    for (const auto& p : d.doc["panels"].GetArray()) {
      const std::string title = Str(p, "title");
      SCOPED_TRACE(title);
      ASSERT_TRUE(p.HasMember("id") && p["id"].IsInt());
      EXPECT_TRUE(ids.insert(p["id"].GetInt()).second) << "panel id " << p["id"].GetInt() << " is used twice";
      EXPECT_EQ(Str(p["datasource"], "uid"), kDatasourceRef);
      EXPECT_FALSE(Str(p["fieldConfig"]["defaults"], "unit").empty()) << "no fieldConfig.defaults.unit";
      const auto& g = p["gridPos"];
      Box b{g["x"].GetInt(), g["y"].GetInt(), g["w"].GetInt(), g["h"].GetInt(), title};
      EXPECT_TRUE(b.x >= 0 && b.y >= 0 && b.w > 0 && b.h > 0 && b.x + b.w <= 24) << "gridPos out of the 24 columns";
      for (const Box& o : boxes) {
        const bool overlap = b.x < o.x + o.w && o.x < b.x + b.w && b.y < o.y + o.h && o.y < b.y + b.h;
        EXPECT_FALSE(overlap) << "gridPos overlaps panel '" << o.title << "'";
      }
      boxes.push_back(b);
      ASSERT_TRUE(p.HasMember("targets") && p["targets"].IsArray() && !p["targets"].Empty());
      for (const auto& t : p["targets"].GetArray()) {
        EXPECT_FALSE(Str(t, "expr").empty()) << "target " << Str(t, "refId") << " has no expr";
        EXPECT_EQ(Str(t["datasource"], "uid"), kDatasourceRef) << "target " << Str(t, "refId");
        // Every series selector names its cluster and its job (up: the agents').
        const std::string expr = Str(t, "expr");
        static const std::regex kSelector(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\})");
        for (std::sregex_iterator m(expr.begin(), expr.end(), kSelector), end; m != end; ++m) {
          const std::string matchers = (*m)[2];
          EXPECT_NE(matchers.find(R"(cluster=~"$cluster")"), std::string::npos) << expr;
          EXPECT_TRUE(matchers.find(R"(job=~"$agent_job")") != std::string::npos ||
                      matchers.find(R"(job=~"$aggregator_job")") != std::string::npos)
              << expr;
        }
      }
      // Data links lead to the dashboard of the tenant or service a series is of.
      if (p["fieldConfig"]["defaults"].HasMember("links")) {
        for (const auto& l : p["fieldConfig"]["defaults"]["links"].GetArray()) {
          const std::string url = Str(l, "url");
          EXPECT_TRUE(url.starts_with("/d/prescale-tenant/") || url.starts_with("/d/prescale-service-forecast/"))
              << url;
          EXPECT_NE(url.find("${__url_time_range}"), std::string::npos) << url;
          EXPECT_NE(url.find("var-tenant=${__field.labels.tenant}"), std::string::npos) << url;
          ++data_links;
        }
      }
    }
  }
  EXPECT_GE(data_links, 8) << "tables and graphs of tenants and services link to their dashboards";
}

TEST(DashboardsTest, ConfigMapIsWhatTheScriptWrites) {
  if (FindProgram("kubectl").empty()) GTEST_SKIP() << "kubectl is missing (Debian package kubernetes-client)";
  const testing::RunResult r = testing::RunCommand({SourceDir() + "/dashboards/make-configmap.sh"}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string committed = ReadFileOrEmpty(SourceDir() + "/dashboards/configmap.yaml");
  EXPECT_EQ(r.out, committed) << "dashboards/configmap.yaml is stale: run dashboards/make-configmap.sh > "
                                 "dashboards/configmap.yaml";
  EXPECT_NE(committed.find("grafana_dashboard: \"1\""), std::string::npos);
  for (const std::string& file : DashboardFiles()) {
    const std::string name = std::filesystem::path(file).filename().string();
    EXPECT_NE(committed.find("  " + name + ": |"), std::string::npos) << name << " is not in the ConfigMap";
  }
}

// ---------------------------------------------------------------------------
// Live

constexpr char kTenant[] = "acme";
constexpr char kService[] = "web";
constexpr char kNode[] = "dash-node";
constexpr int kScrapeSeconds = 2;

// Targets that may answer nothing in a run of about a minute, each with why.
// Matched against "<dashboard uid>/<panel title>/<refId>" (annotations: "/annotation/<name>").
const std::map<std::string, std::string>& AllowedEmpty() {
  static const auto* const kAllowed = new std::map<std::string, std::string>{
      // No service is constrained while the quota and the cluster are far larger than the load.
      {"prescale-scaling/Constrained services/A", "count of constrained services: none are"},
      // The receiver accepts every webhook: no failed deliveries.
      {"prescale-scaling/Failed deliveries in range/A", "no delivery fails"},
      // No Alertmanager and no trigger rules in this stack.
      {"prescale-scaling/Triggers/A", "no trigger events"},
      // An action shows only in the minute window where its counter rose.
      {"prescale-scaling/annotation/Scaling actions", "no action in the last interval"},
      {"prescale-tenant/annotation/Scaling actions", "no action in the last interval"},
      {"prescale-service-forecast/annotation/Scaling actions", "no action in the last interval"},
      // Counters of trouble: the agent creates their series at the first error.
      {"prescale-agent/Samples sent, retried, dropped/B", "no push retried"},
      {"prescale-agent/Errors/A", "no read error"},
      {"prescale-agent/Errors/B", "no corrupt spool record"},
      {"prescale-agent/Errors/C", "no scraped family dropped"},
  };
  return *kAllowed;
}

// Metrics that a short run from an empty data directory does not produce, so
// that targets naming them may answer nothing and the names may be missing
// from /metrics.
// prescale_agent_samples_dropped_total{reason}: a labelled prometheus-cpp
// counter, exposed (HELP and TYPE too) only from the first dropped sample.
// prescale_forecast*: the forecast engine creates a series' forecaster at the first
// tick that sees its demand key, before any minute is final; with no point to
// replay its next query starts 48 h back, just outside the fine retention, and
// reads the 15-minute rollup: the first forecast comes with the first final
// quarter-hour (or after a restart). Reported; remove these once fixed.
const std::map<std::string, std::string>& MetricsAllowedAbsent() {
  static const auto* const kAllowed = new std::map<std::string, std::string>{
      {"prescale_agent_samples_dropped_total", "no sample dropped"},
      {"prescale_forecast", "first forecast after a quarter-hour"},
      {"prescale_forecast_model_info", "first forecast after a quarter-hour"},
      {"prescale_forecast_mase", "no forecast has matured"},
  };
  return *kAllowed;
}

// The PromQL identifiers of `expr` that name metrics: not in strings, label
// matchers, by/on/without/ignoring lists or range brackets, and not functions or keywords.
std::set<std::string> MetricNames(const std::string& expr) {
  static const std::set<std::string> kWords = {"sum",
                                               "avg",
                                               "min",
                                               "max",
                                               "count",
                                               "by",
                                               "without",
                                               "on",
                                               "ignoring",
                                               "group_left",
                                               "group_right",
                                               "and",
                                               "or",
                                               "unless",
                                               "offset",
                                               "bool",
                                               "rate",
                                               "irate",
                                               "increase",
                                               "delta",
                                               "changes",
                                               "vector",
                                               "scalar",
                                               "abs",
                                               "histogram_quantile",
                                               "label_replace",
                                               "topk",
                                               "bottomk",
                                               "time",
                                               "clamp_min",
                                               "clamp_max",
                                               "absent"};
  std::set<std::string> names;
  size_t i = 0;
  const size_t n = expr.size();
  auto skip_group = [&](char open, char close) {
    int depth = 0;
    for (; i < n; ++i) {
      if (expr[i] == '"') {
        for (++i; i < n && expr[i] != '"'; ++i) {
          if (expr[i] == '\\') ++i;
        }
      } else if (expr[i] == open) {
        ++depth;
      } else if (expr[i] == close && --depth == 0) {
        ++i;
        return;
      }
    }
  };
  while (i < n) {
    const char c = expr[i];
    if (c == '{') {
      skip_group('{', '}');
    } else if (c == '[') {
      skip_group('[', ']');
    } else if (c == '"') {
      for (++i; i < n && expr[i] != '"'; ++i) {
        if (expr[i] == '\\') ++i;
      }
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':') {
      const size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '_' || expr[i] == ':')) ++i;
      const std::string word = expr.substr(start, i - start);
      size_t j = i;
      while (j < n && expr[j] == ' ') ++j;
      const bool grouping = word == "by" || word == "on" || word == "without" || word == "ignoring" ||
                            word == "group_left" || word == "group_right";
      if (grouping && j < n && expr[j] == '(') {
        i = j;
        skip_group('(', ')');
      } else if (!kWords.contains(word) && !(j < n && expr[j] == '(')) {
        names.insert(word);
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      while (i < n && (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '.')) ++i;
    } else {
      ++i;
    }
  }
  return names;
}

TEST(DashboardsTest, MetricNamesAreFoundInExpressions) {
  EXPECT_EQ(MetricNames(R"(sum by (tenant) (rate(a_total{x="{y}"}[$__rate_interval])) and on (instance) b{n=~"$n"})"),
            (std::set<std::string>{"a_total", "b"}));
  EXPECT_EQ(MetricNames("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 0 or vector(0)"),
            (std::set<std::string>{"h_bucket"}));
}

// Whether `name` is on a text exposition: a sample line, or a HELP/TYPE line of
// its family (a labelled counter has no series before its first event).
bool Exposes(const std::string& exposition, const std::string& name) {
  std::string family = name;
  for (const char* suffix : {"_bucket", "_count", "_sum"}) {
    if (family.ends_with(suffix)) family.resize(family.size() - std::string(suffix).size());
  }
  for (const std::string& needle :
       {"\n" + name + "{", "\n" + name + " ", "# TYPE " + name + " ", "# TYPE " + family + " histogram"}) {
    if (("\n" + exposition).find(needle) != std::string::npos) return true;
  }
  return false;
}

// The webhook receiver: accepts every action and answers the replicas it asks for.
class AcceptingReceiver {
 public:
  std::string Start() {
    http::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    std::vector<http::Route> routes;
    routes.push_back({"POST", "/hook", [](const http::HttpRequest& r) {
                        rapidjson::Document doc;
                        doc.Parse(r.body.data(), r.body.size());
                        const int64_t to =
                            doc.IsObject() && doc.HasMember("to_replicas") && doc["to_replicas"].IsInt64()
                                ? doc["to_replicas"].GetInt64()
                                : 1;
                        http::HttpResponse response;
                        response.content_type = "application/json";
                        response.body = "{\"replicas\":" + std::to_string(to) + "}";
                        return response;
                      }});
    // A service's own /metrics for the agent to scrape (prescale_agent_scrape_target_*).
    routes.push_back({"GET", "/metrics", [](const http::HttpRequest&) {
                        http::HttpResponse response;
                        response.body = "# TYPE web_requests_total counter\nweb_requests_total 7\n";
                        return response;
                      }});
    auto server = http::HttpServer::Start(options, std::move(routes));
    if (!server.ok()) return server.status().ToString();
    server_ = std::move(server).value();
    return "";
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void Stop() {
    if (server_ != nullptr) server_->Stop();
  }

 private:
  std::unique_ptr<http::HttpServer> server_;
};

class PrometheusApi {
 public:
  explicit PrometheusApi(int port) : base_("http://127.0.0.1:" + std::to_string(port)) {
    options_.timeout = 10s;
    options_.accept = "application/json";
  }
  // The query's JSON answer; false with *error when Prometheus refused it or did not answer.
  bool Query(const std::string& promql, rapidjson::Document* doc, std::string* error) {
    auto r = client_->Get(base_ + "/api/v1/query?query=" + UrlEncode(promql), options_);
    if (!r.ok()) {
      *error = r.status().ToString();
      return false;
    }
    doc->Parse(r->body.c_str());
    if (r->status != 200 || !doc->IsObject() || Str(*doc, "status") != "success") {
      *error = std::to_string(r->status) + " " + r->body;
      return false;
    }
    return true;
  }
  // The number of series (or 1 for a scalar) a query answers; -1 on an error.
  int Count(const std::string& promql, std::string* error) {
    rapidjson::Document doc;
    if (!Query(promql, &doc, error)) return -1;
    const auto& result = doc["data"]["result"];
    return result.IsArray() ? static_cast<int>(result.Size()) : 1;
  }

 private:
  std::string base_;
  http::GetOptions options_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
};

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

// A Grafana expression with the dashboard variables and Grafana's built-ins filled in.
std::string Substitute(std::string expr) {
  // Longest names first: $__rate_interval before $__interval.
  const std::vector<std::pair<std::string, std::string>> values = {{"$__rate_interval", "30s"},
                                                                   {"$__interval", "1m"},
                                                                   {"$__range", "5m"},
                                                                   {"${tenant}", kTenant},
                                                                   {"$tenant", kTenant},
                                                                   {"${service}", kService},
                                                                   {"$service", kService},
                                                                   {"${node}", kNode},
                                                                   {"$node", kNode},
                                                                   {"$horizon", "5m"},
                                                                   {"$cluster", ".*"},
                                                                   {"$agent_job", ".*prescale-agent.*"},
                                                                   {"$aggregator_job", ".*prescale-aggregator.*"}};
  for (const auto& [from, to] : values) expr = ReplaceAll(expr, from, to);
  return expr;
}

std::string Tail(const std::string& text, size_t n) { return text.size() <= n ? text : text.substr(text.size() - n); }

class DashboardsLiveTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (Subprocess* p : {agent_.get(), aggregator_.get()}) {
      if (p != nullptr && p->running()) {
        p->Signal(SIGTERM);
        p->Wait(20s);
      }
    }
    receiver_.Stop();
    if (HasFailure()) {
      if (aggregator_ != nullptr) std::printf("--- aggregator log:\n%s\n", Tail(aggregator_->Stderr(), 3000).c_str());
      if (agent_ != nullptr) std::printf("--- agent log:\n%s\n", Tail(agent_->Stderr(), 3000).c_str());
    }
  }

  TempDir dir_{"prescale-dashboards"};      // declared first: removed after every process is gone
  std::unique_ptr<CgroupSandbox> sandbox_;  // destroyed after the processes: kills the burner, removes cgroups
  AcceptingReceiver receiver_;
  std::unique_ptr<Subprocess> aggregator_;
  std::unique_ptr<Subprocess> agent_;
  std::unique_ptr<Subprocess> burner_;
  Subprocess prometheus_;
};

TEST_F(DashboardsLiveTest, EveryPanelQueryAnswersAgainstTheLiveStack) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (real cgroups for the service's load)";
  if (FindProgram("prometheus").empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  const std::string reason = CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  for (const char* name : {"prescale-aggregator", "prescale-agent", "prescale-test-burner"}) {
    const std::string path = BinDir() + "/" + name;
    ASSERT_EQ(::access(path.c_str(), X_OK), 0) << path << " is missing: build the " << name << " target";
  }
  const std::vector<Dashboard> dashboards = LoadDashboards();
  for (const Dashboard& d : dashboards) ASSERT_FALSE(d.doc.HasParseError()) << d.file;

  // The service's cgroup, with its load in a child limited to 0.3 cores.
  auto sandbox = CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  sandbox_ = std::move(sandbox).value();
  const std::string service_cgroup = sandbox_->root() + "/" + kTenant + "/" + kService;
  ASSERT_TRUE(sandbox_->MakeCgroup(std::string(kTenant) + "/" + kService + "/load").ok());
  ASSERT_TRUE(sandbox_->SetCpuQuota(service_cgroup + "/load", 30000, 100000).ok());
  burner_ = std::make_unique<Subprocess>();
  ASSERT_TRUE(burner_->Start({BinDir() + "/prescale-test-burner", "cpu", "1", "0"},
                             sandbox_->ProcsFiles(service_cgroup + "/load")));

  const std::string error = receiver_.Start();
  ASSERT_TRUE(error.empty()) << "webhook receiver: " << error;
  const std::string secret = dir_.Write("webhook-secret", "dashboards-secret\n");
  const std::string aggregator_config = dir_.Write(
      "aggregator.yaml",
      "listen: 127.0.0.1:0\ndata_dir: \"" + dir_.path() +
          "/aggregator\"\ntick_interval: 2s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\nwebhook_timeout: 2s\n"
          "tokens:\n  - {name: agent, sha256: \"" +
          testing::kTestTokenSha256 + "\"}\n" + testing::kTestMonitorTokenYaml +
          "tenants:\n  - name: acme\n    quotas: {cpu_cores: 8}\nservices:\n"
          "  - tenant: acme\n    name: web\n    priority: critical\n    replicas: {current: 1, min: 1, max: 20}\n"
          "    requests: {cpu_cores: 0.05}\n    target_utilization: {cpu: 0.8}\n"
          "    executor: {type: webhook, url: \"" +
          receiver_.base() + "/hook\", secret_file: \"" + secret + "\"}\n");
  aggregator_ = std::make_unique<Subprocess>();
  ASSERT_TRUE(aggregator_->Start({BinDir() + "/prescale-aggregator", "--config", aggregator_config}));
  std::string log;
  const int aggregator_port = testing::WaitForServingPort(*aggregator_, 20s, &log);
  ASSERT_NE(aggregator_port, 0) << "the aggregator did not start: " << log;
  const std::string aggregator_base = "http://127.0.0.1:" + std::to_string(aggregator_port);

  const std::string agent_config = dir_.Write(
      "agent.yaml", "listen: 127.0.0.1:0\ninterval: 1s\ndiscovery_interval: 1s\nnode: " + std::string(kNode) +
                        "\naggregator_url: " + aggregator_base + "/api/v1/write\ntoken_file: \"" +
                        dir_.Write("agent.token", std::string(testing::kTestToken) + "\n") +
                        "\"\ndirectives: true\ndirective_interval: 1s\ndata_dir: \"" + dir_.path() +
                        "/agent\"\nmapping:\n  - match: '" + sandbox_->MappingPattern() +
                        "'\n    labels: {tenant: $1, service: $2}\nscrape_targets:\n  - {url: \"" + receiver_.base() +
                        "/metrics\", tenant: acme, service: web}\n");
  agent_ = std::make_unique<Subprocess>();
  ASSERT_TRUE(agent_->Start({BinDir() + "/prescale-agent", "--config", agent_config}));
  static const std::regex kPortLine("serving /metrics on port ([0-9]+)");
  std::smatch m;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = agent_->Stderr();
        return std::regex_search(log, m, kPortLine) || !agent_->running();
      },
      20s))
      << log;
  ASSERT_TRUE(agent_->running()) << "the agent exited: " << log;
  const int agent_port = std::stoi(m[1].str());

  testing::PrometheusOptions options;
  const std::string interval = std::to_string(kScrapeSeconds) + "s";
  options.config_yaml = "global:\n  scrape_interval: " + interval + "\n  scrape_timeout: " + interval +
                        "\nscrape_configs:\n  - job_name: prescale-aggregator\n    authorization: {credentials: " +
                        testing::kTestMonitorToken +
                        "}\n    static_configs:\n"
                        "      - targets: ['127.0.0.1:" +
                        std::to_string(aggregator_port) +
                        "']\n  - job_name: prescale-agent\n    static_configs:\n      - targets: ['127.0.0.1:" +
                        std::to_string(agent_port) + "']\n";
  int prometheus_port = 0;
  std::string prometheus_error;
  ASSERT_TRUE(testing::StartPrometheus(dir_, options, &prometheus_, &prometheus_port, &prometheus_error))
      << prometheus_error;
  PrometheusApi api(prometheus_port);

  // Run until the slowest data the dashboards show is in Prometheus: the first
  // final demand minute, a delivered action, and a few scrapes of each since
  // (rates need two samples in their window).
  const auto start = std::chrono::steady_clock::now();
  std::string query_error, pending;
  const bool ready = PollUntil(
      [&] {
        for (const char* q :
             {"count_over_time(prescale_service_usage{tenant=\"acme\",service=\"web\",resource=\"memory\"}[1m]) >= 4",
              "count_over_time(prescale_action_deliveries_total{result=\"delivered\"}[1m]) >= 4",
              "count_over_time(prescale_agent_scrape_target_up[1m]) >= 4"}) {
          pending = q;
          if (api.Count(q, &query_error) < 1) return false;
        }
        return true;
      },
      150s, 1s);
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ figures  ] the stack's data reached Prometheus after %.1f s\n", waited_s);
  // The aggregator's /metrics needs a scraper's token; the agent's ignores it.
  http::GetOptions scrape;
  scrape.headers.emplace_back("Authorization", std::string("Bearer ") + testing::kTestMonitorToken);
  if (!ready) {
    auto client = http::NewCurlHttpClient();
    for (const std::string& url :
         {aggregator_base + "/metrics", "http://127.0.0.1:" + std::to_string(agent_port) + "/metrics"}) {
      auto r = client->Get(url, scrape);
      if (r.ok()) std::printf("--- %s:\n%s\n", url.c_str(), r->body.substr(0, 20000).c_str());
    }
  }
  ASSERT_TRUE(ready) << "the stack's demand, deliveries and scrape targets did not all reach Prometheus within "
                        "150 s; waiting for "
                     << pending << "; last error: " << query_error;

  std::string exposition;
  {
    auto client = http::NewCurlHttpClient();
    for (const std::string& url :
         {aggregator_base + "/metrics", "http://127.0.0.1:" + std::to_string(agent_port) + "/metrics"}) {
      auto r = client->Get(url, scrape);
      ASSERT_TRUE(r.ok() && r->status == 200) << url;
      exposition += r->body + "\n";
    }
  }

  int queries = 0, empty_allowed = 0;
  std::set<std::string> allow_used;
  auto check = [&](const std::string& key, const std::string& raw) {
    SCOPED_TRACE(key + ": " + raw);
    const std::string expr = Substitute(raw);
    EXPECT_EQ(expr.find('$'), std::string::npos) << "a variable was left: " << expr;
    std::string err;
    const int count = api.Count(expr, &err);
    ++queries;
    EXPECT_GE(count, 0) << "Prometheus refused " << expr << ": " << err;
    const std::set<std::string> names = MetricNames(expr);
    const bool may_be_absent = std::any_of(names.begin(), names.end(),
                                           [](const std::string& n) { return MetricsAllowedAbsent().contains(n); });
    if (count == 0) {
      if (AllowedEmpty().contains(key) || may_be_absent) {
        ++empty_allowed;
        allow_used.insert(key);
      } else {
        ADD_FAILURE() << "no data for " << expr;
      }
    }
    for (const std::string& name : names) {
      if (name == "up" || MetricsAllowedAbsent().contains(name)) continue;  // Prometheus's own; see above
      EXPECT_TRUE(Exposes(exposition, name)) << name << " is on neither the aggregator's nor the agent's /metrics";
    }
  };
  for (const Dashboard& d : dashboards) {
    const std::string uid = Str(d.doc, "uid");
    for (const auto& p : d.doc["panels"].GetArray()) {
      for (const auto& t : p["targets"].GetArray()) {
        check(uid + "/" + Str(p, "title") + "/" + Str(t, "refId"), Str(t, "expr"));
      }
    }
    for (const auto& a : d.doc["annotations"]["list"].GetArray()) {
      if (!Str(a, "expr").empty()) check(uid + "/annotation/" + Str(a, "name"), Str(a, "expr"));
    }
  }
  for (const auto& [key, why] : AllowedEmpty()) {
    if (!allow_used.contains(key))
      std::printf("[ note     ] allowed empty but answered: %s (%s)\n", key.c_str(), why.c_str());
  }
  std::printf("[ figures  ] %d queries, %d empty and allowed to be\n", queries, empty_allowed);
  EXPECT_GE(queries, 50);

  // The KEDA example's query, for this stack's tenant and service, answers with the replicas the
  // aggregator grants: what KEDA's Prometheus scaler (threshold 1) would hand its HPA.
  const std::string keda =
      testing::ReadFileOrEmpty(testing::SourceDir() + "/deploy/kubernetes/examples/keda-scaledobject.yaml");
  std::smatch q;
  ASSERT_TRUE(std::regex_search(keda, q, std::regex(R"(query: (.+))"))) << "no query in the KEDA example";
  // The example's namespace is shop; this stack's tenant is acme (the service is web in both).
  std::string keda_query = q[1].str();
  const size_t shop = keda_query.find("tenant=\"shop\"");
  ASSERT_NE(shop, std::string::npos) << keda_query;
  keda_query.replace(shop, 13, "tenant=\"" + std::string(kTenant) + "\"");
  rapidjson::Document keda_answer, desired_answer;
  std::string keda_error;
  ASSERT_TRUE(api.Query(keda_query, &keda_answer, &keda_error)) << keda_query << ": " << keda_error;
  ASSERT_TRUE(api.Query("prescale_desired_replicas{tenant=\"acme\",service=\"web\"}", &desired_answer, &keda_error))
      << keda_error;
  const auto& keda_result = keda_answer["data"]["result"];
  const auto& desired_result = desired_answer["data"]["result"];
  ASSERT_EQ(keda_result.Size(), 1u) << keda_query;
  ASSERT_EQ(desired_result.Size(), 1u);
  const std::string granted = desired_result[0]["value"][1].GetString();
  EXPECT_EQ(std::string(keda_result[0]["value"][1].GetString()), granted) << keda_query;
  EXPECT_GE(std::stod(granted), 1.0);
  std::printf("[ figures  ] the KEDA example's query answers %s replicas, as prescale_desired_replicas\n",
              granted.c_str());
}

}  // namespace
}  // namespace prescale
