// Rolling-origin evaluation of forecasters on one regular series: every model
// observes the series point by point, as it would arrive in production; at
// each origin (a grid point with a value, past the warm-up) every model
// forecasts `horizon` ahead, and the forecast is scored against the actual
// grid value at origin + horizon. Single-threaded; the caller owns the models.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/forecast/forecaster.h"
#include "prescale/sim/grid.h"

namespace prescale::sim {

struct EvalOptions {
  std::chrono::milliseconds horizon{900'000};  // a multiple of the grid step
  std::vector<std::string> models;
  // No forecast is scored before this much history (models need some to fit).
  std::chrono::milliseconds warmup{86'400'000};
  // At most this many origins, spread evenly over the eligible ones; 0 = every one.
  size_t max_origins = 0;
  // Only origins in [score_from, score_until) of the series' span are scored,
  // as fractions of its grid points: with n points, origin k and its target
  // k + h must satisfy floor(score_from * n) <= k and k + h < floor(score_until * n)
  // (n when score_until is 1). So the first half (0, 0.5) never scores an actual of
  // the second half (0.5, 1), and settings tuned on the first stay honest on the second.
  double score_from = 0;
  double score_until = 1;
};

// One scored forecast.
struct ForecastRecord {
  int64_t origin_ms = 0;
  int64_t target_ms = 0;
  double actual = 0;
  size_t model = 0;  // index into EvalOptions::models
  double point = 0;
  double lower = 0;
  double upper = 0;
};

struct ModelScore {
  std::string model;
  std::string answering;  // model() after the last forecast (what "auto" chose)
  size_t forecasts = 0;
  double mae = 0;  // in the series' unit
  double mase = 0;
  double smape = 0;
  double rmse = 0;
  double coverage = 0;
  bool has_interval = false;  // some forecast had lower < upper
  double fit_seconds = 0;     // wall time inside Observe() and Forecast()
};

struct EvalResult {
  double naive_scale = 0;  // the MASE denominator of this series
  size_t origins = 0;
  std::vector<ModelScore> scores;  // in EvalOptions::models order
  std::vector<ForecastRecord> records;
};

// Builds a fresh forecaster for a model name; an error names the model.
using ModelFactory = std::function<Result<std::unique_ptr<forecast::Forecaster>>(const std::string& model)>;
// Called now and then with grid points done and total.
using ProgressFn = std::function<void(size_t done, size_t total)>;

// InvalidArgument when the horizon is not a positive multiple of the step, no
// model is given, the score window is not 0 <= score_from < score_until <= 1, a model cannot be built, or no origin has
// an actual.
Result<EvalResult> Evaluate(const GridSeries& series, const EvalOptions& options, const ModelFactory& factory,
                            const ProgressFn& progress = nullptr);

}  // namespace prescale::sim
