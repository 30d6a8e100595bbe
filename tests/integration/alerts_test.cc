// The alerting rules (alerts/prescale-rules.yaml), their unit tests
// (alerts/tests/*.yaml) and the Alertmanager config (alerts/alertmanager.yml):
//   (1) promtool check rules and promtool test rules pass; amtool accepts the
//       Alertmanager config;
//   (2) live: the built prescale-aggregator, a real Prometheus scraping it with
//       the rules loaded, and a real Alertmanager configured from
//       alerts/alertmanager.yml (only the aggregator's URL and the token file
//       substituted). Every rule evaluates without error against the live
//       series and carries severity, summary, description and a runbook link to
//       an existing section of docs/runbooks.md; a service-level alert
//       (PrescaleServiceThrottled) reaches the aggregator through Alertmanager
//       with the bearer token and is counted as a trigger, while an alert with
//       no tenant/service (PrescaleAgentAbsent) goes to the null receiver only.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/alertmanager.h"
#include "tests/support/curl.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::Curl;
using testing::CurlReply;
using testing::FindProgram;
using testing::MetricValue;
using testing::PollUntil;
using testing::ReadFileOrEmpty;
using testing::RunCommand;
using testing::RunResult;
using testing::SourceDir;
using testing::Subprocess;
using testing::TempDir;

std::string RulesFile() { return SourceDir() + "/alerts/prescale-rules.yaml"; }
std::string AlertmanagerFile() { return SourceDir() + "/alerts/alertmanager.yml"; }

// alerts/tests/*.yaml, sorted.
std::vector<std::string> RuleTestFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/alerts/tests", ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Replaces every occurrence of `from` in *text (which must hold at least one) with `to`.
void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  ASSERT_NE(text->find(from), std::string::npos) << "'" << from << "' is not in the file any more";
  for (size_t at = 0; (at = text->find(from, at)) != std::string::npos; at += to.size()) {
    text->replace(at, from.size(), to);
  }
}

TEST(AlertRulesTest, PromtoolChecksRulesAndTheirUnitTestsPass) {
  const std::string promtool = FindProgram("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  const RunResult check = RunCommand({promtool, "check", "rules", RulesFile()}, 60s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS"), std::string::npos) << check.out << check.err;

  const std::vector<std::string> tests = RuleTestFiles();
  ASSERT_FALSE(tests.empty()) << "no alerts/tests/*.yaml";
  std::vector<std::string> argv = {promtool, "test", "rules"};
  argv.insert(argv.end(), tests.begin(), tests.end());
  const RunResult unit = RunCommand(argv, 120s);
  EXPECT_EQ(unit.exit_code, 0) << unit.out << unit.err;
  EXPECT_EQ(unit.out.find("FAILED"), std::string::npos) << unit.out << unit.err;

  // Every rule has a unit test: each alert name of the rules file appears as an alertname in the tests.
  const std::string rules = ReadFileOrEmpty(RulesFile());
  std::string tested;
  for (const std::string& t : tests) tested += ReadFileOrEmpty(t);
  const std::regex alert_line(R"(- alert: (\w+))");
  int alerts = 0;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), alert_line); it != std::sregex_iterator(); ++it) {
    ++alerts;
    const std::string name = (*it)[1].str();
    EXPECT_NE(tested.find("alertname: " + name + "\n"), std::string::npos) << name << " has no promtool unit test";
  }
  EXPECT_GE(alerts, 7);
}

TEST(AlertRulesTest, AmtoolAcceptsTheAlertmanagerConfig) {
  const std::string amtool = FindProgram("amtool");
  if (amtool.empty()) GTEST_SKIP() << "amtool is not installed (Debian package prometheus-alertmanager)";
  const RunResult check = RunCommand({amtool, "check-config", AlertmanagerFile()}, 60s);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS"), std::string::npos) << check.out << check.err;
}

// A Prometheus HTTP API answer's data, parsed; false with *error on any failure.
bool PrometheusGet(int port, const std::string& path, rapidjson::Document* doc, std::string* error) {
  const CurlReply r = Curl("GET", "http://127.0.0.1:" + std::to_string(port) + path, "", {});
  doc->Parse(r.body.c_str());
  if (r.status != 200 || doc->HasParseError() || !doc->IsObject() || !doc->HasMember("data")) {
    *error = path + ": " + std::to_string(r.status) + " " + r.body + r.error;
    return false;
  }
  return true;
}

class AlertsLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    if (FindProgram("prometheus").empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
    if (testing::FindAlertmanager().empty()) {
      GTEST_SKIP() << "Alertmanager is not installed (Debian package prometheus-alertmanager)";
    }
    const std::string aggregator = BinDir() + "/prescale-aggregator";
    ASSERT_EQ(::access(aggregator.c_str(), X_OK), 0) << aggregator << " is missing: build prescale-aggregator";
  }

  void TearDown() override {
    for (Subprocess* p : {&prometheus_, &alertmanager_, &aggregator_}) {
      if (p->running()) {
        p->Signal(SIGTERM);
        p->Wait(20s);
      }
    }
    if (HasFailure()) {
      std::printf("--- aggregator log:\n%s\n--- alertmanager log:\n%s\n--- prometheus log (tail):\n%s\n",
                  aggregator_.Stderr().c_str(), alertmanager_.Stderr().c_str(), Tail(prometheus_.Stderr()).c_str());
    }
  }
  static std::string Tail(const std::string& text) {
    return text.size() <= 4000 ? text : text.substr(text.size() - 4000);
  }

  std::string AggregatorMetrics() const {
    return Curl("GET", base_ + "/metrics", "", {std::string("Authorization: Bearer ") + testing::kTestMonitorToken})
        .body;
  }

  TempDir dir_{"prescale-alerts"};  // declared first: removed after every process is gone
  Subprocess aggregator_, alertmanager_, prometheus_;
  std::string base_;
};

// The live path. The rules are the real file's with every `for:` set to 0s: a
// 15-minute hold cannot fit in a test of a minute or two, and promtool's unit
// tests above already check each rule's hold. Expressions, labels and
// annotations are unchanged. The aggregator is configured so that one
// service-level condition holds from the first tick: a `low` service whose
// minimum (2 replicas) does not fit its tenant's replica quota (1) is
// constrained, hence throttled (prescale_throttled > 0). No agent is scraped,
// so PrescaleAgentAbsent fires too: it has no tenant/service and must not
// reach the aggregator.
TEST_F(AlertsLiveTest, ServiceAlertReachesAggregatorThroughRealPrometheusAndAlertmanager) {
  const auto start = std::chrono::steady_clock::now();
  const std::string token_file = dir_.Write("alertmanager-token", std::string(testing::kTestToken) + "\n");
  const std::string config = dir_.Write(
      "aggregator.yaml", "listen: 127.0.0.1:0\ndata_dir: \"" + dir_.path() +
                             "/aggregator\"\ntick_interval: 2s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\n"
                             "tokens:\n  - {name: alertmanager, sha256: \"" +
                             testing::kTestTokenSha256 + "\", role: agent}\n" + testing::kTestMonitorTokenYaml +
                             "tenants:\n  - name: acme\n    quotas: {cpu_cores: 64, replicas: 1}\n"
                             "services:\n  - tenant: acme\n    name: batch\n    priority: low\n"
                             "    replicas: {current: 2, min: 2, max: 4}\n    requests: {cpu_cores: 0.5}\n"
                             "    executor: {type: recommend-only}\n");
  ASSERT_TRUE(aggregator_.Start({BinDir() + "/prescale-aggregator", "--config", config}));
  std::string log;
  const int aggregator_port = testing::WaitForServingPort(aggregator_, 20s, &log);
  ASSERT_NE(aggregator_port, 0) << "the aggregator did not start: " << log;
  base_ = "http://127.0.0.1:" + std::to_string(aggregator_port);

  // The receiver needs the token: without it, 401.
  const CurlReply anonymous = Curl("POST", base_ + "/api/v1/alerts/alertmanager", R"({"version":"4","alerts":[]})",
                                   {"Content-Type: application/json"});
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;

  // Alertmanager from alerts/alertmanager.yml, pointed at this aggregator and token file.
  std::string am_yaml = ReadFileOrEmpty(AlertmanagerFile());
  ASSERT_FALSE(am_yaml.empty()) << AlertmanagerFile();
  ASSERT_NO_FATAL_FAILURE(ReplaceAll(&am_yaml, "http://prescale-aggregator:9570", base_));
  ASSERT_NO_FATAL_FAILURE(ReplaceAll(&am_yaml, "/etc/alertmanager/secrets/prescale-aggregator-token", token_file));
  testing::AlertmanagerOptions am_options;
  am_options.config_yaml = am_yaml;
  int am_port = 0;
  std::string error;
  ASSERT_TRUE(testing::StartAlertmanager(dir_, am_options, &alertmanager_, &am_port, &error)) << error;

  // The rules with every hold at 0s, and a Prometheus evaluating them each second.
  std::string rules = ReadFileOrEmpty(RulesFile());
  ASSERT_FALSE(rules.empty()) << RulesFile();
  rules = std::regex_replace(rules, std::regex(R"((\n\s+for: )\w+)"), "$010s");
  const std::string rules_file = dir_.Write("rules.yaml", rules);
  testing::PrometheusOptions options;
  options.config_yaml =
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
      "rule_files: ['" +
      rules_file + "']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:" +
      std::to_string(am_port) +
      "']\nscrape_configs:\n  - job_name: prescale-aggregator\n    authorization: {credentials: " +
      testing::kTestMonitorToken +
      "}\n    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(aggregator_port) + "']\n";
  int prometheus_port = 0;
  ASSERT_TRUE(testing::StartPrometheus(dir_, options, &prometheus_, &prometheus_port, &error)) << error;

  // The aggregator counts the alert Alertmanager delivered.
  std::string metrics;
  const bool triggered = PollUntil(
      [&] {
        metrics = AggregatorMetrics();
        return MetricValue(metrics, R"(prescale_alertmanager_alerts_total{outcome="triggered"})").value_or(0) >= 1;
      },
      90s, 500ms);
  const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ figures  ] aggregator start -> alert counted as a trigger: %.1f s\n", waited_s);
  ASSERT_TRUE(triggered) << "the aggregator counted no alert within 90 s; its metrics:\n" << metrics;
  EXPECT_GE(MetricValue(metrics, R"(prescale_triggers_total{source="alertmanager"})").value_or(0), 1) << metrics;
  EXPECT_GT(MetricValue(metrics, R"(prescale_throttled{service="batch",tenant="acme"})").value_or(0), 0) << metrics;

  // Prometheus's view: the throttled alert fires with the series' tenant and
  // service; PrescaleAgentAbsent fires without them.
  rapidjson::Document doc;
  ASSERT_TRUE(PrometheusGet(prometheus_port, "/api/v1/alerts", &doc, &error)) << error;
  std::set<std::string> firing;
  for (const auto& a : doc["data"]["alerts"].GetArray()) {
    if (std::string(a["state"].GetString()) != "firing") continue;
    const auto& labels = a["labels"];
    const std::string name = labels["alertname"].GetString();
    firing.insert(name);
    if (name == "PrescaleServiceThrottled") {
      EXPECT_EQ(std::string(labels["tenant"].GetString()), "acme");
      EXPECT_EQ(std::string(labels["service"].GetString()), "batch");
    }
  }
  std::string names;
  for (const std::string& n : firing) names += n + " ";
  EXPECT_TRUE(firing.count("PrescaleServiceThrottled")) << "firing in Prometheus: " << names;
  EXPECT_TRUE(firing.count("PrescaleAgentAbsent")) << "firing in Prometheus: " << names;

  // Every rule evaluated against the live series without error, and is
  // documented: severity, summary, description, and a runbook link to a
  // section of docs/runbooks.md.
  const std::string runbooks = ReadFileOrEmpty(SourceDir() + "/docs/runbooks.md");
  ASSERT_FALSE(runbooks.empty());
  // runbook_url is monitoring/config.yaml's runbook_url_base and the anchor.
  std::smatch base_match;
  const std::string monitoring = ReadFileOrEmpty(SourceDir() + "/monitoring/config.yaml");
  ASSERT_TRUE(std::regex_search(monitoring, base_match, std::regex("\nrunbook_url_base: \"([^\"]+)\"")));
  const std::string runbook_url_base = base_match[1];
  int rule_count = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (!PrometheusGet(prometheus_port, "/api/v1/rules", &doc, &error)) return false;
        for (const auto& g : doc["data"]["groups"].GetArray()) {
          for (const auto& r : g["rules"].GetArray()) {
            if (std::string(r["lastEvaluation"].GetString()).starts_with("0001-")) return false;
          }
        }
        return true;
      },
      30s, 500ms))
      << "not every rule evaluated: " << error;
  for (const auto& g : doc["data"]["groups"].GetArray()) {
    for (const auto& r : g["rules"].GetArray()) {
      ++rule_count;
      const std::string name = r["name"].GetString();
      EXPECT_EQ(std::string(r["type"].GetString()), "alerting") << name;
      EXPECT_EQ(std::string(r["health"].GetString()), "ok")
          << name << ": " << (r.HasMember("lastError") ? r["lastError"].GetString() : "");
      const auto& labels = r["labels"];
      EXPECT_TRUE(labels.HasMember("severity") && labels["severity"].IsString()) << name;
      const auto& annotations = r["annotations"];
      for (const char* key : {"summary", "description", "runbook_url"}) {
        EXPECT_TRUE(annotations.HasMember(key) && std::string(annotations[key].GetString()).size() > 0)
            << name << " has no " << key;
      }
      if (!annotations.HasMember("runbook_url")) continue;
      const std::string url = annotations["runbook_url"].GetString();
      std::string anchor = name;
      std::transform(anchor.begin(), anchor.end(), anchor.begin(), [](unsigned char c) { return std::tolower(c); });
      EXPECT_EQ(url, runbook_url_base + "#" + anchor) << name;
      EXPECT_NE(runbooks.find("\n### " + name + "\n"), std::string::npos) << name << " has no section in runbooks.md";
    }
  }
  EXPECT_GE(rule_count, 7);

  // Nothing without tenant/service reached the aggregator (the absent-agent alert went to the null receiver).
  metrics = AggregatorMetrics();
  EXPECT_EQ(MetricValue(metrics, R"(prescale_alertmanager_alerts_total{outcome="ignored"})").value_or(0), 0) << metrics;
}

}  // namespace
}  // namespace prescale
