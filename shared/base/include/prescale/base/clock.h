// Clock: the one source of time in prescale, injected so tests can drive it
// (FakeClock lives in tests/support). Implementations are thread-safe.
//
// Waiting is part of the clock too, so that anything that waits for a time
// (the Scheduler) can be driven by a fake clock in tests: WaitUntil blocks
// until the clock's Monotonic() reaches a deadline, or until a std::stop_token
// is stopped. Interrupting a wait is the job of std::stop_source: whoever must
// wake the waiter (a Stop(), a Wake()) calls request_stop() on the source whose
// token the waiter passed. A stop source only stops once, so a waiter that is
// woken for some reason other than shutting down takes a fresh source for its
// next wait. The waits are condition-variable waits (std::condition_variable_any
// with a stop_token): no polling, no sleep_for.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>

namespace prescale {

class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  // Wall-clock time, for timestamps users see.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for durations and schedules.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;

  // Blocks until Monotonic() >= deadline or until `stop` is stopped, and says
  // whether the deadline was reached: false means it returned early because
  // of the stop (at once when `stop` already was stopped and the deadline is
  // not reached). May be called from several threads at once; a deadline of
  // steady_clock::time_point::max() waits for the stop only.
  //
  // The default is for clocks that run at the real rate, whatever their
  // origin: it waits on the real steady clock for what is left until the
  // deadline by Monotonic(), then checks again. A clock that does not run on
  // its own (a fake one) must override it and wake its waiters as it moves.
  virtual bool WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point Monotonic() const override;
  // One condition-variable wait on the steady clock.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const override;
  // A process-wide instance.
  static SystemClock& Instance();
};

// Milliseconds since the Unix epoch, as Prometheus timestamps are.
int64_t ToUnixMillis(std::chrono::system_clock::time_point t);

}  // namespace prescale
