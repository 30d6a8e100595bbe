// "auto": picks, per series, what forecast it best at the horizon being
// planned for in a rolling-origin backtest on the series' recent history: one
// candidate model, or the mean of the best three (forecast combination, which
// often beats every member where no single model fits well, e.g. an hour out).
// The choice is re-examined every reselect_every_steps points and changes only
// when the challenger beats the incumbent by the hysteresis margin, so it does
// not flap on noise.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "backtest.h"
#include "point_model.h"

namespace prescale::forecast {
namespace {

// Fewer points than this and a backtest says nothing: the naive model answers.
constexpr size_t kMinBacktestHistory = 30;
// Backtests are re-run every 6 hours of data by default.
constexpr double kDefaultReselectS = 6 * 3600;
// How many of the best candidates a combination averages.
constexpr size_t kCombined = 3;

// A candidate: a model, optionally with one parameter set (a variant).
struct Candidate {
  const char* name;
  const char* param = nullptr;
  double value = 0;
};
constexpr Candidate kCandidates[] = {
    {"naive"},        {"seasonal_naive"},           {"sma"}, {"ewma"}, {"linear"}, {"holt"}, {"holt", "damped", 1},
    {"holt_winters"}, {"holt_winters", "damped", 1}};
constexpr size_t kNaive = 0;

// What one backtest found: each candidate's forecasts over the test period
// (empty when it could not run) and the scale that turns errors into MASE.
struct Backtest {
  std::span<const double> actual;  // the test period
  std::vector<std::vector<double>> forecasts;
  double scale = 1;

  // The MASE of the mean of `members`' forecasts; +inf when one did not run.
  double Mase(const std::vector<size_t>& members) const {
    double sum = 0;
    size_t count = 0;
    for (size_t t = 0; t < actual.size(); ++t) {
      double mean = 0;
      for (size_t m : members) {
        if (forecasts[m].empty()) return std::numeric_limits<double>::infinity();
        mean += forecasts[m][t] / static_cast<double>(members.size());
      }
      if (std::isnan(mean)) continue;
      sum += std::fabs(actual[t] - mean), ++count;
    }
    return count ? sum / static_cast<double>(count) / scale : std::numeric_limits<double>::infinity();
  }
};

class SelectingModel final : public PointModel {
 public:
  explicit SelectingModel(const ModelContext& context)
      : context_(context),
        horizon_steps_(std::max(1, static_cast<int>(std::ceil(context.Get("horizon_s", 900) / context.step_s)))),
        reselect_every_(static_cast<size_t>(
            context.Get("reselect_every_steps", std::max(1.0, std::round(kDefaultReselectS / context.step_s))))),
        hysteresis_(context.Get("hysteresis", 0.1)) {
    Choose({kNaive});
  }

  // The model's name, or the members' joined by "+" for a combination.
  std::string name() const override {
    std::string out;
    for (const auto& m : models_) out += (out.empty() ? "" : "+") + m->name();
    return out;
  }
  size_t MinHistory() const override { return 1; }
  void Fit(std::span<const double> history, int64_t first_index) override {
    // Young series are re-examined as their history doubles: models that need
    // days of data (a daily season) become eligible only then.
    const bool due = !selected_ || since_select_ >= std::min(reselect_every_, selected_at_size_);
    if (history.size() >= kMinBacktestHistory && due) {
      Select(history, first_index);
      since_select_ = 0;
      selected_at_size_ = history.size();
      selected_ = true;
    }
    // A member that cannot fit this history (e.g. after it started over): naive until the next backtest.
    const bool fits =
        std::all_of(models_.begin(), models_.end(), [&](const auto& m) { return history.size() >= m->MinHistory(); });
    if (!fits) Choose({kNaive});
    for (const auto& m : models_) m->Fit(history, first_index);
  }
  void Update(double y) override {
    ++since_select_;
    for (const auto& m : models_) m->Update(y);
  }
  double Predict(int h) const override {
    double sum = 0;
    for (const auto& m : models_) sum += m->Predict(h);
    return sum / static_cast<double>(models_.size());
  }
  double FitRmse() const override {
    double sum = 0;
    for (const auto& m : models_) sum += m->FitRmse();
    return sum / static_cast<double>(models_.size());
  }

 private:
  std::unique_ptr<PointModel> MakeCandidate(size_t i) const {
    ModelContext context = context_;
    if (kCandidates[i].param != nullptr) context.params[kCandidates[i].param] = kCandidates[i].value;
    return MakePointModel(kCandidates[i].name, context);
  }
  void Choose(std::vector<size_t> members) {
    chosen_ = std::move(members);
    models_.clear();
    for (size_t i : chosen_) models_.push_back(MakeCandidate(i));
  }

  // The newest part of the history is the test period: a third of it (the
  // rest must hold two seasons for the seasonal models to take part), at
  // most three days of points (more origins make the choice less of a coin
  // toss at long horizons, whose errors are strongly correlated), at least
  // the horizon plus a few origins. Each candidate is fitted on the rest.
  Backtest Run(std::span<const double> y, int64_t first_index) const {
    const size_t day = static_cast<size_t>(std::lround(86400.0 / context_.step_s));
    const size_t test =
        std::clamp<size_t>(y.size() / 3, static_cast<size_t>(horizon_steps_) + 5, std::max(3 * day, 30UL));
    Backtest b;
    b.forecasts.resize(std::size(kCandidates));
    if (test >= y.size()) return b;
    const size_t train = y.size() - test;
    b.actual = y.subspan(train);
    // A flat training period has no naive error to scale by; the raw error still ranks.
    const double scale = NaiveScale(y.first(train), horizon_steps_);
    b.scale = scale > 0 ? scale : 1.0;
    for (size_t i = 0; i < std::size(kCandidates); ++i) {
      std::unique_ptr<PointModel> candidate = MakeCandidate(i);
      if (train < candidate->MinHistory()) continue;
      candidate->Fit(y.first(train), first_index);
      RollForward(*candidate, y, train, horizon_steps_, &b.forecasts[i]);
    }
    return b;
  }

  void Select(std::span<const double> y, int64_t first_index) {
    const Backtest b = Run(y, first_index);
    if (b.actual.empty()) return;
    std::vector<double> mase(std::size(kCandidates));
    for (size_t i = 0; i < mase.size(); ++i) mase[i] = b.Mase({i});
    std::vector<size_t> order(mase.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t c) { return mase[a] < mase[c]; });
    std::vector<size_t> best = {order[0]};
    double best_mase = mase[order[0]];
    const std::vector<size_t> top(order.begin(), order.begin() + kCombined);
    if (const double combined = b.Mase(top); combined < best_mase) best = top, best_mase = combined;
    if (best == chosen_ || !std::isfinite(best_mase)) return;
    if (selected_ && !(best_mase < (1.0 - hysteresis_) * b.Mase(chosen_))) return;
    Choose(best);
  }

  ModelContext context_;
  int horizon_steps_;
  size_t reselect_every_;
  double hysteresis_;
  std::vector<size_t> chosen_;  // into kCandidates: one, or kCombined averaged
  std::vector<std::unique_ptr<PointModel>> models_;
  bool selected_ = false;
  size_t since_select_ = 0, selected_at_size_ = 0;
};

}  // namespace

std::unique_ptr<PointModel> MakeAutoModel(const ModelContext& c) { return std::make_unique<SelectingModel>(c); }

}  // namespace prescale::forecast
