// Several aggregators (issue 17), the configuration side: aggregator_urls and
// aggregator_api_urls in the YAML, repeated or comma-separated --aggregator and
// --aggregator-api flags, the errors (both forms set, a URL twice, an empty or
// malformed list) naming the key and line or the flag, the API URLs derived
// from the push URLs, and the names each push URL's spool and metrics go by.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "prescale/agent/aggregator_urls.h"
#include "prescale/agent/config.h"
#include "tests/agent/agent_fixture.h"

namespace prescale::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Urls = std::vector<std::string>;

constexpr char kA[] = "http://aggregator-0:9570/api/v1/write";
constexpr char kB[] = "https://aggregator-1.example:9571/api/v1/write";

Result<AgentConfig> Parse(const std::string& yaml) { return ParseAgentConfig(yaml, "agent.yaml"); }

// The config after the flags `args`, applied on top of `base`.
Result<AgentConfig> WithFlags(const std::vector<std::string>& args, AgentConfig base = DefaultAgentConfig()) {
  std::vector<const char*> argv = {"prescale-agent"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  auto cli = ParseCommandLine(static_cast<int>(argv.size()), argv.data());
  if (!cli.ok()) return cli.status();
  PRESCALE_RETURN_IF_ERROR(ApplyOverrides(*cli, &base));
  return base;
}

TEST(AggregatorUrlsConfig, AListPushesToEachAndDerivesOneApiUrlPerHost) {
  auto c = Parse(std::string("aggregator_urls:\n  - ") + kA + "\n  - " + kB + "\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->aggregator_url, "");
  EXPECT_THAT(c->aggregator_urls, ElementsAre(kA, kB));
  EXPECT_THAT(PushUrls(*c), ElementsAre(kA, kB));
  EXPECT_THAT(DirectiveApiUrls(*c), ElementsAre("http://aggregator-0:9570", "https://aggregator-1.example:9571"));
  EXPECT_EQ(DirectiveApiUrl(*c), "http://aggregator-0:9570");
  EXPECT_TRUE(CheckAggregatorUrls(*c).ok());

  // Two push paths on one host and port are one API; the user info stays (it is the API's too).
  auto same_host = Parse(
      "aggregator_urls:\n  - http://u:p@agg:1/api/v1/write\n  - http://u:p@agg:1/other/write\n"
      "  - http://agg2:1/w?x=1\n");
  ASSERT_TRUE(same_host.ok()) << same_host.status().ToString();
  EXPECT_THAT(DirectiveApiUrls(*same_host), ElementsAre("http://u:p@agg:1", "http://agg2:1"));
}

TEST(AggregatorUrlsConfig, TheSingleKeyIsAOneElementListAsBefore) {
  auto c = Parse(std::string("aggregator_url: ") + kA + "\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->aggregator_url, kA);
  EXPECT_TRUE(c->aggregator_urls.empty());
  EXPECT_THAT(PushUrls(*c), ElementsAre(kA));
  EXPECT_THAT(DirectiveApiUrls(*c), ElementsAre("http://aggregator-0:9570"));

  auto none = Parse("node: n1\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(PushUrls(*none).empty());
  EXPECT_TRUE(DirectiveApiUrls(*none).empty());
  EXPECT_EQ(DirectiveApiUrl(*none), "");
}

TEST(AggregatorUrlsConfig, ApiUrlListsAreTriedInTheirOwnOrder) {
  auto c = Parse(std::string("aggregator_urls: [") + kA + ", " + kB +
                 "]\naggregator_api_urls:\n  - http://api-1:8080/prescale\n  - http://api-0:8080/prescale\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_THAT(DirectiveApiUrls(*c), ElementsAre("http://api-1:8080/prescale", "http://api-0:8080/prescale"));
  auto single = Parse(std::string("aggregator_urls: [") + kA + ", " + kB + "]\naggregator_api_url: http://api:1\n");
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_THAT(DirectiveApiUrls(*single), ElementsAre("http://api:1"));
}

TEST(AggregatorUrlsConfig, ErrorsNameTheKeyAndLine) {
  struct Case {
    std::string yaml;
    std::string want;
  };
  const Case cases[] = {
      {std::string("aggregator_url: ") + kA + "\nnode: n1\naggregator_urls: [" + kB + "]\n",
       "agent.yaml:3: aggregator_urls: cannot be set together with aggregator_url (line 1)"},
      {std::string("aggregator_urls:\n  - ") + kA + "\n  - " + kB + "\n  - " + kA + "\n",
       std::string("agent.yaml:4: aggregator_urls[2]: '") + kA + "' is listed twice (also aggregator_urls[0])"},
      {"aggregator_urls: []\n", "agent.yaml:1: aggregator_urls: expected at least one URL"},
      {std::string("aggregator_urls: ") + kA + "\n", "agent.yaml:1: aggregator_urls: expected a list"},
      {"node: n1\naggregator_urls:\n", "aggregator_urls: expected a list"},  // null: yaml-cpp marks the next line
      {std::string("aggregator_urls:\n  - ") + kA + "\n  - agg:9570\n",
       "agent.yaml:3: aggregator_urls[1]: expected an http:// or https:// URL"},
      {"aggregator_urls:\n  - {url: http://a/w}\n", "agent.yaml:2: aggregator_urls[0]: expected a string"},
      {"aggregator_urls:\n  - ''\n", "agent.yaml:2: aggregator_urls[0]: expected an http:// or https:// URL"},
      {"aggregator_api_url: http://a:1\naggregator_api_urls: [http://b:1]\n",
       "agent.yaml:2: aggregator_api_urls: cannot be set together with aggregator_api_url (line 1)"},
      {"aggregator_api_urls: [http://b:1, http://b:1]\n",
       "agent.yaml:1: aggregator_api_urls[1]: 'http://b:1' is listed twice (also aggregator_api_urls[0])"},
      {"aggregator_api_urls: [b:1]\n", "agent.yaml:1: aggregator_api_urls[0]: expected an http:// or https:// URL"},
      {"aggregator_api_urls: {a: 1}\n", "agent.yaml:1: aggregator_api_urls: expected a list"},
  };
  for (const Case& t : cases) {
    auto c = Parse(t.yaml);
    ASSERT_FALSE(c.ok()) << t.yaml;
    EXPECT_THAT(c.status().message(), HasSubstr(t.want)) << t.yaml;
  }
}

TEST(AggregatorUrlsConfig, TheAggregatorFlagRepeatsOrTakesCommasAndReplacesTheFilesUrls) {
  auto repeated = WithFlags({"--aggregator", kA, "--aggregator=" + std::string(kB)});
  ASSERT_TRUE(repeated.ok()) << repeated.status().ToString();
  EXPECT_EQ(repeated->aggregator_url, "");
  EXPECT_THAT(repeated->aggregator_urls, ElementsAre(kA, kB));

  auto commas = WithFlags({"--aggregator", std::string(kA) + "," + kB});
  ASSERT_TRUE(commas.ok()) << commas.status().ToString();
  EXPECT_THAT(commas->aggregator_urls, ElementsAre(kA, kB));

  // One URL is the single URL, exactly as before; a comma not followed by a scheme is the URL's.
  auto one = WithFlags({"--aggregator", "http://agg:1/api/v1/write?tags=a,b"});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->aggregator_url, "http://agg:1/api/v1/write?tags=a,b");
  EXPECT_TRUE(one->aggregator_urls.empty());

  // Flags replace the file's URLs, whichever form either uses.
  auto file_list = Parse(std::string("aggregator_urls: [") + kA + ", " + kB + "]\n");
  ASSERT_TRUE(file_list.ok());
  auto replaced = WithFlags({"--aggregator", "http://other:1/w"}, *file_list);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_THAT(PushUrls(*replaced), ElementsAre("http://other:1/w"));
  EXPECT_TRUE(CheckAggregatorUrls(*replaced).ok());
  auto file_single = Parse(std::string("aggregator_url: ") + kA + "\n");
  ASSERT_TRUE(file_single.ok());
  auto listed = WithFlags({"--aggregator", "http://x:1/w,http://y:1/w"}, *file_single);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->aggregator_url, "");
  EXPECT_THAT(PushUrls(*listed), ElementsAre("http://x:1/w", "http://y:1/w"));

  auto api = WithFlags({"--aggregator-api", "http://api-0:1,http://api-1:1", "--aggregator-api", "http://api-2:1"});
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  EXPECT_THAT(DirectiveApiUrls(*api), ElementsAre("http://api-0:1", "http://api-1:1", "http://api-2:1"));
}

TEST(AggregatorUrlsConfig, FlagErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  const Case cases[] = {
      {{"--aggregator", kA, "--aggregator", kA}, std::string("--aggregator '") + kA + "': '" + kA + "' is given twice"},
      {{"--aggregator", std::string(kA) + "," + kA}, std::string("'") + kA + "' is given twice"},
      {{"--aggregator", std::string("agg:1,") + kB},
       std::string("--aggregator 'agg:1,") + kB + "': 'agg:1': expected an http:// or https:// URL"},
      {{"--aggregator", "agg:1"}, "--aggregator 'agg:1': expected an http:// or https:// URL"},
      {{"--aggregator-api", "http://a:1,http://a:1"},
       "--aggregator-api 'http://a:1,http://a:1': 'http://a:1' is given"},
      {{"--aggregator", ""}, "--aggregator '': must not be empty"},
  };
  for (const Case& t : cases) {
    auto c = WithFlags(t.args);
    ASSERT_FALSE(c.ok()) << t.want;
    EXPECT_THAT(c.status().message(), HasSubstr(t.want));
  }
  EXPECT_THAT(AgentUsage(), HasSubstr("--aggregator URL[,URL...]"));
}

TEST(AggregatorUrlsConfig, AConfigBuiltInCodeIsCheckedByAgentCreate) {
  AgentConfig c = testing::FixtureConfig(testing::Fixture("cgroup_v2"));
  c.aggregator_url = kA;
  c.aggregator_urls = {kB};
  EXPECT_THAT(CheckAggregatorUrls(c).message(),
              HasSubstr("aggregator_urls: cannot be set together with aggregator_url"));
  ::prescale::testing::FakeClock clock;
  auto agent = Agent::Create(c, clock);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("aggregator_urls: cannot be set together with aggregator_url"));

  c.aggregator_url.clear();
  c.aggregator_urls = {kA, kB, kA};
  EXPECT_THAT(CheckAggregatorUrls(c).message(), HasSubstr("aggregator_urls[2]: '" + std::string(kA) + "' is listed"));
  c.aggregator_urls = {kA, "ftp://x"};
  EXPECT_THAT(CheckAggregatorUrls(c).message(), HasSubstr("aggregator_urls[1] 'ftp://x': expected an http"));
  c.aggregator_urls.clear();
  c.aggregator_api_url = "http://a:1";
  c.aggregator_api_urls = {"http://b:1"};
  EXPECT_THAT(CheckAggregatorUrls(c).message(), HasSubstr("aggregator_api_urls: cannot be set together"));
}

TEST(AggregatorUrlNames, SplitOnlyWhereASchemeFollowsTheComma) {
  EXPECT_THAT(SplitUrlList("http://a/w"), ElementsAre("http://a/w"));
  EXPECT_THAT(SplitUrlList("http://a/w,https://b/w,http://c/w"),
              ElementsAre("http://a/w", "https://b/w", "http://c/w"));
  EXPECT_THAT(SplitUrlList("http://a/w?x=1,2,http://b/w"), ElementsAre("http://a/w?x=1,2", "http://b/w"));
  EXPECT_THAT(SplitUrlList(""), ElementsAre(""));
  EXPECT_THAT(SplitUrlList(",http://b/w"), ElementsAre("", "http://b/w"));
}

TEST(AggregatorUrlNames, ApiBaseAndRedaction) {
  EXPECT_EQ(ApiBaseOf("http://agg:9570/api/v1/write"), "http://agg:9570");
  EXPECT_EQ(ApiBaseOf("https://agg"), "https://agg");
  EXPECT_EQ(ApiBaseOf("http://agg:1?x=/y"), "http://agg:1");
  EXPECT_EQ(ApiBaseOf("agg:9570/write"), "");
  EXPECT_EQ(RedactUrl("http://user:s3cret@agg:1/w"), "http://user:xxxxx@agg:1/w");
  EXPECT_EQ(RedactUrl("http://user@agg:1/w"), "http://user@agg:1/w");
  EXPECT_EQ(RedactUrl("http://agg:1/w?a=b@c:d"), "http://agg:1/w?a=b@c:d");
  EXPECT_EQ(RedactUrl("no scheme"), "no scheme");
  EXPECT_EQ(RedactUrlIn("http://u:pw@a:1/w: cannot connect (http://u:pw@a:1/w)", "http://u:pw@a:1/w"),
            "http://u:xxxxx@a:1/w: cannot connect (http://u:xxxxx@a:1/w)");
  EXPECT_EQ(RedactUrlIn("http://a:1/w: refused", "http://a:1/w"), "http://a:1/w: refused");
}

TEST(AggregatorUrlNames, StableFilesystemSafeAndDistinctPerUrl) {
  // Pinned: a changed name would orphan every spool on disk after an upgrade.
  EXPECT_EQ(PushTargetName("http://aggregator-0.prescale.svc:9570/api/v1/write"),
            "aggregator-0.prescale.svc_9570-97084f36");
  EXPECT_EQ(PushTargetName("https://agg/api/v1/write"), "agg_443-f43ebb40");
  EXPECT_EQ(PushTargetName("http://user:pw@agg:1/w"), "agg_1-8117fca9");  // no user, no password
  EXPECT_EQ(PushTargetName("http://[::1]:9570/w"), "___1__9570-24e1da87");
  EXPECT_TRUE(PushTargetName("http://agg/w").starts_with("agg_80-"));
  EXPECT_NE(PushTargetName("http://agg:1/a/write"), PushTargetName("http://agg:1/b/write"));

  const std::regex safe("^[A-Za-z0-9._-]+_[0-9_]{1,5}-[0-9a-f]{8}$");
  const std::vector<std::string> odd = {"http://../../etc:1/w", "http://a b/c", "http://" + std::string(300, 'h'),
                                        "http://x:12345678/w",  "http:///w",    "junk"};
  for (const std::string& url : odd) {
    const std::string name = PushTargetName(url);
    EXPECT_TRUE(std::regex_match(name, safe)) << url << " -> " << name;
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_LE(name.size(), 64u + 1 + 5 + 9) << name;
    EXPECT_EQ(name, PushTargetName(url)) << "the same URL must give the same name";
  }
}

}  // namespace
}  // namespace prescale::agent
