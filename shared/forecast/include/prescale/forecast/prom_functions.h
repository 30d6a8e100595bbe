// The two forecasting functions Prometheus 2.42 offers its users, computed the
// way its promql/functions.go computes them, so prescale's evaluation compares
// its models against exactly what an operator gets from a PromQL query:
//   predict_linear(v[range], t)     least-squares line over the range (with
//                                   Kahan-Neumaier sums), evaluated t s ahead
//   holt_winters(v[range], sf, tf)  Holt's double exponential smoothing (later
//                                   renamed double_exponential_smoothing); no
//                                   season, no horizon: the smoothed level
// The free functions are pure and thread-safe. The Forecaster adapters wrap
// them for prescale-sim (one owner, not thread-safe, like every Forecaster).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/forecast/forecaster.h"

namespace prescale::forecast {

// One sample as PromQL sees it inside a range: milliseconds and a float.
struct PromSample {
  int64_t timestamp_ms = 0;
  double value = 0;
};

struct PromLinearFit {
  double slope = 0;      // per second
  double intercept = 0;  // the line's value at intercept_ms
};

// Least squares over `samples` with x = (t - intercept_ms) / 1000. A constant
// series gives slope 0 (NaN, NaN when the constant is infinite). Needs at least one sample.
PromLinearFit PromLinearRegression(std::span<const PromSample> samples, int64_t intercept_ms);

// predict_linear(v[range], horizon_s) evaluated at eval_ms, where `samples` are
// the range's samples (Prometheus 2.x: timestamps in [eval_ms - range, eval_ms]).
// nullopt when there are fewer than two samples (Prometheus returns no series).
std::optional<double> PromPredictLinear(std::span<const PromSample> samples, int64_t eval_ms, double horizon_s);

// holt_winters(v[range], sf, tf): the smoothed level after the last sample.
// nullopt with fewer than two samples, or sf or tf outside (0, 1) (Prometheus
// refuses the query then).
std::optional<double> PromHoltWinters(std::span<const PromSample> samples, double sf, double tf);

// How prescale-sim uses the two functions as forecasters.
struct PromBaselineOptions {
  int64_t range_ms = 3'600'000;  // v[1h]
  double sf = 0.5;               // smoothing factor
  double tf = 0.5;               // trend factor
};

// "prom_predict_linear", "prom_double_exponential_smoothing".
std::vector<std::string> PromBaselineNames();

// A Forecaster answering, at the newest sample's time T, predict_linear(v[range], h)
// or holt_winters(v[range], sf, tf) evaluated at T; target_ms = T + horizon.
// lower == upper == point (no interval), floored at 0 as the Forecaster contract
// demands; with fewer than two samples in the range it answers the newest value
// (and zeros with no history). Non-finite samples are dropped (Prometheus has no
// NaN demand either); samples not newer than the newest are dropped.
// InvalidArgument naming the model or parameter for an unknown name, range <= 0
// or a factor outside (0, 1). spec.params: "range_s", "sf", "tf" override options.
Result<std::unique_ptr<Forecaster>> MakePromBaseline(const ForecastSpec& spec,
                                                     const PromBaselineOptions& defaults = {});

}  // namespace prescale::forecast
