#include "optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace prescale::forecast {
namespace {

using Point = std::vector<double>;

double Clamp(double v, const Bounds& b) { return std::clamp(v, b.lo, b.hi); }

struct Evaluator {
  const std::function<double(const Point&)>& objective;
  const std::vector<Bounds>& bounds;
  int evals = 0;

  double operator()(Point& x) {
    for (size_t i = 0; i < x.size(); ++i) x[i] = Clamp(x[i], bounds[i]);
    ++evals;
    double v = objective(x);
    return std::isfinite(v) ? v : std::numeric_limits<double>::infinity();
  }
};

// Three levels per dimension keep the grid at 27 points for Holt-Winters'
// three parameters; Nelder-Mead does the fine work.
Point GridStart(Evaluator& eval, size_t dims, double* best_value) {
  const int levels = dims <= 1 ? 7 : (dims == 2 ? 4 : 3);
  Point best(dims), x(dims);
  *best_value = std::numeric_limits<double>::infinity();
  std::vector<int> idx(dims, 0);
  while (true) {
    for (size_t i = 0; i < dims; ++i) {
      const Bounds& b = eval.bounds[i];
      x[i] = b.lo + (b.hi - b.lo) * (idx[i] + 0.5) / levels;
    }
    double v = eval(x);
    if (v < *best_value) *best_value = v, best = x;
    size_t d = 0;
    while (d < dims && ++idx[d] == levels) idx[d++] = 0;
    if (d == dims) break;
  }
  return best;
}

}  // namespace

Point Minimize(const std::function<double(const Point&)>& objective, const std::vector<Bounds>& bounds, int max_evals) {
  const size_t n = bounds.size();
  if (n == 0) return {};
  Evaluator eval{objective, bounds};
  double start_value = 0;
  Point start = GridStart(eval, n, &start_value);

  // Nelder-Mead (standard coefficients) on a simplex around the grid optimum.
  std::vector<Point> simplex(n + 1, start);
  std::vector<double> values(n + 1, start_value);
  for (size_t i = 0; i < n; ++i) {
    double span = (bounds[i].hi - bounds[i].lo) * 0.15;
    simplex[i + 1][i] += simplex[i + 1][i] + span <= bounds[i].hi ? span : -span;
    values[i + 1] = eval(simplex[i + 1]);
  }
  std::vector<size_t> order(n + 1);
  while (eval.evals < max_evals) {
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
    const size_t best = order.front(), worst = order.back(), second = order[n - 1];
    // Converged when the simplex's values agree to a part in 10^4: a squared
    // error 0.01% lower does not make a better forecast, and refits are the
    // engine's main cost.
    if (std::fabs(values[worst] - values[best]) <= 1e-4 * (std::fabs(values[best]) + 1e-300)) break;
    Point centroid(n, 0.0);
    for (size_t k = 0; k < n; ++k) {
      for (size_t i = 0; i < n; ++i) centroid[i] += simplex[order[k]][i] / static_cast<double>(n);
    }
    auto along = [&](double t) {
      Point p(n);
      for (size_t i = 0; i < n; ++i) p[i] = centroid[i] + t * (simplex[worst][i] - centroid[i]);
      return p;
    };
    Point reflected = along(-1.0);
    double fr = eval(reflected);
    if (fr < values[best]) {
      Point expanded = along(-2.0);
      double fe = eval(expanded);
      if (fe < fr)
        simplex[worst] = expanded, values[worst] = fe;
      else
        simplex[worst] = reflected, values[worst] = fr;
    } else if (fr < values[second]) {
      simplex[worst] = reflected, values[worst] = fr;
    } else {
      Point contracted = along(0.5);
      double fc = eval(contracted);
      if (fc < values[worst]) {
        simplex[worst] = contracted, values[worst] = fc;
      } else {
        for (size_t k = 0; k <= n; ++k) {
          if (k == best) continue;
          for (size_t i = 0; i < n; ++i) simplex[k][i] = simplex[best][i] + 0.5 * (simplex[k][i] - simplex[best][i]);
          values[k] = eval(simplex[k]);
        }
      }
    }
  }
  size_t best = static_cast<size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  return simplex[best];
}

}  // namespace prescale::forecast
