#include "prescale/base/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace prescale {

void RateLimiter::Refill(Bucket& b, std::chrono::steady_clock::time_point now) const {
  const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
  if (elapsed_s > 0) b.tokens = std::min(burst_, b.tokens + elapsed_s * rate_);
  b.at = std::max(b.at, now);
}

std::chrono::milliseconds RateLimiter::Take(const std::string& key, double n) {
  const auto now = clock_.Monotonic();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) Refill(b, now);
  // A request over the burst passes on a full bucket and leaves it in debt:
  // otherwise it could never pass.
  const double needed = std::min(n, burst_);
  if (b.tokens >= needed) {
    b.tokens -= n;
    return std::chrono::milliseconds(0);
  }
  const double missing = needed - b.tokens;
  const double wait_s = rate_ > 0 ? std::max(missing, 0.0) / rate_ : 3600.0;
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s * 1000.0))));
}

void RateLimiter::Sweep() {
  const auto now = clock_.Monotonic();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
}

}  // namespace prescale
