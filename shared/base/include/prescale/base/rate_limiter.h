// RateLimiter: a token bucket per key (a sender, a token), refilled at
// `rate_per_second` up to `burst` tokens, on an injected Clock. Take() either
// takes n tokens or says how long until they would be there. A key unseen for
// a while holds a full bucket, so idle keys are forgotten (Sweep). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "prescale/base/clock.h"

namespace prescale {

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst, const Clock& clock)
      : rate_(rate_per_second), burst_(burst), clock_(clock) {}

  // Zero when `n` tokens were taken for `key`; otherwise nothing is taken and
  // the result is the wait until they would be there. A request over the
  // burst passes on a full bucket and leaves it in debt (else it never could).
  std::chrono::milliseconds Take(const std::string& key, double n);
  // Drops keys whose bucket has refilled (a full bucket is the default).
  void Sweep();

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  void Refill(Bucket& b, std::chrono::steady_clock::time_point now) const;

  const double rate_;
  const double burst_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace prescale
