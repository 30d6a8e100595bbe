// Helpers for the forecast tests: building forecasters and feeding series.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "prescale/forecast/forecaster.h"

namespace prescale::forecast::testing {

constexpr int64_t kStepMs = 60'000;

inline std::unique_ptr<Forecaster> Make(const std::string& model, std::map<std::string, double> params = {},
                                        ForecastOptions options = {}) {
  ForecastSpec spec;
  spec.model = model;
  spec.params = std::move(params);
  spec.options = options;
  auto f = MakeForecaster(spec);
  EXPECT_TRUE(f.ok()) << model << ": " << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

// Feeds y[i] at (first + i) * step: one sample on each grid point.
inline void Feed(Forecaster& f, const std::vector<double>& y, int64_t first = 1, int64_t step_ms = kStepMs) {
  for (size_t i = 0; i < y.size(); ++i) f.Observe((first + static_cast<int64_t>(i)) * step_ms, y[i]);
}

// The invariants every forecast keeps, whatever the input.
inline void ExpectSane(const ForecastResult& r, const std::string& context) {
  ASSERT_TRUE(std::isfinite(r.point) && std::isfinite(r.lower) && std::isfinite(r.upper)) << context;
  EXPECT_GE(r.lower, 0) << context;
  EXPECT_LE(r.lower, r.point) << context;
  EXPECT_LE(r.point, r.upper) << context;
}

}  // namespace prescale::forecast::testing
