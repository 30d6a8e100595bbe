// Private to the demand rollups (demand.cc, demand_export.cc): the per-key
// state and the ring of final buckets. Not thread-safe by itself: Key::mu guards a key.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <vector>

#include "prescale/aggregator/history/demand.h"

namespace prescale::aggregator {
namespace demand_internal {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kQuarterMinutes = 15;
inline constexpr int64_t kUnset = std::numeric_limits<int64_t>::min();

inline int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Final buckets, one per bucket number (minute or quarter since the epoch).
// Floats: 8 bytes a point keep 5 weeks of a key under 60 KB; their 24-bit
// mantissa is far finer than any demand's measurement error.
class Ring {
 public:
  explicit Ring(size_t capacity) : capacity_(capacity) {}

  // Sets a bucket's avg and max; a NaN argument keeps what the bucket holds.
  void Set(int64_t bucket, double avg, double max) {
    if (points_.empty()) {
      first_ = bucket;
    } else if (bucket < first_) {
      if (first_ - bucket + static_cast<int64_t>(points_.size()) > static_cast<int64_t>(capacity_)) return;
      points_.insert(points_.begin(), static_cast<size_t>(first_ - bucket), Point{kNaN, kNaN});
      first_ = bucket;
    } else if (bucket - first_ >= static_cast<int64_t>(capacity_) + static_cast<int64_t>(points_.size())) {
      points_.clear();  // far ahead of everything held: start over
      first_ = bucket;
    }
    while (bucket >= first_ + static_cast<int64_t>(points_.size())) points_.push_back(Point{kNaN, kNaN});
    Point& p = points_[static_cast<size_t>(bucket - first_)];
    if (!std::isnan(avg)) p.avg = static_cast<float>(avg);
    if (!std::isnan(max)) p.max = static_cast<float>(max);
    while (points_.size() > capacity_) {
      points_.pop_front();
      ++first_;
    }
  }

  // Calls fn(bucket, avg, max) for held buckets in [from, to) with data.
  template <typename Fn>
  void ForEach(int64_t from, int64_t to, Fn&& fn) const {
    const int64_t begin = std::max(from, first_);
    const int64_t end = std::min(to, first_ + static_cast<int64_t>(points_.size()));
    for (int64_t b = begin; b < end; ++b) {
      const Point& p = points_[static_cast<size_t>(b - first_)];
      if (!std::isnan(p.avg)) fn(b, static_cast<double>(p.avg), static_cast<double>(p.max));
    }
  }

  bool empty() const { return points_.empty(); }
  int64_t first() const { return first_; }
  int64_t end() const { return first_ + static_cast<int64_t>(points_.size()); }
  size_t bytes() const { return points_.size() * sizeof(Point); }

 private:
  struct Point {
    float avg;
    float max;
  };
  static constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  size_t capacity_;
  int64_t first_ = 0;
  std::deque<Point> points_;
};

}  // namespace demand_internal

struct DemandRollups::Key {
  Key(DemandKey k, size_t open_buckets, size_t fine_capacity, size_t coarse_capacity)
      : id(std::move(k)),
        integral(open_buckets, 0.0),
        has(open_buckets, 0),
        fine(fine_capacity),
        coarse(coarse_capacity) {}

  const DemandKey id;
  std::mutex mu;
  int64_t next_minute = demand_internal::kUnset;  // the oldest minute not final yet
  std::vector<double> integral;                   // value x ms per open sub-bucket (ring by sub-bucket number)
  std::vector<uint8_t> has;                       // the sub-bucket received data
  demand_internal::Ring fine;
  demand_internal::Ring coarse;
};

}  // namespace prescale::aggregator
