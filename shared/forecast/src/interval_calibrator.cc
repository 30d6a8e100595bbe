#include "interval_calibrator.h"

#include <algorithm>
#include <cmath>

namespace prescale::forecast {
namespace {

// The standard normal quantile at p, by bisection on erfc: only at construction.
double NormalQuantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// The q-quantile of v (0 <= q <= 1), interpolating between order statistics; reorders v.
double Quantile(std::vector<float>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t k = static_cast<size_t>(pos);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  const double a = v[k];
  if (k + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(k) + 1, v.end());
  return a + (pos - static_cast<double>(k)) * (b - a);
}

// How fast the width adapts: log(scale) moves by kAdaptRate x (1 - coverage)
// on a miss and by kAdaptRate x coverage on a hit, so that over n errors the
// share missed is within log-range / (kAdaptRate n) of the configured one
// (Gibbs & Candes 2021): 0.02 over 4,000 errors. Chosen on the first halves
// of the development set (0.02 left series outside 85-95%, 0.05 none).
constexpr double kAdaptRate = 0.05;
constexpr double kMinScale = 1.0 / 16, kMaxScale = 16;

}  // namespace

IntervalCalibrator::IntervalCalibrator(double coverage, int horizon_steps)
    : coverage_(coverage),
      z_(NormalQuantile(0.5 + coverage / 2)),
      grow_(std::exp(kAdaptRate * coverage)),
      shrink_(std::exp(-kAdaptRate * (1 - coverage))) {
  for (int b = 0; b < kBuckets; ++b) horizons_[b] = 1 << b;
  const int h = horizon_steps;
  if (h > 1 && h < horizons_.back() && (h & (h - 1)) != 0) {
    // Bucket 0 (one step) stays: the fallback width comes from it.
    const int nearest = std::clamp(static_cast<int>(std::lround(std::log2(static_cast<double>(h)))), 1, kBuckets - 1);
    horizons_[nearest] = h;
  }
  Reset();
}

void IntervalCalibrator::Reset() {
  points_ = 0;
  for (int b = 0; b < kBuckets; ++b) {
    buckets_[b].pending.assign(static_cast<size_t>(horizons_[b]), 0.0);
    buckets_[b].errors.clear();
    buckets_[b].next = 0;
    buckets_[b].unseen = 0;
    buckets_[b].computed = false;
    buckets_[b].scale = 1;
  }
}

void IntervalCalibrator::Bucket::Add(float e, double grow, double shrink) {
  if (!std::isfinite(e)) return;
  // A zero-width interval (every recent error 0) has no width to adapt.
  if (computed) {
    const bool missed = e < cached.first * scale || e > cached.second * scale;
    scale = std::clamp(scale * (missed ? grow : shrink), kMinScale, kMaxScale);
  }
  if (errors.size() < kWindow)
    errors.push_back(e);
  else
    errors[next] = e;
  if (++next == kWindow) next = 0;
  ++unseen;
}

std::pair<double, double> IntervalCalibrator::BucketOffsets(int b) const {
  const Bucket& bucket = buckets_[b];
  if (!bucket.computed || bucket.unseen >= kRequantileEvery) {
    scratch_.assign(bucket.errors.begin(), bucket.errors.end());
    const double tail = (1 - coverage_) / 2;
    bucket.cached = {std::min(0.0, Quantile(scratch_, tail)), std::max(0.0, Quantile(scratch_, 1 - tail))};
    bucket.computed = true;
    bucket.unseen = 0;
  }
  return {bucket.cached.first * bucket.scale, bucket.cached.second * bucket.scale};
}

double IntervalCalibrator::OneStepSigma(double fallback_sigma) const {
  const std::vector<float>& e = buckets_[0].errors;
  if (e.size() < kMinResiduals) return fallback_sigma;
  double sq = 0;
  for (float v : e) sq += static_cast<double>(v) * v;
  return std::sqrt(sq / static_cast<double>(e.size()));
}

std::pair<double, double> IntervalCalibrator::Offsets(int h, double fallback_sigma) const {
  h = std::max(h, 1);
  // The bucket at or below h; beyond the last bucket the errors grow as sqrt(h).
  int b = 0;
  while (b + 1 < kBuckets && horizons_[b + 1] <= h) ++b;
  const double h_b = static_cast<double>(horizons_[b]);
  if (buckets_[b].errors.size() < kMinResiduals) {
    const double half = 1.5 * z_ * OneStepSigma(fallback_sigma) * std::sqrt(static_cast<double>(h));
    return {-half, half};
  }
  std::pair<double, double> lo = BucketOffsets(b);
  if (b + 1 < kBuckets && buckets_[b + 1].errors.size() >= kMinResiduals && h > h_b) {
    // Between two buckets: interpolate on log(h).
    const std::pair<double, double> hi = BucketOffsets(b + 1);
    const double f = std::log(h / h_b) / std::log(static_cast<double>(horizons_[b + 1]) / h_b);
    return {lo.first + f * (hi.first - lo.first), lo.second + f * (hi.second - lo.second)};
  }
  const double grow = std::sqrt(std::max(1.0, h / h_b));
  return {lo.first * grow, lo.second * grow};
}

}  // namespace prescale::forecast
