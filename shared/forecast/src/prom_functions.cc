// Ported from the arithmetic of Prometheus 2.42's promql/functions.go
// (linearRegression, funcPredictLinear, funcHoltWinters, calcTrendValue,
// kahanSumInc). The order of floating-point operations is kept as it is there,
// because the equivalence test compares against a real Prometheus to ~1e-9.
#include "prescale/forecast/prom_functions.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace prescale::forecast {
namespace {

// Kahan summation with Neumaier's improvement: returns the new sum, updates *c.
double KahanSumInc(double inc, double sum, double* c) {
  const double t = sum + inc;
  if (std::fabs(sum) >= std::fabs(inc)) {
    *c += (sum - t) + inc;
  } else {
    *c += (inc - t) + sum;
  }
  return t;
}

// Holt's trend update; at i == 0 the initial trend passes through unchanged.
double CalcTrendValue(int i, double tf, double s0, double s1, double b) {
  if (i == 0) return b;
  const double x = tf * (s1 - s0);
  const double y = (1 - tf) * b;
  return x + y;
}

}  // namespace

PromLinearFit PromLinearRegression(std::span<const PromSample> samples, int64_t intercept_ms) {
  PRESCALE_CHECK(!samples.empty());
  double n = 0;
  double sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  const double init_y = samples[0].value;
  bool const_y = true;
  for (size_t i = 0; i < samples.size(); ++i) {
    const PromSample& s = samples[i];
    if (const_y && i > 0 && s.value != init_y) const_y = false;
    n += 1.0;
    const double x = static_cast<double>(s.timestamp_ms - intercept_ms) / 1e3;
    sum_x = KahanSumInc(x, sum_x, &c_x);
    sum_y = KahanSumInc(s.value, sum_y, &c_y);
    sum_xy = KahanSumInc(x * s.value, sum_xy, &c_xy);
    sum_x2 = KahanSumInc(x * x, sum_x2, &c_x2);
  }
  if (const_y) {
    // A flat line: exact, without the cancellation of the general formula.
    if (std::isinf(init_y)) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    return {0, init_y};
  }
  sum_x = sum_x + c_x;
  sum_y = sum_y + c_y;
  sum_xy = sum_xy + c_xy;
  sum_x2 = sum_x2 + c_x2;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  PromLinearFit fit;
  fit.slope = cov_xy / var_x;
  fit.intercept = sum_y / n - fit.slope * sum_x / n;
  return fit;
}

std::optional<double> PromPredictLinear(std::span<const PromSample> samples, int64_t eval_ms, double horizon_s) {
  if (samples.size() < 2) return std::nullopt;
  // The intercept is taken at the evaluation time, so the prediction is
  // slope * horizon + the line's value now.
  const PromLinearFit fit = PromLinearRegression(samples, eval_ms);
  return fit.slope * horizon_s + fit.intercept;
}

std::optional<double> PromHoltWinters(std::span<const PromSample> samples, double sf, double tf) {
  if (!(sf > 0 && sf < 1) || !(tf > 0 && tf < 1)) return std::nullopt;
  const size_t l = samples.size();
  if (l < 2) return std::nullopt;
  double s0 = 0;
  double s1 = samples[0].value;
  double b = samples[1].value - samples[0].value;
  for (size_t i = 1; i < l; ++i) {
    const double x = sf * samples[i].value;
    b = CalcTrendValue(static_cast<int>(i) - 1, tf, s0, s1, b);
    const double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

std::vector<std::string> PromBaselineNames() { return {"prom_predict_linear", "prom_double_exponential_smoothing"}; }

namespace {

// Holds the raw samples of the last range and evaluates one of the two
// functions at the newest sample's time.
class PromBaselineForecaster final : public Forecaster {
 public:
  PromBaselineForecaster(std::string name, PromBaselineOptions options)
      : name_(std::move(name)), options_(options), linear_(name_ == "prom_predict_linear") {}

  void Observe(int64_t timestamp_ms, double value) override {
    if (!std::isfinite(value)) return;
    if (!samples_.empty() && timestamp_ms <= samples_.back().timestamp_ms) return;
    samples_.push_back({timestamp_ms, value});
    // Prometheus 2.x selects [T - range, T], both ends included.
    while (samples_.front().timestamp_ms < timestamp_ms - options_.range_ms) samples_.pop_front();
  }

  ForecastResult Forecast(std::chrono::milliseconds horizon) const override {
    ForecastResult r;
    if (samples_.empty()) return r;
    const int64_t now_ms = samples_.back().timestamp_ms;
    r.target_ms = now_ms + horizon.count();
    window_.assign(samples_.begin(), samples_.end());
    const std::optional<double> v = linear_
                                        ? PromPredictLinear(window_, now_ms, static_cast<double>(horizon.count()) / 1e3)
                                        : PromHoltWinters(window_, options_.sf, options_.tf);
    double point = v.has_value() && std::isfinite(*v) ? *v : samples_.back().value;
    point = std::max(0.0, point);
    r.point = r.lower = r.upper = point;
    return r;
  }

  std::string model() const override { return name_; }
  size_t size() const override { return samples_.size(); }

 private:
  std::string name_;
  PromBaselineOptions options_;
  bool linear_;
  std::deque<PromSample> samples_;
  mutable std::vector<PromSample> window_;  // contiguous copy for the span; reused
};

}  // namespace

Result<std::unique_ptr<Forecaster>> MakePromBaseline(const ForecastSpec& spec, const PromBaselineOptions& defaults) {
  const std::vector<std::string> names = PromBaselineNames();
  if (std::find(names.begin(), names.end(), spec.model) == names.end()) {
    return Status::InvalidArgument("unknown model '" + spec.model + "'");
  }
  PromBaselineOptions o = defaults;
  for (const auto& [key, value] : spec.params) {
    if (!std::isfinite(value)) return Status::InvalidArgument("model " + spec.model + ": " + key + " is not finite");
    if (key == "range_s") {
      o.range_ms = static_cast<int64_t>(std::llround(value * 1e3));
    } else if (key == "sf") {
      o.sf = value;
    } else if (key == "tf") {
      o.tf = value;
    } else {
      return Status::InvalidArgument("model " + spec.model + ": unknown parameter '" + key + "'");
    }
  }
  if (!(o.range_ms > 0)) return Status::InvalidArgument("model " + spec.model + ": range_s must be positive");
  if (!(o.sf > 0 && o.sf < 1)) return Status::InvalidArgument("model " + spec.model + ": sf must be in (0, 1)");
  if (!(o.tf > 0 && o.tf < 1)) return Status::InvalidArgument("model " + spec.model + ": tf must be in (0, 1)");
  return std::unique_ptr<Forecaster>(std::make_unique<PromBaselineForecaster>(spec.model, o));
}

}  // namespace prescale::forecast
