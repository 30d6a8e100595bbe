// Bounded minimisation of a few smoothing parameters (one-step squared error):
// a coarse grid, then Nelder-Mead from the best grid point. Stateless, thread-safe.
#pragma once

#include <functional>
#include <vector>

namespace prescale::forecast {

struct Bounds {
  double lo = 0;
  double hi = 1;
};

// The x within `bounds` (one per dimension, at most 4) with the smallest
// objective found in about `max_evals` evaluations. Non-finite objective values
// count as +infinity.
std::vector<double> Minimize(const std::function<double(const std::vector<double>&)>& objective,
                             const std::vector<Bounds>& bounds, int max_evals = 120);

}  // namespace prescale::forecast
