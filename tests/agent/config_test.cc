#include "prescale/agent/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

Result<CommandLine> Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"prescale-agent"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(AgentConfig, DefaultsMatchTheDocumentedValues) {
  const AgentConfig c = DefaultAgentConfig();
  EXPECT_EQ(c.listen, "0.0.0.0:9560");
  EXPECT_EQ(c.interval, std::chrono::seconds(5));
  EXPECT_EQ(c.discovery_interval, std::chrono::seconds(10));
  EXPECT_EQ(c.detail_interval, std::chrono::seconds(10));
  EXPECT_TRUE(c.skip_idle_cgroups);
  EXPECT_EQ(c.cgroup_root, "/sys/fs/cgroup");
  EXPECT_EQ(c.proc_root, "/proc");
  EXPECT_EQ(c.node, "");
  EXPECT_FALSE(c.keep_unmatched);
  ASSERT_EQ(c.mapping.size(), 3u);
  EXPECT_EQ(c.mapping[0].kind, MappingRule::Kind::kRegex);
  EXPECT_EQ(c.mapping[0].pattern, "^/prescale/([^/]+)/([^/]+)$");
  EXPECT_EQ(c.mapping[1].kind, MappingRule::Kind::kKubernetes);
  EXPECT_EQ(c.mapping[2].kind, MappingRule::Kind::kSystemd);
  EXPECT_TRUE(c.scrape_targets.empty());
  EXPECT_EQ(c.scrape_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.scrape_max_body_bytes, 4u << 20);
  EXPECT_EQ(c.max_cgroups, 10000u);
  EXPECT_EQ(c.max_open_files, 4096u);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.pods.kind, PodSourceOptions::Kind::kNone) << "no kubelet is reached for unless asked";
  EXPECT_EQ(c.pods.refresh_interval, std::chrono::seconds(60));
}

TEST(AgentConfig, EmptyFileKeepsTheDefaults) {
  auto c = ParseAgentConfig("", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, DefaultAgentConfig().listen);
  EXPECT_EQ(c->mapping.size(), 3u);
  auto comment_only = ParseAgentConfig("# nothing here\n", "agent.yaml");
  ASSERT_TRUE(comment_only.ok()) << comment_only.status().ToString();
  EXPECT_EQ(comment_only->interval, std::chrono::seconds(5));
}

TEST(AgentConfig, ParsesEveryKey) {
  const char* yaml = R"(
listen: 127.0.0.1:9999
interval: 1m30s
discovery_interval: 2m
detail_interval: 30s
skip_idle_cgroups: false
cgroup_root: /tmp/cg
proc_root: /tmp/proc
node: worker-7
keep_unmatched: true
scrape_timeout: 750ms
scrape_max_body_bytes: 64KiB
max_cgroups: 250
max_open_files: 0
log_level: debug
mapping:
  - match: '^/tenants/([^/]+)/([^/]+)$'
    labels: {tenant: '$1', service: '$2', tier: gold}
  - preset: kubernetes
  - preset: systemd
    labels: {tenant: infra}
scrape_targets:
  - url: http://127.0.0.1:8080/metrics
    tenant: acme
    service: web
  - url: https://shop.example:8443/metrics
    tenant: acme
    service: shop
pod_metadata:
  source: apiserver
  url: https://10.96.0.1:443
  token_file: /run/token
  ca_file: /run/ca.crt
  insecure_skip_verify: true
  refresh_interval: 2m
  min_refresh_interval: 10s
  timeout: 3s
)";
  auto c = ParseAgentConfig(yaml, "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "127.0.0.1:9999");
  EXPECT_EQ(c->interval, std::chrono::seconds(90));
  EXPECT_EQ(c->discovery_interval, std::chrono::minutes(2));
  EXPECT_EQ(c->detail_interval, std::chrono::seconds(30));
  EXPECT_FALSE(c->skip_idle_cgroups);
  EXPECT_EQ(c->cgroup_root, "/tmp/cg");
  EXPECT_EQ(c->proc_root, "/tmp/proc");
  EXPECT_EQ(c->node, "worker-7");
  EXPECT_TRUE(c->keep_unmatched);
  EXPECT_EQ(c->scrape_timeout, std::chrono::milliseconds(750));
  EXPECT_EQ(c->scrape_max_body_bytes, 64u << 10);
  EXPECT_EQ(c->max_cgroups, 250u);
  EXPECT_EQ(c->max_open_files, 0u);
  EXPECT_EQ(c->log_level, LogLevel::kDebug);

  ASSERT_EQ(c->mapping.size(), 3u) << "the list replaces the default rules";
  EXPECT_EQ(c->mapping[0].kind, MappingRule::Kind::kRegex);
  EXPECT_EQ(c->mapping[0].pattern, "^/tenants/([^/]+)/([^/]+)$");
  EXPECT_THAT(c->mapping[0].labels, ElementsAre(Pair("tenant", "$1"), Pair("service", "$2"), Pair("tier", "gold")));
  EXPECT_TRUE(std::regex_match("/tenants/a/b", c->mapping[0].regex));
  EXPECT_EQ(c->mapping[1].kind, MappingRule::Kind::kKubernetes);
  EXPECT_EQ(c->mapping[1].labels, KubernetesPreset().labels);
  EXPECT_EQ(c->mapping[2].kind, MappingRule::Kind::kSystemd);
  EXPECT_THAT(c->mapping[2].labels, ElementsAre(Pair("tenant", "infra"), Pair("service", "${unit}")))
      << "a preset's labels are overridden one by one";

  ASSERT_EQ(c->scrape_targets.size(), 2u);
  EXPECT_EQ(c->scrape_targets[0].url, "http://127.0.0.1:8080/metrics");
  EXPECT_EQ(c->scrape_targets[0].tenant, "acme");
  EXPECT_EQ(c->scrape_targets[0].service, "web");
  EXPECT_EQ(c->scrape_targets[1].url, "https://shop.example:8443/metrics");
  EXPECT_EQ(c->scrape_targets[1].service, "shop");

  EXPECT_EQ(c->pods.kind, PodSourceOptions::Kind::kApiServer);
  EXPECT_EQ(c->pods.url, "https://10.96.0.1:443");
  EXPECT_EQ(c->pods.token_file, "/run/token");
  EXPECT_EQ(c->pods.ca_file, "/run/ca.crt");
  EXPECT_TRUE(c->pods.insecure_skip_verify);
  EXPECT_EQ(c->pods.refresh_interval, std::chrono::minutes(2));
  EXPECT_EQ(c->pods.min_refresh_interval, std::chrono::seconds(10));
  EXPECT_EQ(c->pods.timeout, std::chrono::seconds(3));
}

TEST(AgentConfig, EmptyMappingListMapsNothing) {
  auto c = ParseAgentConfig("mapping: []\nkeep_unmatched: false\n", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->mapping.empty());
}

TEST(AgentConfig, ErrorsNameTheFileLineAndKey) {
  auto c = ParseAgentConfig("listen: 1.2.3.4:5\ninterval: 10\n", "conf/agent.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("conf/agent.yaml:2: interval: "));
}

TEST(AgentConfig, LoadsAFile) {
  ::prescale::testing::TempDir dir;
  const std::string path = dir.Write("agent.yaml", "node: from-file\ninterval: 2s\n");
  auto c = LoadAgentConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node, "from-file");
  EXPECT_EQ(c->interval, std::chrono::seconds(2));
}

TEST(AgentConfig, MissingFileNamesThePath) {
  auto c = LoadAgentConfig("/nonexistent/prescale/agent.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/prescale/agent.yaml"));
}

TEST(ParseCommandLine, ReadsEveryFlagInBothForms) {
  auto cli =
      Parse({"--config", "a.yaml", "--listen=127.0.0.1:1", "--interval", "2s", "--discovery-interval=0s",
             "--cgroup-root=/cg", "--proc-root", "/pr", "--node=n1", "--log-level", "warning", "--once", "--table"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  EXPECT_EQ(cli->config_path, "a.yaml");
  EXPECT_TRUE(cli->once);
  EXPECT_TRUE(cli->table);
  EXPECT_FALSE(cli->help);
  EXPECT_THAT(cli->overrides, ElementsAre(Pair("listen", "127.0.0.1:1"), Pair("interval", "2s"),
                                          Pair("discovery-interval", "0s"), Pair("cgroup-root", "/cg"),
                                          Pair("proc-root", "/pr"), Pair("node", "n1"), Pair("log-level", "warning")));
}

TEST(AgentConfig, WebConfigFileFromTheFileOrTheFlag) {
  EXPECT_EQ(DefaultAgentConfig().web_config_file, "") << "plain HTTP unless asked";
  auto c = ParseAgentConfig("web_config_file: /etc/prescale/web.yml\n", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->web_config_file, "/etc/prescale/web.yml");
  auto cli = Parse({"--web.config.file", "/run/web.yml"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_TRUE(ApplyOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->web_config_file, "/run/web.yml");
  auto empty = ParseAgentConfig("web_config_file: ''\n", "agent.yaml");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("agent.yaml:1: web_config_file: must not be empty"));
  EXPECT_THAT(AgentUsage(), HasSubstr("--web.config.file FILE"));
}

TEST(ParseCommandLine, NoArgumentsIsEmpty) {
  auto cli = Parse({});
  ASSERT_TRUE(cli.ok());
  EXPECT_TRUE(cli->config_path.empty());
  EXPECT_FALSE(cli->once);
  EXPECT_TRUE(cli->overrides.empty());
}

TEST(ParseCommandLine, HelpIsAFlag) {
  auto cli = Parse({"--help"});
  ASSERT_TRUE(cli.ok());
  EXPECT_TRUE(cli->help);
  EXPECT_THAT(AgentUsage(), HasSubstr("--cgroup-root DIR"));
}

TEST(ParseCommandLine, RejectsBadArgumentsNamingThem) {
  const struct {
    std::vector<std::string> args;
    const char* message;
  } cases[] = {
      {{"--frobnicate"}, "unknown flag --frobnicate"}, {{"--frobnicate=1"}, "unknown flag --frobnicate"},
      {{"--interval"}, "--interval needs a value"},    {{"--once=yes"}, "--once takes no value"},
      {{"stray"}, "unexpected argument 'stray'"},      {{"-n", "x"}, "unexpected argument '-n'"},
  };
  for (const auto& c : cases) {
    auto cli = Parse(c.args);
    ASSERT_FALSE(cli.ok()) << c.args[0];
    EXPECT_EQ(cli.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(cli.status().message(), HasSubstr(c.message));
  }
}

TEST(ApplyOverrides, FlagsOverrideTheFile) {
  auto c = ParseAgentConfig("listen: 1.1.1.1:1\ninterval: 9s\nnode: file-node\nlog_level: error\n", "agent.yaml");
  ASSERT_TRUE(c.ok());
  auto cli = Parse({"--listen", "127.0.0.1:2", "--interval=250ms", "--discovery-interval", "1m", "--detail-interval=0s",
                    "--cgroup-root", "/cg", "--proc-root", "/pr", "--node", "flag-node", "--log-level", "debug"});
  ASSERT_TRUE(cli.ok());
  ASSERT_TRUE(ApplyOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->listen, "127.0.0.1:2");
  EXPECT_EQ(c->interval, std::chrono::milliseconds(250));
  EXPECT_EQ(c->discovery_interval, std::chrono::minutes(1));
  EXPECT_EQ(c->detail_interval, std::chrono::milliseconds(0)) << "0: every cycle";
  EXPECT_EQ(c->cgroup_root, "/cg");
  EXPECT_EQ(c->proc_root, "/pr");
  EXPECT_EQ(c->node, "flag-node");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
}

TEST(ApplyOverrides, LogFormatFromTheFileAndTheFlag) {
  auto c = ParseAgentConfig("log_format: json\nlog_level: warning\n", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_format, LogFormat::kJson);
  EXPECT_EQ(c->log_level, LogLevel::kWarning);
  EXPECT_EQ(DefaultAgentConfig().log_format, LogFormat::kLogfmt);
  auto cli = Parse({"--log-format", "logfmt", "--log-level", "warn"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_TRUE(ApplyOverrides(*cli, &c.value()).ok());
  EXPECT_EQ(c->log_format, LogFormat::kLogfmt);
  auto bad = Parse({"--log-format", "text"});
  ASSERT_TRUE(bad.ok());
  const Status s = ApplyOverrides(*bad, &c.value());
  EXPECT_THAT(s.message(), HasSubstr("--log-format 'text': expected logfmt or json"));
  auto file = ParseAgentConfig("node: n\nlog_format: xml\n", "agent.yaml");
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("agent.yaml:2: log_format: expected logfmt or json"));
}

TEST(ApplyOverrides, LaterFlagsWin) {
  AgentConfig c = DefaultAgentConfig();
  auto cli = Parse({"--node", "first", "--node", "second"});
  ASSERT_TRUE(cli.ok());
  ASSERT_TRUE(ApplyOverrides(*cli, &c).ok());
  EXPECT_EQ(c.node, "second");
}

TEST(ApplyOverrides, NodeDefaultsToTheHostName) {
  AgentConfig c = DefaultAgentConfig();
  auto cli = Parse({});
  ASSERT_TRUE(cli.ok());
  ASSERT_TRUE(ApplyOverrides(*cli, &c).ok());
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(c.node, host);
  EXPECT_FALSE(c.node.empty());
}

TEST(ApplyOverrides, BadValuesNameTheFlag) {
  const struct {
    std::vector<std::string> args;
    const char* message;
  } cases[] = {
      {{"--interval", "soon"}, "--interval 'soon': invalid duration"},
      {{"--interval", "5"}, "--interval '5': invalid duration"},
      {{"--interval", "50ms"}, "--interval '50ms': must be at least 100ms"},
      {{"--discovery-interval", "often"}, "--discovery-interval 'often': invalid duration"},
      {{"--detail-interval", "rarely"}, "--detail-interval 'rarely': invalid duration"},
      {{"--log-level", "loud"}, "--log-level 'loud': expected debug, info, warn or error"},
      {{"--node="}, "--node '': must not be empty"},
  };
  for (const auto& c : cases) {
    AgentConfig config = DefaultAgentConfig();
    auto cli = Parse(c.args);
    ASSERT_TRUE(cli.ok()) << cli.status().ToString();
    const Status s = ApplyOverrides(*cli, &config);
    ASSERT_FALSE(s.ok()) << c.args[0];
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
}

TEST(ParseCommandLine, EmptyConfigFileNameIsAnError) {
  auto cli = Parse({"--config="});
  ASSERT_FALSE(cli.ok());
  EXPECT_THAT(cli.status().message(), HasSubstr("--config needs a file name"));
}

}  // namespace
}  // namespace prescale::agent
