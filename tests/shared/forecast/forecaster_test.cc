// Each model recovers known structure exactly, and incremental updates agree
// with a full refit on the same data.
#include "prescale/forecast/forecaster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <random>

#include "tests/shared/forecast/forecast_test_util.h"

namespace prescale::forecast {
namespace {

using std::chrono::milliseconds;
using testing::Feed;
using testing::kStepMs;
using testing::Make;

const std::vector<std::string> kModels = {"naive",  "seasonal_naive", "sma",          "median", "ewma",
                                          "linear", "holt",           "holt_winters", "theta",  "auto"};

std::vector<double> Line(size_t n, double a, double b) {
  std::vector<double> y(n);
  for (size_t t = 0; t < n; ++t) y[t] = a + b * static_cast<double>(t);
  return y;
}

// A pure cycle of `period` steps (not a calendar period: found by autocorrelation).
std::vector<double> Cycle(size_t n, size_t period, double level) {
  std::vector<double> y(n);
  for (size_t t = 0; t < n; ++t) {
    const double phase = 2 * std::numbers::pi * static_cast<double>(t % period) / static_cast<double>(period);
    y[t] = level + 20 * std::sin(phase) + 5 * std::cos(3 * phase);
  }
  return y;
}

TEST(Forecaster, EmptyHistoryForecastsZeros) {
  for (const std::string& name : kModels) {
    auto f = Make(name);
    ForecastResult r = f->Forecast(std::chrono::minutes(5));
    EXPECT_EQ(r.point, 0) << name;
    EXPECT_EQ(r.upper, 0) << name;
    EXPECT_EQ(f->size(), 0u) << name;
  }
}

TEST(Forecaster, ConstantIsRecoveredByEveryModel) {
  for (const std::string& name : kModels) {
    auto f = Make(name);
    Feed(*f, std::vector<double>(300, 42.0));
    for (int h : {1, 5, 15, 60}) {
      ForecastResult r = f->Forecast(milliseconds(h * kStepMs));
      EXPECT_NEAR(r.point, 42.0, 1e-6) << name << " h=" << h;
      EXPECT_NEAR(r.lower, 42.0, 1e-5) << name << " h=" << h << ": no error, no width";
      EXPECT_NEAR(r.upper, 42.0, 1e-5) << name << " h=" << h;
    }
    EXPECT_EQ(f->size(), 300u);
  }
}

TEST(Forecaster, LineIsRecoveredExactlyByLinearAndHolt) {
  for (const std::string name : {"linear", "holt", "auto"}) {
    auto f = Make(name);
    Feed(*f, Line(200, 10, 2));
    for (int h : {1, 7, 30}) {
      ForecastResult r = f->Forecast(milliseconds(h * kStepMs));
      EXPECT_NEAR(r.point, 10 + 2.0 * (199 + h), 1e-6) << name << " h=" << h;
      EXPECT_EQ(r.target_ms, (200 + h) * kStepMs) << name;
    }
  }
}

TEST(Forecaster, PureSeasonIsRecoveredExactlyWithItsLengthDetected) {
  for (const std::string name : {"seasonal_naive", "holt_winters"}) {
    for (double multiplicative : {0.0, 1.0}) {
      if (name == "seasonal_naive" && multiplicative == 1.0) continue;
      auto f = Make(name, name == "holt_winters" ? std::map<std::string, double>{{"multiplicative", multiplicative}}
                                                 : std::map<std::string, double>{});
      const std::vector<double> y = Cycle(24 * 12 + 24 * 6, 24, 100);
      Feed(*f, std::vector<double>(y.begin(), y.begin() + 24L * 12));
      for (int h : {1, 5, 24, 30, 47}) {
        ForecastResult r = f->Forecast(milliseconds(h * kStepMs));
        EXPECT_NEAR(r.point, y[24 * 12 - 1 + static_cast<size_t>(h)], 1e-6) << name << " h=" << h;
      }
    }
  }
}

TEST(Forecaster, AutoPicksASeasonalModelForASeason) {
  auto f = Make("auto", {{"horizon_s", 600}});
  Feed(*f, Cycle(600, 24, 100));
  // One model, or a combination led by one (exact forecasts win every backtest).
  const std::string chosen = f->model();
  EXPECT_TRUE(chosen.rfind("seasonal_naive", 0) == 0 || chosen.rfind("holt_winters", 0) == 0) << chosen;
  EXPECT_NEAR(f->Forecast(std::chrono::minutes(10)).point, Cycle(610, 24, 100)[609], 1e-6) << chosen;
}

TEST(Forecaster, AutoReportsModelNamesOrTheirCombination) {
  std::mt19937 rng(9);
  std::normal_distribution<double> noise(0, 5);
  std::vector<double> y = Cycle(1500, 60, 200);
  for (double& v : y) v += noise(rng);
  auto f = Make("auto", {{"horizon_s", 900}});
  Feed(*f, y);
  const std::string chosen = f->model();
  size_t start = 0;
  while (start <= chosen.size()) {
    const size_t end = std::min(chosen.find('+', start), chosen.size());
    const std::string part = chosen.substr(start, end - start);
    EXPECT_NE(std::find(kModels.begin(), kModels.end(), part), kModels.end()) << chosen;
    start = end + 1;
  }
}

TEST(Forecaster, LinearWithFourierTermsRecoversATrendedDailyCycle) {
  ForecastOptions options;
  options.step = std::chrono::hours(1);
  options.max_history = 24UL * 14;
  auto f = Make("linear", {{"fourier_daily", 2}}, options);
  auto truth = [](int64_t t) {
    const double phase = 2 * std::numbers::pi * static_cast<double>(t % 24) / 24.0;
    return 100 + 0.5 * static_cast<double>(t) + 20 * std::sin(phase) + 5 * std::cos(2 * phase);
  };
  // Grid point k is at k hours since the epoch, so the phase follows the clock.
  for (int64_t t = 1; t <= 24L * 10; ++t) f->Observe(t * 3'600'000, truth(t));
  for (int h : {1, 6, 13, 30}) {
    EXPECT_NEAR(f->Forecast(std::chrono::hours(h)).point, truth(24 * 10 + h), 1e-6) << "h=" << h;
  }
}

TEST(Forecaster, NaiveFollowsAStep) {
  auto f = Make("naive");
  std::vector<double> y(100, 10.0);
  y.resize(120, 50.0);
  Feed(*f, y);
  EXPECT_DOUBLE_EQ(f->Forecast(std::chrono::minutes(10)).point, 50.0);
}

TEST(Forecaster, ModelReportsTheConfiguredOrChosenModel) {
  EXPECT_EQ(Make("holt_winters")->model(), "holt_winters");
  auto f = Make("auto");
  EXPECT_EQ(f->model(), "naive") << "short histories fall back to naive";
  Feed(*f, Line(10, 1, 1));
  EXPECT_EQ(f->model(), "naive");
}

// Parameters fixed, no periodic refit: feeding point by point must land on
// the state a full refit on the same history computes.
TEST(Forecaster, IncrementalUpdatesMatchAFullRefit) {
  const std::map<std::string, std::map<std::string, double>> fixed = {
      {"naive", {}},
      {"seasonal_naive", {{"season_steps", 24}}},
      {"sma", {{"window_steps", 10}}},
      {"ewma", {{"alpha", 0.3}}},
      {"linear", {{"window_steps", 50}}},
      {"holt", {{"alpha", 0.4}, {"beta", 0.1}, {"phi", 0.95}}},
      {"holt_winters", {{"alpha", 0.3}, {"beta", 0.05}, {"gamma", 0.2}, {"season_steps", 24}}},
      {"holt_winters", {{"alpha", 0.3}, {"beta", 0.05}, {"gamma", 0.2}, {"season_steps", 24}, {"multiplicative", 1}}},
  };
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 2);
  std::vector<double> y = Cycle(700, 24, 100);
  for (size_t t = 0; t < y.size(); ++t) y[t] += 0.05 * static_cast<double>(t) + noise(rng);
  for (auto [name, params] : fixed) {
    params["refit_every_steps"] = 1e9;
    auto incremental = Make(name, params);
    auto refitted = Make(name, params);
    Feed(*incremental, y);
    Feed(*refitted, y);
    refitted->Refit();
    for (int h : {1, 3, 12, 30}) {
      const ForecastResult a = incremental->Forecast(milliseconds(h * kStepMs));
      const ForecastResult b = refitted->Forecast(milliseconds(h * kStepMs));
      EXPECT_NEAR(a.point, b.point, 1e-7 * (1 + std::fabs(b.point))) << name << " h=" << h;
    }
  }
}

// Fitted parameters: a forecaster that refits every point and one that refits
// every 50 agree whenever the latter has just refitted.
TEST(Forecaster, PeriodicRefitsMatchRefittingEveryPoint) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> y = Line(400, 50, 0.2);
  for (double& v : y) v += noise(rng);
  for (const std::string name : {"ewma", "holt", "sma", "linear"}) {
    auto every_point = Make(name, {{"refit_every_steps", 1}});
    auto periodic = Make(name, {{"refit_every_steps", 50}});
    Feed(*every_point, y);
    Feed(*periodic, y);
    periodic->Refit();
    const ForecastResult a = every_point->Forecast(std::chrono::minutes(10));
    const ForecastResult b = periodic->Forecast(std::chrono::minutes(10));
    EXPECT_NEAR(a.point, b.point, 1e-7 * (1 + std::fabs(b.point))) << name;
  }
}

TEST(Forecaster, HorizonIsRoundedUpToWholeSteps) {
  auto f = Make("naive");
  Feed(*f, {1, 2, 3});
  EXPECT_EQ(f->Forecast(milliseconds(1)).target_ms, 4 * kStepMs);
  EXPECT_EQ(f->Forecast(milliseconds(0)).target_ms, 4 * kStepMs);
  EXPECT_EQ(f->Forecast(milliseconds(kStepMs + 1)).target_ms, 5 * kStepMs);
}

}  // namespace
}  // namespace prescale::forecast

namespace prescale::forecast {
namespace {

// A restart replays stored history with ObserveBatch: one fit at the end, and
// intervals calibrated as if the model had run online.
TEST(Forecaster, ObserveBatchMatchesObservingThenRefitting) {
  std::mt19937 rng(21);
  std::normal_distribution<double> noise(0, 3);
  std::vector<int64_t> ts;
  std::vector<double> y;
  for (int64_t t = 1; t <= 1500; ++t) {
    ts.push_back(t * kStepMs + (t % 3) * 1000);  // jittered
    y.push_back(80 + 20 * std::sin(static_cast<double>(t) / 30.0) + noise(rng));
  }
  for (const std::string& name : kModels) {
    auto online = Make(name, {{"horizon_s", 600}});
    for (size_t i = 0; i < ts.size(); ++i) online->Observe(ts[i], y[i]);
    online->Refit();
    auto batch = Make(name, {{"horizon_s", 600}});
    batch->ObserveBatch(ts, y);
    EXPECT_EQ(batch->size(), online->size()) << name;
    const ForecastResult a = online->Forecast(std::chrono::minutes(10));
    const ForecastResult b = batch->Forecast(std::chrono::minutes(10));
    EXPECT_EQ(a.target_ms, b.target_ms) << name;
    if (name != "auto") {  // auto's choice may differ: it backtested at other times
      EXPECT_NEAR(a.point, b.point, 1e-6 * (1 + std::fabs(a.point))) << name;
    }
    // Calibrated from the replay's own errors, not the wide fallback.
    EXPECT_NEAR(b.upper - b.lower, a.upper - a.lower, 0.35 * (a.upper - a.lower)) << name;
  }
}

}  // namespace
}  // namespace prescale::forecast
