// MakeForecaster and the model catalogue: names, parameters with their
// defaults and ranges, validation with messages that name the culprit.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "gridded_forecaster.h"
#include "point_model.h"
#include "prescale/forecast/forecaster.h"
#include "smoothing_model.h"

namespace prescale::forecast {

std::unique_ptr<PointModel> MakeNaiveModel();
std::unique_ptr<PointModel> MakeSeasonalNaiveModel(const ModelContext& c);
std::unique_ptr<PointModel> MakeMovingAverageModel(const ModelContext& c);
std::unique_ptr<PointModel> MakeMedianModel(const ModelContext& c);
std::unique_ptr<PointModel> MakeLinearModel(const ModelContext& c);
std::unique_ptr<PointModel> MakeThetaModel(const ModelContext& c);
std::unique_ptr<PointModel> MakeAutoModel(const ModelContext& c);

namespace {

enum class Range { kOpenUnit, kPhi, kFlag, kPositive, kNonNegative, kCount, kFraction };

struct ParamRule {
  const char* name;
  Range range;
  const char* default_value;
  const char* description;
  double min_count = 1, max_count = 1e9;  // for kCount
};

const ParamRule kCommon[] = {
    {"refit_every_steps", Range::kCount, "60",
     "refit parameters at most this many grid points apart (young series refit as their history doubles)"},
    {"refit_offset_steps", Range::kCount, "0",
     "shifts the periodic refits, e.g. by a hash of the series, so series started together do not refit together", 0},
    {"interp_gap_s", Range::kNonNegative, "3600",
     "gaps up to this long are filled by linear interpolation, longer ones by the last value"},
    {"horizon_s", Range::kPositive, "900",
     "the horizon planned for: auto selects by MASE at it, linear picks its window by the error at it"},
};
const ParamRule kAlpha{"alpha", Range::kOpenUnit, "fitted", "level smoothing"};
const ParamRule kBeta{"beta", Range::kOpenUnit, "fitted", "trend smoothing"};
const ParamRule kGamma{"gamma", Range::kOpenUnit, "fitted", "season smoothing"};
const ParamRule kDamped{"damped", Range::kFlag, "0", "1: damped trend (phi fitted in [0.8,1) unless given)"};
const ParamRule kPhi{"phi", Range::kPhi, "fitted when damped", "trend damping factor; giving it implies damped"};
const ParamRule kSeasonSteps{"season_steps", Range::kCount, "detected",
                             "season length in grid points; default: autocorrelation, a day when close", 2};
const ParamRule kSeasonS{"season_s", Range::kPositive, "detected", "season length in seconds (instead of steps)"};

std::vector<ParamRule> OwnParams(std::string_view model) {
  if (model == "seasonal_naive") return {kSeasonSteps, kSeasonS};
  if (model == "sma") return {{"window_steps", Range::kCount, "fitted", "points averaged (error at horizon_s)", 1}};
  if (model == "median") {
    return {{"window_steps", Range::kCount, "fitted", "points whose median answers (absolute error at horizon_s)", 1}};
  }
  if (model == "ewma") return {kAlpha};
  if (model == "linear") {
    return {{"window_steps", Range::kCount, "fitted", "points regressed (error at horizon_s)", 3},
            {"fourier_daily", Range::kCount, "0", "daily harmonics (sin/cos pairs); window: whole history", 0, 5},
            {"fourier_weekly", Range::kCount, "0", "weekly harmonics (sin/cos pairs)", 0, 5}};
  }
  if (model == "holt") return {kAlpha, kBeta, kDamped, kPhi};
  if (model == "holt_winters") {
    return {kAlpha,       kBeta,
            kGamma,       kDamped,
            kPhi,         {"multiplicative", Range::kFlag, "0", "1: multiplicative season (additive when values <= 0)"},
            kSeasonSteps, kSeasonS};
  }
  if (model == "theta") return {kAlpha, kSeasonSteps, kSeasonS};
  if (model == "auto") {
    return {{"error_half_life_s", Range::kPositive, "86400",
             "half-life of the recent error at horizon_s that weights the candidates"},
            {"dominance", Range::kFraction, "0.05",
             "the best candidate answers alone when its recent error is this share below the next one's; "
             "else the candidates within this share of it are averaged (at most 3)"},
            {"naive_margin", Range::kNonNegative, "0.05",
             "naive answers when the combination's recent error exceeds naive's by more than this share"}};
  }
  return {};
}

std::string Format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Empty when v is acceptable, else what it must be.
std::string CheckRange(const ParamRule& rule, double v) {
  switch (rule.range) {
    case Range::kOpenUnit: return v > 0 && v < 1 ? "" : "must be in (0,1)";
    case Range::kPhi: return v > 0 && v <= 1 ? "" : "must be in (0,1]";
    case Range::kFlag: return v == 0 || v == 1 ? "" : "must be 0 or 1";
    case Range::kPositive: return v > 0 ? "" : "must be > 0";
    case Range::kNonNegative: return v >= 0 ? "" : "must be >= 0";
    case Range::kFraction: return v >= 0 && v < 1 ? "" : "must be in [0,1)";
    case Range::kCount:
      if (v == std::floor(v) && v >= rule.min_count && v <= rule.max_count) return "";
      return "must be a whole number in [" + Format(rule.min_count) + "," + Format(rule.max_count) + "]";
  }
  return "";
}

const ParamRule* FindRule(const std::vector<ParamRule>& own, const std::string& name) {
  for (const ParamRule& r : own) {
    if (name == r.name) return &r;
  }
  for (const ParamRule& r : kCommon) {
    if (name == r.name) return &r;
  }
  return nullptr;
}

Status CheckOptions(const ForecastSpec& spec) {
  const ForecastOptions& o = spec.options;
  if (o.step.count() <= 0) return Status::InvalidArgument(spec.model + ": step must be > 0 ms");
  if (!(o.coverage > 0 && o.coverage < 1)) {
    return Status::InvalidArgument(spec.model + ": coverage must be in (0,1), got " + Format(o.coverage));
  }
  if (o.max_history < 3) {
    return Status::InvalidArgument(spec.model + ": max_history must be >= 3, got " + std::to_string(o.max_history));
  }
  return Status::Ok();
}

Status CheckParams(const ForecastSpec& spec) {
  const std::vector<ParamRule> own = OwnParams(spec.model);
  for (const auto& [name, value] : spec.params) {
    const ParamRule* rule = FindRule(own, name);
    if (rule == nullptr) {
      std::string accepted;
      for (const ModelParam& p : ModelParams(spec.model)) accepted += (accepted.empty() ? "" : ", ") + p.name;
      return Status::InvalidArgument(spec.model + ": unknown parameter '" + name + "' (accepted: " + accepted + ")");
    }
    std::string problem = std::isfinite(value) ? CheckRange(*rule, value) : "must be finite";
    if (!problem.empty())
      return Status::InvalidArgument(spec.model + ": " + name + " " + problem + ", got " + Format(value));
  }
  const double step_s = static_cast<double>(spec.options.step.count()) / 1000.0;
  const auto season_steps = [&]() -> double {
    if (spec.params.count("season_steps")) return spec.params.at("season_steps");
    if (spec.params.count("season_s")) return std::round(spec.params.at("season_s") / step_s);
    return 0;
  }();
  if (spec.params.count("season_s") && season_steps < 2) {
    return Status::InvalidArgument(spec.model + ": season_s must be at least two steps, got " +
                                   Format(spec.params.at("season_s")));
  }
  const double needed = spec.model == "holt_winters" || spec.model == "theta" ? 2 * season_steps : season_steps;
  if (needed > static_cast<double>(spec.options.max_history)) {
    return Status::InvalidArgument(spec.model + ": a season of " + Format(season_steps) + " steps needs " +
                                   Format(needed) + " points of history, but max_history is " +
                                   std::to_string(spec.options.max_history));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> ModelNames() {
  return {"naive", "seasonal_naive", "sma", "median", "ewma", "linear", "holt", "holt_winters", "theta", "auto"};
}

std::vector<ModelParam> ModelParams(std::string_view model) {
  std::vector<ModelParam> out;
  const std::vector<std::string> names = ModelNames();
  if (std::find(names.begin(), names.end(), model) == names.end()) return out;
  for (const ParamRule& r : OwnParams(model)) out.push_back({r.name, r.default_value, r.description});
  for (const ParamRule& r : kCommon) out.push_back({r.name, r.default_value, r.description});
  return out;
}

std::unique_ptr<PointModel> MakePointModel(const std::string& name, const ModelContext& c) {
  using Kind = ExponentialSmoothingModel::Kind;
  if (name == "naive") return MakeNaiveModel();
  if (name == "seasonal_naive") return MakeSeasonalNaiveModel(c);
  if (name == "sma") return MakeMovingAverageModel(c);
  if (name == "median") return MakeMedianModel(c);
  if (name == "linear") return MakeLinearModel(c);
  if (name == "ewma") return std::make_unique<ExponentialSmoothingModel>(Kind::kEwma, c);
  if (name == "holt") return std::make_unique<ExponentialSmoothingModel>(Kind::kHolt, c);
  if (name == "holt_winters") return std::make_unique<ExponentialSmoothingModel>(Kind::kHoltWinters, c);
  if (name == "theta") return MakeThetaModel(c);
  if (name == "auto") return MakeAutoModel(c);
  return nullptr;
}

Result<std::unique_ptr<Forecaster>> MakeForecaster(const ForecastSpec& spec) {
  bool known = false;
  std::string names;
  for (const std::string& n : ModelNames()) known |= n == spec.model, names += (names.empty() ? "" : ", ") + n;
  if (!known) return Status::InvalidArgument("unknown forecast model '" + spec.model + "' (known: " + names + ")");
  PRESCALE_RETURN_IF_ERROR(CheckOptions(spec));
  PRESCALE_RETURN_IF_ERROR(CheckParams(spec));
  ModelContext context;
  context.step_s = static_cast<double>(spec.options.step.count()) / 1000.0;
  context.params = spec.params;
  GridSettings settings;
  settings.refit_every_steps = static_cast<size_t>(context.Get("refit_every_steps", 60));
  settings.refit_offset_steps = static_cast<size_t>(context.Get("refit_offset_steps", 0));
  settings.interp_gap_steps = static_cast<int64_t>(std::floor(context.Get("interp_gap_s", 3600) / context.step_s));
  settings.horizon_steps = static_cast<int>(std::ceil(context.Get("horizon_s", 900) / context.step_s - 1e-9));
  std::unique_ptr<Forecaster> f =
      std::make_unique<GriddedForecaster>(spec.options, settings, spec.model, MakePointModel(spec.model, context));
  return f;
}

}  // namespace prescale::forecast
