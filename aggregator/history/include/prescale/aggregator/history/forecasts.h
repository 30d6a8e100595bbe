// ForecastEngine: one Forecaster per demand series (tenant, service,
// resource), fed the 1-minute averages of the demand rollups as minutes
// become final, asked at each tick for the configured horizons, and scored
// online: each forecast is kept until the minute it is for is final, and its
// absolute error feeds the series' MASE at that horizon (errors divided by
// the mean absolute change from one minute to the next; both are
// exponentially weighted with a half-life of one day, so the score follows
// the model's recent record). A new series is first fed the history already
// held (a snapshot or a backfill), within a time budget per tick so that a
// restart with many series spreads the replay over a few ticks. Tick() runs
// on one thread (the main loop);
// readers (the API, /metrics) may call the const methods concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "prescale/aggregator/history/demand.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

struct ForecastSettings {
  // A model name of shared/forecast ("auto" picks one per series by backtest).
  std::string model = "auto";
  std::map<std::string, double> params;
  // The horizons forecast at every tick (until policies name theirs).
  std::vector<std::chrono::milliseconds> horizons = {std::chrono::minutes(5), std::chrono::minutes(15),
                                                     std::chrono::hours(1)};
  // The horizon "auto" selects its model for.
  std::chrono::milliseconds select_horizon = std::chrono::minutes(15);
  double coverage = 0.9;
};

struct HorizonForecast {
  std::chrono::milliseconds horizon{0};
  int64_t target_ms = 0;  // the start of the minute forecast
  double point = 0;
  double lower = 0;
  double upper = 0;
  double mase = -1;  // -1 until a forecast at this horizon has matured
  uint64_t matured = 0;
};

struct SeriesForecast {
  DemandKey key;
  std::string model;
  int64_t last_observed_ms = 0;  // the newest minute fed
  size_t points = 0;             // minutes held by the forecaster
  std::vector<HorizonForecast> horizons;
};

class ForecastEngine {
 public:
  ForecastEngine(ForecastSettings settings, const DemandRollups& demand, const Clock& clock);
  ~ForecastEngine();
  ForecastEngine(const ForecastEngine&) = delete;
  ForecastEngine& operator=(const ForecastEngine&) = delete;

  // Checks that the settings make a forecaster (InvalidArgument naming the
  // model or parameter otherwise).
  static Status Validate(const ForecastSettings& settings);

  // Feeds the minutes that became final since the last tick, scores matured
  // forecasts and forecasts every series at every horizon. Returns the series count.
  size_t Tick();

  // The latest forecasts, filtered as DemandRollups::Keys filters, sorted.
  std::vector<SeriesForecast> Latest(const DemandKey& filter) const;
  // Every series' latest forecasts, shared (no copy): the tick replaces the whole set.
  std::shared_ptr<const std::vector<SeriesForecast>> LatestAll() const;
  // prescale_forecast, prescale_forecast_model_info, prescale_forecast_mase in the text format.
  void AppendMetrics(std::string* out) const;
  const ForecastSettings& settings() const { return settings_; }

 private:
  struct Series;
  void Observe(Series& s, const DemandPoint& point);

  ForecastSettings settings_;
  const DemandRollups& demand_;
  const Clock& clock_;
  std::map<DemandKey, std::unique_ptr<Series>> series_;  // owned by Tick's thread
  mutable std::mutex mu_;                                // guards latest_
  std::shared_ptr<const std::vector<SeriesForecast>> latest_ = std::make_shared<std::vector<SeriesForecast>>();
};

}  // namespace prescale::aggregator
