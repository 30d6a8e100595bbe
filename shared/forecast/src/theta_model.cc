// "theta": the Theta method (Assimakopoulos & Nikolopoulos 2000) in Hyndman &
// Billah's form: simple exponential smoothing with a drift of half the slope
// of the least-squares line through the history, on seasonally adjusted data
// when the series has a season. It won the M3 competition on series much like
// demand: a level that wanders, a mild trend, a daily cycle. The season is
// additive (demand drops to 0, where a multiplicative index is undefined) and
// anchored to the absolute grid index, so Update keeps its phase. Its indices
// are floats: they are estimates to a few digits anyway, and this halves the
// memory of a daily season at 1-minute steps (5.6 KiB instead of 11).
// Not thread-safe; one owner.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "optimizer.h"
#include "point_model.h"
#include "season.h"

namespace prescale::forecast {
namespace {

// alpha is fitted on the newest day of points at most: older data says little
// about today's noise, and each evaluation is a pass over the points.
constexpr size_t kFitPoints = 1440;
constexpr Bounds kAlphaBounds{0.001, 0.999};

class ThetaModel final : public PointModel {
 public:
  explicit ThetaModel(ModelContext context) : context_(std::move(context)) {}

  std::string name() const override { return "theta"; }
  size_t MinHistory() const override { return std::max<size_t>(3, 2 * context_.ConfiguredSeasonSteps()); }
  void Fit(std::span<const double> history, int64_t first_index) override {
    size_t m = context_.ConfiguredSeasonSteps();
    if (m == 0 && !context_.Has("season_steps") && !context_.Has("season_s")) {
      const size_t week = static_cast<size_t>(std::lround(7 * 86400.0 / context_.step_s));
      m = DetectSeasonSteps(history, context_.step_s, week);
    }
    if (m < 2 || history.size() < 2 * m) m = 0;
    season_.assign(m, 0.0f);
    first_index_ = first_index;
    if (m != 0) EstimateSeason(history, first_index);
    std::vector<double> z(history.size());
    for (size_t t = 0; t < z.size(); ++t) z[t] = history[t] - SeasonAt(first_index + static_cast<int64_t>(t));
    slope_ = Slope(z);
    std::span<const double> recent = std::span<const double>(z).last(std::min(z.size(), kFitPoints));
    if (context_.Has("alpha")) {
      alpha_ = context_.Get("alpha", 0.5);
    } else {
      alpha_ =
          Minimize([&](const std::vector<double>& x) { return Sse(recent, x[0], nullptr); }, {kAlphaBounds}, 40)[0];
    }
    const double sse = Sse(z, alpha_, &level_);
    fit_rmse_ = z.size() > 1 ? std::sqrt(sse / static_cast<double>(z.size() - 1)) : 0.0;
    last_index_ = first_index + static_cast<int64_t>(history.size()) - 1;
    phase_ = season_.empty() ? 0 : static_cast<size_t>((last_index_ - first_index_) % static_cast<int64_t>(m));
  }
  void Update(double y) override {
    ++last_index_;
    if (!season_.empty() && ++phase_ == season_.size()) phase_ = 0;
    level_ = alpha_ * (y - (season_.empty() ? 0.0 : season_[phase_])) + (1 - alpha_) * level_;
  }
  double Predict(int h) const override {
    // Hyndman & Billah (2003): the SES forecast plus half the drift, which
    // starts from where SES's level lags a trend (1/alpha steps behind).
    const double drift = 0.5 * slope_ * (static_cast<double>(h) - 1 + 1 / alpha_);
    if (season_.empty()) return level_ + drift;
    // The phase h steps on, without a division (h is rarely over a season).
    size_t p = phase_ + static_cast<size_t>(h);
    while (p >= season_.size()) p -= season_.size();
    return level_ + drift + season_[p];
  }
  // Predict itself, called directly (the class is final): one virtual call for all horizons.
  void PredictMany(std::span<const int> h, std::span<double> out) const override {
    for (size_t k = 0; k < h.size(); ++k) out[k] = Predict(h[k]);
  }
  double FitRmse() const override { return fit_rmse_; }

 private:
  double SeasonAt(int64_t index) const {
    if (season_.empty()) return 0;
    const int64_t m = static_cast<int64_t>(season_.size());
    return season_[static_cast<size_t>(((index - first_index_) % m + m) % m)];
  }
  // Additive indices: the mean by phase of the residuals from the line,
  // centred so that they sum to zero (the level keeps the mean).
  void EstimateSeason(std::span<const double> y, int64_t first_index) {
    const size_t m = season_.size();
    const double b = Slope(y);
    double mean = 0;
    for (double v : y) mean += v / static_cast<double>(y.size());
    const double center = (static_cast<double>(y.size()) - 1) / 2;
    std::vector<double> sum(m, 0.0);
    std::vector<size_t> count(m, 0);
    for (size_t t = 0; t < y.size(); ++t) {
      const double residual = y[t] - mean - b * (static_cast<double>(t) - center);
      sum[t % m] += residual, ++count[t % m];
    }
    double total = 0;
    for (size_t p = 0; p < m; ++p) total += sum[p] / static_cast<double>(count[p]);
    for (size_t p = 0; p < m; ++p) {
      season_[p] = static_cast<float>(sum[p] / static_cast<double>(count[p]) - total / static_cast<double>(m));
    }
    first_index_ = first_index;
  }
  static double Slope(std::span<const double> y) {
    const double n = static_cast<double>(y.size());
    if (y.size() < 2) return 0;
    const double center = (n - 1) / 2;
    double sxy = 0, sxx = 0;
    for (size_t t = 0; t < y.size(); ++t) {
      const double x = static_cast<double>(t) - center;
      sxy += x * y[t], sxx += x * x;
    }
    return sxx > 0 ? sxy / sxx : 0;
  }
  // Sum of squared one-step errors of SES with drift over z; the final level in *level.
  double Sse(std::span<const double> z, double alpha, double* level) const {
    if (z.empty()) return 0;
    double l = z[0], sse = 0;
    const double drift = 0.5 * slope_ * (1 / alpha);
    for (size_t t = 1; t < z.size(); ++t) {
      const double e = z[t] - (l + drift);
      sse += e * e;
      l = alpha * z[t] + (1 - alpha) * l;
    }
    if (level != nullptr) *level = l;
    return sse;
  }

  ModelContext context_;
  std::vector<float> season_;  // season_[(index - first_index_) mod m]
  int64_t first_index_ = 0, last_index_ = 0;
  size_t phase_ = 0;  // the season's phase at last_index_
  double alpha_ = 0.5, slope_ = 0, level_ = 0, fit_rmse_ = 0;
};

}  // namespace

std::unique_ptr<PointModel> MakeThetaModel(const ModelContext& c) { return std::make_unique<ThetaModel>(c); }

}  // namespace prescale::forecast
