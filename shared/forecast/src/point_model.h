// PointModel: the pure forecasting recursion behind every Forecaster, on a
// regular grid of values (no timestamps, no NaN: GriddedForecaster regrids,
// guards and calibrates intervals around it). Not thread-safe; one owner.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace prescale::forecast {

// What a model knows besides the values: the grid step and the parameters the
// spec fixed (those are never fitted).
struct ModelContext {
  double step_s = 60;
  std::map<std::string, double> params;

  bool Has(const std::string& key) const { return params.count(key) != 0; }
  double Get(const std::string& key, double fallback) const {
    auto it = params.find(key);
    return it == params.end() ? fallback : it->second;
  }
  // The season the spec fixed, in grid points (season_steps, or season_s
  // rounded to at least two steps); 0 when it fixes none (then it is detected).
  size_t ConfiguredSeasonSteps() const {
    if (Has("season_steps")) return static_cast<size_t>(Get("season_steps", 0));
    if (Has("season_s")) return static_cast<size_t>(std::max(2L, std::lround(Get("season_s", 0) / step_s)));
    return 0;
  }
};

class PointModel {
 public:
  PointModel() = default;
  virtual ~PointModel() = default;
  PointModel(const PointModel&) = delete;
  PointModel& operator=(const PointModel&) = delete;

  // The model's name as MakeForecaster knows it (for "auto": the chosen one).
  virtual std::string name() const = 0;
  // The fewest grid points Fit can use; with fewer the owner answers naive.
  virtual size_t MinHistory() const = 0;
  // Fits the parameters the context does not fix on `history` (oldest first;
  // history[0] is grid point `first_index`) by minimising one-step squared
  // error, then runs the state over all of it. Afterwards the model stands at
  // the last point of history.
  virtual void Fit(std::span<const double> history, int64_t first_index) = 0;
  // One grid point more, parameters unchanged: Fit(h) then Update(y) gives the
  // same state as a Fit with the same parameters on h followed by y.
  virtual void Update(double y) = 0;
  // The point forecast h >= 1 steps after the last point seen.
  virtual double Predict(int h) const = 0;
  // out[k] = Predict(h[k]) for every k (out as long as h): for callers that
  // ask for several horizons per point (the interval calibrator, auto's
  // members), one virtual call instead of one per horizon. Overrides must
  // give exactly Predict's values.
  virtual void PredictMany(std::span<const int> h, std::span<double> out) const {
    for (size_t k = 0; k < h.size(); ++k) out[k] = Predict(h[k]);
  }
  // In-sample root mean squared one-step error of the last Fit; 0 when exact.
  virtual double FitRmse() const = 0;
};

// The point model for a model name ("naive", ..., "holt_winters", "auto");
// nullptr for an unknown name (MakeForecaster validates names first).
std::unique_ptr<PointModel> MakePointModel(const std::string& name, const ModelContext& context);

}  // namespace prescale::forecast
