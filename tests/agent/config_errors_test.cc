// Bad configurations and flags run through the real prescale-agent binary:
// each must exit with status 2 and a message naming the file, the line and
// the key path ("FILE:LINE: key.path: what"), so users can fix it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using ::prescale::testing::BinDir;
using ::prescale::testing::RunCommand;
using ::prescale::testing::RunResult;
using ::prescale::testing::TempDir;
using ::prescale::testing::TestDataDir;
using ::testing::HasSubstr;

constexpr auto kTimeout = std::chrono::seconds(30);

struct BadConfig {
  const char* name;
  const char* yaml;
  int line;
  const char* key_path;
  const char* what;
};

const BadConfig kBadConfigs[] = {
    {"unknown_top_level_key", "node: n1\nintervall: 5s\n", 2, "intervall", "unknown key"},
    {"unknown_rule_key", "mapping:\n  - match: '^/a/(.+)$'\n    labels: {service: '$1'}\n    colour: red\n", 4,
     "mapping[0].colour", "unknown key"},
    {"unknown_scrape_target_key",
     "scrape_targets:\n  - url: http://127.0.0.1:1/metrics\n    tenant: a\n    service: b\n    interval: 5s\n", 5,
     "scrape_targets[0].interval", "unknown key"},
    {"bad_regex", "node: n1\nmapping:\n  - match: '^/prescale/([a-z'\n    labels: {tenant: a, service: b}\n", 3,
     "mapping[0].match", "invalid regular expression"},
    {"bad_duration", "interval: soon\n", 1, "interval", "invalid duration"},
    {"duration_without_unit", "\n\ninterval: 10\n", 3, "interval", "missing or unknown unit"},
    {"interval_too_small", "listen: 127.0.0.1:0\ninterval: 50ms\n", 2, "interval", "at least 100ms"},
    {"bad_scrape_timeout", "scrape_timeout: 0s\n", 1, "scrape_timeout", "must be positive"},
    {"bad_discovery_interval", "interval: 5s\ndiscovery_interval: [10s]\n", 2, "discovery_interval",
     "expected a duration"},
    {"bad_detail_interval", "interval: 5s\ndetail_interval: sometimes\n", 2, "detail_interval", "invalid duration"},
    {"label_name_invalid", "mapping:\n  - match: '^/(.+)$'\n    labels:\n      tenant: a\n      bad-name: '$1'\n", 5,
     "mapping[0].labels.bad-name", "invalid label name"},
    {"label_name_double_underscore", "mapping:\n  - preset: systemd\n    labels:\n      __meta: x\n", 4,
     "mapping[0].labels.__meta", "invalid label name"},
    {"label_name_reserved", "mapping:\n  - preset: kubernetes\n  - match: '^/(.+)$'\n    labels: {node: '$1'}\n", 4,
     "mapping[1].labels.node", "reserved"},
    {"preset_unknown", "mapping:\n  - preset: docker\n", 2, "mapping[0].preset", "unknown preset 'docker'"},
    {"rule_with_match_and_preset", "mapping:\n  - preset: systemd\n    match: '^/x$'\n", 2, "mapping[0]",
     "exactly one of 'match' or 'preset'"},
    {"match_rule_without_labels", "mapping:\n  - match: '^/x$'\n", 2, "mapping[0].labels", "needs labels"},
    {"scrape_target_without_url", "scrape_targets:\n  - tenant: acme\n    service: web\n", 2, "scrape_targets[0].url",
     "required key is missing"},
    {"scrape_target_non_http_url",
     "scrape_targets:\n  - url: http://127.0.0.1:1/metrics\n    tenant: a\n    service: b\n"
     "  - url: ftp://127.0.0.1/metrics\n    tenant: a\n    service: c\n",
     5, "scrape_targets[1].url", "http:// or https://"},
    {"scrape_targets_not_a_list", "scrape_targets:\n  url: http://127.0.0.1:1/metrics\n", 2, "scrape_targets",
     "expected a list"},
    {"mapping_not_a_list", "node: n1\nmapping: {preset: systemd}\n", 2, "mapping", "expected a list"},
    {"listen_not_a_string", "listen:\n  - 127.0.0.1:1\n", 2, "listen", "expected a string"},
    {"keep_unmatched_not_a_bool", "keep_unmatched: yes please\n", 1, "keep_unmatched", "expected true or false"},
    {"skip_idle_cgroups_not_a_bool", "node: n1\nskip_idle_cgroups: 1\n", 2, "skip_idle_cgroups",
     "expected true or false"},
    {"max_cgroups_negative", "max_cgroups: -5\n", 1, "max_cgroups", "positive whole number"},
    {"max_cgroups_zero", "max_cgroups: 0\n", 1, "max_cgroups", "positive whole number"},
    {"max_open_files_words", "interval: 5s\nmax_open_files: lots\n", 2, "max_open_files", "expected a whole number"},
    {"body_size_unknown_unit", "scrape_max_body_bytes: 4 parsecs\n", 1, "scrape_max_body_bytes", "invalid size"},
    {"pod_metadata_unknown_source", "pod_metadata:\n  source: kubectl\n", 2, "pod_metadata.source",
     "unknown pod source 'kubectl'"},
    {"pod_metadata_unknown_key", "pod_metadata:\n  source: kubelet\n  port: 10250\n", 3, "pod_metadata.port",
     "unknown key"},
    {"pod_metadata_bad_url", "pod_metadata:\n  url: 127.0.0.1:10250/pods\n", 2, "pod_metadata.url",
     "http:// or https://"},
    {"pod_metadata_zero_refresh", "pod_metadata:\n  refresh_interval: 0s\n", 2, "pod_metadata.refresh_interval",
     "must be positive"},
    {"log_level_unknown", "log_level: loud\n", 1, "log_level", "expected debug, info, warn or error"},
    {"node_empty", "node: ''\n", 1, "node", "must not be empty"},
    {"label_template_not_a_string", "mapping:\n  - preset: systemd\n    labels:\n      tenant: [a, b]\n", 4,
     "mapping[0].labels.tenant", "expected a string"},
    {"top_level_not_a_map", "- node: n1\n", 1, "(top level)", "expected a mapping"},
};

class ConfigErrorsTest : public ::testing::TestWithParam<BadConfig> {};

RunResult RunAgent(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {
      BinDir() + "/prescale-agent", "--once", "--cgroup-root", TestDataDir() + "/cgroup_v2", "--proc-root",
      TestDataDir() + "/proc",      "--node", "config-test"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunCommand(argv, kTimeout);
}

TEST_P(ConfigErrorsTest, ExitsTwoNamingFileLineAndKey) {
  const BadConfig& c = GetParam();
  TempDir dir;
  const std::string path = dir.Write("agent.yaml", c.yaml);
  const RunResult r = RunAgent({"--config", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string where = path + ":" + std::to_string(c.line) + ": " + c.key_path + ": ";
  EXPECT_THAT(r.err, HasSubstr(where));
  EXPECT_THAT(r.err, HasSubstr(c.what));
  EXPECT_THAT(r.out, ::testing::IsEmpty()) << "nothing is collected with a bad config";
}

INSTANTIATE_TEST_SUITE_P(AgentBinary, ConfigErrorsTest, ::testing::ValuesIn(kBadConfigs),
                         [](const ::testing::TestParamInfo<BadConfig>& p) { return std::string(p.param.name); });

TEST(ConfigErrors, YamlSyntaxErrorNamesFileAndLine) {
  TempDir dir;
  const std::string path = dir.Write("agent.yaml", "node: n1\nlisten: 127.0.0.1:1\nmapping: [\n  {preset: systemd\n");
  const RunResult r = RunAgent({"--config", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex(path + ":[0-9]+: invalid YAML"));
}

TEST(ConfigErrors, MissingConfigFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.path() + "/absent.yaml";
  const RunResult r = RunAgent({"--config", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(path + ": cannot read the config file"));
}

TEST(ConfigErrors, ValidConfigRunsOnce) {
  // The control for the table above: the same invocation with a good file succeeds.
  TempDir dir;
  const std::string path = dir.Write("agent.yaml",
                                     "interval: 1s\nkeep_unmatched: false\nmapping:\n  - preset: systemd\n"
                                     "  - match: '^/prescale/([^/]+)/([^/]+)$'\n    labels: {tenant: '$1', service: "
                                     "'$2', team: 'team-$1'}\n");
  const RunResult r = RunAgent({"--config", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("team=\"team-acme\""));
  EXPECT_THAT(r.out, HasSubstr("node=\"config-test\""));
}

TEST(FlagErrors, UnknownFlagExitsTwoWithUsage) {
  const RunResult r = RunAgent({"--frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown flag --frobnicate"));
  EXPECT_THAT(r.err, HasSubstr("usage: prescale-agent"));
}

TEST(FlagErrors, GarbageIntervalExitsTwoWithUsage) {
  const RunResult r = RunAgent({"--interval", "garbage"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--interval 'garbage': invalid duration"));
  EXPECT_THAT(r.err, HasSubstr("usage: prescale-agent"));
}

TEST(FlagErrors, TooSmallIntervalExitsTwoWithUsage) {
  const RunResult r = RunAgent({"--interval=10ms"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--interval '10ms': must be at least 100ms"));
  EXPECT_THAT(r.err, HasSubstr("usage: prescale-agent"));
}

TEST(FlagErrors, FlagWithoutValueExitsTwoWithUsage) {
  const RunResult r = RunAgent({"--log-level"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--log-level needs a value"));
  EXPECT_THAT(r.err, HasSubstr("usage: prescale-agent"));
}

TEST(FlagErrors, FlagOverridesAreCheckedAfterTheFile) {
  TempDir dir;
  const std::string path = dir.Write("agent.yaml", "interval: 5s\n");
  const RunResult r = RunAgent({"--config", path, "--log-level", "chatty"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--log-level 'chatty'"));
}

TEST(FlagErrors, MissingWebConfigFileExitsTwoWithUsage) {
  TempDir dir;
  const std::string path = dir.path() + "/absent-web.yml";
  const RunResult r = RunAgent({"--web.config.file", path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("web config file " + path + ": cannot read it"));
  EXPECT_THAT(r.err, HasSubstr("usage: prescale-agent"));
  EXPECT_THAT(r.out, ::testing::IsEmpty());
}

TEST(FlagErrors, BadWebConfigExitsTwoNamingFileLineAndKey) {
  TempDir dir;
  const std::string path =
      dir.Write("web.yml", "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: Maybe\n");
  const RunResult r = RunAgent({"--web.config.file=" + path});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(path + ":4: tls_server_config.client_auth_type: unknown client auth type 'Maybe'"));
  // The same from the config file's web_config_file.
  const std::string config = dir.Write("agent.yaml", "web_config_file: " + path + "\n");
  const RunResult from_file = RunAgent({"--config", config});
  EXPECT_EQ(from_file.exit_code, 2) << from_file.err;
  EXPECT_THAT(from_file.err, HasSubstr(path + ":4: tls_server_config.client_auth_type"));
}

TEST(FlagErrors, HelpPrintsUsageAndExitsZero) {
  const RunResult r = RunCommand({BinDir() + "/prescale-agent", "--help"}, kTimeout);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("usage: prescale-agent"));
}

TEST(AgentBinary, MissingCgroupRootExitsOne) {
  TempDir dir;
  const RunResult r = RunCommand({BinDir() + "/prescale-agent", "--once", "--cgroup-root", dir.path() + "/none",
                                  "--proc-root", TestDataDir() + "/proc", "--node", "n"},
                                 kTimeout);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(dir.path() + "/none"));
}

}  // namespace
}  // namespace prescale::agent
