// The aggregator's configuration: parsing, flags, and a table of bad configs
// run through the real binary (exit 2, "FILE:LINE: key.path: what").
#include "prescale/aggregator/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

#include "prescale/aggregator/control/auth.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using ::prescale::testing::BinDir;
using ::prescale::testing::RunCommand;
using ::prescale::testing::RunResult;
using ::prescale::testing::TempDir;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kHashA = Sha256Hex("token-a");

TEST(AggregatorConfig, DefaultsAndAFullFile) {
  auto empty = ParseAggregatorConfig("", "agg.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->listen, "0.0.0.0:9570");
  EXPECT_EQ(empty->max_series, 1'000'000u);
  EXPECT_EQ(empty->max_body_bytes, 32u << 20);
  EXPECT_EQ(empty->raw_retention, 15min);
  EXPECT_TRUE(empty->tokens.empty());

  auto c = ParseAggregatorConfig(
      "listen: 127.0.0.1:0\ndata_dir: /tmp/x\nmax_series: 5000\nmax_body_bytes: 4MiB\n"
      "raw_retention: 5m\nhttp_threads: 4\nlog_level: debug\ntokens:\n"
      "  - name: node-a\n    sha256: \"sha256:" +
          kHashA + "\"\n",
      "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:0");
  EXPECT_EQ(c->data_dir, "/tmp/x");
  EXPECT_EQ(c->max_series, 5000u);
  EXPECT_EQ(c->max_body_bytes, 4u << 20);
  EXPECT_EQ(c->raw_retention, 5min);
  EXPECT_EQ(c->http_threads, 4);
  ASSERT_EQ(c->tokens.size(), 1u);
  EXPECT_EQ(c->tokens[0].name, "node-a");
  EXPECT_EQ(c->tokens[0].sha256_hex, kHashA);
}

TEST(AggregatorConfig, KubernetesDiscoveryIsOffByDefault) {
  auto empty = ParseAggregatorConfig("", "agg.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->kubernetes_discovery);
  EXPECT_EQ(empty->kubernetes_discovery_interval, 30s);
  auto c = ParseAggregatorConfig("kubernetes_discovery: true\nkubernetes_discovery_interval: 2m\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->kubernetes_discovery);
  EXPECT_EQ(c->kubernetes_discovery_interval, 2min);
}

TEST(AggregatorConfig, AnonymousPushIsOffUnlessTheFileOrTheFlagSaysSo) {
  auto empty = ParseAggregatorConfig("", "agg.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->allow_anonymous_push);
  auto c = ParseAggregatorConfig("allow_anonymous_push: true\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->allow_anonymous_push);
  c = ParseAggregatorConfig("allow_anonymous_push: false\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->allow_anonymous_push);

  const char* argv[] = {"prescale-aggregator", "--allow-anonymous-push"};
  auto cli = ParseAggregatorCommandLine(2, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AggregatorConfig flagged;
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &flagged).ok());
  EXPECT_TRUE(flagged.allow_anonymous_push);
  const char* without[] = {"prescale-aggregator", "--listen", "127.0.0.1:1"};
  cli = ParseAggregatorCommandLine(3, without);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AggregatorConfig file_on;
  file_on.allow_anonymous_push = true;
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &file_on).ok());
  EXPECT_TRUE(file_on.allow_anonymous_push) << "no flag leaves the file's choice";
  const char* valued[] = {"prescale-aggregator", "--allow-anonymous-push=yes"};
  EXPECT_FALSE(ParseAggregatorCommandLine(2, valued).ok()) << "a switch takes no value";
}

TEST(AggregatorConfig, AnonymousMetricsAreOffUnlessTheFileOrTheFlagSaysSo) {
  auto empty = ParseAggregatorConfig("", "agg.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(empty->allow_anonymous_metrics);
  auto c = ParseAggregatorConfig("allow_anonymous_metrics: true\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->allow_anonymous_metrics);
  EXPECT_FALSE(c->allow_anonymous_push) << "one opening does not imply the other";
  const char* argv[] = {"prescale-aggregator", "--allow-anonymous-metrics"};
  auto cli = ParseAggregatorCommandLine(2, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AggregatorConfig flagged;
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &flagged).ok());
  EXPECT_TRUE(flagged.allow_anonymous_metrics);
  EXPECT_FALSE(flagged.allow_anonymous_push);
}

TEST(AggregatorConfig, ShippedConfigsUseTokensAndTakeNoAnonymousPushes) {
  for (const char* file :
       {"/deploy/systemd/aggregator.example.yaml", "/deploy/kubernetes/base/config/aggregator.yaml"}) {
    SCOPED_TRACE(file);
    auto c = LoadAggregatorConfig(testing::SourceDir() + file);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_FALSE(c->tokens.empty());
    EXPECT_FALSE(c->allow_anonymous_push);
    EXPECT_FALSE(c->allow_anonymous_metrics);
    bool scraper = false;
    for (const TokenConfig& t : c->tokens) scraper = scraper || t.role == "monitor";
    EXPECT_TRUE(scraper) << "a monitor token for Prometheus to scrape /metrics with";
  }
}

TEST(AggregatorConfig, DemandSectionAddsCustomMetricsToTheDefaults) {
  auto c = ParseAggregatorConfig(
      "prometheus_url: http://127.0.0.1:9090\ndemand:\n  tenant_label: team\n  service_label: app\n"
      "  resolution: 15s\n  settle: 2m\n  custom_metrics:\n"
      "    - {metric: http_requests_total, resource: requests, type: counter}\n"
      "    - {metric: queue_depth, resource: queue}\n",
      "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->prometheus_url, "http://127.0.0.1:9090");
  EXPECT_EQ(c->demand.tenant_label, "team");
  EXPECT_EQ(c->demand.service_label, "app");
  EXPECT_EQ(c->demand.resolution, 15s);
  EXPECT_EQ(c->demand.settle, 2min);
  const size_t defaults = DemandOptions::DefaultRules().size();
  ASSERT_EQ(c->demand.rules.size(), defaults + 2);
  EXPECT_EQ(c->demand.rules[defaults].metric, "http_requests_total");
  EXPECT_EQ(c->demand.rules[defaults].resource, "requests");
  EXPECT_TRUE(c->demand.rules[defaults].counter);
  EXPECT_FALSE(c->demand.rules[defaults + 1].counter);
}

TEST(AggregatorCommandLine, FlagsOverrideTheFile) {
  const char* argv[] = {"prescale-aggregator", "--config", "f.yaml",       "--listen=127.0.0.1:1",
                        "--data-dir",          "/d",       "--max-series", "7"};
  auto cli = ParseAggregatorCommandLine(8, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  EXPECT_EQ(cli->config_path, "f.yaml");
  AggregatorConfig c;
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &c).ok());
  EXPECT_EQ(c.listen, "127.0.0.1:1");
  EXPECT_EQ(c.data_dir, "/d");
  EXPECT_EQ(c.max_series, 7u);
}

struct BadConfig {
  const char* name;
  std::string yaml;
  int line;
  const char* key_path;
  const char* what;
};

std::vector<BadConfig> BadConfigs() {
  return {
      {"unknown_key", "listen: 127.0.0.1:0\nmax_serie: 5\n", 2, "max_serie", "unknown key"},
      {"max_series_zero", "max_series: 0\n", 1, "max_series", "positive whole number"},
      {"max_series_words", "\nmax_series: many\n", 2, "max_series", "positive whole number"},
      {"max_body_bytes_unit", "max_body_bytes: 4 parsecs\n", 1, "max_body_bytes", "invalid size"},
      {"max_body_bytes_tiny", "max_body_bytes: 10\n", 1, "max_body_bytes", "at least 1KiB"},
      {"raw_retention_bad", "raw_retention: soon\n", 1, "raw_retention", "invalid duration"},
      {"raw_retention_short", "raw_retention: 10ms\n", 1, "raw_retention", "at least 1s"},
      {"listen_list", "listen:\n  - a\n", 2, "listen", "expected a string"},
      {"data_dir_empty", "data_dir: ''\n", 1, "data_dir", "must not be empty"},
      {"control_store_path", "\ncontrol_store: /var/lib/prescale/control.db\n", 2, "control_store",
       "expected a postgres:// or postgresql:// URL"},
      {"control_store_bad_url", "control_store: postgres://u:pw@h/db?bogus_option=1\n", 1, "control_store",
       "invalid postgres URL"},
      {"log_level_bad", "log_level: loud\n", 1, "log_level", "expected debug"},
      {"tokens_not_list", "tokens: {name: a}\n", 1, "tokens", "expected a list"},
      {"token_unknown_key", "tokens:\n  - name: a\n    sha256: \"sha256:" + kHashA + "\"\n    scope: all\n", 4,
       "tokens[0].scope", "unknown key"},
      {"token_bad_role", "tokens:\n  - name: a\n    sha256: \"sha256:" + kHashA + "\"\n    role: root\n", 4,
       "tokens[0].role", "must be one of admin, operator, viewer, agent, monitor"},
      {"token_operator_without_tenant",
       "tokens:\n  - name: a\n    sha256: \"sha256:" + kHashA + "\"\n    role: operator\n", 2, "tokens[0].tenant",
       "operator and viewer tokens need a tenant"},
      {"tls_cert_without_key", "tls_cert: /etc/cert.pem\n", 1, "tls_key", "tls_cert and tls_key go together"},
      {"api_rate_negative", "api_requests_per_second: -1\n", 1, "api_requests_per_second", "expected a number >= 0"},
      {"reserve_too_big", "capacity_reserve: 0.95\n", 1, "capacity_reserve", "expected a number from 0 to 0.9"},
      {"cluster_cpu_text", "cluster_cpu_cores: many\n", 1, "cluster_cpu_cores", "expected a number >= 0"},
      {"token_no_name", "tokens:\n  - sha256: \"sha256:" + kHashA + "\"\n", 2, "tokens[0].name",
       "required key is missing"},
      {"token_plain_secret", "tokens:\n  - name: a\n    sha256: hunter2\n", 3, "tokens[0].sha256",
       "expected \"sha256:<64 hex digits>\""},
      {"token_short_hash", "tokens:\n  - name: a\n    sha256: \"sha256:abc\"\n", 3, "tokens[0].sha256",
       "64 lowercase hex digits"},
      {"token_duplicate_name",
       "tokens:\n  - name: a\n    sha256: \"sha256:" + kHashA +
           "\"\n  - name: a\n    sha256: \"sha256:" + Sha256Hex("other") + "\"\n",
       4, "tokens[1].name", "duplicate token name"},
      {"token_duplicate_hash",
       "tokens:\n  - name: a\n    sha256: \"sha256:" + kHashA + "\"\n  - name: b\n    sha256: \"sha256:" + kHashA +
           "\"\n",
       5, "tokens[1].sha256", "the same hash as token 'a'"},
      {"top_level_list", "- listen: x\n", 1, "(top level)", "expected a mapping"},
      {"demand_unknown_key", "demand:\n  tenant: t\n", 2, "demand.tenant", "unknown key"},
      {"demand_bad_label", "demand:\n  service_label: 9lives\n", 2, "demand.service_label", "not a valid label"},
      {"demand_resolution_uneven", "demand:\n  resolution: 7s\n", 2, "demand.resolution", "divide 1m"},
      {"demand_settle_long", "demand:\n  settle: 2h\n", 2, "demand.settle", "at most 30m"},
      {"custom_no_metric", "demand:\n  custom_metrics:\n    - resource: q\n", 3, "demand.custom_metrics[0].metric",
       "required key is missing"},
      {"custom_bad_type", "demand:\n  custom_metrics:\n    - {metric: q, resource: q, type: histogram}\n", 3,
       "demand.custom_metrics[0].type", "expected gauge or counter"},
      {"custom_bad_metric", "demand:\n  custom_metrics:\n    - {metric: 'a b', resource: q}\n", 3,
       "demand.custom_metrics[0].metric", "not a valid metric name"},
      {"custom_duplicate",
       "demand:\n  custom_metrics:\n    - {metric: container_memory_working_set_bytes, resource: q}\n", 3,
       "demand.custom_metrics[0].metric", "already a demand source"},
      {"prometheus_url_scheme", "prometheus_url: 127.0.0.1:9090\n", 1, "prometheus_url", "http:// or https://"},
      {"tick_too_short", "tick_interval: 100ms\n", 1, "tick_interval", "at least 1000ms"},
      {"lease_bad", "directive_lease: soon\n", 1, "directive_lease", "invalid duration"},
      {"leader_lease_short", "leader_lease: 200ms\n", 1, "leader_lease", "at least 1000ms"},
      {"replica_name_slash", "\nreplica_name: agg/0\n", 2, "replica_name", "must not contain '/'"},
      {"anonymous_push_not_bool", "listen: 127.0.0.1:0\nallow_anonymous_push: sometimes\n", 2, "allow_anonymous_push",
       "expected true or false"},
      {"anonymous_metrics_not_bool", "allow_anonymous_metrics: 1.5\n", 1, "allow_anonymous_metrics",
       "expected true or false"},
      {"discovery_not_bool", "kubernetes_discovery: maybe\n", 1, "kubernetes_discovery", "expected true or false"},
      {"discovery_too_often", "kubernetes_discovery_interval: 1s\n", 1, "kubernetes_discovery_interval",
       "at least 5000ms"},
      {"trigger_bad_op", "triggers:\n  - {name: hot, metric: m, op: '!=', value: 1}\n", 2, "triggers[0].op",
       "must be one of >, >=, <, <="},
      {"trigger_no_value", "triggers:\n  - name: hot\n    metric: m\n    op: '>'\n", 2, "triggers[0].value",
       "required key is missing"},
      {"trigger_bad_type", "triggers:\n  - {name: hot, type: magic, metric: m, op: '>', value: 1}\n", 2,
       "triggers[0].type", "must be threshold or predictive"},
      {"trigger_predictive_no_service", "triggers:\n  - {name: soon, type: predictive, tenant: a, op: '>', value: 1}\n",
       2, "triggers[0].service", "required key is missing"},
      {"trigger_duplicate",
       "triggers:\n  - {name: hot, metric: m, op: '>', value: 1}\n  - {name: hot, metric: n, op: '>', value: 2}\n", 3,
       "triggers[1].name", "duplicate trigger name"},
      {"trigger_bad_action", "triggers:\n  - {name: hot, metric: m, op: '>', value: 1, action: panic}\n", 2,
       "triggers[0].action", "must be evaluate or scale_up"},
  };
}

TEST(AggregatorConfig, ControlStoreTakesAPostgresUrlFromTheFileOrTheFlag) {
  auto c = ParseAggregatorConfig("control_store: postgresql://prescale@127.0.0.1:5432/control\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->control_store, "postgresql://prescale@127.0.0.1:5432/control");
  const char* argv[] = {"prescale-aggregator", "--control-store", "postgres://p:secret@db/control"};
  auto cli = ParseAggregatorCommandLine(3, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->control_store, "postgres://p:secret@db/control");
  EXPECT_TRUE(ParseAggregatorConfig("data_dir: /tmp/x\n", "agg.yaml")->control_store.empty());  // SQLite
}

TEST(AggregatorConfig, ReplicaNameAndLeaderLeaseFromTheFileOrTheFlag) {
  auto c = ParseAggregatorConfig("replica_name: agg-1\nleader_lease: 4s\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->replica_name, "agg-1");
  EXPECT_EQ(c->leader_lease, std::chrono::milliseconds(4000));
  EXPECT_EQ(ParseAggregatorConfig("", "agg.yaml")->leader_lease, std::chrono::milliseconds(15000));
  const char* argv[] = {"prescale-aggregator", "--replica-name", "agg-2"};
  auto cli = ParseAggregatorCommandLine(3, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->replica_name, "agg-2");
  const char* bad[] = {"prescale-aggregator", "--replica-name", "a/b"};
  cli = ParseAggregatorCommandLine(3, bad);
  ASSERT_TRUE(cli.ok());
  const Status refused = ApplyAggregatorOverrides(*cli, &c.value());
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("--replica-name 'a/b': must not contain '/'"), std::string::npos)
      << refused.message();
}

TEST(AggregatorConfigErrors, EachBadConfigExits2NamingFileLineAndKey) {
  const std::string bin = BinDir() + "/prescale-aggregator";
  TempDir dir("prescale-agg-config");
  for (const BadConfig& c : BadConfigs()) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.Write(std::string(c.name) + ".yaml", c.yaml);
    // The parser itself, then the binary.
    auto parsed = ParseAggregatorConfig(c.yaml, path);
    ASSERT_FALSE(parsed.ok());
    const RunResult r = RunCommand({bin, "--config", path, "--listen", "127.0.0.1:0"}, 30s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const std::string prefix = path + ":" + std::to_string(c.line) + ": " + c.key_path + ": ";
    EXPECT_THAT(r.err, HasSubstr(prefix)) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.what)) << r.err;
  }
}

TEST(AggregatorConfig, LogFormatFromTheFileAndTheFlag) {
  auto c = ParseAggregatorConfig("log_format: json\nlog_level: warn\n", "agg.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_format, LogFormat::kJson);
  EXPECT_EQ(c->log_level, LogLevel::kWarning);
  EXPECT_EQ(AggregatorConfig{}.log_format, LogFormat::kLogfmt);
  const char* argv[] = {"prescale-aggregator", "--log-format", "logfmt"};
  auto cli = ParseAggregatorCommandLine(3, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_TRUE(ApplyAggregatorOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->log_format, LogFormat::kLogfmt);
  const char* bad_argv[] = {"prescale-aggregator", "--log-format", "text"};
  auto bad = ParseAggregatorCommandLine(3, bad_argv);
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(ApplyAggregatorOverrides(*bad, &c.value()).message(),
              HasSubstr("--log-format 'text': expected logfmt or json"));
  auto file = ParseAggregatorConfig("max_series: 5\nlog_format: xml\n", "agg.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("agg.yaml:2: log_format: expected logfmt or json"));
}

TEST(AggregatorConfigErrors, UsageErrorsExit2NamingTheFlag) {
  const std::string bin = BinDir() + "/prescale-aggregator";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--listen"}, "--listen needs a value"},
      {{"--max-series", "0"}, "--max-series '0': expected a positive whole number"},
      {{"--max-series=-4"}, "--max-series '-4'"},
      {{"--listen", "nocolon"}, "--listen 'nocolon': expected ADDR:PORT"},
      {{"--control-store", "mysql://h/db"}, "--control-store: expected a postgres:// or postgresql:// URL"},
      {{"--help=yes"}, "--help takes no value"},
      {{"stray"}, "unexpected argument 'stray'"},
      {{"--config", "/nonexistent/agg.yaml"}, "/nonexistent/agg.yaml: cannot read the config file"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> argv = {bin};
    argv.insert(argv.end(), args.begin(), args.end());
    const RunResult r = RunCommand(argv, 30s);
    EXPECT_EQ(r.exit_code, 2) << message << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
  }
  const RunResult help = RunCommand({bin, "--help"}, 30s);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--max-series N"));
}

// Starts the binary with `args` on 127.0.0.1:0; the base URL once it serves ("" when it did not;
// its stderr so far is in *log either way).
std::string StartAggregator(testing::Subprocess* agg, std::vector<std::string> args, std::string* log) {
  args.insert(args.begin(), {BinDir() + "/prescale-aggregator", "--listen", "127.0.0.1:0"});
  if (!agg->Start(args)) return "";
  const int port = testing::WaitForServingPort(*agg, 20s, log);
  return port == 0 ? "" : "http://127.0.0.1:" + std::to_string(port);
}

// curl -sS [-H "Authorization: Bearer TOKEN"] [-X POST --data-binary BODY] URL, printing the status last.
RunResult CurlAs(const std::string& token, const std::string& url, const std::string& body = "") {
  std::vector<std::string> argv = {"curl", "-sS", "-w", "\n%{http_code}"};
  if (!token.empty()) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token});
  if (!body.empty()) argv.insert(argv.end(), {"-X", "POST", "--data-binary", body});
  argv.push_back(url);
  return RunCommand(argv, 20s);
}

constexpr char kOnePush[] = R"({"series":[{"labels":{"__name__":"q","tenant":"t"},"samples":[[1700000000000,4]]}]})";

TEST(AggregatorBinary, ServesOnPortZeroClosedByDefaultTakesStoreTokensAndStopsOnSigterm) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
  TempDir dir("prescale-agg-binary");
  const std::string data_dir = dir.path() + "/data";
  testing::Subprocess agg;
  std::string log;
  const std::string base = StartAggregator(&agg, {"--data-dir", data_dir}, &log);
  ASSERT_FALSE(base.empty()) << log;
  EXPECT_THAT(log, HasSubstr("no tokens: every request but /healthz and /readyz is refused"));
  EXPECT_EQ(::access(data_dir.c_str(), W_OK), 0) << "the data directory was not created";
  // No tokens in the YAML is not open: a push without one is a 401 with a JSON reason.
  RunResult r = CurlAs("", base + "/api/v1/ingest", kOnePush);
  EXPECT_THAT(r.out, HasSubstr(R"({"error":"unauthorized","message":"missing Authorization header)")) << r.err;
  EXPECT_THAT(r.out, ::testing::EndsWith("\n401"));
  // A token made in the control store while it runs is enough: it pushes and reads.
  const RunResult made = RunCommand(
      {BinDir() + "/prescale-aggregator", "token", "create", "--role", "agent", "--data-dir", data_dir}, 30s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string token = made.out.substr(0, made.out.find('\n'));
  r = CurlAs(token, base + "/api/v1/ingest", kOnePush);
  EXPECT_THAT(r.out, HasSubstr(R"("samples_appended":1)")) << r.err;
  r = CurlAs(token, base + "/api/v1/raw?match=q");
  EXPECT_EQ(r.out, R"({"status":"success","data":[{"labels":{"__name__":"q","tenant":"t"},)"
                   R"("samples":[[1700000000000,"4"]]}]})"
                   "\n200");
  r = CurlAs("", base + "/api/v1/raw?match=q");
  EXPECT_THAT(r.out, ::testing::EndsWith("\n401"));
  r = CurlAs("", base + "/metrics");
  EXPECT_THAT(r.out, ::testing::EndsWith("\n401")) << "every tenant's usage is on /metrics";
  r = CurlAs(token, base + "/metrics");
  EXPECT_THAT(r.out, ::testing::EndsWith("\n403")) << "agents push; they do not scrape";
  const RunResult scraper = RunCommand(
      {BinDir() + "/prescale-aggregator", "token", "create", "--role", "monitor", "--data-dir", data_dir}, 30s);
  ASSERT_EQ(scraper.exit_code, 0) << scraper.err;
  r = CurlAs(scraper.out.substr(0, scraper.out.find('\n')), base + "/metrics");
  EXPECT_THAT(r.out, HasSubstr("\nprescale_aggregator_active_series 1\n"));
  EXPECT_THAT(r.out, HasSubstr("\nprescale_aggregator_anonymous_push_allowed 0\n"));
  EXPECT_THAT(r.out, HasSubstr("\nprescale_aggregator_anonymous_metrics_allowed 0\n"));
  agg.Signal(SIGTERM);
  EXPECT_EQ(agg.Wait(10s), 0) << agg.Stderr();
  EXPECT_THAT(agg.Stderr(), HasSubstr("prescale-aggregator stopped"));
}

TEST(AggregatorBinary, AllowAnonymousPushAndMetricsOpenOnlyThatAndSaySoLoudly) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
  TempDir dir("prescale-agg-anonymous");
  for (const bool from_flag : {true, false}) {
    SCOPED_TRACE(from_flag ? "--allow-anonymous-push --allow-anonymous-metrics"
                           : "allow_anonymous_push: true, allow_anonymous_metrics: true");
    testing::Subprocess agg;
    std::string log;
    const std::string base =
        StartAggregator(&agg,
                        from_flag ? std::vector<std::string>{"--allow-anonymous-push", "--allow-anonymous-metrics"}
                                  : std::vector<std::string>{"--config", dir.Write("anonymous.yaml",
                                                                                   "allow_anonymous_push: true\n"
                                                                                   "allow_anonymous_metrics: true\n")},
                        &log);
    ASSERT_FALSE(base.empty()) << log;
    EXPECT_THAT(log, HasSubstr("allow_anonymous_push is on: the data plane accepts unauthenticated pushes"));
    EXPECT_THAT(log, HasSubstr("allow_anonymous_metrics is on: anyone who can reach the port reads every tenant's"));
    RunResult r = CurlAs("", base + "/api/v1/ingest", kOnePush);
    EXPECT_THAT(r.out, HasSubstr(R"("samples_appended":1)")) << r.err;
    r = CurlAs("", base + "/api/v1/raw?match=q");
    EXPECT_THAT(r.out, HasSubstr(R"("error":"unauthorized")"));
    EXPECT_THAT(r.out, ::testing::EndsWith("\n401"));
    r = CurlAs("not-a-token", base + "/api/v1/ingest", kOnePush);
    EXPECT_THAT(r.out, ::testing::EndsWith("\n403")) << "an unknown token is refused, not taken as anonymous";
    r = CurlAs("", base + "/metrics");
    EXPECT_THAT(r.out, HasSubstr("\nprescale_aggregator_anonymous_push_allowed 1\n"));
    EXPECT_THAT(r.out, HasSubstr("\nprescale_aggregator_anonymous_metrics_allowed 1\n"));
    agg.Signal(SIGTERM);
    EXPECT_EQ(agg.Wait(10s), 0) << agg.Stderr();
  }
}

}  // namespace
}  // namespace prescale::aggregator
