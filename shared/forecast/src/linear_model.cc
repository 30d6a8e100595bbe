// Least-squares regression over a sliding window of the newest points: an
// intercept, a slope and optionally Fourier terms for the daily and weekly
// cycle (phases from the absolute grid time, so they follow the clock). The
// normal equations are kept up to date row by row, so Update costs O(p^2) and a
// forecast one small LDLT solve (p <= 24), cached until the next Update.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "backtest.h"
#include "point_model.h"

namespace prescale::forecast {
namespace {

constexpr int kMaxColumns = 24;
using Row = Eigen::Matrix<double, Eigen::Dynamic, 1, 0, kMaxColumns, 1>;
using Gram = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, 0, kMaxColumns, kMaxColumns>;

class LinearRegressionModel final : public PointModel {
 public:
  explicit LinearRegressionModel(const ModelContext& context)
      : context_(context),
        daily_(static_cast<int>(context.Get("fourier_daily", 0))),
        weekly_(static_cast<int>(context.Get("fourier_weekly", 0))),
        columns_(2 + 2 * (daily_ + weekly_)) {}

  std::string name() const override { return "linear"; }
  size_t MinHistory() const override {
    return std::max<size_t>(static_cast<size_t>(columns_) + 1, static_cast<size_t>(context_.Get("window_steps", 3)));
  }
  void Fit(std::span<const double> history, int64_t first_index) override {
    size_t window = static_cast<size_t>(context_.Get("window_steps", 0));
    if (window == 0) window = ChooseWindow(history, first_index);
    window = std::min(window, history.size());
    Start(history, first_index, window);
    LinearRegressionModel probe(context_);
    probe.Start(history.first(window), first_index, window);
    rmse_ = std::sqrt(RollForward(probe, history, window, 1).mse());
  }
  void Update(double y) override {
    ++last_index_;
    AddRow(last_index_, y, 1.0);
    if (count_ == window_)
      AddRow(last_index_ - static_cast<int64_t>(window_), ring_[pos_], -1.0);
    else
      ++count_;
    ring_[pos_] = y;
    if (++pos_ == window_) pos_ = 0;
    solved_ = false;
    if (++since_rebuild_ >= window_) Rebuild();
  }
  double Predict(int h) const override {
    if (!solved_) Solve();
    if (columns_ == 2) {
      return coef_(0) + coef_(1) * static_cast<double>(last_index_ + h - ref_index_) / static_cast<double>(window_);
    }
    Row x(columns_);
    Features(last_index_ + h, &x);
    return x.dot(coef_);
  }
  double FitRmse() const override { return rmse_; }

 private:
  // Row of the design matrix at grid index t. The slope's time is relative to
  // the last Fit and scaled by the window, which keeps the Gram matrix well
  // conditioned as time runs on.
  void Features(int64_t t, Row* x) const {
    (*x)(0) = 1.0;
    (*x)(1) = static_cast<double>(t - ref_index_) / static_cast<double>(window_);
    int col = 2;
    const double seconds = static_cast<double>(t) * context_.step_s;
    auto add_cycle = [&](int harmonics, double period_s) {
      if (harmonics == 0) return;
      const double phase = 2 * std::numbers::pi * std::fmod(seconds, period_s) / period_s;
      for (int k = 1; k <= harmonics; ++k) (*x)(col++) = std::sin(k * phase), (*x)(col++) = std::cos(k * phase);
    };
    add_cycle(daily_, 86400.0);
    add_cycle(weekly_, 7 * 86400.0);
  }
  void AddRow(int64_t t, double y, double sign) {
    if (columns_ == 2) {
      // The plain line (the common case, and auto's backtests run it at every
      // origin): scalar updates, without Eigen's dynamic-size loops.
      const double x1 = static_cast<double>(t - ref_index_) / static_cast<double>(window_);
      gram_(0, 0) += sign, gram_(0, 1) += sign * x1, gram_(1, 1) += sign * x1 * x1;
      gram_(1, 0) = gram_(0, 1);
      moment_(0) += sign * y, moment_(1) += sign * y * x1;
      return;
    }
    Row x(columns_);
    Features(t, &x);
    gram_.noalias() += sign * x * x.transpose();
    moment_.noalias() += sign * y * x;
  }
  // Once per lap of the window the sums are recomputed from its values, with
  // time measured from now: subtracting old rows would otherwise let rounding
  // creep in, and a growing time offset would worsen the conditioning.
  void Rebuild() {
    since_rebuild_ = 0;
    ref_index_ = last_index_ + 1;
    gram_ = Gram::Zero(columns_, columns_);
    moment_ = Row::Zero(columns_);
    const size_t oldest = count_ == window_ ? pos_ : 0;
    for (size_t i = 0; i < count_; ++i) {
      AddRow(last_index_ - static_cast<int64_t>(count_ - 1 - i), ring_[(oldest + i) % window_], 1.0);
    }
  }
  void Start(std::span<const double> y, int64_t first_index, size_t window) {
    window_ = window;
    ref_index_ = first_index + static_cast<int64_t>(y.size());
    last_index_ = first_index + static_cast<int64_t>(y.size() - window) - 1;
    gram_ = Gram::Zero(columns_, columns_);
    moment_ = Row::Zero(columns_);
    ring_.assign(window, 0.0);
    pos_ = 0, count_ = 0, since_rebuild_ = 0;
    for (size_t t = y.size() - window; t < y.size(); ++t) Update(y[t]);
    Rebuild();
  }
  void Solve() const {
    // A tiny ridge keeps a rank-deficient window (e.g. shorter than a Fourier
    // period) solvable without moving a well-posed answer.
    const double ridge = 1e-10 * (gram_.trace() / columns_ + 1e-300);
    if (columns_ == 2) {
      const double a = gram_(0, 0) + ridge, b = gram_(0, 1), d = gram_(1, 1) + ridge;
      const double det = a * d - b * b;
      coef_ = Row::Zero(2);
      if (det != 0)
        coef_(0) = (d * moment_(0) - b * moment_(1)) / det, coef_(1) = (a * moment_(1) - b * moment_(0)) / det;
      solved_ = true;
      return;
    }
    Gram g = gram_;
    g.diagonal().array() += ridge;
    coef_ = g.ldlt().solve(moment_);
    if (!coef_.allFinite()) coef_ = Row::Zero(columns_);
    solved_ = true;
  }
  // The window with the least squared error at the horizon being planned for
  // (one step unless "horizon_s" says otherwise), from a doubling ladder;
  // with Fourier terms the whole history, which the cycles need.
  size_t ChooseWindow(std::span<const double> y, int64_t first_index) const {
    if (daily_ + weekly_ > 0) return y.size();
    const int h = std::max(1, static_cast<int>(std::ceil(context_.Get("horizon_s", 0) / context_.step_s)));
    size_t best = std::min<size_t>(y.size(), 8);
    double best_mse = -1;
    for (size_t w = 4; w <= y.size() / 2; w *= 2) {
      const size_t from = y.size() / 2 - w;
      LinearRegressionModel probe(context_);
      probe.Start(y.subspan(from, w), first_index + static_cast<int64_t>(from), w);
      const double mse = RollForward(probe, y.subspan(from), w, h).mse();
      if (best_mse < 0 || mse < best_mse) best = w, best_mse = mse;
    }
    return best;
  }

  ModelContext context_;
  int daily_, weekly_, columns_;
  size_t window_ = 1, pos_ = 0, count_ = 0, since_rebuild_ = 0;
  int64_t ref_index_ = 0, last_index_ = 0;
  std::vector<double> ring_;  // the window's values; ring_[pos_] is the oldest once full
  Gram gram_;
  Row moment_;
  mutable Row coef_;
  mutable bool solved_ = false;
  double rmse_ = 0;
};

}  // namespace

std::unique_ptr<PointModel> MakeLinearModel(const ModelContext& c) {
  return std::make_unique<LinearRegressionModel>(c);
}

}  // namespace prescale::forecast
