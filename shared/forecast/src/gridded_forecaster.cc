#include "gridded_forecaster.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace prescale::forecast {

GriddedForecaster::GriddedForecaster(const ForecastOptions& options, const GridSettings& settings,
                                     std::string configured_name, std::unique_ptr<PointModel> model)
    : options_(options),
      settings_(settings),
      configured_name_(std::move(configured_name)),
      // A gap longer than the history is not worth filling: nothing from before it would remain.
      regridder_(options.step.count(), options.counter, settings.interp_gap_steps,
                 static_cast<int64_t>(options.max_history)),
      model_(std::move(model)),
      calibrator_(options.coverage, settings.horizon_steps),
      ring_(options.max_history, 0.0) {}

std::string GriddedForecaster::model() const { return configured_name_ == "auto" ? model_->name() : configured_name_; }

void GriddedForecaster::Clear() {
  head_ = 0, count_ = 0;
  fitted_ = false, since_fit_ = 0, fit_interval_ = 1, offset_applied_ = false;
  calibrator_.Reset();
}

void GriddedForecaster::OnGridPoint(int64_t index, double y) {
  if (count_ > 0 && index != last_index_ + 1) Clear();  // a gap past max_history: start over
  if (count_ < ring_.size()) {
    ring_[(head_ + count_++) % ring_.size()] = y;
  } else {
    ring_[head_] = y;
    if (++head_ == ring_.size()) head_ = 0;
  }
  last_index_ = index;
  if (batch_) return;
  if (fitted_) model_->Update(y);
  ++since_fit_;
  if (fitted_ ? since_fit_ >= fit_interval_ : count_ >= model_->MinHistory()) Refit();
  Calibrate(y);
}

void GriddedForecaster::Calibrate(double y) {
  // Every bucket's forecast in one call to the model (auto combines several
  // members at each): the same values as PredictSteps gives one by one.
  std::array<double, IntervalCalibrator::kBuckets> predictions;
  const double newest = Newest();
  if (fitted_) {
    model_->PredictMany(calibrator_.horizons(), predictions);
    for (double& p : predictions) p = std::isfinite(p) ? p : newest;
  } else {
    predictions.fill(newest);
  }
  calibrator_.Observe(y, predictions);
}

void GriddedForecaster::Refit() {
  if (count_ == 0 || count_ < model_->MinHistory()) return;
  model_->Fit(Linearize(), last_index_ - static_cast<int64_t>(count_) + 1);
  fitted_ = true;
  since_fit_ = 0;
  // Young series refit as their history doubles, then every refit_every_steps
  // (the first such interval shortened by refit_offset_steps).
  const size_t every = std::max<size_t>(1, settings_.refit_every_steps);
  fit_interval_ = std::clamp<size_t>(count_, 1, every);
  if (fit_interval_ == every && !offset_applied_) {
    fit_interval_ = every - settings_.refit_offset_steps % every;
    offset_applied_ = true;
  }
}

void GriddedForecaster::ObserveBatch(std::span<const int64_t> timestamps_ms, std::span<const double> values) {
  batch_ = true;
  for (size_t i = 0; i < timestamps_ms.size() && i < values.size(); ++i) Observe(timestamps_ms[i], values[i]);
  batch_ = false;
  // The model fitted on the older half forecasts the newer half point by
  // point, which gives the intervals the errors an online run would have;
  // then one fit on all of it.
  const std::vector<double> y = Linearize();
  const size_t half = y.size() / 2;
  const int64_t first_index = last_index_ - static_cast<int64_t>(count_) + 1;
  calibrator_.Reset();
  if (half > 0 && half >= model_->MinHistory()) {
    model_->Fit(std::span<const double>(y).first(half), first_index);
    fitted_ = true;
    for (size_t t = half; t < y.size(); ++t) {
      model_->Update(y[t]);
      Calibrate(y[t]);
    }
  }
  fitted_ = false;
  since_fit_ = 0, fit_interval_ = 1, offset_applied_ = false;
  Refit();
}

std::vector<double> GriddedForecaster::Linearize() const {
  std::vector<double> out(count_);
  for (size_t i = 0; i < count_; ++i) out[i] = ring_[(head_ + i) % ring_.size()];
  return out;
}

double GriddedForecaster::Newest() const {
  size_t at = head_ + count_ - 1;  // head_ < size and count_ <= size: at most one lap on (no division per point)
  if (at >= ring_.size()) at -= ring_.size();
  return ring_[at];
}

double GriddedForecaster::PredictSteps(int h) const {
  const double newest = Newest();
  if (!fitted_) return newest;
  const double p = model_->Predict(h);
  return std::isfinite(p) ? p : newest;
}

double GriddedForecaster::FallbackSigma() const {
  if (fitted_ && model_->FitRmse() > 0 && std::isfinite(model_->FitRmse())) return model_->FitRmse();
  const std::vector<double> y = Linearize();
  double sq = 0;
  for (size_t t = 1; t < y.size(); ++t) sq += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
  if (y.size() > 1 && std::isfinite(sq)) return std::sqrt(sq / static_cast<double>(y.size() - 1));
  // One point: nothing to go by but its size.
  return y.empty() ? 0.0 : std::fabs(y.back()) * 0.5;
}

ForecastResult GriddedForecaster::Forecast(std::chrono::milliseconds horizon) const {
  ForecastResult r;
  if (count_ == 0) return r;
  const int64_t step_ms = regridder_.step_ms();
  const int h = static_cast<int>(std::max<int64_t>(1, (horizon.count() + step_ms - 1) / step_ms));
  r.target_ms = (last_index_ + h) * step_ms;
  const double point = PredictSteps(h);
  const auto [lo, hi] = calibrator_.Offsets(h, FallbackSigma());
  // Demand is never negative and never NaN, whatever the arithmetic made of it.
  r.point = std::isfinite(point) ? std::max(0.0, point) : 0.0;
  const double lower = point + lo, upper = point + hi;
  r.lower = std::isfinite(lower) ? std::clamp(lower, 0.0, r.point) : r.point;
  r.upper = std::isfinite(upper) ? std::max(upper, r.point) : r.point;
  return r;
}

}  // namespace prescale::forecast
