// theta, median, and auto's online combination: its weights follow the candidates'
// recent errors at the planned horizon, it stays close to naive where nothing
// beats the last value, and a short run of zeros (an outage) does not drag it.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "prescale/forecast/forecaster.h"
#include "tests/shared/forecast/forecast_test_util.h"

namespace prescale::forecast {
namespace {

using std::chrono::milliseconds;
using testing::Feed;
using testing::kStepMs;
using testing::Make;

// Feeds y and returns the mean absolute error of the forecasts h steps ahead
// made from every point in [from, y.size() - h).
double OnlineMae(Forecaster& f, const std::vector<double>& y, size_t from, int h) {
  double sum = 0;
  size_t n = 0;
  for (size_t t = 0; t < y.size(); ++t) {
    f.Observe(static_cast<int64_t>(t + 1) * kStepMs, y[t]);
    if (t >= from && t + static_cast<size_t>(h) < y.size()) {
      sum += std::fabs(f.Forecast(milliseconds(h * kStepMs)).point - y[t + static_cast<size_t>(h)]), ++n;
    }
  }
  return n ? sum / static_cast<double>(n) : 0;
}

TEST(Theta, ExtrapolatesHalfANoisyTrend) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 2);
  std::vector<double> y(2000);
  for (size_t t = 0; t < y.size(); ++t) y[t] = 50 + 0.2 * static_cast<double>(t) + noise(rng);
  auto theta = Make("theta");
  auto naive = Make("naive");
  const double theta_mae = OnlineMae(*theta, y, 500, 15);
  const double naive_mae = OnlineMae(*naive, y, 500, 15);
  // The last value lags 15 steps of slope; theta extrapolates half the trend
  // (the theta = 0 line's slope), from a level that smooths the noise.
  EXPECT_LT(theta_mae, 0.8 * naive_mae) << theta_mae << " vs " << naive_mae;
  const double slope =
      (theta->Forecast(milliseconds(61 * kStepMs)).point - theta->Forecast(milliseconds(1 * kStepMs)).point) / 60;
  EXPECT_NEAR(slope, 0.1, 0.01);
}

TEST(Theta, RecoversASeasonOnTopOfALevel) {
  std::vector<double> y(1200);
  for (size_t t = 0; t < y.size(); ++t) y[t] = 100 + 20 * std::sin(2 * 3.14159265358979 * static_cast<double>(t) / 60);
  auto theta = Make("theta", {{"season_steps", 60}});
  EXPECT_LT(OnlineMae(*theta, y, 600, 15), 0.5);
}

// A steady floor with a burst one point in ten: the mean of any window is
// pulled up by the bursts, the median of one is not, and the median is what
// minimises the absolute error. The window is fitted on that error.
TEST(Median, BeatsTheMovingMeanInAbsoluteErrorOnSpikesOverAFloor) {
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> burst(0, 9);
  std::vector<double> y(3000);
  for (double& v : y) v = 20 + noise(rng) + (burst(rng) == 0 ? 200 : 0);
  auto median = Make("median");
  auto sma = Make("sma");
  const double median_mae = OnlineMae(*median, y, 1000, 15);
  const double sma_mae = OnlineMae(*sma, y, 1000, 15);
  EXPECT_LT(median_mae, 0.8 * sma_mae) << median_mae << " vs " << sma_mae;
  EXPECT_NEAR(median->Forecast(milliseconds(15 * kStepMs)).point, 20, 2);
  EXPECT_EQ(median->model(), "median");
}

TEST(Median, FollowsALevelShiftWithinItsWindow) {
  std::vector<double> y(1000, 10.0);
  for (size_t t = 600; t < y.size(); ++t) y[t] = 50;
  auto median = Make("median", {{"window_steps", 9}});
  Feed(*median, std::vector<double>(y.begin(), y.begin() + 603));
  EXPECT_EQ(median->Forecast(milliseconds(kStepMs)).point, 10) << "at most 3 of 9 points are the new level";
  Feed(*median, std::vector<double>(y.begin() + 603, y.begin() + 610), 604);
  EXPECT_EQ(median->Forecast(milliseconds(kStepMs)).point, 50) << "at least 5 of 9 are the new level";
}

TEST(Auto, StaysCloseToTheBestOnWhiteNoiseAndBeatsNaive) {
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 10);
  std::vector<double> y(3000);
  for (double& v : y) v = 200 + noise(rng);
  auto a = Make("auto", {{"horizon_s", 900}});
  auto sma = Make("sma", {{"horizon_s", 900}});
  auto naive = Make("naive");
  const double auto_mae = OnlineMae(*a, y, 1000, 15);
  const double sma_mae = OnlineMae(*sma, y, 1000, 15);
  const double naive_mae = OnlineMae(*naive, y, 1000, 15);
  EXPECT_LT(auto_mae, 1.05 * sma_mae) << a->model();
  EXPECT_LT(auto_mae, 0.8 * naive_mae) << a->model();
}

TEST(Auto, TheBetterModelTakesOverAfterARegimeChange) {
  // First a noisy level (smoothers win, the last value is noise), then a
  // random walk (the last value is the best forecast and smoothers lag).
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 5);
  std::vector<double> y(6000);
  double walk = 500;
  for (size_t t = 0; t < y.size(); ++t) {
    if (t < 3000) {
      y[t] = 500 + noise(rng);
    } else {
      walk += noise(rng);
      y[t] = walk;
    }
  }
  // A half-life of 3 hours of points, so that the test need not run for days.
  auto a = Make("auto", {{"horizon_s", 900}, {"error_half_life_s", 3 * 3600}});
  auto naive = Make("naive");
  std::vector<double> first(y.begin(), y.begin() + 3000);
  const double auto_first = OnlineMae(*a, first, 1500, 15);
  const double naive_first = OnlineMae(*naive, first, 1500, 15);
  EXPECT_LT(auto_first, 0.8 * naive_first) << a->model();
  // The second regime, scored after a day of it.
  auto a2 = Make("auto", {{"horizon_s", 900}, {"error_half_life_s", 3 * 3600}});
  auto naive2 = Make("naive");
  const double auto_second = OnlineMae(*a2, y, 4500, 15);
  const double naive_second = OnlineMae(*naive2, y, 4500, 15);
  EXPECT_LT(auto_second, 1.05 * naive_second) << a2->model();
}

TEST(Auto, AnHourOfZerosDoesNotDragTheLevel) {
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0, 2);
  std::vector<double> y;
  for (size_t t = 0; t < 2UL * 1440; ++t) y.push_back(100 + noise(rng));
  for (size_t t = 0; t < 50; ++t) y.push_back(0);  // an outage
  auto a = Make("auto", {{"horizon_s", 900}});
  auto sma = Make("sma");
  testing::Feed(*a, y);
  testing::Feed(*sma, y);
  // At the end of the outage auto still plans for the level; a model that
  // takes the zeros as data has dropped to them.
  EXPECT_NEAR(a->Forecast(milliseconds(15 * kStepMs)).point, 100, 5) << a->model();
  EXPECT_LT(sma->Forecast(milliseconds(15 * kStepMs)).point, 50);
  // And once the series is back, so is the forecast.
  for (size_t t = 0; t < 3; ++t) a->Observe(static_cast<int64_t>(y.size() + t + 1) * kStepMs, 100 + noise(rng));
  EXPECT_NEAR(a->Forecast(milliseconds(15 * kStepMs)).point, 100, 5) << a->model();
}

TEST(Auto, ALongRunOfZerosIsANewLevel) {
  std::vector<double> y(2UL * 1440, 100.0);
  for (size_t t = 0; t < 240; ++t) y.push_back(0);  // four hours: the service is gone
  auto a = Make("auto", {{"horizon_s", 900}});
  testing::Feed(*a, y);
  EXPECT_NEAR(a->Forecast(milliseconds(15 * kStepMs)).point, 0, 1) << a->model();
}

TEST(Auto, IntervalsOfTheCombinationHoldTheirCoverage) {
  std::mt19937 rng(13);
  std::normal_distribution<double> noise(0, 4);
  std::vector<double> y(5000);
  for (size_t t = 0; t < y.size(); ++t) {
    y[t] = 100 + 30 * std::sin(2 * 3.14159265358979 * static_cast<double>(t) / 240) + noise(rng);
  }
  auto a = Make("auto", {{"horizon_s", 900}});
  size_t inside = 0, n = 0;
  std::vector<ForecastResult> made(y.size());
  for (size_t t = 0; t < y.size(); ++t) {
    if (t >= 15 && t - 15 >= 2000) {
      const ForecastResult& r = made[t - 15];
      inside += r.lower <= y[t] && y[t] <= r.upper, ++n;
    }
    a->Observe(static_cast<int64_t>(t + 1) * kStepMs, y[t]);
    made[t] = a->Forecast(milliseconds(15 * kStepMs));
  }
  const double coverage = static_cast<double>(inside) / static_cast<double>(n);
  EXPECT_GT(coverage, 0.85) << a->model();
  EXPECT_LT(coverage, 0.95) << a->model();
}

}  // namespace
}  // namespace prescale::forecast
