// The directive keys of the agent's configuration: off unless enabled
// explicitly (an aggregator URL alone never turns on cgroup writes), explicit
// values, flags, and errors naming the key and line.
#include <gtest/gtest.h>

#include "prescale/agent/agent.h"
#include "prescale/agent/config.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

TEST(DirectiveConfig, OffByDefaultEvenWithAnAggregatorWhoseHostIsTheDefaultApi) {
  EXPECT_FALSE(DirectivesEnabled(DefaultAgentConfig()));

  auto c = ParseAgentConfig("aggregator_url: https://agg.example:9570/api/v1/write\n", "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(DirectivesEnabled(*c)) << "pushing must not turn on cgroup writes";
  EXPECT_EQ(DirectiveApiUrl(*c), "https://agg.example:9570");
  EXPECT_EQ(c->directive_interval, 0ms);  // the collection interval

  auto none = ParseAgentConfig("node: n1\n", "agent.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(DirectivesEnabled(*none));
  EXPECT_EQ(DirectiveApiUrl(*none), "");

  auto bare = ParseAgentConfig("aggregator_url: http://agg:9570\n", "agent.yaml");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(DirectiveApiUrl(*bare), "http://agg:9570");

  // The --aggregator flag alone does not turn them on either.
  const char* argv[] = {"prescale-agent", "--aggregator", "http://agg:9570/api/v1/write"};
  auto cli = ParseCommandLine(3, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AgentConfig flagged = DefaultAgentConfig();
  ASSERT_TRUE(ApplyOverrides(*cli, &flagged).ok());
  EXPECT_FALSE(DirectivesEnabled(flagged));
}

TEST(DirectiveConfig, OnWhenTheYamlSaysSo) {
  auto c = ParseAgentConfig(
      "aggregator_url: http://agg:9570/api/v1/write\n"
      "directives: true\n",
      "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(DirectivesEnabled(*c));
  EXPECT_EQ(DirectiveApiUrl(*c), "http://agg:9570");

  // The flag overrides the file both ways.
  for (auto [value, want] : {std::pair{"false", false}, std::pair{"true", true}}) {
    const char* argv[] = {"prescale-agent", "--directives", value};
    auto cli = ParseCommandLine(3, argv);
    ASSERT_TRUE(cli.ok()) << cli.status().ToString();
    AgentConfig flagged = *c;
    flagged.directives = !want;
    ASSERT_TRUE(ApplyOverrides(*cli, &flagged).ok());
    EXPECT_EQ(DirectivesEnabled(flagged), want) << value;
  }
}

TEST(DirectiveConfig, ExplicitKeys) {
  auto c = ParseAgentConfig(
      "aggregator_url: http://agg:9570/api/v1/write\n"
      "directives: false\n"
      "aggregator_api_url: http://control:8080/prescale\n"
      "directive_interval: 2s\n",
      "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(DirectivesEnabled(*c));
  EXPECT_EQ(DirectiveApiUrl(*c), "http://control:8080/prescale");
  EXPECT_EQ(c->directive_interval, 2s);
}

TEST(DirectiveConfig, ErrorsNameTheKeyAndLine) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  for (const Case& t : {Case{"node: n1\ndirectives: maybe\n", "agent.yaml:2: directives: "},
                        Case{"node: n1\n\naggregator_api_url: agg:9570\n",
                             "agent.yaml:3: aggregator_api_url: expected an http:// or https:// URL"},
                        Case{"aggregator_api_url: ''\n", "agent.yaml:1: aggregator_api_url: must not be empty"},
                        Case{"directive_interval: 10ms\n", "agent.yaml:1: directive_interval: must be at least 100ms"},
                        Case{"directive_interval: soon\n", "agent.yaml:1: directive_interval: "}}) {
    auto c = ParseAgentConfig(t.yaml, "agent.yaml");
    ASSERT_FALSE(c.ok()) << t.yaml;
    EXPECT_NE(c.status().message().find(t.expected), std::string::npos) << c.status().message();
  }
}

TEST(DirectiveConfig, Flags) {
  const char* argv[] = {"prescale-agent", "--directives",         "true", "--aggregator-api",
                        "http://agg:1",   "--directive-interval", "3s"};
  auto cli = ParseCommandLine(7, argv);
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  AgentConfig c = DefaultAgentConfig();
  ASSERT_TRUE(ApplyOverrides(*cli, &c).ok());
  EXPECT_TRUE(DirectivesEnabled(c));
  EXPECT_EQ(DirectiveApiUrl(c), "http://agg:1");
  EXPECT_EQ(c.directive_interval, 3s);

  for (auto [flag, value, expected] :
       {std::tuple{"--directives", "yes", "--directives 'yes': expected true or false"},
        std::tuple{"--aggregator-api", "agg:1", "--aggregator-api 'agg:1': expected an http"},
        std::tuple{"--directive-interval", "1ms", "--directive-interval '1ms': must be at least 100ms"}}) {
    const char* bad[] = {"prescale-agent", flag, value};
    auto bad_cli = ParseCommandLine(3, bad);
    ASSERT_TRUE(bad_cli.ok());
    AgentConfig d = DefaultAgentConfig();
    const Status s = ApplyOverrides(*bad_cli, &d);
    EXPECT_NE(s.message().find(expected), std::string::npos) << s.ToString();
  }
}

TEST(DirectiveConfig, AgentRefusesDirectivesWithoutAnAggregator) {
  AgentConfig c = DefaultAgentConfig();
  c.cgroup_root = ::prescale::testing::TestDataDir() + "/cgroup_v2";
  c.node = "n1";
  c.directives = true;
  ::prescale::testing::FakeClock clock;
  auto agent = Agent::Create(c, clock);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.status().message().find("directives: on, but neither aggregator_url nor aggregator_api_url"),
            std::string::npos)
      << agent.status().ToString();
}

TEST(DirectiveConfig, AgentThatPushesRunsNoDirectiveLoopUnlessEnabled) {
  ::prescale::testing::TempDir dir("prescale-directive-config");
  AgentConfig c = DefaultAgentConfig();
  c.cgroup_root = ::prescale::testing::TestDataDir() + "/cgroup_v2";
  c.proc_root = ::prescale::testing::TestDataDir() + "/proc";
  c.node = "n1";
  c.data_dir = dir.path();
  c.aggregator_url = "http://127.0.0.1:1/api/v1/write";  // never answered: nothing here sends
  ::prescale::testing::FakeClock clock;
  {
    auto agent = Agent::Create(c, clock);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    EXPECT_NE((*agent)->pusher(), nullptr);
    EXPECT_EQ((*agent)->directives(), nullptr) << "no directive loop, so no cgroup file is ever written";
  }
  c.directives = true;
  auto agent = Agent::Create(c, clock);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_NE((*agent)->directives(), nullptr);
}

}  // namespace
}  // namespace prescale::agent
