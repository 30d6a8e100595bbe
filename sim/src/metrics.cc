#include "prescale/sim/metrics.h"

#include <cmath>
#include <limits>

#include "prescale/base/status.h"

namespace prescale::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool Finite(double a, double b) { return std::isfinite(a) && std::isfinite(b); }

}  // namespace

double NaiveOneStepMae(std::span<const double> series) {
  double sum = 0;
  size_t n = 0;
  for (size_t k = 1; k < series.size(); ++k) {
    if (!Finite(series[k], series[k - 1])) continue;
    sum += std::fabs(series[k] - series[k - 1]);
    ++n;
  }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

double Mae(std::span<const double> actual, std::span<const double> point) {
  PRESCALE_CHECK(actual.size() == point.size());
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!Finite(actual[i], point[i])) continue;
    sum += std::fabs(point[i] - actual[i]);
    ++n;
  }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

double Mase(std::span<const double> actual, std::span<const double> point, double scale) {
  if (!(scale > 0)) return kNaN;
  return Mae(actual, point) / scale;
}

double Smape(std::span<const double> actual, std::span<const double> point) {
  PRESCALE_CHECK(actual.size() == point.size());
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!Finite(actual[i], point[i])) continue;
    const double denominator = std::fabs(actual[i]) + std::fabs(point[i]);
    if (denominator > 0) sum += 2 * std::fabs(point[i] - actual[i]) / denominator;
    ++n;
  }
  return n == 0 ? kNaN : 100 * sum / static_cast<double>(n);
}

double Rmse(std::span<const double> actual, std::span<const double> point) {
  PRESCALE_CHECK(actual.size() == point.size());
  double sum = 0;
  size_t n = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!Finite(actual[i], point[i])) continue;
    const double e = point[i] - actual[i];
    sum += e * e;
    ++n;
  }
  return n == 0 ? kNaN : std::sqrt(sum / static_cast<double>(n));
}

double Coverage(std::span<const double> actual, std::span<const double> lower, std::span<const double> upper) {
  PRESCALE_CHECK(actual.size() == lower.size() && actual.size() == upper.size());
  size_t inside = 0;
  size_t n = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!std::isfinite(actual[i]) || !Finite(lower[i], upper[i])) continue;
    if (lower[i] <= actual[i] && actual[i] <= upper[i]) ++inside;
    ++n;
  }
  return n == 0 ? kNaN : static_cast<double>(inside) / static_cast<double>(n);
}

}  // namespace prescale::sim
