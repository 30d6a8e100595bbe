// "auto": picks, per series, the candidate with the lowest MASE at the horizon
// being planned for, from a rolling-origin backtest on the series' recent
// history, and forwards to it. The choice is re-examined every
// reselect_every_steps points and changes only when the challenger beats the
// incumbent by the hysteresis margin, so it does not flap on noise.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backtest.h"
#include "point_model.h"

namespace prescale::forecast {
namespace {

// Fewer points than this and a backtest says nothing: the naive model answers.
constexpr size_t kMinBacktestHistory = 30;

// A candidate: a model, optionally with one parameter set (a variant).
struct Candidate {
  const char* name;
  const char* param = nullptr;
  double value = 0;
};
static constexpr Candidate kCandidates[] = {
    {"naive"},        {"seasonal_naive"},           {"sma"}, {"ewma"}, {"linear"}, {"holt"}, {"holt", "damped", 1},
    {"holt_winters"}, {"holt_winters", "damped", 1}};

class SelectingModel final : public PointModel {
 public:
  explicit SelectingModel(const ModelContext& context)
      : context_(context),
        horizon_steps_(std::max(1, static_cast<int>(std::ceil(context.Get("horizon_s", 900) / context.step_s)))),
        reselect_every_(static_cast<size_t>(context.Get("reselect_every_steps", 360))),
        hysteresis_(context.Get("hysteresis", 0.1)) {
    chosen_ = MakePointModel("naive", context_);
  }

  std::string name() const override { return chosen_->name(); }
  size_t MinHistory() const override { return 1; }
  void Fit(std::span<const double> history, int64_t first_index) override {
    if (history.size() >= kMinBacktestHistory && (!selected_ || since_select_ >= reselect_every_)) {
      Select(history, first_index);
      since_select_ = 0;
      selected_ = true;
    }
    if (history.size() < chosen_->MinHistory()) chosen_index_ = 0, chosen_ = MakeCandidate(0);
    chosen_->Fit(history, first_index);
  }
  void Update(double y) override {
    ++since_select_;
    chosen_->Update(y);
  }
  double Predict(int h) const override { return chosen_->Predict(h); }
  double FitRmse() const override { return chosen_->FitRmse(); }

 private:
  std::unique_ptr<PointModel> MakeCandidate(size_t i) const {
    ModelContext context = context_;
    if (kCandidates[i].param != nullptr) context.params[kCandidates[i].param] = kCandidates[i].value;
    return MakePointModel(kCandidates[i].name, context);
  }

  // The newest part of the history is the test period: half of it, at most
  // three days of points (more origins make the choice less of a coin toss
  // at long horizons, whose errors are strongly correlated), at least the
  // horizon plus a few origins.
  void Select(std::span<const double> y, int64_t first_index) {
    const size_t day = static_cast<size_t>(std::lround(86400.0 / context_.step_s));
    const size_t test =
        std::clamp<size_t>(y.size() / 2, static_cast<size_t>(horizon_steps_) + 5, std::max(3 * day, 30UL));
    if (test >= y.size()) return;
    const size_t train = y.size() - test;
    const double scale = NaiveScale(y.first(train), horizon_steps_);
    size_t best = chosen_index_;
    double best_mase = std::numeric_limits<double>::infinity(), current_mase = best_mase;
    for (size_t i = 0; i < std::size(kCandidates); ++i) {
      std::unique_ptr<PointModel> candidate = MakeCandidate(i);
      if (train < candidate->MinHistory()) continue;
      candidate->Fit(y.first(train), first_index);
      const BacktestErrors errors = RollForward(*candidate, y, train, horizon_steps_);
      if (errors.count == 0) continue;
      // A flat training period has no naive error to scale by; the raw error still ranks.
      const double mase = errors.mae() / (scale > 0 ? scale : 1.0);
      if (mase < best_mase) best_mase = mase, best = i;
      if (i == chosen_index_) current_mase = mase;
    }
    if (best == chosen_index_) return;
    if (selected_ && !(best_mase < (1.0 - hysteresis_) * current_mase)) return;
    chosen_index_ = best;
    chosen_ = MakeCandidate(best);
  }

  ModelContext context_;
  int horizon_steps_;
  size_t reselect_every_;
  double hysteresis_;
  std::unique_ptr<PointModel> chosen_;
  size_t chosen_index_ = 0;  // into kCandidates; 0 is naive
  bool selected_ = false;
  size_t since_select_ = 0;
};

}  // namespace

std::unique_ptr<PointModel> MakeAutoModel(const ModelContext& c) { return std::make_unique<SelectingModel>(c); }

}  // namespace prescale::forecast
