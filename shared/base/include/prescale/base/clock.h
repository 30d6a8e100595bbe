// Clock: the one source of time in prescale, injected so tests can drive it
// (FakeClock lives in tests/support). Implementations are thread-safe.
#pragma once

#include <chrono>

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
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point Monotonic() const override;
  // A process-wide instance.
  static SystemClock& Instance();
};

// Milliseconds since the Unix epoch, as Prometheus timestamps are.
int64_t ToUnixMillis(std::chrono::system_clock::time_point t);

}  // namespace prescale
