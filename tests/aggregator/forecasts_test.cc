// The aggregator's forecast engine over demand rollups with a fake clock:
// history already held is replayed into a new series' forecaster, forecasts
// come at every configured horizon with ordered bounds, forecasts are scored
// as the minutes they are for become final, and the metrics name them.
#include "prescale/aggregator/history/forecasts.h"

#include <gtest/gtest.h>

#include "prescale/aggregator/config.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMinute = 60'000;

class ForecastEngineTest : public ::testing::Test {
 protected:
  ForecastEngineTest() {
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds(kMinute - now % kMinute));
  }
  int64_t Now() const { return ToUnixMillis(clock_.Now()); }
  // Minute m's demand: a ramp of 0.1 cores a minute.
  static double Ramp(int64_t minute) { return 0.1 * static_cast<double>(minute % 100'000); }
  void Final(int64_t minute_start_ms) {
    const double v = Ramp(minute_start_ms / kMinute);
    demand_.Backfill(key_, false, DemandPoint{minute_start_ms, v, v});
  }

  testing::FakeClock clock_;
  DemandRollups demand_{DemandOptions{}, clock_};
  const DemandKey key_{"shop", "api", "cpu"};
};

TEST_F(ForecastEngineTest, ReplaysHistoryForecastsEveryHorizonAndScoresMaturedForecasts) {
  // Two hours of final minutes before the engine starts.
  for (int64_t m = 120; m >= 2; --m) Final(Now() - m * kMinute);
  ForecastEngine engine(ForecastSettings{}, demand_, clock_);
  ASSERT_EQ(engine.Tick(), 1u);
  auto latest = engine.Latest({});
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].key, key_);
  EXPECT_FALSE(latest[0].model.empty());
  EXPECT_EQ(latest[0].points, 119u);
  EXPECT_EQ(latest[0].last_observed_ms, Now() - 2 * kMinute);
  ASSERT_EQ(latest[0].horizons.size(), 3u);
  for (const HorizonForecast& h : latest[0].horizons) {
    EXPECT_EQ(h.target_ms, latest[0].last_observed_ms + h.horizon.count());
    // A straight line is forecast on the line (within a hundredth of a core).
    EXPECT_NEAR(h.point, Ramp(h.target_ms / kMinute), 0.01) << h.horizon.count();
    EXPECT_LE(h.lower, h.point);
    EXPECT_GE(h.upper, h.point);
    EXPECT_LT(h.mase, 0) << "nothing matured yet";
  }
  // Twenty more minutes become final, one per minute.
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(1min);
    Final(Now() - 2 * kMinute);
    engine.Tick();
  }
  latest = engine.Latest({"shop", "", ""});
  ASSERT_EQ(latest.size(), 1u);
  const HorizonForecast& five = latest[0].horizons[0];
  EXPECT_EQ(five.horizon, 5min);
  EXPECT_GE(five.matured, 14u);
  EXPECT_GE(five.mase, 0);
  EXPECT_LT(five.mase, 0.1) << "a line is forecast far better than the last value";
  EXPECT_TRUE(engine.Latest({"other", "", ""}).empty());

  std::string text;
  engine.AppendMetrics(&text);
  EXPECT_NE(
      text.find("prescale_forecast{bound=\"upper\",horizon=\"1h\",resource=\"cpu\",service=\"api\",tenant=\"shop\"}"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("prescale_forecast_model_info{model=\"" + latest[0].model + "\""), std::string::npos);
  EXPECT_NE(text.find("prescale_forecast_mase{horizon=\"5m\""), std::string::npos);
}

TEST_F(ForecastEngineTest, ConfigNamesABadModelOrParameter) {
  ForecastSettings bad;
  bad.model = "crystal_ball";
  EXPECT_FALSE(ForecastEngine::Validate(bad).ok());
  for (const auto& [yaml, line, what] : {std::tuple{"forecast:\n  model: crystal_ball\n", 2, "crystal_ball"},
                                         {"forecast:\n  model: holt\n  params:\n    alpha: 1.5\n", 2, "alpha"},
                                         {"forecast:\n  horizons: [5m, soon]\n", 2, "forecast.horizons[1]"},
                                         {"forecast:\n  coverage: 1.5\n", 2, "forecast.coverage"},
                                         {"forecast:\n  params:\n    alpha: high\n", 3, "forecast.params.alpha"}}) {
    auto c = ParseAggregatorConfig(yaml, "agg.yaml");
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_NE(c.status().message().find("agg.yaml:" + std::to_string(line)), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(what), std::string::npos) << c.status().message();
  }
  auto good =
      ParseAggregatorConfig("forecast:\n  model: holt_winters\n  horizons: [10m, 2h]\n  coverage: 0.8\n", "a.yaml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->forecast.model, "holt_winters");
  EXPECT_EQ(good->forecast.horizons, (std::vector<std::chrono::milliseconds>{10min, 2h}));
  EXPECT_DOUBLE_EQ(good->forecast.coverage, 0.8);
}

// A series the engine meets before any of its minutes is final (a fresh
// aggregator) is forecast as soon as its first minutes are: its queries never
// reach back past the fine retention into the 15-minute rollup.
TEST_F(ForecastEngineTest, ASeriesSeenBeforeItsFirstFinalMinuteIsForecastFromItsFirstMinutes) {
  ForecastEngine engine(ForecastSettings{}, demand_, clock_);
  // The key exists (an agent's series was bound to it), with no final minute.
  ASSERT_NE(
      demand_.Bind({{"__name__", "container_cpu_usage_seconds_total"}, {"service", "api"}, {"tenant", "shop"}}).key,
      nullptr);
  // Three minutes pass before its first minute is final (the minute, then the settle).
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(engine.Tick(), 0u) << "nothing final yet";
    clock_.Advance(1min);
  }
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1min);
    Final(Now() - 2 * kMinute);
    engine.Tick();
  }
  auto latest = engine.Latest({});
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].points, 5u) << "every final minute, not a 15-minute rollup";
  EXPECT_EQ(latest[0].last_observed_ms, Now() - 2 * kMinute);
}

}  // namespace
}  // namespace prescale::aggregator
