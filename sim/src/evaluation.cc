#include "prescale/sim/evaluation.h"

#include <algorithm>
#include <cmath>

#include "prescale/base/duration.h"
#include "prescale/sim/metrics.h"

namespace prescale::sim {
namespace {

using Clock = std::chrono::steady_clock;

// The grid index a fraction of the span starts at (scripts/forecast_anchor.py computes the same).
size_t SpanIndex(double fraction, size_t n) {
  if (fraction >= 1) return n;
  return static_cast<size_t>(std::floor(fraction * static_cast<double>(n)));
}

// The grid indices that get a forecast: a value at the origin (a model is
// asked right after a sample arrives) and an actual at origin + h, both inside
// the score window.
std::vector<size_t> PickOrigins(const GridSeries& s, size_t h, size_t first, const EvalOptions& o) {
  const size_t n = s.values.size();
  const size_t until = SpanIndex(o.score_until, n);
  first = std::max(first, SpanIndex(o.score_from, n));
  const size_t max_origins = o.max_origins;
  std::vector<size_t> eligible;
  for (size_t k = first; k + h < until; ++k) {
    if (std::isfinite(s.values[k]) && std::isfinite(s.values[k + h])) eligible.push_back(k);
  }
  if (max_origins == 0 || eligible.size() <= max_origins) return eligible;
  std::vector<size_t> picked;
  picked.reserve(max_origins);
  // Evenly spread, so every part of the trace (weekdays, weekends, incidents) counts.
  for (size_t i = 0; i < max_origins; ++i) picked.push_back(eligible[i * eligible.size() / max_origins]);
  return picked;
}

ModelScore Score(const std::vector<ForecastRecord>& records, size_t model, double scale) {
  std::vector<double> actual, point, lower, upper;
  ModelScore s;
  for (const ForecastRecord& r : records) {
    if (r.model != model) continue;
    actual.push_back(r.actual);
    point.push_back(r.point);
    lower.push_back(r.lower);
    upper.push_back(r.upper);
    s.has_interval = s.has_interval || r.lower < r.upper;
  }
  s.forecasts = actual.size();
  s.mae = Mae(actual, point);
  s.mase = Mase(actual, point, scale);
  s.smape = Smape(actual, point);
  s.rmse = Rmse(actual, point);
  s.coverage = Coverage(actual, lower, upper);
  return s;
}

Status CheckOptions(const GridSeries& series, const EvalOptions& options) {
  if (options.models.empty()) return Status::InvalidArgument("no model to evaluate");
  const int64_t h_ms = options.horizon.count();
  if (series.step_ms <= 0 || h_ms <= 0 || h_ms % series.step_ms != 0) {
    return Status::InvalidArgument("--horizon " + FormatDuration(options.horizon) +
                                   " is not a positive multiple of the step " +
                                   FormatDuration(std::chrono::milliseconds(series.step_ms)));
  }
  if (!(options.score_from >= 0 && options.score_from < options.score_until && options.score_until <= 1)) {
    return Status::InvalidArgument("the score window [" + std::to_string(options.score_from) + ", " +
                                   std::to_string(options.score_until) + ") is not inside [0, 1]");
  }
  return Status::Ok();
}

}  // namespace

Result<EvalResult> Evaluate(const GridSeries& series, const EvalOptions& options, const ModelFactory& factory,
                            const ProgressFn& progress) {
  PRESCALE_RETURN_IF_ERROR(CheckOptions(series, options));
  const size_t h = static_cast<size_t>(options.horizon.count() / series.step_ms);
  std::vector<std::unique_ptr<forecast::Forecaster>> models;
  for (const std::string& name : options.models) {
    auto m = factory(name);
    if (!m.ok()) return m.status();
    models.push_back(std::move(m).value());
  }
  const size_t first = static_cast<size_t>((options.warmup.count() + series.step_ms - 1) / series.step_ms);
  const std::vector<size_t> origins = PickOrigins(series, h, first, options);
  if (origins.empty()) {
    return Status::InvalidArgument(
        "no forecast to score: the trace has " + std::to_string(series.values.size()) +
        " steps, fewer than the warm-up plus the horizon" +
        (options.score_from > 0 || options.score_until < 1 ? std::string(" inside the score window") : std::string()));
  }
  EvalResult result;
  result.naive_scale = NaiveOneStepMae(series.values);
  result.origins = origins.size();
  result.records.reserve(origins.size() * models.size());
  std::vector<double> seconds(models.size(), 0.0);
  // The last grid point any forecast needs: nothing after it is fed.
  const size_t end = origins.back() + 1;
  // Models regrid onto multiples of the step and close a grid point at once
  // only when a sample lands on it. The grid is anchored at the first sample,
  // so models see it shifted by less than a step; otherwise every point would
  // wait for the next sample and each forecast would reach one step further.
  const int64_t shift_ms = ((series.start_ms % series.step_ms) + series.step_ms) % series.step_ms;
  size_t next_origin = 0;
  for (size_t k = 0; k < end; ++k) {
    const double v = series.values[k];
    const bool is_origin = next_origin < origins.size() && origins[next_origin] == k;
    for (size_t m = 0; m < models.size(); ++m) {
      const Clock::time_point start = Clock::now();
      if (std::isfinite(v)) models[m]->Observe(series.TimeAt(k) - shift_ms, v);
      if (is_origin) {
        const forecast::ForecastResult f = models[m]->Forecast(options.horizon);
        result.records.push_back(
            {series.TimeAt(k), series.TimeAt(k + h), series.values[k + h], m, f.point, f.lower, f.upper});
      }
      seconds[m] += std::chrono::duration<double>(Clock::now() - start).count();
    }
    if (is_origin) ++next_origin;
    if (progress && (k % 256 == 0 || k + 1 == end)) progress(k + 1, end);
  }
  for (size_t m = 0; m < models.size(); ++m) {
    ModelScore s = Score(result.records, m, result.naive_scale);
    s.model = options.models[m];
    s.answering = models[m]->model();
    s.fit_seconds = seconds[m];
    result.scores.push_back(std::move(s));
  }
  return result;
}

}  // namespace prescale::sim
