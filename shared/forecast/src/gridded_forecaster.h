// GriddedForecaster: the one Forecaster implementation. It owns the pieces
// every model needs: a Regridder (timing, gaps, NaN, counters), the grid
// history (a ring of max_history points), the PointModel and its periodic
// refits, and the IntervalCalibrator; and it guards the answer (finite,
// >= 0, lower <= point <= upper). Not thread-safe; one owner.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "interval_calibrator.h"
#include "point_model.h"
#include "prescale/forecast/forecaster.h"
#include "regridder.h"

namespace prescale::forecast {

struct GridSettings {
  int64_t interp_gap_steps = 60;  // gaps up to this many points interpolated, longer forward-filled
  size_t refit_every_steps = 60;  // refit parameters at most this many points apart
  // Shifts the periodic refits by this many points, so that series created
  // together (an aggregator's start) do not all refit on the same tick.
  size_t refit_offset_steps = 0;
  int horizon_steps = 0;  // the planned horizon (horizon_s) in steps, rounded up: intervals are calibrated there
};

class GriddedForecaster final : public Forecaster {
 public:
  GriddedForecaster(const ForecastOptions& options, const GridSettings& settings, std::string configured_name,
                    std::unique_ptr<PointModel> model);

  void Observe(int64_t timestamp_ms, double value) override {
    regridder_.Add(timestamp_ms, value, [this](int64_t index, double y) { OnGridPoint(index, y); });
  }
  ForecastResult Forecast(std::chrono::milliseconds horizon) const override;
  std::string model() const override;
  size_t size() const override { return count_; }
  void Refit() override;
  void ObserveBatch(std::span<const int64_t> timestamps_ms, std::span<const double> values) override;

 private:
  void OnGridPoint(int64_t index, double y);
  // The point forecast h steps ahead: the model's once fitted, else the last value.
  double PredictSteps(int h) const;
  double Newest() const;  // the newest grid point (count_ > 0)
  // Scores and records the calibrator's forecasts after grid point y.
  void Calibrate(double y);
  // The one-step error spread for intervals with too few online errors.
  double FallbackSigma() const;
  void Clear();
  // The held history, oldest first, in contiguous memory: a copy made for
  // each refit, not kept, as it would double every series' memory.
  std::vector<double> Linearize() const;

  ForecastOptions options_;
  GridSettings settings_;
  std::string configured_name_;
  Regridder regridder_;
  std::unique_ptr<PointModel> model_;
  IntervalCalibrator calibrator_;
  // History ring: ring_[(head_ + i) % capacity] is the i-th oldest of count_.
  std::vector<double> ring_;
  size_t head_ = 0, count_ = 0;
  int64_t last_index_ = 0;  // grid index of the newest point
  bool fitted_ = false;
  size_t since_fit_ = 0, fit_interval_ = 1;
  bool offset_applied_ = false;
  bool batch_ = false;  // inside ObserveBatch: points only join the history
};

}  // namespace prescale::forecast
