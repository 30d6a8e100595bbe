// The push keys and flags: aggregator_url, token_file, ca_file, data_dir,
// spool_max_bytes, spool_max_age and --aggregator, --token-file, --ca-file,
// --data-dir; errors name the key and line or the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "prescale/agent/config.h"
#include "tests/agent/agent_fixture.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Result<CommandLine> Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"prescale-agent"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(PusherConfig, DefaultsPushNothingAndSpoolUnderVarLib) {
  const AgentConfig c = DefaultAgentConfig();
  EXPECT_EQ(c.aggregator_url, "");
  EXPECT_EQ(c.token_file, "");
  EXPECT_EQ(c.ca_file, "");
  EXPECT_EQ(c.data_dir, "/var/lib/prescale-agent");
  EXPECT_EQ(c.spool_max_bytes, 256u << 20);
  EXPECT_EQ(c.spool_max_age, 6h);
}

TEST(PusherConfig, ParsesThePushKeys) {
  auto c = ParseAgentConfig(R"(
aggregator_url: https://aggregator.example:9570/api/v1/write
token_file: /etc/prescale/token
ca_file: /etc/prescale/ca.pem
data_dir: /srv/prescale
spool_max_bytes: 64MiB
spool_max_age: 90m
)",
                            "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->aggregator_url, "https://aggregator.example:9570/api/v1/write");
  EXPECT_EQ(c->token_file, "/etc/prescale/token");
  EXPECT_EQ(c->ca_file, "/etc/prescale/ca.pem");
  EXPECT_EQ(c->data_dir, "/srv/prescale");
  EXPECT_EQ(c->spool_max_bytes, 64u << 20);
  EXPECT_EQ(c->spool_max_age, 90min);
}

TEST(PusherConfig, BadValuesNameTheKeyAndLine) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"listen: 127.0.0.1:1\naggregator_url: ftp://x/\n", "agent.yaml:2: aggregator_url"},
      {"spool_max_bytes: 12\n", "agent.yaml:1: spool_max_bytes"},
      {"spool_max_bytes: lots\n", "agent.yaml:1: spool_max_bytes"},
      {"spool_max_age: 0s\n", "agent.yaml:1: spool_max_age"},
      {"data_dir: ''\n", "agent.yaml:1: data_dir"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseAgentConfig(c.yaml, "agent.yaml");
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(PusherConfig, FlagsOverrideTheFile) {
  auto cli = Parse({"--aggregator", "http://127.0.0.1:9570/api/v1/write", "--token-file=/t", "--ca-file", "/ca",
                    "--data-dir", "/d"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AgentConfig c = DefaultAgentConfig();
  ASSERT_TRUE(ApplyOverrides(*cli, &c).ok());
  EXPECT_EQ(c.aggregator_url, "http://127.0.0.1:9570/api/v1/write");
  EXPECT_EQ(c.token_file, "/t");
  EXPECT_EQ(c.ca_file, "/ca");
  EXPECT_EQ(c.data_dir, "/d");

  auto bad = Parse({"--aggregator", "127.0.0.1:9570"});
  ASSERT_TRUE(bad.ok());
  AgentConfig d = DefaultAgentConfig();
  const Status s = ApplyOverrides(*bad, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("--aggregator"));
  EXPECT_THAT(AgentUsage(), HasSubstr("--aggregator URL"));
}

TEST(PusherConfig, AgentWithoutAnAggregatorHasNoPusherAndAnUnusableDataDirFailsCreate) {
  testing::AgentOnFixture plain(testing::FixtureConfig(testing::Fixture("cgroup_v2")));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->pusher(), nullptr);

  ::prescale::testing::TempDir dir("prescale-pusher-config");
  AgentConfig c = testing::FixtureConfig(testing::Fixture("cgroup_v2"));
  c.aggregator_url = "http://127.0.0.1:1/api/v1/write";
  c.data_dir = dir.Write("not-a-dir", "x");
  ::prescale::testing::FakeClock clock;
  auto agent = Agent::Create(c, clock);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("data_dir"));
  EXPECT_THAT(agent.status().message(), HasSubstr(c.data_dir));

  c.data_dir = dir.path();
  c.token_file = dir.path() + "/no-token";
  auto no_token = Agent::Create(c, clock);
  ASSERT_FALSE(no_token.ok());
  EXPECT_THAT(no_token.status().message(), HasSubstr(c.token_file));
}

}  // namespace
}  // namespace prescale::agent
