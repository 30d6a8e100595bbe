#include "prescale/base/clock.h"

#include <condition_variable>
#include <mutex>

namespace prescale {

namespace {

// Waits on the real steady clock until `deadline` or `stop`; true when the
// deadline was reached. Nothing but the stop notifies the condition variable
// (wait_until registers a stop_callback that does), so apart from spurious
// wake-ups, which the predicate absorbs, this sleeps until one of the two.
bool WaitRealUntil(std::chrono::steady_clock::time_point deadline, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_until(lock, stop, deadline, [deadline] { return std::chrono::steady_clock::now() >= deadline; });
}

}  // namespace

bool Clock::WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const {
  // Each round waits, on the real clock, for what is left by this clock. A
  // round is at most a day, so that a far deadline (max()) added to the real
  // clock's now does not overflow; a wait for the stop only checks once a day.
  constexpr auto kMaxRound = std::chrono::hours(24);
  for (;;) {
    const auto now = Monotonic();
    if (now >= deadline) return true;
    if (stop.stop_requested()) return false;
    const auto left = deadline - now;
    const auto real_now = std::chrono::steady_clock::now();
    const auto round = left < kMaxRound ? left : std::chrono::steady_clock::duration(kMaxRound);
    WaitRealUntil(real_now + round, stop);
  }
}

std::chrono::system_clock::time_point SystemClock::Now() const { return std::chrono::system_clock::now(); }

std::chrono::steady_clock::time_point SystemClock::Monotonic() const { return std::chrono::steady_clock::now(); }

bool SystemClock::WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) const {
  return WaitRealUntil(deadline, stop);
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

int64_t ToUnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace prescale
