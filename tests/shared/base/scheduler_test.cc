#include "prescale/base/scheduler.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_clock.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using Names = std::vector<std::string>;

// Counts a job's runs; a test waits for a count with a real-time bound instead of sleeping.
class Counter {
 public:
  void Increment() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++n_;
      thread_ = std::this_thread::get_id();
    }
    cv_.notify_all();
  }
  bool AwaitAtLeast(int n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ >= n; });
  }
  int value() const {
    std::lock_guard<std::mutex> lock(mu_);
    return n_;
  }
  std::thread::id thread() const {
    std::lock_guard<std::mutex> lock(mu_);
    return thread_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
  std::thread::id thread_;
};

const Scheduler::JobStats* Find(const std::vector<Scheduler::JobStats>& stats, const std::string& name) {
  for (const auto& s : stats) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(Scheduler, RunDueRunsEachJobAtItsPeriodAsTheClockAdvances) {
  testing::FakeClock clock;
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler.Every("fast", 100ms, [] {}).ok());
  ASSERT_TRUE(scheduler.Every("slow", 250ms, [] {}).ok());
  EXPECT_EQ(scheduler.RunDue(), Names{}) << "the first run is one period after registration";
  clock.Advance(99ms);
  EXPECT_EQ(scheduler.RunDue(), Names{});
  clock.Advance(1ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"fast"});
  EXPECT_EQ(scheduler.RunDue(), Names{}) << "once per due time";
  clock.Advance(100ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"fast"});
  clock.Advance(50ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"slow"});
  clock.Advance(50ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"fast"});
  clock.Advance(100ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"fast"});
  clock.Advance(100ms);  // 500ms: both due
  EXPECT_EQ(scheduler.RunDue(), (Names{"fast", "slow"})) << "registration order";
  const auto stats = scheduler.Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].name, "fast");
  EXPECT_EQ(stats[0].runs, 5);
  EXPECT_EQ(stats[1].name, "slow");
  EXPECT_EQ(stats[1].runs, 2);
  EXPECT_EQ(stats[0].missed + stats[1].missed, 0);
}

TEST(Scheduler, FirstDelayIsRespected) {
  testing::FakeClock clock;
  const auto t0 = clock.Monotonic();
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler
                  .Every(
                      "at-once", 1s, [] {}, 0ms)
                  .ok());
  ASSERT_TRUE(scheduler
                  .Every(
                      "later", 100ms, [] {}, 1s)
                  .ok());
  EXPECT_EQ(scheduler.RunDue(), Names{"at-once"});
  clock.Advance(999ms);
  EXPECT_EQ(scheduler.RunDue(), Names{}) << "not before its first delay, whatever its period";
  clock.Advance(1ms);
  EXPECT_EQ(scheduler.RunDue(), (Names{"at-once", "later"}));
  clock.Advance(100ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"later"}) << "then every period";
  const auto stats = scheduler.Stats();
  EXPECT_EQ(Find(stats, "at-once")->next_run, t0 + 2s);
  EXPECT_EQ(Find(stats, "later")->next_run, t0 + 1200ms);
}

TEST(Scheduler, MissedPeriodsRunOnceAndTheScheduleKeepsItsPhase) {
  testing::FakeClock clock;
  const auto t0 = clock.Monotonic();
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler.Every("tick", 100ms, [] {}).ok());
  clock.Advance(350ms);  // due at 100, 200 and 300
  EXPECT_EQ(scheduler.RunDue(), Names{"tick"});
  EXPECT_EQ(scheduler.RunDue(), Names{}) << "no burst";
  auto stats = scheduler.Stats();
  EXPECT_EQ(stats[0].runs, 1);
  EXPECT_EQ(stats[0].missed, 2);
  EXPECT_EQ(stats[0].next_run, t0 + 400ms) << "fixed rate: the next due time still ahead";
  clock.Advance(49ms);
  EXPECT_EQ(scheduler.RunDue(), Names{});
  clock.Advance(1ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"tick"});
}

TEST(Scheduler, AJobSlowerThanItsPeriodRunsOncePerRoundAndStatsTimeIt) {
  testing::FakeClock clock;
  const auto t0 = clock.Monotonic();
  Scheduler scheduler(clock);
  // The job takes 250ms by the clock, its period is 100ms.
  ASSERT_TRUE(scheduler.Every("slow", 100ms, [&] { clock.Advance(250ms); }).ok());
  clock.Advance(100ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"slow"});
  EXPECT_EQ(scheduler.RunDue(), Names{}) << "ended at 350ms; next due at 400ms";
  auto stats = scheduler.Stats();
  EXPECT_EQ(stats[0].runs, 1);
  EXPECT_EQ(stats[0].last_run, t0 + 100ms);
  EXPECT_EQ(stats[0].last_duration, 250ms);
  EXPECT_EQ(stats[0].missed, 2) << "200ms and 300ms";
  EXPECT_EQ(stats[0].next_run, t0 + 400ms);
  clock.Advance(50ms);
  EXPECT_EQ(scheduler.RunDue(), Names{"slow"});
  stats = scheduler.Stats();
  EXPECT_EQ(stats[0].runs, 2);
  EXPECT_EQ(stats[0].last_run, t0 + 400ms);
  EXPECT_EQ(stats[0].next_run, t0 + 700ms) << "ended at 650ms";
}

TEST(Scheduler, WakeMakesTheOnWakeJobsDueOnceInRegistrationOrder) {
  testing::FakeClock clock;
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler.Every("z-tick", 100ms, [] {}).ok());
  ASSERT_TRUE(scheduler.OnWake("poll", [] {}).ok());
  ASSERT_TRUE(scheduler.Every("a-tick", 100ms, [] {}).ok());
  EXPECT_EQ(scheduler.RunDue(), Names{});
  scheduler.Wake();
  scheduler.Wake();
  EXPECT_EQ(scheduler.RunDue(), Names{"poll"}) << "wakes coalesce";
  EXPECT_EQ(scheduler.RunDue(), Names{});
  clock.Advance(100ms);
  scheduler.Wake();
  EXPECT_EQ(scheduler.RunDue(), (Names{"z-tick", "poll", "a-tick"}));
  const auto stats = scheduler.Stats();
  const auto* poll = Find(stats, "poll");
  ASSERT_NE(poll, nullptr);
  EXPECT_EQ(poll->runs, 2);
  EXPECT_EQ(poll->last_run, clock.Monotonic());
  EXPECT_EQ(poll->next_run, std::chrono::steady_clock::time_point::max());
}

TEST(Scheduler, RejectsBadJobs) {
  testing::FakeClock clock;
  Scheduler scheduler(clock);
  EXPECT_EQ(scheduler.Every("zero", 0ms, [] {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler
                .Every(
                    "negative", 100ms, [] {}, -1ms)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Every("empty", 100ms, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.OnWake("empty", nullptr).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(scheduler.Every("tick", 100ms, [] {}).ok());
  EXPECT_EQ(scheduler.Every("tick", 1s, [] {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.OnWake("tick", [] {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scheduler.Stats().size(), 1u);
}

TEST(Scheduler, ItsThreadRunsTheJobsAsTheFakeClockAdvances) {
  testing::FakeClock clock;
  const auto t0 = clock.Monotonic();
  Counter ticks;
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler.Every("tick", 100ms, [&] { ticks.Increment(); }).ok());
  scheduler.Start();
  ASSERT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(100ms);
  ASSERT_TRUE(ticks.AwaitAtLeast(1));
  EXPECT_NE(ticks.thread(), std::this_thread::get_id());
  // Time the clock moves while a job runs is the job's: wait until the thread waits again.
  ASSERT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(99ms);  // wakes the waiting thread, which waits on
  clock.Advance(1ms);
  ASSERT_TRUE(ticks.AwaitAtLeast(2));
  ASSERT_TRUE(clock.AwaitWaiters(1)) << "back to waiting";
  EXPECT_EQ(ticks.value(), 2);
  // Periods missed while the clock jumps are coalesced on the thread too.
  clock.Advance(350ms);  // 550ms: due at 300, 400 and 500
  ASSERT_TRUE(ticks.AwaitAtLeast(3));
  ASSERT_TRUE(clock.AwaitWaiters(1));
  const auto stats = scheduler.Stats();
  EXPECT_EQ(ticks.value(), 3);
  EXPECT_EQ(stats[0].runs, 3);
  EXPECT_EQ(stats[0].missed, 2);
  EXPECT_EQ(stats[0].last_run, t0 + 550ms);
  EXPECT_EQ(stats[0].next_run, t0 + 600ms);
  scheduler.Stop();
}

TEST(Scheduler, WakeRunsTheOnWakeJobOnItsThreadAtOnce) {
  testing::FakeClock clock;
  Counter polls;  // outlives the scheduler's thread
  Scheduler scheduler(clock);
  ASSERT_TRUE(scheduler.Every("tick", 1h, [] {}).ok());
  ASSERT_TRUE(scheduler.OnWake("poll", [&] { polls.Increment(); }).ok());
  scheduler.Start();
  ASSERT_TRUE(clock.AwaitWaiters(1));
  scheduler.Wake();
  ASSERT_TRUE(polls.AwaitAtLeast(1)) << "without the clock moving";
  ASSERT_TRUE(clock.AwaitWaiters(1));
  scheduler.Wake();
  ASSERT_TRUE(polls.AwaitAtLeast(2));
  EXPECT_EQ(Find(scheduler.Stats(), "tick")->runs, 0);
}

TEST(Scheduler, AJobAddedWhileRunningIsScheduled) {
  testing::FakeClock clock;
  Counter ticks;
  Scheduler scheduler(clock);
  scheduler.Start();
  ASSERT_TRUE(clock.AwaitWaiters(1)) << "no jobs: waits for a stop only";
  ASSERT_TRUE(scheduler.Every("late", 100ms, [&] { ticks.Increment(); }).ok());
  clock.Advance(100ms);
  EXPECT_TRUE(ticks.AwaitAtLeast(1));
}

TEST(Scheduler, StopJoinsAtOnceWhileWaitingFarAheadAndIsIdempotent) {
  testing::FakeClock clock;
  Counter ticks;
  {
    Scheduler scheduler(clock);
    ASSERT_TRUE(scheduler.Every("far", 24h, [&] { ticks.Increment(); }).ok());
    scheduler.Stop();  // never started
    scheduler.Start();
    scheduler.Start();
    ASSERT_TRUE(clock.AwaitWaiters(1));
    EXPECT_EQ(clock.waiters(), 1) << "one thread";
    const auto start = std::chrono::steady_clock::now();
    scheduler.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_EQ(clock.waiters(), 0);
    scheduler.Stop();
    // Started again, it keeps its schedule.
    scheduler.Start();
    ASSERT_TRUE(clock.AwaitWaiters(1));
    clock.Advance(24h);
    ASSERT_TRUE(ticks.AwaitAtLeast(1));
    ASSERT_TRUE(clock.AwaitWaiters(1));
  }  // the destructor stops
  EXPECT_EQ(clock.waiters(), 0);
  EXPECT_EQ(ticks.value(), 1);
}

}  // namespace
}  // namespace prescale
