// Logging to stderr, one line per message, with a level threshold, and a
// rate limiter so that a recurring problem (a broken scrape target, a vanished
// cgroup) is logged once per period instead of flooding. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "prescale/base/clock.h"

namespace prescale {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warning", "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);
void Log(LogLevel level, std::string_view message);

// Lets a message with a given key through at most once per period.
class LogRateLimiter {
 public:
  LogRateLimiter(const Clock& clock, std::chrono::milliseconds period) : clock_(clock), period_(period) {}
  // True when a message with this key may be logged now (and records it).
  bool Allow(const std::string& key);

 private:
  const Clock& clock_;
  std::chrono::milliseconds period_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_;
};

}  // namespace prescale
