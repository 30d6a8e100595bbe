#include "prescale/sim/evaluation.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "prescale/forecast/prom_functions.h"
#include "prescale/sim/grid.h"
#include "prescale/sim/metrics.h"
#include "tests/sim/grid_series_util.h"

namespace prescale::sim {
namespace {

using testing::Line;

using namespace std::chrono_literals;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Metrics, HandComputedValues) {
  const std::vector<double> series = {1, 3, 2, kNaN, 5, 4};
  EXPECT_DOUBLE_EQ(NaiveOneStepMae(series), 4.0 / 3);  // |2|, |-1|, |-1|; pairs with the NaN skipped
  const std::vector<double> actual = {1, 2, 3}, point = {2, 2, 5};
  EXPECT_DOUBLE_EQ(Mase(actual, point, 0.5), 2);  // MAE 1 over a scale of 0.5
  EXPECT_DOUBLE_EQ(Rmse(actual, point), std::sqrt(5.0 / 3));
  EXPECT_TRUE(std::isnan(Mase(actual, point, 0)));
  // 2*10/210, 0 (both zero), 2*50/50.
  const std::vector<double> a2 = {100, 0, 50}, p2 = {110, 0, 0};
  EXPECT_NEAR(Smape(a2, p2), 100 * (20.0 / 210 + 0 + 2) / 3, 1e-12);
  const std::vector<double> lower = {0, 2.5, 3}, upper = {1, 3, 4};
  EXPECT_DOUBLE_EQ(Coverage(actual, lower, upper), 2.0 / 3);  // 1 and 3 inside, 2 below 2.5
  EXPECT_TRUE(std::isnan(Rmse({}, {})));
}

TEST(Grid, MedianIntervalAndInterpolationAcrossJitter) {
  Trace t;
  t.timestamps_ms = {0, 301'000, 599'000, 900'000, 1'200'000, 1'500'000, 3'000'000, 3'300'000};
  t.values = {0, 3.01, 5.99, 9, 12, 15, 30, 33};
  EXPECT_EQ(MedianIntervalMs(t), 300'000);
  auto g = Regrid(t, 300'000);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->values.size(), 12u);
  EXPECT_DOUBLE_EQ(g->values[0], 0);
  EXPECT_NEAR(g->values[1], 3, 1e-12);  // between 0 @ 0 and 3.01 @ 301 s: 3.01 * 300/301
  EXPECT_NEAR(g->values[2], 3.01 + (5.99 - 3.01) * 299.0 / 298.0, 1e-12);
  EXPECT_DOUBLE_EQ(g->values[3], 9);
  EXPECT_DOUBLE_EQ(g->values[5], 15);
  for (size_t k = 6; k <= 9; ++k) EXPECT_TRUE(std::isnan(g->values[k])) << k;  // a 25-minute gap
  EXPECT_DOUBLE_EQ(g->values[10], 30);
  EXPECT_EQ(g->TimeAt(11), 3'300'000);
}

// A Forecaster answering the last value with a +-1 interval: the reference for hand-computed scores.
class LastValue final : public forecast::Forecaster {
 public:
  void Observe(int64_t t, double v) override { t_ = t, v_ = v, ++n_; }
  forecast::ForecastResult Forecast(std::chrono::milliseconds h) const override {
    return {t_ + h.count(), v_, v_ - 1, v_ + 1};
  }
  std::string model() const override { return "last"; }
  size_t size() const override { return n_; }

 private:
  int64_t t_ = 0;
  double v_ = 0;
  size_t n_ = 0;
};

Result<std::unique_ptr<forecast::Forecaster>> TestFactory(const std::string& name) {
  if (name == "last") return std::unique_ptr<forecast::Forecaster>(std::make_unique<LastValue>());
  forecast::ForecastSpec spec;
  spec.model = name;
  return forecast::MakePromBaseline(spec);
}

TEST(Evaluate, ScoresEveryOriginAgainstTheActualAtOriginPlusHorizon) {
  EvalOptions o;
  o.horizon = 3min;
  o.warmup = 60min;
  o.models = {"last", "prom_predict_linear"};
  auto r = Evaluate(Line(200), o, TestFactory);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->naive_scale, 1);
  EXPECT_EQ(r->origins, 200u - 60 - 3);  // origins 60..196
  ASSERT_EQ(r->records.size(), 2 * r->origins);
  const ForecastRecord& first = r->records[0];
  EXPECT_EQ(first.origin_ms, 1'000'000'000'000 + 60L * 60'000);
  EXPECT_EQ(first.target_ms, first.origin_ms + 180'000);
  EXPECT_EQ(first.actual, 73);
  EXPECT_EQ(first.point, 70);
  // The last value misses by the 3 steps of slope every time; the line is exact for predict_linear.
  EXPECT_DOUBLE_EQ(r->scores[0].mase, 3);
  EXPECT_DOUBLE_EQ(r->scores[0].rmse, 3);
  EXPECT_DOUBLE_EQ(r->scores[0].coverage, 0);
  EXPECT_TRUE(r->scores[0].has_interval);
  EXPECT_NEAR(r->scores[1].mase, 0, 1e-9);
  EXPECT_FALSE(r->scores[1].has_interval);
  EXPECT_EQ(r->scores[1].model, "prom_predict_linear");
}

TEST(Evaluate, SpreadsAtMostMaxOriginsAndSkipsGaps) {
  GridSeries g = Line(200);
  g.values[150] = kNaN;  // no origin at 150, no target at 150 (origin 147)
  EvalOptions o;
  o.horizon = 3min;
  o.warmup = 60min;
  o.models = {"last"};
  auto all = Evaluate(g, o, TestFactory);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->origins, 137u - 2);
  o.max_origins = 10;
  auto some = Evaluate(g, o, TestFactory);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->origins, 10u);
  EXPECT_EQ(some->records.size(), 10u);
}

TEST(Evaluate, RejectsAHorizonOffTheGridAndTooShortTraces) {
  EvalOptions o;
  o.models = {"last"};
  o.horizon = 90s;
  auto r = Evaluate(Line(200), o, TestFactory);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--horizon 1m30s is not a positive multiple of the step 1m"), std::string::npos)
      << r.status().message();
  o.horizon = 1min;
  o.warmup = 24h;
  EXPECT_FALSE(Evaluate(Line(200), o, TestFactory).ok());
  o.models = {"nonsense"};
  EXPECT_FALSE(Evaluate(Line(200), o, TestFactory).ok());
}

}  // namespace
}  // namespace prescale::sim
