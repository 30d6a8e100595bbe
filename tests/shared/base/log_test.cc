#include "prescale/base/log.h"
#include "prescale/base/status.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace prescale {
namespace {

TEST(LogRateLimiter, AllowsOncePerPeriodPerKey) {
  testing::FakeClock clock;
  LogRateLimiter limiter(clock, std::chrono::minutes(1));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
  EXPECT_TRUE(limiter.Allow("b"));
  clock.Advance(std::chrono::seconds(59));
  EXPECT_FALSE(limiter.Allow("a"));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(limiter.Allow("a"));
  EXPECT_FALSE(limiter.Allow("a"));
}

TEST(ParseLogLevel, KnowsTheFourLevels) {
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_TRUE(ParseLogLevel("error", &level));
  EXPECT_EQ(level, LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("verbose", &level));
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::ParseError("line 3: bad");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "PARSE_ERROR: line 3: bad");
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Result<int> r = 5;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  Result<int> e = Status::NotFound("gone");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace prescale
