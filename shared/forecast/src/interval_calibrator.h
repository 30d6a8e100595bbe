// IntervalCalibrator: prediction intervals from the empirical quantiles of the
// model's own online errors, per horizon bucket (1, 2, 4, ... 64 steps), so
// that coverage holds on real, skewed, heavy-tailed data and not only under a
// normal assumption. Every grid point scores the forecasts made 1, 2, 4, ...
// steps earlier and records new ones: O(buckets) per point. The width adapts
// to the coverage actually achieved (see Bucket::scale).
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

  // `horizon_steps`: the horizon the forecaster is planned for (0: none).
  // When it lies inside the buckets' range and is not a power of two, the
  // bucket nearest it (on a log scale) moves onto it, so that the intervals
  // are calibrated where they are used instead of interpolated: on spiky
  // series the error quantiles are far from log-linear in the horizon (a
  // series of the development set covered 83.5% at 3 steps, interpolated
  // between buckets that each covered 90%).
  IntervalCalibrator(double coverage, int horizon_steps);

  // After the model has taken grid point y: scores the forecasts made for it
  // and records new ones, `predictions[b]` for horizons()[b] steps ahead.
  void Observe(double y, const std::array<double, kBuckets>& predictions) {
    for (int b = 0; b < kBuckets; ++b) {
      Bucket& bucket = buckets_[b];
      const size_t h = horizons_[b];
      const size_t slot = static_cast<size_t>(points_ % h);
      if (points_ >= h) bucket.Add(static_cast<float>(y - bucket.pending[slot]), grow_, shrink_);
      bucket.pending[slot] = predictions[b];
    }
    ++points_;
  }
  // The buckets' horizons in steps, increasing (Observe's predictions are for these).
  const std::array<int, kBuckets>& horizons() const { return horizons_; }
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
    // A factor on both offsets, adapted online (adaptive conformal inference
    // on the width): each error outside the interval widens it by grow_,
    // each inside narrows it by shrink_, balanced where the configured share
    // falls outside. So the realised coverage tracks the configured one even
    // when the series' recent errors differ from the window's (a burst after
    // a calm day, a spiky series going flat), on every series and not only
    // on average; bounded so that a long flat stretch cannot shrink it
    // beyond quick recovery.
    double scale = 1;
    void Add(float e, double grow, double shrink);
  };
  std::pair<double, double> BucketOffsets(int b) const;
  // The one-step error spread: from bucket 0's errors when there are enough.
  double OneStepSigma(double fallback_sigma) const;

  double coverage_;
  double z_;                            // the normal quantile for the fallback
  double grow_, shrink_;                // Bucket::scale's factors on a miss and on a hit
  std::array<int, kBuckets> horizons_;  // steps ahead per bucket, increasing
  uint64_t points_ = 0;
  std::array<Bucket, kBuckets> buckets_;
  mutable std::vector<float> scratch_;
};

}  // namespace prescale::forecast
