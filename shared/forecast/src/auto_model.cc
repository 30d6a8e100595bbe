// "auto": every candidate model runs online, side by side, and each is scored
// on what it forecast horizon_s ago as the actual arrives: an exponentially
// weighted mean absolute error at the planned horizon (half-life
// error_half_life_s). The answer combines the best few by inverse recent
// error, or is the single best when it clearly dominates. A backtest on one
// window picks what fitted that window (and on unseen series that generalised
// worse than a fixed model); recent out-of-sample error at the horizon that
// matters is the quantity we want to be small, and it tracks regime changes.
//
// Guards: the combination is itself scored; when its recent error exceeds
// naive's by more than naive_margin, naive answers (on series where
// structure does not pay, e.g. spikes on a flat floor, the last value beats
// every smoother). Isolated runs of zeros up to an hour long (an outage, a
// scrape gap reported as 0) are treated as missing by every candidate but
// naive: each is fed its own one-step forecast, so a level, trend or season
// is not dragged to 0 by a blip. A longer run is a new level and is fed as is.
//
// A backtest remains for one thing: at the first fit with enough history, the
// candidates are fitted on its older two thirds and rolled over the newer
// third, and their errors warm the weights up, so that a young series answers
// with a fitted choice at once instead of naive for half a day.
//
// Refits: young series refit every candidate as their history doubles; after
// that every other periodic refit refits one candidate in turn, which keeps
// a refit's cost under one model's (the aggregator spreads refits per tick).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backtest.h"
#include "point_model.h"

namespace prescale::forecast {
namespace {

constexpr size_t kMinHistory = 30;         // fewer points: naive answers
constexpr size_t kMaxWarmUpHistory = 240;  // a longer first fit is a replay: no warm-up backtest
constexpr size_t kCombined = 3;            // the most members a combination averages
constexpr size_t kMaxWindowSteps = 240;    // sma's window, bounding its ring's memory
// The guard's memory: a week, as "never worse than naive" is a long-run promise;
// with the ranking's day, spiky series flip the guard on a single spike.
constexpr double kGuardHalfLifeS = 7 * 86400;
// Members are scored on every 2nd point: errors h steps ahead are strongly
// correlated from one point to the next, and forecasting every candidate at
// every point would cost a third of Observe. (Every 4th point was cheaper
// still, but on spiky series too few spikes were scored to rank by.)
constexpr uint64_t kScoreEvery = 2;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Candidate {
  const char* name;
  const char* param = nullptr;
  double value = 0;
};
// The memory goal is 64 KiB a series, ~34 of them the history and the
// intervals: holt_winters runs once (damped; a daily season is 11 KiB at
// 1-minute steps), seasonal_naive keeps floats, and linear (5 KiB of
// fixed-size normal equations) and ewma (theta with no drift) are left out,
// as they were rarely among the best on the development traces.
constexpr Candidate kCandidates[] = {{"naive"},
                                     {"seasonal_naive"},
                                     {"sma"},
                                     {"median"},
                                     {"holt"},
                                     {"theta"},
                                     {"holt", "damped", 1},
                                     {"holt_winters", "damped", 1}};
constexpr size_t kNaive = 0;
constexpr size_t kCount = std::size(kCandidates);

// An exponentially weighted mean of absolute errors, bias-corrected (the
// weights are normalised), so that its first values are plain means.
struct ErrorMean {
  double sum = 0, weight = 0;
  void Add(double abs_error, double decay) { sum = decay * sum + abs_error, weight = decay * weight + 1; }
  bool known() const { return weight > 0; }
  double value() const { return weight > 0 ? sum / weight : std::numeric_limits<double>::infinity(); }
};

// The members that answer and their weights (summing to 1), in a fixed array:
// it is copied at every reweighting, and read for every forecast.
struct Combination {
  size_t size = 0;
  size_t member[kCombined] = {};
  double weight[kCombined] = {};
  void Add(size_t i, double w) { member[size] = i, weight[size] = w, ++size; }
  static Combination Only(size_t i) {
    Combination c;
    c.Add(i, 1.0);
    return c;
  }
};

struct Member {
  std::unique_ptr<PointModel> model;
  std::vector<float> pending;  // pending[t % h]: the forecast made at t - h for t (NaN: none)
  ErrorMean error;
  size_t fitted_at = 0;  // history size at its last fit (0: never fitted)
};

class CombiningModel final : public PointModel {
 public:
  explicit CombiningModel(const ModelContext& context)
      : context_(context),
        h_(std::max(1, static_cast<int>(std::ceil(context.Get("horizon_s", 900) / context.step_s)))),
        decay_(std::exp2(-context.step_s / context.Get("error_half_life_s", 86400))),
        guard_decay_(std::exp2(-context.step_s / kGuardHalfLifeS)),
        naive_margin_(context.Get("naive_margin", 0.05)),
        dominance_(context.Get("dominance", 0.05)),
        max_zero_run_(static_cast<size_t>(std::max(1.0, std::round(3600 / context.step_s)))),
        scored_decay_(std::pow(decay_, kScoreEvery)),
        proposal_pending_(static_cast<size_t>(h_), kNaN) {
    Start();
  }

  std::string name() const override {
    std::string out;
    for (size_t k = 0; k < active_.size; ++k)
      out += (out.empty() ? "" : "+") + members_[active_.member[k]].model->name();
    return out;
  }
  size_t MinHistory() const override { return 1; }
  void Fit(std::span<const double> history, int64_t first_index) override;
  void Update(double y) override;
  double Predict(int h) const override {
    double sum = 0;
    for (size_t k = 0; k < active_.size; ++k) sum += active_.weight[k] * members_[active_.member[k]].model->Predict(h);
    return sum;
  }
  // As Predict for each horizon (the same sums in the same order), with one
  // call per member instead of one per member and horizon.
  void PredictMany(std::span<const int> h, std::span<double> out) const override;
  double FitRmse() const override {
    double sum = 0;
    for (size_t k = 0; k < active_.size; ++k) sum += active_.weight[k] * members_[active_.member[k]].model->FitRmse();
    return sum;
  }

 private:
  bool Ready(size_t i) const { return members_[i].fitted_at != 0; }
  // Fresh candidates and errors: at construction, and when the history
  // started over (a gap longer than it), as then every state is stale.
  void Start();
  std::unique_ptr<PointModel> MakeCandidate(size_t i) const {
    ModelContext c = context_;
    if (kCandidates[i].param != nullptr) c.params[kCandidates[i].param] = kCandidates[i].value;
    c.params.emplace("max_window_steps", static_cast<double>(kMaxWindowSteps));
    c.params.emplace("compact", 1);
    return MakePointModel(kCandidates[i].name, c);
  }
  // Isolated zero runs (no zero in the day before, at most max_zero_run_
  // long) replaced: inside, by the line between their neighbours; at the end
  // of the history, by the last value before them.
  std::vector<double> Clean(std::span<const double> y) const;
  void FitMember(size_t i, std::span<const double> y, int64_t first_index) {
    members_[i].model->Fit(y, first_index);
    members_[i].fitted_at = y.size();
  }
  void WarmUp(std::span<const double> y, int64_t first_index);
  // Chooses proposal_ and active_ from the members' recent errors.
  void Reweight();
  Combination ProposeWeights(std::span<const double> errors) const;
  // Where the newest zero run of the history stands, for the outage rule.
  void TrackZeros(std::span<const double> history);

  ModelContext context_;
  int h_;
  double decay_, guard_decay_, naive_margin_, dominance_;
  size_t max_zero_run_;
  double scored_decay_;  // the decay per scored point
  Member members_[kCount];
  // The combination as proposed (before the naive guard), scored like a member.
  std::vector<double> proposal_pending_;
  // The guard's errors, over a longer memory: "never worse than naive" is a
  // long-run promise, and on spiky series a day holds too few spikes to say.
  ErrorMean proposal_error_, naive_error_;
  Combination active_, proposal_;
  uint64_t t_ = 0;  // points seen through Update
  size_t next_refit_ = 1, steady_fits_ = 0;
  bool warmed_ = false;
  size_t history_size_ = 0;  // at the last Fit
  // Zero-run tracking for the outage rule.
  size_t zero_run_ = 0, since_zero_ = 0;
  bool run_isolated_ = false;
  size_t day_steps_ = 0;
};

std::vector<double> CombiningModel::Clean(std::span<const double> y) const {
  std::vector<double> out(y.begin(), y.end());
  const size_t day = static_cast<size_t>(std::lround(86400.0 / context_.step_s));
  size_t last_zero_end = 0;  // one past the previous zero run
  bool any_zero = false;
  for (size_t t = 0; t < y.size();) {
    if (y[t] != 0) {
      ++t;
      continue;
    }
    size_t end = t;
    while (end < y.size() && y[end] == 0) ++end;
    const bool isolated = t > 0 && (!any_zero || t - last_zero_end > day) && end - t <= max_zero_run_;
    if (isolated) {
      const double before = y[t - 1];
      const double after = end < y.size() ? y[end] : before;
      for (size_t k = t; k < end; ++k) {
        const double f = static_cast<double>(k - t + 1) / static_cast<double>(end - t + 1);
        out[k] = before + f * (after - before);
      }
    }
    any_zero = true, last_zero_end = end, t = end;
  }
  return out;
}

void CombiningModel::Start() {
  for (size_t i = 0; i < kCount; ++i) {
    members_[i].model = MakeCandidate(i);
    members_[i].pending.assign(static_cast<size_t>(h_), std::numeric_limits<float>::quiet_NaN());
    members_[i].error = ErrorMean{};
    members_[i].fitted_at = 0;
  }
  std::fill(proposal_pending_.begin(), proposal_pending_.end(), kNaN);
  proposal_error_ = naive_error_ = ErrorMean{};
  active_ = proposal_ = Combination::Only(kNaive);
  t_ = 0, next_refit_ = 1, steady_fits_ = 0, warmed_ = false;
  zero_run_ = 0, since_zero_ = 0, run_isolated_ = false;
}

void CombiningModel::Fit(std::span<const double> history, int64_t first_index) {
  if (history.size() < history_size_) Start();
  history_size_ = history.size();
  day_steps_ = static_cast<size_t>(std::lround(86400.0 / context_.step_s));
  if (!Ready(kNaive)) FitMember(kNaive, history, first_index);
  if (history.size() < kMinHistory) {
    FitMember(kNaive, history, first_index);
    return;
  }
  const std::vector<double> clean = Clean(history);
  TrackZeros(history);
  // A first fit on a long history is a replay (ObserveBatch), whose newer
  // half is then fed point by point and scored: that warms the errors up on
  // more points than a backtest, which would only double the replay's cost.
  if (!warmed_ && history.size() <= kMaxWarmUpHistory) WarmUp(clean, first_index);
  warmed_ = true;
  // Young series: every member whose history has doubled since its fit (or
  // that could not fit yet); otherwise one member in turn.
  bool any = false;
  for (size_t i = 0; i < kCount; ++i) {
    const bool fits = history.size() >= members_[i].model->MinHistory();
    if (fits && (!Ready(i) || history.size() >= 2 * members_[i].fitted_at)) {
      FitMember(i, i == kNaive ? history : std::span<const double>(clean), first_index), any = true;
    }
  }
  // Steady state: one member on every other periodic refit, so a refit
  // costs about half a model's fit on average. Parameters drift slowly (each
  // member is still refitted every ~14 refit periods), and the online errors
  // keep the weights current in between.
  if (!any && ++steady_fits_ % 2 == 0) {
    for (size_t tries = 0; tries < kCount; ++tries) {
      const size_t i = next_refit_;
      next_refit_ = next_refit_ + 1 == kCount ? 0 : next_refit_ + 1;
      if (Ready(i)) {
        FitMember(i, i == kNaive ? history : std::span<const double>(clean), first_index);
        break;
      }
    }
  }
  Reweight();
}

void CombiningModel::TrackZeros(std::span<const double> y) {
  if (y.empty()) return;
  size_t end = y.size();  // one past the newest zero (0: none)
  while (end > 0 && y[end - 1] != 0) --end;
  if (end < y.size()) {  // the newest point is not a zero: how long since one
    zero_run_ = 0;
    since_zero_ = y.size() - end;
    return;
  }
  size_t start = end;
  while (start > 0 && y[start - 1] == 0) --start;
  zero_run_ = end - start;
  size_t before = start;  // one past the zero before this run (0: none)
  while (before > 0 && y[before - 1] != 0) --before;
  run_isolated_ = start > 0 && (before == 0 || start - before > day_steps_);
  since_zero_ = 0;
}

void CombiningModel::WarmUp(std::span<const double> y, int64_t first_index) {
  const size_t test = std::max<size_t>(y.size() / 3, static_cast<size_t>(h_) + 5);
  if (test + 3 >= y.size()) return;
  const size_t train = y.size() - test;
  std::vector<std::vector<double>> forecasts(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    std::unique_ptr<PointModel> probe = MakeCandidate(i);
    if (train < probe->MinHistory()) continue;
    probe->Fit(y.first(train), first_index);
    RollForward(*probe, y, train, h_, &forecasts[i]);
  }
  // The test period replayed as it would have run online: the errors feed
  // the means, and the combination proposed from them is scored too.
  double errors[kCount];
  for (size_t t = 0; t < test; ++t) {
    const double actual = y[train + t];
    for (size_t i = 0; i < kCount; ++i) errors[i] = members_[i].error.value();
    const Combination active = ProposeWeights(errors);
    double combined = 0;
    bool complete = active.size != 0;
    for (size_t k = 0; k < active.size; ++k) {
      const size_t i = active.member[k];
      const double f = forecasts[i].empty() ? kNaN : forecasts[i][t];
      complete &= std::isfinite(f);
      combined += active.weight[k] * f;
    }
    if (complete) proposal_error_.Add(std::fabs(actual - combined), guard_decay_);
    if (std::isfinite(forecasts[kNaive][t])) naive_error_.Add(std::fabs(actual - forecasts[kNaive][t]), guard_decay_);
    for (size_t i = 0; i < kCount; ++i) {
      if (!forecasts[i].empty() && std::isfinite(forecasts[i][t])) {
        members_[i].error.Add(std::fabs(actual - forecasts[i][t]), decay_);
      }
    }
  }
}

Combination CombiningModel::ProposeWeights(std::span<const double> errors) const {
  // The kCombined lowest errors, by insertion (a handful of candidates).
  size_t best[kCombined];
  size_t n = 0;
  for (size_t i = 0; i < kCount; ++i) {
    if (!std::isfinite(errors[i])) continue;
    size_t k = std::min(n, kCombined - 1);
    if (n == kCombined && !(errors[i] < errors[best[k]])) continue;
    while (k > 0 && errors[i] < errors[best[k - 1]]) best[k] = best[k - 1], --k;
    best[k] = i;
    n = std::min(n + 1, kCombined);
  }
  if (n == 0) return Combination::Only(kNaive);
  // A clear winner, or an exact one, answers alone: averaging it with worse
  // models would only blunt it.
  if (n == 1 || errors[best[0]] <= 0 || errors[best[0]] < (1 - dominance_) * errors[best[1]]) {
    return Combination::Only(best[0]);
  }
  // Only near-ties join: a clearly worse third model adds its own errors
  // (e.g. a smoother's lag after a spike) more than it averages out noise.
  while (n > 2 && !(errors[best[0]] >= (1 - dominance_) * errors[best[n - 1]])) --n;
  double total = 0;
  for (size_t k = 0; k < n; ++k) total += 1 / errors[best[k]];
  Combination c;
  for (size_t k = 0; k < n; ++k) c.Add(best[k], 1 / errors[best[k]] / total);
  return c;
}

void CombiningModel::Reweight() {
  double errors[kCount];
  for (size_t i = 0; i < kCount; ++i) errors[i] = Ready(i) ? members_[i].error.value() : kNaN;
  proposal_ = ProposeWeights(errors);
  const bool guard = proposal_error_.known() && naive_error_.known() &&
                     proposal_error_.value() > (1 + naive_margin_) * naive_error_.value();
  active_ = guard ? Combination::Only(kNaive) : proposal_;
}

void CombiningModel::Update(double y) {
  const size_t slot = static_cast<size_t>(t_ % static_cast<uint64_t>(h_));
  const bool score = t_ % kScoreEvery == 0;
  const bool record = (t_ + static_cast<uint64_t>(h_)) % kScoreEvery == 0;
  ++t_;
  // Outage rule: a zero run after a day without zeros is missing data until
  // it outlasts max_zero_run_.
  if (y == 0) {
    if (zero_run_ == 0) run_isolated_ = since_zero_ > day_steps_;
    ++zero_run_, since_zero_ = 0;
  } else {
    zero_run_ = 0, ++since_zero_;
  }
  const bool missing = zero_run_ > 0 && run_isolated_ && zero_run_ <= max_zero_run_;
  // Score what was forecast h steps ago for this point; a missing point is
  // not scored either (an outage says nothing about the models). The guard
  // scores every point: on spiky series a spike seen or missed decides it.
  if (!missing) {
    const double naive = members_[kNaive].pending[slot];
    if (std::isfinite(proposal_pending_[slot]) && std::isfinite(naive)) {
      proposal_error_.Add(std::fabs(y - proposal_pending_[slot]), guard_decay_);
      naive_error_.Add(std::fabs(y - naive), guard_decay_);
    }
  }
  if (score && !missing) {
    for (Member& m : members_) {
      const double f = m.pending[slot];
      if (std::isfinite(f)) m.error.Add(std::fabs(y - f), scored_decay_);
    }
  }
  for (size_t i = 0; i < kCount; ++i) {
    Member& m = members_[i];
    if (!Ready(i)) continue;
    m.model->Update(missing && i != kNaive ? m.model->Predict(1) : y);
  }
  if (score && !missing) Reweight();
  // Record the forecasts for t + h: every member's on scored targets, the
  // proposal's (and naive's, for the guard) always.
  // Each member's forecast is made once, for the proposal and the record.
  double at_h[kCount];
  bool known[kCount] = {};
  auto forecast = [&](size_t i) {
    if (!known[i]) at_h[i] = Ready(i) ? members_[i].model->Predict(h_) : kNaN, known[i] = true;
    return at_h[i];
  };
  double proposal = 0;
  for (size_t k = 0; k < proposal_.size; ++k) proposal += proposal_.weight[k] * forecast(proposal_.member[k]);
  proposal_pending_[slot] = proposal;
  for (size_t i = 0; i < kCount; ++i) {
    if (i != kNaive && !record) continue;
    members_[i].pending[slot] = static_cast<float>(forecast(i));
  }
}

void CombiningModel::PredictMany(std::span<const int> h, std::span<double> out) const {
  constexpr size_t kBatch = 16;
  if (h.size() > kBatch) return PointModel::PredictMany(h, out);
  // Summed into out, zeroed element by element (a whole-array initialiser of a
  // local became a `rep stos` that cost more than the sums).
  double member[kBatch];
  for (size_t j = 0; j < h.size(); ++j) out[j] = 0;
  for (size_t k = 0; k < active_.size; ++k) {
    members_[active_.member[k]].model->PredictMany(h, std::span<double>(member, h.size()));
    const double w = active_.weight[k];
    for (size_t j = 0; j < h.size(); ++j) out[j] += w * member[j];
  }
}

}  // namespace

std::unique_ptr<PointModel> MakeAutoModel(const ModelContext& c) { return std::make_unique<CombiningModel>(c); }

}  // namespace prescale::forecast
