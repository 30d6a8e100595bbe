// Threshold and predictive trigger rules on the aggregator's own data: a rule
// fires once its condition has held for `for` (on the injected clock),
// resolves when it stops holding, names the service from the series' labels
// or its own, and the aggregator evaluates the named service at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/config.h"
#include "prescale/aggregator/scaling/triggers.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::TimeSeries;
using ::testing::HasSubstr;

class TriggerRulesTest : public ::testing::Test {
 protected:
  void Push(const std::string& metric, const std::string& service, double value) {
    clock_.Advance(10s);
    std::vector<TimeSeries> push = {
        {{{"__name__", metric}, {"service", service}, {"tenant", "acme"}}, {{value, ToUnixMillis(clock_.Now())}}}};
    AppendStats stats;
    ASSERT_TRUE(series_.Append(push, &stats).ok());
  }

  testing::FakeClock clock_;
  DemandRollups demand_{DemandOptions{}, clock_};
  ForecastEngine forecasts_{ForecastSettings{}, demand_, clock_};
  SeriesStore series_{SeriesStoreOptions{}, clock_, &demand_};
  TriggerBus bus_;
};

TEST_F(TriggerRulesTest, ThresholdFiresAfterForAndResolves) {
  auto config = ParseAggregatorConfig(R"(
triggers:
  - name: slow
    metric: http_p99_seconds
    labels: {tenant: acme}
    op: ">"
    value: 0.5
    for: 20s
    action: scale_up
)",
                                      "agg.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->triggers.size(), 1u);
  TriggerRules rules(config->triggers);
  Push("http_p99_seconds", "web", 0.2);
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 0u);
  Push("http_p99_seconds", "web", 0.9);  // holds from now
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 0u);
  Push("http_p99_seconds", "web", 0.8);  // 10 s
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 0u);
  Push("http_p99_seconds", "web", 0.7);  // 20 s: fires
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 1u);
  std::vector<TriggerEvent> events = bus_.Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Label(), "threshold:slow");
  EXPECT_EQ(events[0].tenant, "acme");
  EXPECT_EQ(events[0].service, "web") << "from the series' labels";
  EXPECT_EQ(events[0].action, "scale_up");
  EXPECT_FALSE(events[0].resolved);
  std::string metrics;
  rules.AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_trigger_rule_firing{rule="slow",service="web",tenant="acme"} 1)"));
  // Still holding: no repeat.
  Push("http_p99_seconds", "web", 0.9);
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 0u);
  // Below: resolved.
  Push("http_p99_seconds", "web", 0.1);
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 1u);
  events = bus_.Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].resolved);
  metrics.clear();
  rules.AppendMetrics(&metrics);
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("rule=\"slow\"")));
}

TEST_F(TriggerRulesTest, AFiringRuleResolvesWhenItsSeriesGoesStale) {
  TriggerRule rule;
  rule.name = "busy";
  rule.metric = "queue_depth";
  rule.op = ">=";
  rule.value = 100;
  TriggerRules rules({rule});
  Push("queue_depth", "worker", 150);
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 1u) << "for 0: at once";
  clock_.Advance(6min);  // no new samples
  EXPECT_EQ(rules.Evaluate(series_, forecasts_, clock_, &bus_), 1u);
  std::vector<TriggerEvent> events = bus_.Drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].resolved);
}

TEST_F(TriggerRulesTest, PredictiveFiresWhenTheForecastCrossesWithinTheHorizon) {
  // Two hours of steady growth in web's CPU: 1 core rising 0.05 a minute.
  const int64_t start = ToUnixMillis(clock_.Now()) / 60'000 * 60'000 - 120 * 60'000;
  for (int m = 0; m < 120; ++m) {
    const double v = 1 + 0.05 * m;
    demand_.Backfill(DemandKey{"acme", "web", "cpu"}, false, DemandPoint{start + m * 60'000, v, v});
  }
  ForecastSettings settings;
  settings.model = "linear";
  ForecastEngine forecasts(settings, demand_, clock_);
  ASSERT_GT(forecasts.Tick(), 0u);
  TriggerRule soon;
  soon.name = "soon";
  soon.kind = TriggerRule::Kind::kPredictive;
  soon.tenant = "acme";
  soon.service = "web";
  soon.op = ">";
  soon.value = 7.5;  // now about 7: crossed within 15 minutes, not within 5
  soon.within = 15min;
  TriggerRule later = soon;
  later.name = "later";
  later.within = 5min;
  later.value = 9;
  TriggerRules rules({soon, later});
  EXPECT_EQ(rules.Evaluate(series_, forecasts, clock_, &bus_), 1u);
  std::vector<TriggerEvent> events = bus_.Drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].Label(), "predictive:soon");
  EXPECT_EQ(events[0].service, "web");
}

TEST_F(TriggerRulesTest, BusOverflowIsCountedNotBlocking) {
  TriggerBus small(2);
  EXPECT_TRUE(small.Publish({"threshold", "a", "t", "s"}));
  EXPECT_TRUE(small.Publish({"threshold", "b", "t", "s"}));
  EXPECT_FALSE(small.Publish({"threshold", "c", "t", "s"}));
  std::string metrics;
  small.AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_trigger_overflow_total 1"));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_triggers_total{source="threshold"} 2)"));
  EXPECT_EQ(small.Drain().size(), 2u);
  EXPECT_FALSE(small.pending());
}

}  // namespace
}  // namespace prescale::aggregator
