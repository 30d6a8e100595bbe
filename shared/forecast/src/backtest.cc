#include "backtest.h"

#include <cmath>
#include <vector>

namespace prescale::forecast {

BacktestErrors RollForward(PointModel& model, std::span<const double> y, size_t start, int h,
                           std::vector<double>* forecasts) {
  BacktestErrors errors;
  const size_t n = y.size();
  const size_t hs = static_cast<size_t>(h);
  if (forecasts != nullptr) forecasts->assign(n > start ? n - start : 0, std::nan(""));
  if (start == 0 || start >= n || h < 1) return errors;
  // pending[t % h]: the forecast made h steps before t.
  std::vector<double> pending(hs, 0.0);
  for (size_t i = start; i < n; ++i) {
    const size_t origin = i - 1;
    if (origin + hs < n) {
      double p = model.Predict(h);
      pending[(origin + hs) % hs] = std::isfinite(p) ? p : y[origin];
    }
    if (i >= start - 1 + hs) {
      const double e = y[i] - pending[i % hs];
      if (forecasts != nullptr) (*forecasts)[i - start] = pending[i % hs];
      errors.abs_sum += std::fabs(e);
      errors.sq_sum += e * e;
      ++errors.count;
    }
    model.Update(y[i]);
  }
  return errors;
}

double NaiveScale(std::span<const double> y, int h) {
  const size_t hs = static_cast<size_t>(h);
  if (h < 1 || y.size() <= hs) return 0;
  double sum = 0;
  for (size_t t = hs; t < y.size(); ++t) sum += std::fabs(y[t] - y[t - hs]);
  return sum / static_cast<double>(y.size() - hs);
}

}  // namespace prescale::forecast
