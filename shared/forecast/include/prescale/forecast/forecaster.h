// Forecaster: a forecasting model of one demand series (strategy). Observe()
// takes samples as they come (any timing: jittered, with gaps, NaN, stale
// markers); implementations regrid them onto a regular step and guard them.
// Forecast() answers a point and a lower/upper bound at the configured
// coverage, never NaN and never negative. A Forecaster is not thread-safe,
// const methods included (Forecast fills caches): one owner (the aggregator's
// decision loop, or prescale-sim) drives it.
// MakeForecaster() builds one from a model name and parameters (the config);
// "auto" runs several models online and answers with the one (or a blend of
// the few) whose recent errors at the planned horizon are lowest.
// The free functions are thread-safe.
//
// Models and their parameters (ModelParams() returns the same, for --help and
// docs; a parameter given in the spec is fixed, one left out is fitted on
// history by minimising the one-step squared error, plus the error at
// horizon_s for the smoothing models, and refitted periodically). Pass the
// horizon you will ask for as horizon_s: auto selects for it.
// Per series costs: Observe ~50 ns (ewma, holt, holt_winters; auto ~3x that:
// seven candidates); a refit every refit_every_steps costs ~0.3-1 ms on 2
// days at 1-minute steps (auto: one candidate's, in turn); memory ~8 bytes x
// (max_history + season steps) + ~8 KB; auto ~62 KB at 2 days of 1-minute
// points with a daily season (goal: 64 KiB).
//   naive           the last value
//   seasonal_naive  the value one season earlier; season_steps | season_s
//                   (default: autocorrelation, a day when close; none: naive)
//   sma             mean of the last window_steps (default: fitted)
//   median          median of the last window_steps (default: fitted on the
//                   absolute error at horizon_s): what minimises MAE on
//                   spiky series, where a mean follows every spike
//   ewma            exponentially weighted mean: alpha
//   linear          least squares over window_steps (default: fitted on the
//                   error at horizon_s), optional fourier_daily/fourier_weekly
//                   harmonics (default 0; then the window is the whole history)
//   holt            level + trend: alpha, beta, damped (0), phi
//   holt_winters    level + trend + season: alpha, beta, gamma, damped (0), phi,
//                   multiplicative (0), season_steps | season_s (default:
//                   autocorrelation; with no season found it runs as holt)
//   theta           SES plus half the least-squares trend, on seasonally
//                   adjusted data when there is a season: alpha,
//                   season_steps | season_s (default: autocorrelation)
//   auto            naive, seasonal_naive, sma, median, holt, damped holt, theta and
//                   damped holt_winters run online, each scored by an
//                   exponentially weighted MAE of its forecasts horizon_s
//                   (900) ahead (half-life error_half_life_s, 86400); the best
//                   answers alone when dominance (0.05) ahead of the next,
//                   else those within dominance of it (at most 3), weighted by
//                   inverse error; naive when the answer's error (a week's
//                   memory) exceeds naive's by naive_margin (0.05). Runs of
//                   zeros up to an hour after a zero-free day are missing
//                   data to all but naive. A backtest at the first fit (30
//                   points; naive below) warms the errors up; after the young
//                   series' refits, every other periodic refit refits one candidate,
//                   in turn
//   every model     refit_every_steps (60), refit_offset_steps (0: set it
//                   from a hash of the series so that series started together
//                   spread their refits), interp_gap_s (3600: longer gaps are
//                   forward-filled), horizon_s (900)
// Grid: point k stands for the samples in ((k-1)*step, k*step] (their mean;
// counters: their per-second rate, resets handled). Intervals are empirical
// quantiles of the model's own online errors at 1, 2, 4, ... 64 steps ahead
// (horizon_s's step count replacing the nearest), widened or narrowed online
// to the coverage achieved; until 30 errors are in, a normal interval 1.5x
// wider than the one-step error spread suggests.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::forecast {

struct ForecastOptions {
  // The regular grid every model works on; samples are regridded onto it.
  std::chrono::milliseconds step{60'000};
  // The share of actuals the [lower, upper] interval should hold.
  double coverage = 0.9;
  // How many grid points a model keeps for fitting and backtests.
  size_t max_history = 2UL * 24 * 60;
  // The input is a counter (monotonic but for resets): the model sees its rate per second.
  bool counter = false;
};

// A model name ("naive", "seasonal_naive", "sma", "ewma", "linear", "holt",
// "holt_winters", "theta", "auto", ...) with its parameters; parameters that are not
// given are fitted on history.
struct ForecastSpec {
  std::string model = "auto";
  std::map<std::string, double> params;
  ForecastOptions options;
};

struct ForecastResult {
  int64_t target_ms = 0;  // the time the forecast is for (last grid point + horizon)
  double point = 0;
  double lower = 0;
  double upper = 0;
};

class Forecaster {
 public:
  Forecaster() = default;
  virtual ~Forecaster() = default;
  Forecaster(const Forecaster&) = delete;
  Forecaster& operator=(const Forecaster&) = delete;

  // Adds one sample (ms since the epoch). Out-of-order and non-finite samples
  // are absorbed (dropped or treated as gaps), never an error.
  virtual void Observe(int64_t timestamp_ms, double value) = 0;
  // The forecast `horizon` after the newest grid point, the horizon rounded up
  // to whole steps (at least one). With no history: all zeros.
  virtual ForecastResult Forecast(std::chrono::milliseconds horizon) const = 0;
  // The model answering now (for "auto": the chosen one, e.g. "holt_winters",
  // or a combination's members joined by '+', e.g. "holt_winters+sma+naive").
  virtual std::string model() const = 0;
  // Grid points held.
  virtual size_t size() const = 0;
  // Refits the parameters (and for "auto" re-selects at the next periodic
  // check) on the held history now; this also happens on its own, every
  // refit_every_steps points. For tests and for a caller that has just
  // replayed a stored history.
  virtual void Refit() {}
  // Feeds a stored history at once (timestamps and values pairwise; the
  // shorter span bounds it): as Observe on each sample, but the model is
  // fitted once at the end instead of at every periodic refit on the way, and
  // the intervals are calibrated on its forecasts over the newer half. For a
  // restart replaying days of history per series: ~2 fits instead of ~50.
  virtual void ObserveBatch(std::span<const int64_t> timestamps_ms, std::span<const double> values) {
    for (size_t i = 0; i < timestamps_ms.size() && i < values.size(); ++i) Observe(timestamps_ms[i], values[i]);
    Refit();
  }
};

// One parameter a model accepts: its name, its default ("fitted", "detected"
// or a number) and what it does.
struct ModelParam {
  std::string name;
  std::string default_value;
  std::string description;
};

// The model names MakeForecaster accepts, "auto" included.
std::vector<std::string> ModelNames();

// The parameters `model` accepts (its own, then those every model accepts);
// empty for an unknown model.
std::vector<ModelParam> ModelParams(std::string_view model);

// InvalidArgument naming the model or parameter when the spec is wrong, e.g.
// "holt: alpha must be in (0,1), got 1.5".
Result<std::unique_ptr<Forecaster>> MakeForecaster(const ForecastSpec& spec);

}  // namespace prescale::forecast
