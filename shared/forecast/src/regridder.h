// Regridder: samples of any timing onto the regular grid every model works on.
// Grid point k (at time k * step) is the mean of the samples in
// ((k-1) * step, k * step]; it is emitted once a sample past it arrives, or at
// once when a sample lands exactly on k * step (aligned scrapes lose no step).
// Guards: non-finite values (NaN, Inf, Prometheus' stale marker) and
// out-of-order or repeated timestamps are dropped. Gaps of up to
// `interp_gap_steps` missing points are filled by linear interpolation between
// the points either side; longer gaps are forward-filled with the last value,
// since a straight line over hours invents a trend; a gap longer than
// `max_fill_steps` is not filled at all and the next point jumps ahead (the
// owner then starts over). Counters become per-second rates; a drop is a reset
// and the new value counts from zero, as Prometheus' rate() does.
// Not thread-safe; one owner.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace prescale::forecast {

class Regridder {
 public:
  Regridder(int64_t step_ms, bool counter, int64_t interp_gap_steps, int64_t max_fill_steps)
      : step_ms_(step_ms), counter_(counter), interp_gap_steps_(interp_gap_steps), max_fill_steps_(max_fill_steps) {}

  // Adds one sample; calls sink(grid_index, value) for each grid point it
  // completes, in increasing index order, values always finite.
  template <typename Sink>
  void Add(int64_t timestamp_ms, double value, Sink&& sink) {
    if (!std::isfinite(value) || timestamp_ms <= last_ms_) return;
    last_ms_ = timestamp_ms;
    if (counter_ && !ToRate(timestamp_ms, &value)) return;
    const int64_t index = CeilDiv(timestamp_ms, step_ms_);
    if (open_count_ > 0 && index != open_index_) Close(sink);
    open_index_ = index;
    open_sum_ += value;
    ++open_count_;
    if (!std::isfinite(open_sum_)) open_sum_ = value, open_count_ = 1;  // overflowing sums restart
    if (timestamp_ms == index * step_ms_) Close(sink);
  }

  int64_t step_ms() const { return step_ms_; }

 private:
  static int64_t CeilDiv(int64_t a, int64_t b) { return a / b + ((a % b) > 0 ? 1 : 0); }

  // Turns a counter reading into the per-second rate since the previous one;
  // false for the first reading, which has no rate yet.
  bool ToRate(int64_t timestamp_ms, double* value) {
    const bool have_previous = have_counter_;
    const double previous = counter_value_;
    const int64_t previous_ms = counter_ms_;
    have_counter_ = true, counter_value_ = *value, counter_ms_ = timestamp_ms;
    if (!have_previous) return false;
    const double increase = *value >= previous ? *value - previous : *value;
    *value = increase / (static_cast<double>(timestamp_ms - previous_ms) / 1000.0);
    return std::isfinite(*value);
  }

  template <typename Sink>
  void Close(Sink&& sink) {
    const double value = open_sum_ / static_cast<double>(open_count_);
    open_sum_ = 0, open_count_ = 0;
    if (emitted_ && open_index_ > emitted_index_ + 1) {
      const int64_t missing = open_index_ - emitted_index_ - 1;
      if (missing <= max_fill_steps_) {
        const bool interpolate = missing <= interp_gap_steps_;
        for (int64_t i = 1; i <= missing; ++i) {
          const double fraction = static_cast<double>(i) / static_cast<double>(missing + 1);
          sink(emitted_index_ + i, interpolate ? emitted_value_ + fraction * (value - emitted_value_) : emitted_value_);
        }
      }
    }
    emitted_ = true, emitted_index_ = open_index_, emitted_value_ = value;
    sink(open_index_, value);
  }

  int64_t step_ms_;
  bool counter_;
  int64_t interp_gap_steps_, max_fill_steps_;
  int64_t last_ms_ = std::numeric_limits<int64_t>::min();
  // The grid point being filled.
  int64_t open_index_ = 0;
  double open_sum_ = 0;
  int64_t open_count_ = 0;
  // The last grid point handed out.
  bool emitted_ = false;
  int64_t emitted_index_ = 0;
  double emitted_value_ = 0;
  // The previous counter reading.
  bool have_counter_ = false;
  double counter_value_ = 0;
  int64_t counter_ms_ = 0;
};

}  // namespace prescale::forecast
