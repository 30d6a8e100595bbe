// IntervalCalibrator: prediction intervals from the empirical quantiles of the
// model's own online errors, per horizon bucket (1, 2, 4, ... 64 steps), so
// that coverage holds on real, skewed, heavy-tailed data and not only under a
// normal assumption. Every grid point scores the forecasts made 1, 2, 4, ...
// steps earlier and records new ones: O(buckets) per point. The quantile
// taken adapts to the coverage actually achieved (see Bucket::miss_share).
// Not thread-safe; one owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace prescale::forecast {

class IntervalCalibrator {
 public:
  static constexpr int kBuckets = 7;             // horizons 1, 2, 4, ..., 64 steps
  static constexpr size_t kWindow = 240;         // newest errors kept per bucket
  static constexpr size_t kMinResiduals = 30;    // fewer: the fallback width
  static constexpr size_t kRequantileEvery = 8;  // errors between quantile selections

  explicit IntervalCalibrator(double coverage);

  // After the model has taken grid point y: scores the forecasts made for it
  // and records predict(h) for each bucket's horizon h.
  template <typename Predict>
  void Observe(double y, Predict&& predict) {
    for (int b = 0; b < kBuckets; ++b) {
      Bucket& bucket = buckets_[b];
      const size_t h = size_t{1} << b;
      const size_t slot = static_cast<size_t>(points_ % h);
      if (points_ >= h) bucket.Add(static_cast<float>(y - bucket.pending[slot]), 1 - coverage_);
      bucket.pending[slot] = predict(static_cast<int>(h));
    }
    ++points_;
  }
  void Reset();

  // The offsets (lower <= 0 <= upper, added to the point forecast) covering
  // the configured share of errors at h >= 1 steps. Buckets without enough
  // errors use a normal interval from `fallback_sigma` (the one-step error
  // spread) widened as sqrt(h) and by half again, for being a guess.
  std::pair<double, double> Offsets(int h, double fallback_sigma) const;

  double coverage() const { return coverage_; }

 private:
  struct Bucket {
    std::vector<double> pending;  // forecasts in flight, by target index mod h
    std::vector<float> errors;    // ring of the newest actual - forecast
    size_t next = 0;
    // Errors added since the quantiles were last taken: they are re-taken
    // every kRequantileEvery errors, as one error barely moves a quantile of
    // 240 and the selection is most of a forecast's cost.
    mutable size_t unseen = 0;
    mutable bool computed = false;
    mutable std::pair<double, double> cached{0, 0};
    // The share of errors left outside, adapted online (adaptive conformal
    // inference): each error outside the current interval lowers it, each
    // inside raises it, so that the realised coverage tracks the configured
    // one even as the series drifts away from its past errors.
    double miss_share = 0.1;
    void Add(float e, double target_miss);
  };
  std::pair<double, double> BucketOffsets(int b) const;
  // The one-step error spread: from bucket 0's errors when there are enough.
  double OneStepSigma(double fallback_sigma) const;

  double coverage_;
  double z_;  // the normal quantile for the fallback
  uint64_t points_ = 0;
  std::array<Bucket, kBuckets> buckets_;
  mutable std::vector<float> scratch_;
};

}  // namespace prescale::forecast
