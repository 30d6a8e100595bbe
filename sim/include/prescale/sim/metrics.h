// Forecast accuracy metrics as prescale's evaluation defines them (see
// docs/forecasting.md). Pure functions over equally long spans; thread-safe.
// Pairs whose actual or forecast is not finite are skipped by every metric.
#pragma once

#include <span>

namespace prescale::sim {

// The MASE scale: mean |y[k] - y[k-1]| over consecutive finite pairs of the
// regular series (the one-step naive forecast's in-sample MAE). NaN with no pair.
double NaiveOneStepMae(std::span<const double> series);

// mean |point - actual|; NaN with no pair.
double Mae(std::span<const double> actual, std::span<const double> point);

// Mae / scale; NaN when scale is 0 or NaN or there is no pair.
double Mase(std::span<const double> actual, std::span<const double> point, double scale);

// 100/n * sum 2|point - actual| / (|actual| + |point|), in percent (0..200); a
// pair with both zero counts as 0 error. NaN with no pair.
double Smape(std::span<const double> actual, std::span<const double> point);

// sqrt(mean (point - actual)^2); NaN with no pair.
double Rmse(std::span<const double> actual, std::span<const double> point);

// The share (0..1) of actuals with lower <= actual <= upper; NaN with no pair.
double Coverage(std::span<const double> actual, std::span<const double> lower, std::span<const double> upper);

}  // namespace prescale::sim
