// Exponential smoothing in one class, configured three ways: "ewma" (level),
// "holt" (level + trend, optionally damped) and "holt_winters" (level + trend +
// additive or multiplicative season). Parameters not fixed by the context are
// fitted by minimising the one-step squared error (plus, when the context
// gives horizon_s, the squared error at that horizon); Update is O(1).
// Not thread-safe; one owner.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "point_model.h"

namespace prescale::forecast {

class ExponentialSmoothingModel final : public PointModel {
 public:
  enum class Kind { kEwma, kHolt, kHoltWinters };
  ExponentialSmoothingModel(Kind kind, const ModelContext& context);

  std::string name() const override;
  size_t MinHistory() const override;
  void Fit(std::span<const double> history, int64_t first_index) override;
  void Update(double y) override { Step(params_, state_, y); }
  double Predict(int h) const override {
    if (h >= 1 && static_cast<size_t>(h) <= damped_steps_.size())
      return Extend(params_, state_, damped_steps_[h - 1], h);
    return PredictFrom(params_, state_, h);
  }
  // As Predict for each horizon, in one virtual call.
  void PredictMany(std::span<const int> h, std::span<double> out) const override;
  double FitRmse() const override { return fit_rmse_; }

  // The season length in grid steps the last Fit used (0: none).
  size_t season_steps() const { return state_.season.size(); }

 private:
  struct Params {
    double alpha = 0.5, beta = 0.1, gamma = 0.1, phi = 1.0;
    bool multiplicative = false;
  };
  struct State {
    double level = 0, trend = 0;
    std::vector<double> season;  // indexed by pos: season[pos] is for the next point
    size_t pos = 0;
  };
  struct StepResult {
    double predicted;  // the one-step forecast made before seeing y
  };

  static StepResult Step(const Params& p, State& s, double y);
  static double PredictFrom(const Params& p, const State& s, int h);
  // The forecast h steps ahead with the trend counted trend_steps times.
  static double Extend(const Params& p, const State& s, double trend_steps, int h);
  // Fills damped_steps_ for the current phi.
  void TabulateDamping();
  // The state after the first points of y; *start is the first index still to run.
  bool Init(std::span<const double> y, size_t season, bool multiplicative, State* s, size_t* start) const;
  // Sum of squared one-step errors over y from the initial state; +inf when it cannot start.
  double Sse(std::span<const double> y, const Params& p, const State& init, size_t start) const;
  size_t ChooseSeason(std::span<const double> y) const;
  void FitParams(std::span<const double> y, const State& init, size_t start);

  Kind kind_;
  ModelContext context_;
  int horizon_steps_;  // the horizon fitted for besides one step (1: one-step error only)
  Params params_;
  State state_;
  bool want_multiplicative_ = false;  // as configured; params_ holds what the data allows
  double fit_rmse_ = 0;
  // With a damped trend: phi + ... + phi^h for h = 1..kTabulated, as pow()
  // costs more than the rest of a forecast (auto asks ~10 per point).
  std::vector<double> damped_steps_;
};

}  // namespace prescale::forecast
