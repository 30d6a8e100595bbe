#include "season.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <unsupported/Eigen/FFT>
#include <vector>

namespace prescale::forecast {
namespace {

// Removing the least-squares line first: a trend alone correlates at every lag
// and would hide the season.
std::vector<double> Detrend(std::span<const double> y) {
  const double n = static_cast<double>(y.size());
  double st = 0, sy = 0, stt = 0, sty = 0;
  for (size_t t = 0; t < y.size(); ++t) {
    const double x = static_cast<double>(t);
    st += x, sy += y[t], stt += x * x, sty += x * y[t];
  }
  const double denom = n * stt - st * st;
  const double slope = denom != 0 ? (n * sty - st * sy) / denom : 0;
  const double intercept = (sy - slope * st) / n;
  std::vector<double> out(y.size());
  for (size_t t = 0; t < y.size(); ++t) out[t] = y[t] - intercept - slope * static_cast<double>(t);
  return out;
}

// Autocorrelation at lags 0..max_lag through the FFT (Wiener-Khinchin): a
// direct sum costs n * max_lag, ~3 ms for two days at 1-minute steps.
std::vector<double> Autocorrelation(const std::vector<double>& d, double variance, size_t max_lag) {
  size_t size = 1;
  while (size < 2 * d.size()) size *= 2;  // zero-padded: no wrap-around
  std::vector<double> padded(size, 0.0);
  std::copy(d.begin(), d.end(), padded.begin());
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> spectrum;
  fft.fwd(spectrum, padded);
  for (std::complex<double>& c : spectrum) c = std::norm(c);
  std::vector<double> autocovariance;
  fft.inv(autocovariance, spectrum);
  std::vector<double> acf(max_lag + 1, 0.0);
  for (size_t lag = 0; lag <= max_lag && lag < d.size(); ++lag) acf[lag] = autocovariance[lag] / variance;
  return acf;
}

}  // namespace

size_t DetectSeasonSteps(std::span<const double> y, double step_s, size_t max_lag, double min_acf) {
  const size_t n = y.size();
  const size_t last_lag = std::min(n / 2, max_lag);
  if (last_lag < 3) return 0;
  std::vector<double> d = Detrend(y);
  double variance = 0;
  for (double v : d) variance += v * v;
  if (!(variance > 0)) return 0;
  const std::vector<double> acf = Autocorrelation(d, variance, last_lag + 1);
  // A season is a peak that rises clearly (kProminence) above the lowest
  // autocorrelation at any shorter lag: a persistent series decays slowly with
  // small bumps on the way, and those are not seasons.
  constexpr double kProminence = 0.2;
  std::vector<double> low_before(last_lag + 1, acf[1]);
  for (size_t lag = 2; lag <= last_lag; ++lag) low_before[lag] = std::min(low_before[lag - 1], acf[lag - 1]);
  auto is_season = [&](size_t lag) {
    const bool peak = acf[lag] >= acf[lag - 1] && acf[lag] >= acf[lag + 1];
    return peak && acf[lag] >= min_acf && acf[lag] - low_before[lag] >= kProminence;
  };
  size_t best = 0;
  for (size_t lag = 2; lag <= last_lag; ++lag) {
    if (is_season(lag) && (best == 0 || acf[lag] > acf[best])) best = lag;
  }
  // Demand follows the clock: a peak within 10% of a day is the day (real
  // daily peaks are broad and land a few steps off), and the day also wins
  // when nearly as good as the best, unless the best is a shorter cycle that
  // repeats within the day at least as strongly (then the fresher one serves).
  const size_t day = step_s > 0 ? static_cast<size_t>(std::lround(86400.0 / step_s)) : 0;
  if (best == 0 || day < 2 || day > last_lag || day == best) return best;
  const double off_by = std::fabs(static_cast<double>(best) - static_cast<double>(day)) / static_cast<double>(day);
  const bool day_stands_out = acf[day] >= min_acf && acf[day] - low_before[day] >= kProminence;
  if (off_by <= 0.1 && acf[day] >= min_acf) return day;
  if (day_stands_out && acf[day] >= 0.8 * acf[best] && !(day % best == 0 && acf[best] >= acf[day])) return day;
  return best;
}

}  // namespace prescale::forecast
