// A trace placed on a regular time grid, the form prescale-sim evaluates on:
// every model sees the same samples at the same times, and every forecast has
// an actual at exactly origin + horizon. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "prescale/sim/trace.h"

namespace prescale::sim {

struct GridSeries {
  int64_t start_ms = 0;  // the first sample's time: the grid is anchored there
  int64_t step_ms = 0;
  // values[k] is at start_ms + k * step_ms; NaN inside a gap.
  std::vector<double> values;

  int64_t TimeAt(size_t k) const { return start_ms + static_cast<int64_t>(k) * step_ms; }
};

// The median spacing of consecutive samples, rounded to the second (0 with
// fewer than two samples). Robust to the odd gap and to a second of jitter.
int64_t MedianIntervalMs(const Trace& trace);

// Linear interpolation between the finite samples around each grid point
// when they are at most 2 steps apart (one missing sample is bridged, jitter
// is absorbed); a grid point in a longer gap, or next to non-finite samples
// only, is NaN. A sample exactly on a grid point gives its own value.
// step_ms must be positive. ResourceExhausted when the grid would exceed 20M points.
Result<GridSeries> Regrid(const Trace& trace, int64_t step_ms);

}  // namespace prescale::sim
