// Forecaster: a forecasting model of one demand series (strategy). Observe()
// takes samples as they come (any timing: jittered, with gaps, NaN, stale
// markers); implementations regrid them onto a regular step and guard them.
// Forecast() answers a point and a lower/upper bound at the configured
// coverage, never NaN and never negative. A Forecaster is not thread-safe:
// one owner (the aggregator's decision loop, or prescale-sim) drives it.
// MakeForecaster() builds one from a model name and parameters (the config);
// "auto" picks, per series, the model with the lowest backtest MASE.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
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
  size_t max_history = 2 * 24 * 60;
  // The input is a counter (monotonic but for resets): the model sees its rate per second.
  bool counter = false;
};

// A model name ("naive", "seasonal_naive", "sma", "ewma", "linear", "holt",
// "holt_winters", "auto", ...) with its parameters; parameters that are not
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
  // The forecast `horizon` after the newest grid point. With no history: all zeros.
  virtual ForecastResult Forecast(std::chrono::milliseconds horizon) const = 0;
  // The model answering now (for "auto": the chosen one, e.g. "holt_winters").
  virtual std::string model() const = 0;
  // Grid points held.
  virtual size_t size() const = 0;
};

// The model names MakeForecaster accepts, "auto" included.
std::vector<std::string> ModelNames();

// InvalidArgument naming the model or parameter when the spec is wrong.
Result<std::unique_ptr<Forecaster>> MakeForecaster(const ForecastSpec& spec);

}  // namespace prescale::forecast
