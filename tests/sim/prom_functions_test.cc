// The Prometheus baselines on cases worked out by hand (the equivalence with a
// real Prometheus is tests/integration/prometheus_forecast_equivalence_test.cc).
#include "prescale/forecast/prom_functions.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace prescale::forecast {
namespace {

using namespace std::chrono_literals;

TEST(PromPredictLinear, ExtrapolatesAnExactLineFromTheEvaluationTime) {
  // y = 1 + t/30: at t = 120 s the line is 5, 60 s later 7.
  const std::vector<PromSample> s = {{0, 1}, {60'000, 3}, {120'000, 5}};
  const PromLinearFit fit = PromLinearRegression(s, 120'000);
  EXPECT_DOUBLE_EQ(fit.slope, 1.0 / 30);
  EXPECT_DOUBLE_EQ(fit.intercept, 5);
  EXPECT_DOUBLE_EQ(*PromPredictLinear(s, 120'000, 60), 7);
}

TEST(PromPredictLinear, LeastSquaresOnNoisyPoints) {
  // x = -30,-20,-10,0: sums -60, 10, -90, 1400; cov 60, var 500: slope 0.12, intercept 2.5 + 1.8.
  const std::vector<PromSample> s = {{0, 1}, {10'000, 2}, {20'000, 2}, {30'000, 5}};
  EXPECT_NEAR(*PromPredictLinear(s, 30'000, 100), 16.3, 1e-12);
  // Evaluated 10 s after the last sample: the intercept moves along the line.
  EXPECT_NEAR(*PromPredictLinear(s, 40'000, 0), 4.3 + 1.2, 1e-12);
}

TEST(PromPredictLinear, ConstantSeriesAndTooFewSamples) {
  const std::vector<PromSample> flat = {{0, 4}, {15'000, 4}, {30'000, 4}};
  EXPECT_EQ(*PromPredictLinear(flat, 30'000, 3600), 4);
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<PromSample> infinite = {{0, inf}, {15'000, inf}};
  EXPECT_TRUE(std::isnan(*PromPredictLinear(infinite, 15'000, 60)));
  const std::vector<PromSample> one = {{0, 4}};
  EXPECT_FALSE(PromPredictLinear(one, 0, 60).has_value());
}

TEST(PromHoltWinters, SmoothsLevelAndTrendAsPromQlDoes) {
  // sf = tf = 0.5 on 1, 3, 4: s = 1, b = 2; then s = 1.5 + 1.5 = 3; b = 0.5*2 + 0.5*2 = 2, s = 2 + 2.5.
  const std::vector<PromSample> a = {{0, 1}, {1000, 3}, {2000, 4}};
  EXPECT_DOUBLE_EQ(*PromHoltWinters(a, 0.5, 0.5), 4.5);
  // sf 0.2, tf 0.7 on 10, 12, 11, 15: levels 12, 13.4, 14.984 (trends 2, 2, 1.58).
  const std::vector<PromSample> b = {{0, 10}, {1000, 12}, {2000, 11}, {3000, 15}};
  EXPECT_NEAR(*PromHoltWinters(b, 0.2, 0.7), 14.984, 1e-12);
}

TEST(PromHoltWinters, RefusesBadFactorsAndShortInput) {
  const std::vector<PromSample> a = {{0, 1}, {1000, 3}};
  EXPECT_FALSE(PromHoltWinters(a, 0, 0.5).has_value());
  EXPECT_FALSE(PromHoltWinters(a, 0.5, 1).has_value());
  EXPECT_FALSE(PromHoltWinters(std::span<const PromSample>(a).first(1), 0.5, 0.5).has_value());
  EXPECT_DOUBLE_EQ(*PromHoltWinters(a, 0.5, 0.5), 3);
}

std::unique_ptr<Forecaster> Make(const std::string& model, std::map<std::string, double> params = {}) {
  ForecastSpec spec;
  spec.model = model;
  spec.params = std::move(params);
  auto f = MakePromBaseline(spec);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(PromBaseline, PredictLinearForecasterUsesTheLastRangeOnly) {
  auto f = Make("prom_predict_linear", {{"range_s", 120}});
  EXPECT_EQ(f->Forecast(60s).point, 0);  // no history: zeros
  // A step at t = 180 s: the range [60 s, 180 s] sees 0, 0, 6.
  for (int i = 0; i <= 3; ++i) f->Observe(i * 60'000, i == 3 ? 6 : 0);
  EXPECT_EQ(f->size(), 3u);
  const ForecastResult r = f->Forecast(60s);
  EXPECT_EQ(r.target_ms, 240'000);
  // x = -120, -60, 0; y = 0, 0, 6: slope 6*120/... = 0.05, intercept 2 + 0.05*60 = 5; +60 s -> 8.
  EXPECT_NEAR(r.point, 8, 1e-12);
  EXPECT_EQ(r.lower, r.point);
  EXPECT_EQ(r.upper, r.point);
  EXPECT_EQ(f->model(), "prom_predict_linear");
}

TEST(PromBaseline, FloorsAtZeroAndFallsBackToTheLastValue) {
  auto f = Make("prom_predict_linear");
  f->Observe(0, 5);
  EXPECT_EQ(f->Forecast(60s).point, 5);  // one sample: Prometheus has no answer; the last value stands
  f->Observe(60'000, 1);
  f->Observe(30'000, 100);                                       // out of order: dropped
  f->Observe(90'000, std::numeric_limits<double>::quiet_NaN());  // NaN: dropped
  EXPECT_EQ(f->size(), 2u);
  EXPECT_EQ(f->Forecast(3600s).point, 0);  // the line falls below 0
}

TEST(PromBaseline, HoltWintersForecasterIsFlatAtTheSmoothedLevel) {
  auto f = Make("prom_double_exponential_smoothing");
  f->Observe(0, 1);
  f->Observe(1000, 3);
  f->Observe(2000, 4);
  EXPECT_DOUBLE_EQ(f->Forecast(60s).point, 4.5);
  EXPECT_DOUBLE_EQ(f->Forecast(3600s).point, 4.5);
}

TEST(PromBaseline, RejectsUnknownModelsAndBadParameters) {
  ForecastSpec spec;
  spec.model = "prom_magic";
  EXPECT_EQ(MakePromBaseline(spec).status().code(), StatusCode::kInvalidArgument);
  spec.model = "prom_double_exponential_smoothing";
  spec.params = {{"sf", 1.5}};
  auto r = MakePromBaseline(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sf"), std::string::npos);
  spec.params = {{"range_s", -1}};
  EXPECT_FALSE(MakePromBaseline(spec).ok());
  spec.params = {{"season", 3}};
  EXPECT_NE(MakePromBaseline(spec).status().message().find("season"), std::string::npos);
}

}  // namespace
}  // namespace prescale::forecast
