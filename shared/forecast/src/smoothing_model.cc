#include "smoothing_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "optimizer.h"
#include "season.h"

namespace prescale::forecast {
namespace {

constexpr double kTiny = 1e-12;
// Bounds for fitted parameters: the open interval (0,1) less a margin, and a
// damping factor no lower than 0.8 (below that the trend vanishes in a few steps).
constexpr Bounds kSmoothingBounds{0.001, 0.999};
constexpr Bounds kPhiBounds{0.8, 0.999};
constexpr size_t kFitPoints = 1440;
// Damped-trend horizons tabulated: the calibrator's longest (64) covers an hour at 1-minute steps.
constexpr size_t kTabulated = 64;

}  // namespace

ExponentialSmoothingModel::ExponentialSmoothingModel(Kind kind, const ModelContext& context)
    : kind_(kind),
      context_(context),
      horizon_steps_(std::max(1, static_cast<int>(std::ceil(context.Get("horizon_s", 0) / context.step_s)))) {
  params_.alpha = context_.Get("alpha", 0.5);
  params_.beta = context_.Get("beta", 0.1);
  params_.gamma = context_.Get("gamma", 0.1);
  const bool damped = context_.Get("damped", context_.Has("phi") ? 1 : 0) != 0;
  params_.phi = damped ? context_.Get("phi", 0.98) : 1.0;
  want_multiplicative_ = context_.Get("multiplicative", 0) != 0;
  TabulateDamping();
}

std::string ExponentialSmoothingModel::name() const {
  switch (kind_) {
    case Kind::kEwma: return "ewma";
    case Kind::kHolt: return "holt";
    case Kind::kHoltWinters: return "holt_winters";
  }
  return "ewma";
}

size_t ExponentialSmoothingModel::MinHistory() const {
  if (kind_ != Kind::kHoltWinters) return kind_ == Kind::kEwma ? 2 : 3;
  // A configured season needs two full cycles to start; a detected one is
  // looked for once there are a few points (until then it runs as Holt).
  const size_t season = ChooseSeason({});
  return season != 0 ? 2 * season : 3;
}

size_t ExponentialSmoothingModel::ChooseSeason(std::span<const double> y) const {
  if (kind_ != Kind::kHoltWinters) return 0;
  if (const size_t configured = context_.ConfiguredSeasonSteps(); configured != 0) return configured;
  if (y.empty()) return 0;
  const size_t week = static_cast<size_t>(std::lround(7 * 86400.0 / context_.step_s));
  return DetectSeasonSteps(y, context_.step_s, week);
}

ExponentialSmoothingModel::StepResult ExponentialSmoothingModel::Step(const Params& p, State& s, double y) {
  const bool seasonal = !s.season.empty();
  const double s_old = seasonal ? s.season[s.pos] : (p.multiplicative ? 1.0 : 0.0);
  const double damped_trend = p.phi * s.trend;
  const double base = s.level + damped_trend;
  double level;
  StepResult r;
  if (p.multiplicative && seasonal) {
    r.predicted = base * s_old;
    level = p.alpha * (std::fabs(s_old) > kTiny ? y / s_old : y) + (1 - p.alpha) * base;
  } else {
    r.predicted = base + s_old;
    level = p.alpha * (y - s_old) + (1 - p.alpha) * base;
  }
  s.trend = p.beta * (level - s.level) + (1 - p.beta) * damped_trend;
  if (seasonal) {
    double target = s_old;
    if (!p.multiplicative)
      target = y - level;
    else if (std::fabs(level) > kTiny)
      target = y / level;
    s.season[s.pos] = p.gamma * target + (1 - p.gamma) * s_old;
    if (++s.pos == s.season.size()) s.pos = 0;
  }
  s.level = level;
  return r;
}

double ExponentialSmoothingModel::PredictFrom(const Params& p, const State& s, int h) {
  double trend_steps = h;
  if (p.phi < 1.0) trend_steps = p.phi * (1 - std::pow(p.phi, h)) / (1 - p.phi);
  return Extend(p, s, trend_steps, h);
}

void ExponentialSmoothingModel::TabulateDamping() {
  damped_steps_.clear();
  if (params_.phi >= 1.0) return;
  damped_steps_.resize(kTabulated);
  for (size_t h = 1; h <= kTabulated; ++h) {
    damped_steps_[h - 1] = params_.phi * (1 - std::pow(params_.phi, static_cast<double>(h))) / (1 - params_.phi);
  }
}

double ExponentialSmoothingModel::Extend(const Params& p, const State& s, double trend_steps, int h) {
  const double base = s.level + trend_steps * s.trend;
  if (s.season.empty()) return base;
  // The season's index h - 1 steps on; the division only when it wraps (h
  // is rarely past a season, and this runs for every forecast).
  size_t i = s.pos + static_cast<size_t>(h - 1);
  if (i >= s.season.size()) i %= s.season.size();
  const double seasonal = s.season[i];
  return p.multiplicative ? base * seasonal : base + seasonal;
}

void ExponentialSmoothingModel::PredictMany(std::span<const int> h, std::span<double> out) const {
  // Predict itself, called directly (the class is final): one virtual call for all horizons.
  for (size_t k = 0; k < h.size(); ++k) out[k] = Predict(h[k]);
}

bool ExponentialSmoothingModel::Init(std::span<const double> y, size_t season, bool multiplicative, State* s,
                                     size_t* start) const {
  *s = State{};
  if (season == 0) {
    if (y.empty()) return false;
    s->level = y[0];
    // The slope over the first few points: exact for a line, less noisy than one difference.
    const size_t k = std::min<size_t>(y.size() - 1, 10);
    s->trend = kind_ != Kind::kEwma && k > 0 ? (y[k] - y[0]) / static_cast<double>(k) : 0.0;
    *start = 1;
    return true;
  }
  const size_t m = season;
  if (y.size() < 2 * m) return false;
  double mean0 = 0, mean1 = 0;
  for (size_t i = 0; i < m; ++i) mean0 += y[i] / static_cast<double>(m), mean1 += y[m + i] / static_cast<double>(m);
  const double slope = (mean1 - mean0) / static_cast<double>(m);
  const double center = (static_cast<double>(m) - 1) / 2;
  s->season.resize(m);
  for (size_t i = 0; i < m; ++i) {
    const double line = mean0 + (static_cast<double>(i) - center) * slope;
    if (multiplicative && !(line > kTiny)) return false;
    s->season[i] = multiplicative ? y[i] / line : y[i] - line;
  }
  s->level = mean0 + center * slope;
  s->trend = slope;
  *start = m;
  return true;
}

double ExponentialSmoothingModel::Sse(std::span<const double> y, const Params& p, const State& init,
                                      size_t start) const {
  State s = init;
  double sse = 0;
  const size_t h = static_cast<size_t>(horizon_steps_);
  if (h <= 1) {
    for (size_t t = start; t < y.size(); ++t) {
      const double e = y[t] - Step(p, s, y[t]).predicted;
      sse += e * e;
    }
    return sse;
  }
  // With a longer horizon planned for, its errors count as much as the
  // one-step ones: one-step fitting alone favours parameters that chase noise,
  // which hurts forecasts an hour out.
  std::vector<double> pending(h, 0.0);  // pending[t % h]: the forecast made for t
  for (size_t t = start; t < y.size(); ++t) {
    if (t >= start + h) {
      const double e = y[t] - pending[t % h];
      sse += e * e;
    }
    const double e = y[t] - Step(p, s, y[t]).predicted;
    sse += e * e;
    pending[t % h] = PredictFrom(p, s, static_cast<int>(h));
  }
  return sse;
}

void ExponentialSmoothingModel::FitParams(std::span<const double> y, const State& init, size_t start) {
  // The free parameters, in order; each points into a copy of params_.
  std::vector<double Params::*> free;
  std::vector<Bounds> bounds;
  if (!context_.Has("alpha")) free.push_back(&Params::alpha), bounds.push_back(kSmoothingBounds);
  if (kind_ != Kind::kEwma && !context_.Has("beta")) free.push_back(&Params::beta), bounds.push_back(kSmoothingBounds);
  if (!init.season.empty() && !context_.Has("gamma")) {
    free.push_back(&Params::gamma), bounds.push_back(kSmoothingBounds);
  }
  if (params_.phi < 1.0 && !context_.Has("phi")) free.push_back(&Params::phi), bounds.push_back(kPhiBounds);
  if (free.empty()) return;
  Params trial = params_;
  auto objective = [&](const std::vector<double>& x) {
    for (size_t i = 0; i < free.size(); ++i) trial.*free[i] = x[i];
    return Sse(y, trial, init, start);
  };
  std::vector<double> best = Minimize(objective, bounds, 40 * static_cast<int>(free.size()));
  for (size_t i = 0; i < free.size(); ++i) params_.*free[i] = best[i];
}

void ExponentialSmoothingModel::Fit(std::span<const double> history, int64_t /*first_index*/) {
  const size_t season = ChooseSeason(history);
  bool multiplicative = want_multiplicative_ && season != 0;
  State init;
  size_t start = 0;
  if (!Init(history, season, multiplicative, &init, &start)) {
    // A season that does not fit yet (or a multiplicative one over values <= 0):
    // run without it rather than not at all.
    multiplicative = false;
    if (!Init(history, season, false, &init, &start) && !Init(history, 0, false, &init, &start)) return;
  }
  params_.multiplicative = multiplicative;
  // Parameters are chosen on the newest points only (a day at 1-minute steps,
  // or three seasons): older data says little about today's dynamics and
  // costs time at every refit. The state still runs over all of the history.
  const size_t season_len = init.season.size();
  const size_t fit_points = std::max<size_t>(kFitPoints, 3 * season_len);
  if (history.size() > fit_points + start) {
    std::span<const double> recent = history.last(fit_points);
    State recent_init;
    size_t recent_start = 0;
    if (Init(recent, season_len, multiplicative, &recent_init, &recent_start)) {
      FitParams(recent, recent_init, recent_start);
    } else {
      FitParams(history, init, start);
    }
  } else {
    FitParams(history, init, start);
  }
  TabulateDamping();
  const size_t steps = history.size() > start ? history.size() - start : 0;
  // The state itself runs forward to the last point, scoring as it goes.
  state_ = init;
  double sse = 0;
  for (size_t t = start; t < history.size(); ++t) {
    const double e = history[t] - Step(params_, state_, history[t]).predicted;
    sse += e * e;
  }
  fit_rmse_ = steps > 0 ? std::sqrt(sse / static_cast<double>(steps)) : 0;
  if (!std::isfinite(fit_rmse_)) fit_rmse_ = std::numeric_limits<double>::max();
}

}  // namespace prescale::forecast
