#include "prescale/base/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>

namespace prescale {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::timespec ts{};
  std::timespec_get(&ts, TIME_UTC);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // One fprintf per line keeps lines from different threads whole.
  std::fprintf(stderr, "%s.%03ldZ level=%s %.*s\n", stamp, ts.tv_nsec / 1000000, LevelName(level),
               static_cast<int>(message.size()), message.data());
}

bool LogRateLimiter::Allow(const std::string& key) {
  const auto now = clock_.Monotonic();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = last_.try_emplace(key, now);
  if (inserted) return true;
  if (now - it->second < period_) return false;
  it->second = now;
  return true;
}

}  // namespace prescale
