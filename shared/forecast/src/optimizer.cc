#include "optimizer.h"

#include <algorithm>
#include <array>
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

constexpr size_t kMaxDims = 4;

// Nelder-Mead with the standard coefficients.
class Simplex {
 public:
  Simplex(Evaluator& eval, const Point& start, double start_value) : eval_(eval), n_(start.size()) {
    points_.assign(n_ + 1, start);
    values_.assign(n_ + 1, start_value);
    for (size_t i = 0; i < n_; ++i) {
      const Bounds& b = eval_.bounds[i];
      const double span = (b.hi - b.lo) * 0.15;
      points_[i + 1][i] += points_[i + 1][i] + span <= b.hi ? span : -span;
      values_[i + 1] = eval_(points_[i + 1]);
    }
  }

  // One reflect / expand / contract / shrink move; false once converged:
  // when the vertices' values agree to a part in 10^4 (a squared error 0.01%
  // lower does not make a better forecast, and refits are the engine's main cost).
  bool Step() {
    std::array<size_t, kMaxDims + 1> order{};
    std::iota(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_ + 1), 0);
    // Insertion sort: at most five vertices (and std::sort trips GCC 12's -Warray-bounds here).
    for (size_t i = 1; i <= n_; ++i) {
      for (size_t j = i; j > 0 && values_[order[j]] < values_[order[j - 1]]; --j) std::swap(order[j], order[j - 1]);
    }
    const size_t best = order[0], worst = order[n_], second = order[n_ - 1];
    if (std::fabs(values_[worst] - values_[best]) <= 1e-4 * (std::fabs(values_[best]) + 1e-300)) return false;
    Point centroid(n_, 0.0);
    for (size_t k = 0; k < n_; ++k) {
      for (size_t i = 0; i < n_; ++i) centroid[i] += points_[order[k]][i] / static_cast<double>(n_);
    }
    auto along = [&](double t) {
      Point p(n_);
      for (size_t i = 0; i < n_; ++i) p[i] = centroid[i] + t * (points_[worst][i] - centroid[i]);
      return p;
    };
    Point reflected = along(-1.0);
    const double fr = eval_(reflected);
    if (fr < values_[best]) {
      Point expanded = along(-2.0);
      const double fe = eval_(expanded);
      fe < fr ? Replace(worst, expanded, fe) : Replace(worst, reflected, fr);
    } else if (fr < values_[second]) {
      Replace(worst, reflected, fr);
    } else {
      Point contracted = along(0.5);
      const double fc = eval_(contracted);
      fc < values_[worst] ? Replace(worst, contracted, fc) : Shrink(best);
    }
    return true;
  }

  const Point& Best() const {
    return points_[static_cast<size_t>(std::min_element(values_.begin(), values_.end()) - values_.begin())];
  }

 private:
  void Replace(size_t k, const Point& p, double v) { points_[k] = p, values_[k] = v; }
  void Shrink(size_t best) {
    for (size_t k = 0; k <= n_; ++k) {
      if (k == best) continue;
      for (size_t i = 0; i < n_; ++i) points_[k][i] = points_[best][i] + 0.5 * (points_[k][i] - points_[best][i]);
      values_[k] = eval_(points_[k]);
    }
  }

  Evaluator& eval_;
  size_t n_;
  std::vector<Point> points_;
  std::vector<double> values_;
};

}  // namespace

Point Minimize(const std::function<double(const Point&)>& objective, const std::vector<Bounds>& bounds, int max_evals) {
  if (bounds.empty() || bounds.size() > kMaxDims) return {};
  Evaluator eval{objective, bounds};
  double start_value = 0;
  const Point start = GridStart(eval, bounds.size(), &start_value);
  Simplex simplex(eval, start, start_value);
  while (eval.evals < max_evals && simplex.Step()) {
  }
  return simplex.Best();
}

}  // namespace prescale::forecast
