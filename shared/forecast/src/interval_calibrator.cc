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

// How fast the missed share adapts: ~1/200 per error, i.e. over about a
// window of errors; bounded to a quarter and twice the configured share.
constexpr double kAdaptRate = 0.005;
constexpr double kMinMissFactor = 0.25, kMaxMissFactor = 2.0;

}  // namespace

IntervalCalibrator::IntervalCalibrator(double coverage) : coverage_(coverage), z_(NormalQuantile(0.5 + coverage / 2)) {
  Reset();
}

void IntervalCalibrator::Reset() {
  points_ = 0;
  for (int b = 0; b < kBuckets; ++b) {
    buckets_[b].pending.assign(size_t{1} << b, 0.0);
    buckets_[b].errors.clear();
    buckets_[b].next = 0;
    buckets_[b].unseen = 0;
    buckets_[b].computed = false;
    buckets_[b].miss_share = 1 - coverage_;
  }
}

void IntervalCalibrator::Bucket::Add(float e, double target_miss) {
  if (!std::isfinite(e)) return;
  if (computed) {
    const bool missed = e < cached.first || e > cached.second;
    miss_share = std::clamp(miss_share + kAdaptRate * (target_miss - (missed ? 1.0 : 0.0)),
                            kMinMissFactor * target_miss, kMaxMissFactor * target_miss);
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
    const double tail = bucket.miss_share / 2;
    bucket.cached = {std::min(0.0, Quantile(scratch_, tail)), std::max(0.0, Quantile(scratch_, 1 - tail))};
    bucket.computed = true;
    bucket.unseen = 0;
  }
  return bucket.cached;
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
  const int b = std::min(kBuckets - 1, static_cast<int>(std::log2(h)));
  const double h_b = static_cast<double>(size_t{1} << b);
  if (buckets_[b].errors.size() < kMinResiduals) {
    const double half = 1.5 * z_ * OneStepSigma(fallback_sigma) * std::sqrt(static_cast<double>(h));
    return {-half, half};
  }
  std::pair<double, double> lo = BucketOffsets(b);
  if (b + 1 < kBuckets && buckets_[b + 1].errors.size() >= kMinResiduals && h > h_b) {
    // Between two buckets: interpolate on log2(h).
    const std::pair<double, double> hi = BucketOffsets(b + 1);
    const double f = std::log2(h / h_b);
    return {lo.first + f * (hi.first - lo.first), lo.second + f * (hi.second - lo.second)};
  }
  const double grow = std::sqrt(std::max(1.0, h / h_b));
  return {lo.first * grow, lo.second * grow};
}

}  // namespace prescale::forecast
