// The remote-write series come from the same family tables as the text
// exposition: on the fixture trees, every text sample has exactly one series
// with the same name, labels and value, and the batch passes Validate().
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "prescale/agent/exposition.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/agent/agent_fixture.h"

namespace prescale::agent {
namespace {

using testing::AgentOnFixture;
using testing::Fixture;
using testing::FixtureConfig;
using testing::ParsedExposition;

// "name{a=1,b=2}" with labels sorted and empty values left out.
std::string Key(const std::string& name, metrics::Labels labels) {
  std::erase_if(labels, [](const auto& l) { return l.second.empty(); });
  std::sort(labels.begin(), labels.end());
  std::string key = name + "{";
  for (const auto& [k, v] : labels) key += k + "=" + v + ",";
  return key + "}";
}

void ExpectSameSamples(const std::string& tree) {
  AgentOnFixture agent(FixtureConfig(Fixture(tree)));
  ASSERT_TRUE(agent.ok());
  agent->CollectOnce();
  std::string text;
  WriteCgroupExposition(agent->table(), agent->node_stats(), &text);
  WriteNodeExposition(agent->node_stats(), agent->config().node, &text);
  const ParsedExposition parsed(text);
  ASSERT_EQ(parsed.error(), "");

  SeriesBuilder builder;
  // Twice: the second batch reuses the first one's storage and must say the same.
  for (int round = 0; round < 2; ++round) {
    builder.Begin();
    AppendCgroupSeries(agent->table(), agent->node_stats(), 1'700'000'000'000, &builder);
    AppendNodeSeries(agent->node_stats(), agent->config().node, 1'700'000'000'000, &builder);
  }
  const remote_write::WriteRequest& request = builder.Finish();
  ASSERT_TRUE(remote_write::Validate(request).ok()) << remote_write::Validate(request).ToString();

  std::map<std::string, double> from_text;
  for (const auto& f : parsed.families()) {
    for (const auto& s : f.samples) EXPECT_TRUE(from_text.emplace(Key(s.name, s.labels), s.value).second);
  }
  std::map<std::string, double> from_series;
  for (const auto& ts : request.timeseries) {
    std::string name;
    metrics::Labels labels;
    for (const auto& l : ts.labels) {
      if (l.name == "__name__") {
        name = l.value;
      } else {
        labels.emplace_back(l.name, l.value);
      }
    }
    ASSERT_EQ(ts.samples.size(), 1u);
    EXPECT_EQ(ts.samples[0].timestamp_ms, 1'700'000'000'000);
    EXPECT_TRUE(from_series.emplace(Key(name, labels), ts.samples[0].value).second) << Key(name, labels);
  }
  EXPECT_GT(from_text.size(), 50u) << "the fixture should give many series";
  EXPECT_EQ(from_series, from_text);
}

TEST(PusherSeries, RemoteWriteSeriesMatchTheTextExpositionOnV2) { ExpectSameSamples("cgroup_v2"); }
TEST(PusherSeries, RemoteWriteSeriesMatchTheTextExpositionOnV1) { ExpectSameSamples("cgroup_v1"); }

TEST(PusherSeries, EmptyLabelValuesAreLeftOutAndLabelsSorted) {
  // A mapping rule whose template yields an empty value (an optional capture).
  AgentConfig config = FixtureConfig(Fixture("cgroup_v2"));
  config.mapping = {};
  MappingRule rule;
  rule.kind = MappingRule::Kind::kRegex;
  rule.pattern = "^/prescale/([^/]+)/([^/]+)()$";
  rule.regex = std::regex(rule.pattern);
  rule.labels = {{"tenant", "$1"}, {"service", "$2"}, {"zone", "$3"}};
  config.mapping.push_back(rule);
  AgentOnFixture agent(config);
  ASSERT_TRUE(agent.ok());
  agent->CollectOnce();
  SeriesBuilder builder;
  builder.Begin();
  AppendNodeSeries(agent->node_stats(), agent->config().node, 1, &builder);  // other label sets first
  builder.Begin();
  AppendCgroupSeries(agent->table(), agent->node_stats(), 1, &builder);
  const remote_write::WriteRequest& request = builder.Finish();
  ASSERT_FALSE(request.timeseries.empty());
  ASSERT_TRUE(remote_write::Validate(request).ok()) << remote_write::Validate(request).ToString();
  for (const auto& ts : request.timeseries) {
    for (const auto& l : ts.labels) EXPECT_NE(l.name, "zone");
    EXPECT_EQ(ts.labels.front().name, "__name__");
  }
}

}  // namespace
}  // namespace prescale::agent
