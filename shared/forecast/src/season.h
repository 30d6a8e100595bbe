// Finding a series' season length (in grid steps) from its autocorrelation.
// Stateless, thread-safe.
#pragma once

#include <cstddef>
#include <span>

namespace prescale::forecast {

// The lag (>= 2 steps) at which the linearly detrended series correlates best
// with itself, looking at lags up to min(size/2, max_lag); a lag of one day
// (86400 s / step_s) wins when it is nearly as good, since demand follows the
// clock. 0 when no lag reaches an autocorrelation of `min_acf`.
size_t DetectSeasonSteps(std::span<const double> y, double step_s, size_t max_lag, double min_acf = 0.3);

}  // namespace prescale::forecast
