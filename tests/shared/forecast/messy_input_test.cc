// Real series are messy: the regridder's rules, and no input at all may make a
// forecaster answer NaN, a negative, an inverted interval, or crash.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "prescale/forecast/forecaster.h"
#include "shared/forecast/src/regridder.h"
#include "tests/shared/forecast/forecast_test_util.h"

namespace prescale::forecast {
namespace {

using std::chrono::milliseconds;
using testing::ExpectSane;
using testing::Feed;
using testing::kStepMs;
using testing::Make;

const double kStaleMarker = std::bit_cast<double>(uint64_t{0x7ff0000000000002});

struct GridPoint {
  int64_t index;
  double value;
  bool operator==(const GridPoint&) const = default;
};

std::vector<GridPoint> Regrid(Regridder& r, const std::vector<std::pair<int64_t, double>>& samples) {
  std::vector<GridPoint> out;
  for (auto [ts, v] : samples) r.Add(ts, v, [&](int64_t i, double y) { out.push_back({i, y}); });
  return out;
}

TEST(Regridder, AveragesSamplesWithinAStep) {
  Regridder r(60'000, false, 10, 1000);
  // Three samples in (0, 60 s], the last exactly on the boundary: emitted at once.
  EXPECT_EQ(Regrid(r, {{10'000, 1}, {30'000, 2}, {60'000, 6}}), (std::vector<GridPoint>{{1, 3}}));
  // Jittered: (60 s, 120 s] is complete only when a later sample arrives.
  EXPECT_TRUE(Regrid(r, {{61'000, 4}, {119'000, 8}}).empty());
  EXPECT_EQ(Regrid(r, {{121'000, 1}}), (std::vector<GridPoint>{{2, 6}}));
}

TEST(Regridder, DropsNonFiniteOutOfOrderAndRepeatedSamples) {
  Regridder r(60'000, false, 10, 1000);
  const double inf = std::numeric_limits<double>::infinity();
  auto out = Regrid(r, {{60'000, 5},
                        {90'000, std::nan("")},
                        {95'000, kStaleMarker},
                        {100'000, inf},
                        {50'000, 100},  // out of order
                        {60'000, 100},  // repeated
                        {120'000, 7}});
  EXPECT_EQ(out, (std::vector<GridPoint>{{1, 5}, {2, 7}}));
}

TEST(Regridder, InterpolatesShortGapsAndForwardFillsLongOnes) {
  Regridder r(60'000, false, /*interp_gap_steps=*/3, /*max_fill_steps=*/100);
  EXPECT_EQ(Regrid(r, {{60'000, 10}, {300'000, 50}}),
            (std::vector<GridPoint>{{1, 10}, {2, 20}, {3, 30}, {4, 40}, {5, 50}}));
  EXPECT_EQ(Regrid(r, {{600'000, 0}}), (std::vector<GridPoint>{{6, 50}, {7, 50}, {8, 50}, {9, 50}, {10, 0}}));
  // Past max_fill_steps nothing is filled: the next point jumps ahead.
  EXPECT_EQ(Regrid(r, {{60'000 * 500, 3}}), (std::vector<GridPoint>{{500, 3}}));
}

TEST(Regridder, TurnsCountersIntoRatesThroughResets) {
  Regridder r(60'000, true, 10, 1000);
  // 600 per minute: 10/s; the counter restarts between 180 s and 240 s and
  // has counted 600 since (Prometheus' rule: a drop means it started from 0).
  auto out = Regrid(r, {{60'000, 1000}, {120'000, 1600}, {180'000, 2200}, {240'000, 600}, {300'000, 1200}});
  EXPECT_EQ(out, (std::vector<GridPoint>{{2, 10}, {3, 10}, {4, 10}, {5, 10}}));
}

TEST(Forecaster, CounterForecastsTheRate) {
  ForecastOptions options;
  options.counter = true;
  auto f = Make("ewma", {}, options);
  double counter = 0;
  for (int64_t i = 1; i <= 200; ++i) {
    counter = i % 70 == 0 ? 300 : counter + 300;  // 5/s, with resets
    f->Observe(i * kStepMs, counter);
  }
  EXPECT_NEAR(f->Forecast(std::chrono::minutes(5)).point, 5.0, 1e-9);
}

// Every model, fed a series with everything wrong at once, checked after every sample.
TEST(Forecaster, MessyInputNeverYieldsNaNNegativesOrInvertedIntervals) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> jitter_ms(0, 2000);
  for (const std::string& name : ModelNames()) {
    for (bool counter : {false, true}) {
      ForecastOptions options;
      options.max_history = 300;  // so the long gap below starts the series over
      options.counter = counter;
      auto f = Make(name, {{"refit_every_steps", 20}, {"horizon_s", 600}}, options);
      double level = 100, total = 0;
      int64_t ts = 1'000'000;
      for (int i = 0; i < 1500; ++i) {
        ts += kStepMs + static_cast<int64_t>(jitter_ms(rng));
        if (i == 400) ts += 90 * kStepMs;    // an interpolated gap
        if (i == 800) ts += 2000 * kStepMs;  // a gap longer than the history
        if (i % 97 == 0) level *= 3;         // level shifts
        if (i % 101 == 0) level /= 4;
        double v = level * (1 + 0.3 * std::sin(i / 20.0)) + 10 * (unit(rng) - 0.5);
        if (i > 1000 && i < 1100) v = 0;                 // all zeros
        if (i > 1200 && i < 1220) v = 1e15 * unit(rng);  // huge
        if (i % 13 == 0) v = std::nan("");
        if (i % 17 == 0) v = kStaleMarker;
        if (i % 19 == 0) v = -v;  // negative gauge readings
        if (counter) v = (i % 150 == 0) ? 0 : (total += std::fabs(std::isfinite(v) ? v : 0));
        f->Observe(i % 23 == 0 ? ts - 5 * kStepMs : ts, v);  // some out of order
        for (int h : {1, 15, 200}) {
          ExpectSane(f->Forecast(milliseconds(h * kStepMs)),
                     name + (counter ? " counter" : "") + " i=" + std::to_string(i) + " h=" + std::to_string(h));
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(Forecaster, SinglePointAndAllZeros) {
  for (const std::string& name : ModelNames()) {
    auto one = Make(name);
    one->Observe(kStepMs, 7);
    ForecastResult r = one->Forecast(std::chrono::minutes(10));
    ExpectSane(r, name);
    EXPECT_DOUBLE_EQ(r.point, 7) << name;
    EXPECT_GT(r.upper, 7) << name << ": one point says nothing about the spread";

    auto zeros = Make(name);
    Feed(*zeros, std::vector<double>(500, 0.0));
    r = zeros->Forecast(std::chrono::minutes(10));
    EXPECT_EQ(r.point, 0) << name;
    EXPECT_EQ(r.upper, 0) << name;
  }
}

TEST(Forecaster, NegativeForecastsAreClampedAtZero) {
  auto f = Make("linear", {{"window_steps", 20}});
  std::vector<double> falling(100);
  for (size_t t = 0; t < falling.size(); ++t) falling[t] = 100 - static_cast<double>(t);
  Feed(*f, falling);
  ForecastResult r = f->Forecast(std::chrono::minutes(30));
  EXPECT_EQ(r.point, 0);
  EXPECT_EQ(r.lower, 0);
  EXPECT_GE(r.upper, 0);
}

}  // namespace
}  // namespace prescale::forecast
