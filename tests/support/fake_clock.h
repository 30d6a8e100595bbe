// FakeClock: a Clock tests advance by hand. Thread-safe.
//
// WaitUntil blocks until a test Advance()s the clock to the deadline (or the
// stop token is stopped): time never passes on its own, so a thread waiting on
// a FakeClock (a Scheduler's) moves exactly when the test says. AwaitWaiters
// lets a test know that such a thread is blocked in WaitUntil before it moves
// the clock or stops it; it waits in real time, bounded by a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

#include "prescale/base/clock.h"

namespace prescale::testing {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return wall_;
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return mono_;
  }
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiters_;
    cv_.notify_all();  // for AwaitWaiters
    const bool reached = cv_.wait(lock, stop, [&] { return mono_ >= deadline; });
    --waiters_;
    return reached;
  }
  void Advance(std::chrono::nanoseconds d) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
      mono_ += d;
    }
    cv_.notify_all();
  }

  // Waits (in real time, at most `timeout`) until at least `n` threads are
  // blocked in WaitUntil; false on timeout.
  bool AwaitWaiters(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return waiters_ >= n; });
  }
  // Threads blocked in WaitUntil now.
  int waiters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiters_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  mutable int waiters_ = 0;
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1'700'000'000)};
  std::chrono::steady_clock::time_point mono_{std::chrono::seconds(1000)};
};

}  // namespace prescale::testing
