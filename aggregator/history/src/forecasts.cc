#include "prescale/aggregator/history/forecasts.h"

#include <cmath>
#include <deque>
#include <functional>
#include <limits>

#include "prescale/base/duration.h"
#include "prescale/base/log.h"
#include "prescale/forecast/forecaster.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

constexpr int64_t kMinuteMs = 60'000;
// The most time one tick spends creating forecasters for new series (each replays the held history).
constexpr auto kReplayBudget = std::chrono::seconds(2);
// Exponential weights with a half-life of one day of minutes.
const double kDecay = std::pow(0.5, 1.0 / 1440.0);

struct Ewm {
  double sum = 0;
  double weight = 0;
  void Add(double x) {
    sum = sum * kDecay + x;
    weight = weight * kDecay + 1;
  }
  double mean() const { return weight > 0 ? sum / weight : 0; }
};

forecast::ForecastSpec SpecOf(const ForecastSettings& settings) {
  forecast::ForecastSpec spec;
  spec.model = settings.model;
  spec.params = settings.params;
  if (!spec.params.contains("horizon_s")) {
    spec.params["horizon_s"] =
        static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(settings.select_horizon).count());
  }
  spec.options.step = std::chrono::milliseconds(kMinuteMs);
  spec.options.coverage = settings.coverage;
  spec.options.max_history = 2 * 24 * 60;
  return spec;
}

}  // namespace

struct ForecastEngine::Series {
  struct Pending {
    int64_t target_ms;
    double point;
  };
  struct Horizon {
    std::deque<Pending> pending;
    Ewm error;
    uint64_t matured = 0;
  };

  std::unique_ptr<forecast::Forecaster> forecaster;
  int64_t fed_upto_ms = std::numeric_limits<int64_t>::min();
  double last_value = std::numeric_limits<double>::quiet_NaN();
  Ewm change;  // |y(t) - y(t - 1 minute)|: the naive forecast's one-step error, MASE's scale
  std::vector<Horizon> horizons;
};

ForecastEngine::ForecastEngine(ForecastSettings settings, const DemandRollups& demand, const Clock& clock)
    : settings_(std::move(settings)), demand_(demand), clock_(clock) {}

ForecastEngine::~ForecastEngine() = default;

Status ForecastEngine::Validate(const ForecastSettings& settings) {
  if (settings.horizons.empty()) return Status::InvalidArgument("forecast.horizons: at least one horizon");
  for (auto h : settings.horizons) {
    if (h < std::chrono::minutes(1)) return Status::InvalidArgument("forecast.horizons: at least 1m each");
  }
  auto f = forecast::MakeForecaster(SpecOf(settings));
  if (!f.ok()) return f.status();
  return Status::Ok();
}

void ForecastEngine::Observe(Series& s, const DemandPoint& p) {
  if (std::isfinite(s.last_value)) s.change.Add(std::fabs(p.avg - s.last_value));
  s.last_value = p.avg;
  for (Series::Horizon& h : s.horizons) {
    // Forecasts for minutes that never became final are dropped unscored.
    while (!h.pending.empty() && h.pending.front().target_ms < p.timestamp_ms) h.pending.pop_front();
    if (!h.pending.empty() && h.pending.front().target_ms == p.timestamp_ms) {
      h.error.Add(std::fabs(p.avg - h.pending.front().point));
      ++h.matured;
      h.pending.pop_front();
    }
  }
  s.forecaster->Observe(p.timestamp_ms, p.avg);
  s.fed_upto_ms = p.timestamp_ms;
}

size_t ForecastEngine::Tick() {
  const auto tick_start = std::chrono::steady_clock::now();
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const int64_t history_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(demand_.options().fine_retention).count();
  std::vector<SeriesForecast> latest;
  for (const DemandKey& key : demand_.Keys({})) {
    auto& slot = series_[key];
    bool replayed = false;
    if (slot == nullptr) {
      // Replaying days of history costs ~10 ms a series: after a restart with
      // many series, later ticks take the rest, so forecasts of known series keep coming.
      if (std::chrono::steady_clock::now() - tick_start > kReplayBudget) {
        series_.erase(key);
        continue;
      }
      forecast::ForecastSpec spec = SpecOf(settings_);
      // Series created together would otherwise refit on the same tick.
      if (!spec.params.contains("refit_offset_steps")) {
        spec.params["refit_offset_steps"] =
            static_cast<double>(std::hash<std::string>{}(key.tenant + '\n' + key.service + '\n' + key.resource) % 60);
      }
      auto made = forecast::MakeForecaster(spec);
      if (!made.ok()) {
        Log(LogLevel::kError, "forecast: " + made.status().message());
        series_.erase(key);
        continue;
      }
      slot = std::make_unique<Series>();
      slot->forecaster = std::move(made).value();
      slot->horizons.resize(settings_.horizons.size());
      // The replay starts a minute inside the fine retention: a query reaching
      // past it reads the 15-minute rollup instead.
      slot->fed_upto_ms = now_ms - history_ms;
      replayed = true;
    }
    Series& s = *slot;
    // Never from before the fine retention (a series seen before its first final
    // minute keeps its creation's horizon): such a query reads the 15-minute rollup.
    const int64_t from_ms = std::max(s.fed_upto_ms + kMinuteMs, now_ms - history_ms + kMinuteMs);
    const DemandSeries fresh = demand_.QueryKey(key, from_ms, now_ms, std::chrono::minutes(1));
    if (replayed && fresh.points.size() > 1) {
      // A stored history at once: one fit at the end instead of one every refit period.
      std::vector<int64_t> times;
      std::vector<double> values;
      for (const DemandPoint& p : fresh.points) {
        if (std::isfinite(s.last_value)) s.change.Add(std::fabs(p.avg - s.last_value));
        s.last_value = p.avg;
        times.push_back(p.timestamp_ms);
        values.push_back(p.avg);
      }
      s.forecaster->ObserveBatch(times, values);
      s.fed_upto_ms = times.back();
    } else {
      for (const DemandPoint& p : fresh.points) Observe(s, p);
    }
    if (s.forecaster->size() == 0) continue;
    SeriesForecast& out = latest.emplace_back();
    out.key = key;
    out.model = s.forecaster->model();
    out.last_observed_ms = s.fed_upto_ms;
    out.points = s.forecaster->size();
    for (size_t i = 0; i < settings_.horizons.size(); ++i) {
      const forecast::ForecastResult r = s.forecaster->Forecast(settings_.horizons[i]);
      Series::Horizon& h = s.horizons[i];
      if (h.pending.empty() || h.pending.back().target_ms < r.target_ms) h.pending.push_back({r.target_ms, r.point});
      const double scale = s.change.mean();
      out.horizons.push_back(HorizonForecast{settings_.horizons[i], r.target_ms, r.point, r.lower, r.upper,
                                             h.matured > 0 && scale > 0 ? h.error.mean() / scale : -1, h.matured});
    }
  }
  const size_t n = latest.size();
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::make_shared<const std::vector<SeriesForecast>>(std::move(latest));
  return n;
}

std::shared_ptr<const std::vector<SeriesForecast>> ForecastEngine::LatestAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

std::vector<SeriesForecast> ForecastEngine::Latest(const DemandKey& filter) const {
  std::vector<SeriesForecast> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const SeriesForecast& f : *latest_) {
    if ((filter.tenant.empty() || filter.tenant == f.key.tenant) &&
        (filter.service.empty() || filter.service == f.key.service) &&
        (filter.resource.empty() || filter.resource == f.key.resource)) {
      out.push_back(f);
    }
  }
  return out;
}

void ForecastEngine::AppendMetrics(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (latest_->empty()) return;
  metrics::TextWriter w(out);
  w.Family("prescale_forecast",
           "Forecast demand of each service (cores, bytes, bytes/s or the custom unit) at each horizon: the point and "
           "the interval's bounds",
           metrics::MetricType::kGauge);
  for (const SeriesForecast& f : *latest_) {
    for (const HorizonForecast& h : f.horizons) {
      const std::string horizon = FormatDuration(h.horizon);
      for (auto [bound, value] : {std::pair{"point", h.point}, {"lower", h.lower}, {"upper", h.upper}}) {
        w.Sample("prescale_forecast",
                 {{"bound", bound},
                  {"horizon", horizon},
                  {"resource", f.key.resource},
                  {"service", f.key.service},
                  {"tenant", f.key.tenant}},
                 value);
      }
    }
  }
  w.Family("prescale_forecast_model_info", "The model forecasting each demand series (auto's choice)",
           metrics::MetricType::kGauge);
  for (const SeriesForecast& f : *latest_) {
    w.Sample("prescale_forecast_model_info",
             {{"model", f.model}, {"resource", f.key.resource}, {"service", f.key.service}, {"tenant", f.key.tenant}},
             1);
  }
  w.Family("prescale_forecast_mase",
           "Online mean absolute scaled error of matured forecasts at each horizon (1: as good as the last value one "
           "minute ahead; weighted with a one-day half-life)",
           metrics::MetricType::kGauge);
  for (const SeriesForecast& f : *latest_) {
    for (const HorizonForecast& h : f.horizons) {
      if (h.mase < 0) continue;
      w.Sample("prescale_forecast_mase",
               {{"horizon", FormatDuration(h.horizon)},
                {"resource", f.key.resource},
                {"service", f.key.service},
                {"tenant", f.key.tenant}},
               h.mase);
    }
  }
}

}  // namespace prescale::aggregator
