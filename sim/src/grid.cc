#include "prescale/sim/grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace prescale::sim {
namespace {
// 20M points: a year at 2 s. Far beyond any trace; stops a typo from eating the memory.
constexpr size_t kMaxGridPoints = 20'000'000;
}  // namespace

int64_t MedianIntervalMs(const Trace& trace) {
  const auto& ts = trace.timestamps_ms;
  if (ts.size() < 2) return 0;
  std::vector<int64_t> gaps;
  gaps.reserve(ts.size() - 1);
  for (size_t i = 1; i < ts.size(); ++i) gaps.push_back(ts[i] - ts[i - 1]);
  auto mid = gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2);
  std::nth_element(gaps.begin(), mid, gaps.end());
  const int64_t rounded = (*mid + 500) / 1000 * 1000;
  return std::max<int64_t>(rounded, 1000);
}

Result<GridSeries> Regrid(const Trace& trace, int64_t step_ms) {
  PRESCALE_CHECK(step_ms > 0);
  GridSeries grid;
  grid.step_ms = step_ms;
  // Only finite samples count: NaN rows are gaps in the source.
  std::vector<size_t> finite;
  for (size_t i = 0; i < trace.values.size(); ++i) {
    if (std::isfinite(trace.values[i])) finite.push_back(i);
  }
  if (trace.timestamps_ms.empty()) return grid;
  grid.start_ms = trace.timestamps_ms.front();
  const int64_t span_ms = trace.timestamps_ms.back() - grid.start_ms;
  const size_t n = static_cast<size_t>(span_ms / step_ms) + 1;
  if (n > kMaxGridPoints) {
    return Status::ResourceExhausted("the trace spans " + std::to_string(n) + " steps of " +
                                     std::to_string(step_ms / 1000) + " s, more than " +
                                     std::to_string(kMaxGridPoints) + ": choose a longer --step");
  }
  grid.values.assign(n, std::numeric_limits<double>::quiet_NaN());
  size_t next = 0;  // index into `finite` of the first sample at or after the grid point
  for (size_t k = 0; k < n; ++k) {
    const int64_t t = grid.TimeAt(k);
    while (next < finite.size() && trace.timestamps_ms[finite[next]] < t) ++next;
    if (next < finite.size() && trace.timestamps_ms[finite[next]] == t) {
      grid.values[k] = trace.values[finite[next]];
      continue;
    }
    if (next == 0 || next >= finite.size()) continue;
    const int64_t t0 = trace.timestamps_ms[finite[next - 1]];
    const int64_t t1 = trace.timestamps_ms[finite[next]];
    if (t1 - t0 > 2 * step_ms) continue;
    const double v0 = trace.values[finite[next - 1]];
    const double v1 = trace.values[finite[next]];
    grid.values[k] = v0 + (v1 - v0) * static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
  }
  return grid;
}

}  // namespace prescale::sim
