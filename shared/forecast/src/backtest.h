// Rolling-origin scoring of a PointModel: the h-step forecast from every origin
// against the actual. Used to choose windows (linear, sma) and models (auto).
// Stateless, thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "point_model.h"

namespace prescale::forecast {

struct BacktestErrors {
  double abs_sum = 0;  // sum of |actual - forecast|
  double sq_sum = 0;   // sum of (actual - forecast)^2
  size_t count = 0;

  double mae() const { return count ? abs_sum / static_cast<double>(count) : 0; }
  double mse() const { return count ? sq_sum / static_cast<double>(count) : 0; }
};

// Runs `model`, which stands at y[start - 1] (fitted on y[..start)), forward
// over y[start..] with Update, scoring Predict(h) made at each origin against
// the actual h steps later. Non-finite forecasts score as the last value.
// With `forecasts`, also keeps them: (*forecasts)[i - start] is the forecast
// for y[i], NaN where none was made (the first h - 1 points).
BacktestErrors RollForward(PointModel& model, std::span<const double> y, size_t start, int h,
                           std::vector<double>* forecasts = nullptr);

// Mean |y[t] - y[t-h]| over y: the h-step naive error that scales MASE.
double NaiveScale(std::span<const double> y, int h);

}  // namespace prescale::forecast
