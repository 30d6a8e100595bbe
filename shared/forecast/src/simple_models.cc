// The baseline models: naive (last value), seasonal naive (the value one season
// ago) and the simple moving average. Each keeps a ring of recent values so
// that Update is O(1).
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "backtest.h"
#include "point_model.h"
#include "season.h"

namespace prescale::forecast {
namespace {

// A fixed-size ring of the newest values; ring_[pos_] is the oldest once full.
// T = float halves its memory where values need not be exact (auto's seasonal
// naive candidate: a day at 1-minute steps is 5.6 KiB instead of 11).
template <typename T>
class ValueRing {
 public:
  void Reset(size_t capacity) { values_.assign(capacity, T{0}), pos_ = 0, count_ = 0; }
  // Pushes y; returns the value it displaced (0 while not full).
  double Push(double y) {
    const double old = values_[pos_];
    values_[pos_] = static_cast<T>(y);
    if (++pos_ == values_.size()) pos_ = 0;
    if (count_ < values_.size()) ++count_;
    return count_ == values_.size() ? old : 0.0;
  }
  size_t capacity() const { return values_.size(); }
  size_t count() const { return count_; }
  // The i-th oldest of a full ring.
  double Oldest(size_t i) const { return values_[(pos_ + i) % values_.size()]; }

 private:
  std::vector<T> values_;
  size_t pos_ = 0, count_ = 0;
};

double DiffRmse(std::span<const double> y, size_t lag) {
  if (y.size() <= lag) return 0;
  double sse = 0;
  for (size_t t = lag; t < y.size(); ++t) sse += (y[t] - y[t - lag]) * (y[t] - y[t - lag]);
  return std::sqrt(sse / static_cast<double>(y.size() - lag));
}

class NaiveModel final : public PointModel {
 public:
  std::string name() const override { return "naive"; }
  size_t MinHistory() const override { return 1; }
  void Fit(std::span<const double> history, int64_t) override {
    last_ = history.back();
    rmse_ = DiffRmse(history, 1);
  }
  void Update(double y) override { last_ = y; }
  double Predict(int) const override { return last_; }
  void PredictMany(std::span<const int> h, std::span<double> out) const override {
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(h.size()), last_);
  }
  double FitRmse() const override { return rmse_; }

 private:
  double last_ = 0, rmse_ = 0;
};

template <typename T>
class SeasonalNaiveModel final : public PointModel {
 public:
  explicit SeasonalNaiveModel(ModelContext context) : context_(std::move(context)) {}
  std::string name() const override { return "seasonal_naive"; }
  size_t MinHistory() const override { return std::max<size_t>(1, context_.ConfiguredSeasonSteps()); }
  void Fit(std::span<const double> history, int64_t) override {
    size_t m = context_.ConfiguredSeasonSteps();
    if (m == 0) {
      const size_t week = static_cast<size_t>(std::lround(7 * 86400.0 / context_.step_s));
      m = DetectSeasonSteps(history, context_.step_s, week);
    }
    // Without a season (or history for one) it is the naive model.
    if (m == 0 || m > history.size()) m = 1;
    ring_.Reset(m);
    for (size_t t = history.size() - m; t < history.size(); ++t) ring_.Push(history[t]);
    rmse_ = DiffRmse(history, m);
  }
  void Update(double y) override { ring_.Push(y); }
  double Predict(int h) const override {
    return ring_.count() == 0 ? 0.0 : ring_.Oldest(static_cast<size_t>(h - 1) % ring_.capacity());
  }
  void PredictMany(std::span<const int> h, std::span<double> out) const override {
    for (size_t k = 0; k < h.size(); ++k) out[k] = Predict(h[k]);
  }
  double FitRmse() const override { return rmse_; }

 private:
  ModelContext context_;
  ValueRing<T> ring_;
  double rmse_ = 0;
};

class MovingAverageModel final : public PointModel {
 public:
  explicit MovingAverageModel(const ModelContext& context)
      : context_(context),
        horizon_steps_(std::max(1, static_cast<int>(std::ceil(context.Get("horizon_s", 0) / context.step_s)))) {}
  std::string name() const override { return "sma"; }
  size_t MinHistory() const override {
    return std::max<size_t>(2, static_cast<size_t>(context_.Get("window_steps", 2)));
  }
  void Fit(std::span<const double> history, int64_t) override {
    size_t window = static_cast<size_t>(context_.Get("window_steps", 0));
    if (window == 0) window = ChooseWindow(history);
    window = std::min(window, history.size());
    Start(history, window);
    // The one-step error of this window, in sample.
    MovingAverageModel probe(context_);
    probe.Start(history.first(window), window);
    rmse_ = std::sqrt(RollForward(probe, history, window, 1).mse());
  }
  void Update(double y) override {
    sum_ += y - ring_.Push(y);
    // Recomputing the sum once per lap keeps rounding from drifting.
    if (++since_exact_ == ring_.capacity()) {
      since_exact_ = 0, sum_ = 0;
      for (size_t i = 0; i < ring_.count(); ++i) sum_ += ring_.Oldest(i);
    }
  }
  double Predict(int) const override { return ring_.count() ? sum_ / static_cast<double>(ring_.count()) : 0.0; }
  void PredictMany(std::span<const int> h, std::span<double> out) const override {
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(h.size()), Predict(1));
  }
  double FitRmse() const override { return rmse_; }

 private:
  void Start(std::span<const double> history, size_t window) {
    ring_.Reset(window);
    sum_ = 0, since_exact_ = 0;
    for (size_t t = history.size() - window; t < history.size(); ++t) sum_ += history[t] - ring_.Push(history[t]);
  }
  // The window with the least squared error at the horizon planned for (one
  // step unless horizon_s says otherwise), from a ladder growing by half.
  size_t ChooseWindow(std::span<const double> y) const {
    size_t best = 2;
    double best_mse = -1;
    // max_window_steps: set by auto, whose candidates must stay small.
    const size_t last = std::min(y.size() / 2, static_cast<size_t>(context_.Get("max_window_steps", 1e9)));
    for (size_t w = 2; w <= last; w = w < 4 ? w + 1 : w * 3 / 2) {
      // Every window is scored on the same second half of the history.
      std::span<const double> scored = y.subspan(y.size() / 2 - w);
      MovingAverageModel probe(context_);
      probe.Start(scored.first(w), w);
      const double mse = RollForward(probe, scored, w, horizon_steps_).mse();
      if (best_mse < 0 || mse < best_mse) best = w, best_mse = mse;
    }
    return best;
  }

  ModelContext context_;
  int horizon_steps_;
  ValueRing<double> ring_;
  double sum_ = 0, rmse_ = 0;
  size_t since_exact_ = 0;
};

}  // namespace

std::unique_ptr<PointModel> MakeNaiveModel() { return std::make_unique<NaiveModel>(); }
std::unique_ptr<PointModel> MakeSeasonalNaiveModel(const ModelContext& c) {
  // "compact": set by auto only, for memory (see ValueRing).
  if (c.Get("compact", 0) != 0) return std::make_unique<SeasonalNaiveModel<float>>(c);
  return std::make_unique<SeasonalNaiveModel<double>>(c);
}
std::unique_ptr<PointModel> MakeMovingAverageModel(const ModelContext& c) {
  return std::make_unique<MovingAverageModel>(c);
}

}  // namespace prescale::forecast
