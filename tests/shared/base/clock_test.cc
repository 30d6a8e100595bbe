#include "prescale/base/clock.h"

#include <gtest/gtest.h>

#include <stop_token>
#include <thread>

#include "tests/support/fake_clock.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;

TEST(SystemClock, WaitUntilReturnsAtTheDeadline) {
  const SystemClock& clock = SystemClock::Instance();
  std::stop_source never;
  const auto start = clock.Monotonic();
  const auto deadline = start + 20ms;
  EXPECT_TRUE(clock.WaitUntil(deadline, never.get_token()));
  EXPECT_GE(clock.Monotonic(), deadline);
  EXPECT_LT(clock.Monotonic() - start, 10s);
  EXPECT_TRUE(clock.WaitUntil(start, never.get_token())) << "a deadline already reached";
}

TEST(SystemClock, WaitUntilReturnsFalseWhenStopped) {
  const SystemClock& clock = SystemClock::Instance();
  std::stop_source stop;
  const auto start = clock.Monotonic();
  bool reached = true;
  std::thread waiter([&] { reached = clock.WaitUntil(start + 1h, stop.get_token()); });
  stop.request_stop();
  waiter.join();
  EXPECT_FALSE(reached);
  EXPECT_LT(clock.Monotonic() - start, 10s);
  EXPECT_FALSE(clock.WaitUntil(clock.Monotonic() + 1h, stop.get_token())) << "already stopped";
  EXPECT_TRUE(clock.WaitUntil(start, stop.get_token())) << "stopped, but the deadline is reached";
}

// A clock running at the real rate from another origin: it has only the default WaitUntil.
class OffsetClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() const override { return std::chrono::steady_clock::now() + 1h; }
};

TEST(Clock, DefaultWaitUntilWaitsByTheClocksOwnTime) {
  OffsetClock clock;
  std::stop_source stop;
  const auto deadline = clock.Monotonic() + 20ms;
  EXPECT_TRUE(clock.WaitUntil(deadline, stop.get_token()));
  EXPECT_GE(clock.Monotonic(), deadline);
  bool reached = true;
  std::thread waiter(
      [&] { reached = clock.WaitUntil(std::chrono::steady_clock::time_point::max(), stop.get_token()); });
  stop.request_stop();
  waiter.join();
  EXPECT_FALSE(reached);
}

TEST(FakeClock, WaitUntilWakesWhenAdvancedToTheDeadlineOrStopped) {
  testing::FakeClock clock;
  std::stop_source stop;
  const auto deadline = clock.Monotonic() + 100ms;
  bool reached = false;
  std::thread waiter([&] { reached = clock.WaitUntil(deadline, stop.get_token()); });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(99ms);
  EXPECT_TRUE(clock.AwaitWaiters(1)) << "still waiting";
  clock.Advance(1ms);
  waiter.join();
  EXPECT_TRUE(reached);
  EXPECT_EQ(clock.waiters(), 0);

  waiter = std::thread([&] { reached = clock.WaitUntil(clock.Monotonic() + 1h, stop.get_token()); });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  stop.request_stop();
  waiter.join();
  EXPECT_FALSE(reached);
}

}  // namespace
}  // namespace prescale
