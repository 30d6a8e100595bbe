// Flag parsing for `prescale-sim forecast` (kept apart from the run so tests
// link it without the models).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "prescale/base/duration.h"
#include "prescale/base/flags.h"
#include "prescale/base/numbers.h"
#include "prescale/sim/forecast_command.h"

namespace prescale::sim {
namespace {

// The single-setting Prometheus baselines (--prom-range, --prom-sf, --prom-tf):
// accepted by name, left out of the default and of `all`, where the grid
// (prom_grid.h) stands in for them (prom_lin_1h is prom_predict_linear's default).
bool IsLegacyProm(const std::string& name) {
  return name == "prom_predict_linear" || name == "prom_double_exponential_smoothing";
}

std::vector<std::string> DefaultModels(const std::vector<std::string>& known) {
  std::vector<std::string> models;
  for (const std::string& k : known) {
    if (!IsLegacyProm(k)) models.push_back(k);
  }
  return models.empty() ? known : models;
}

Result<std::vector<std::string>> ParseModels(const std::string& list, const std::vector<std::string>& known) {
  if (list == "all") return DefaultModels(known);
  std::vector<std::string> models;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string name = list.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string names;
      for (const std::string& k : known) names += " " + k;
      return Status::InvalidArgument("--models: unknown model '" + name + "' (known:" + names + ", or all)");
    }
    if (std::find(models.begin(), models.end(), name) == models.end()) models.push_back(name);
  }
  if (models.empty()) return Status::InvalidArgument("--models: empty list");
  return models;
}

Result<std::chrono::milliseconds> PositiveDuration(const std::string& flag, const std::string& value) {
  auto d = ParseDuration(value);
  if (!d.ok()) return Status::InvalidArgument("--" + flag + ": " + d.status().message());
  if (d->count() <= 0) return Status::InvalidArgument("--" + flag + " must be positive");
  return *d;
}

std::string FormatShort(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Result<double> Number(const std::string& flag, const std::string& value, double lo, double hi) {
  double v = 0;
  if (!ParseDouble(value, &v) || !(v > lo && v < hi)) {
    return Status::InvalidArgument("--" + flag + " '" + value + "': expected a number in (" + FormatShort(lo) + ", " +
                                   FormatShort(hi) + ")");
  }
  return v;
}

// Stores one value flag into the command; InvalidArgument names the flag.
Status ApplyFlag(const std::string& name, const std::string& value, const std::vector<std::string>& known_models,
                 ForecastCommand* c) {
  auto duration = [&](std::chrono::milliseconds* out) {
    auto d = PositiveDuration(name, value);
    if (d.ok()) *out = *d;
    return d.ok() ? Status::Ok() : d.status();
  };
  auto number = [&](double* out) {
    auto v = Number(name, value, 0, 1);
    if (v.ok()) *out = *v;
    return v.ok() ? Status::Ok() : v.status();
  };
  std::chrono::milliseconds ms{0};
  if (name == "trace")
    c->trace_path = value;
  else if (name == "column")
    c->trace.column = value;
  else if (name == "time-column")
    c->trace.time_column = value;
  else if (name == "output-csv")
    c->output_csv = value;
  else if (name == "summary-csv")
    c->summary_csv = value;
  else if (name == "plot")
    c->plot_path = value;
  else if (name == "plot-model")
    c->plot_model = value;
  else if (name == "horizon")
    return duration(&c->eval.horizon);
  else if (name == "step")
    return duration(&c->step);
  else if (name == "warmup")
    return duration(&c->eval.warmup);
  else if (name == "coverage")
    return number(&c->coverage);
  else if (name == "prom-sf")
    return number(&c->prom.sf);
  else if (name == "prom-tf")
    return number(&c->prom.tf);
  else if (name == "half") {
    if (value != "first" && value != "second") {
      return Status::InvalidArgument("--half '" + value + "': expected first or second");
    }
    c->eval.score_from = value == "first" ? 0 : 0.5;
    c->eval.score_until = value == "first" ? 0.5 : 1;
  } else if (name == "score-from" || name == "score-until") {
    double v = 0;
    if (!ParseDouble(value, &v) || !(v >= 0 && v <= 1)) {
      return Status::InvalidArgument("--" + name + " '" + value + "': expected a fraction in [0, 1]");
    }
    (name == "score-from" ? c->eval.score_from : c->eval.score_until) = v;
  } else if (name == "row-interval" || name == "prom-range") {
    PRESCALE_RETURN_IF_ERROR(duration(&ms));
    (name == "prom-range" ? c->prom.range_ms : c->trace.row_interval_ms) = ms.count();
  } else if (name == "max-origins") {
    uint64_t n = 0;
    if (!ParseU64(value, &n)) return Status::InvalidArgument("--max-origins '" + value + "': expected a count");
    c->eval.max_origins = static_cast<size_t>(n);
  } else if (name == "models") {
    auto m = ParseModels(value, known_models);
    if (!m.ok()) return m.status();
    c->eval.models = std::move(m).value();
  }
  return Status::Ok();
}

}  // namespace

std::string ForecastUsage() {
  return "usage: prescale-sim forecast --trace FILE.csv --horizon DURATION [flags]\n"
         "  --trace FILE.csv        the trace (timestamp,value; unix_s,...; or no time column)\n"
         "  --column NAME           the value column (default: value, requests, cpu_usage_mhz, avg_cpu)\n"
         "  --time-column NAME      the time column (default: unix_s, timestamp or time; none: row i at i*300s)\n"
         "  --row-interval DURATION the spacing of rows in a file without a time column (default 5m)\n"
         "  --horizon DURATION      how far ahead, a multiple of the step (e.g. 5m, 15m, 1h)\n"
         "  --models LIST|all       comma-separated model names (default all: the library's models and the\n"
         "                          PromQL grid prom_lin_{1h,3h,12h}, prom_hw_3h_sf{S}_tf{T} for S, T in\n"
         "                          {0.1,0.3,0.6}; prom_best, the grid's lowest MAE in hindsight, is added)\n"
         "  --step DURATION         the evaluation grid (default: the median sample interval)\n"
         "  --warmup DURATION       history before the first scored forecast (default 1d)\n"
         "  --max-origins N         at most N forecast origins, evenly spread (default 0 = every step)\n"
         "  --coverage P            the interval asked of the models (default 0.9)\n"
         "  --half first|second     score only origins in that half of the series' span (first: targets too)\n"
         "  --score-from F, --score-until F  the same with fractions of the span (default 0 and 1)\n"
         "  --prom-range DURATION   the range of prom_predict_linear, prom_double_exponential_smoothing (1h)\n"
         "  --prom-sf X, --prom-tf X  their holt_winters factors (default 0.5, 0.5)\n"
         "  --output-csv FILE       every forecast: origin_ts,horizon_s,target_ts,actual,model,point,lower,upper\n"
         "  --summary-csv FILE      one row per model: model,answering,forecasts,mase,smape,rmse,coverage,fit_s\n"
         "  --plot FILE.svg|.png    actual vs forecast with its interval for one model (.png: python3 with\n"
         "                          matplotlib, /usr/bin/python3 or $PRESCALE_PYTHON)\n"
         "  --plot-model NAME       the model to plot (default auto, else the first)\n"
         "  --quiet                 no progress line on stderr\n";
}

Result<ForecastCommand> ParseForecastCommandLine(int argc, const char* const* argv,
                                                 const std::vector<std::string>& known_models) {
  static constexpr std::array<std::string_view, 3> kSwitches = {"help", "quiet", "h"};
  static constexpr std::array<std::string_view, 21> kValues = {
      "config",      "trace",       "column",     "time-column",  "horizon", "models",     "step",
      "warmup",      "max-origins", "coverage",   "prom-range",   "prom-sf", "prom-tf",    "output-csv",
      "summary-csv", "plot",        "plot-model", "row-interval", "half",    "score-from", "score-until"};
  auto flags = ParseFlags(argc, argv, kSwitches, kValues);
  if (!flags.ok()) return flags.status();
  ForecastCommand c;
  c.help = flags->Has("help") || flags->Has("h");
  c.quiet = flags->Has("quiet");
  if (!flags->config_path.empty()) return Status::InvalidArgument("--config is not a flag of prescale-sim forecast");
  c.eval.models = DefaultModels(known_models);
  for (const auto& [name, value] : flags->values) {
    PRESCALE_RETURN_IF_ERROR(ApplyFlag(name, value, known_models, &c));
  }
  if (c.help) return c;
  auto given = [&](const char* flag) {
    return std::any_of(flags->values.begin(), flags->values.end(), [&](const auto& v) { return v.first == flag; });
  };
  if (given("half") && (given("score-from") || given("score-until"))) {
    return Status::InvalidArgument("--half and --score-from/--score-until exclude each other");
  }
  if (!(c.eval.score_from < c.eval.score_until)) {
    return Status::InvalidArgument("--score-from must be below --score-until");
  }
  if (c.trace_path.empty()) return Status::InvalidArgument("--trace is required");
  if (!given("horizon")) return Status::InvalidArgument("--horizon is required");
  if (!c.plot_model.empty() &&
      std::find(c.eval.models.begin(), c.eval.models.end(), c.plot_model) == c.eval.models.end()) {
    return Status::InvalidArgument("--plot-model " + c.plot_model + " is not among --models");
  }
  return c;
}

}  // namespace prescale::sim
