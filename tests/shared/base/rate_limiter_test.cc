#include "prescale/base/rate_limiter.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, TakesWithinTheBurstThenRefillsAtTheRate) {
  testing::FakeClock clock;
  RateLimiter limiter(100, 1000, clock);  // 100 a second, bursts of 1000
  EXPECT_EQ(limiter.Take("a", 600), 0ms);
  EXPECT_EQ(limiter.Take("a", 400), 0ms);
  EXPECT_EQ(limiter.Take("a", 50), 500ms) << "50 tokens at 100/s";
  EXPECT_EQ(limiter.Take("b", 1000), 0ms) << "each key has its own bucket";
  clock.Advance(500ms);
  EXPECT_EQ(limiter.Take("a", 50), 0ms);
  EXPECT_EQ(limiter.Take("a", 1), 10ms);
  // More than the burst passes on a full bucket and leaves a debt that later requests wait out.
  EXPECT_EQ(limiter.Take("a", 5000), 10000ms) << "only a full bucket lets it pass";
  clock.Advance(100s);
  EXPECT_EQ(limiter.Take("a", 5000), 0ms);
  EXPECT_EQ(limiter.Take("a", 1), 40010ms) << "4000 tokens of debt, then one";
}

TEST(RateLimiter, SweepForgetsKeysWhoseBucketIsFullAgain) {
  testing::FakeClock clock;
  RateLimiter limiter(10, 10, clock);
  EXPECT_EQ(limiter.Take("a", 10), 0ms);
  limiter.Sweep();
  EXPECT_EQ(limiter.Take("a", 1), 100ms) << "an empty bucket is kept";
  clock.Advance(1s);
  limiter.Sweep();
  EXPECT_EQ(limiter.Take("a", 10), 0ms);
}

}  // namespace
}  // namespace prescale
