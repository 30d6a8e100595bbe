// Grid series for the sim's tests.
#pragma once

#include <cstddef>

#include "prescale/sim/grid.h"

namespace prescale::testing {

// A line of n points at 1-minute steps: 10, 11, 12, ...
inline sim::GridSeries Line(size_t n) {
  sim::GridSeries g;
  g.start_ms = 1'000'000'000'000;
  g.step_ms = 60'000;
  for (size_t k = 0; k < n; ++k) g.values.push_back(10 + static_cast<double>(k));
  return g;
}

}  // namespace prescale::testing
