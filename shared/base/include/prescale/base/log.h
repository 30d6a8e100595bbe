// Logging to stderr, one line per message, with a level threshold, and a
// rate limiter so that a recurring problem (a broken scrape target, a vanished
// cgroup) is logged once per period instead of flooding. Thread-safe: each
// line is built whole and written with one write(2) under a lock.
//
// Two formats, the same fields in both (docs/configuration.md, "Logs"):
//   logfmt (the default), as go-kit/log and Prometheus write it:
//     ts=2026-12-07T05:16:26.123Z level=info caller=main.cc:42 msg="x happened" component=wal segments=3
//     A value is quoted when it is empty or holds a space, '=', '"', a control
//     character or invalid UTF-8; inside quotes \\ \" \n \r \t and \u00XX escape
//     (invalid UTF-8 becomes \ufffd).
//   json: one object a line,
//     {"ts":"2026-12-07T05:16:26.123Z","level":"info","caller":"main.cc:42","msg":"x
//     happened","component":"wal","segments":3}
// Levels are named debug, info, warn, error (as Prometheus names them).
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "prescale/base/clock.h"

namespace prescale {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError };
enum class LogFormat { kLogfmt, kJson };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Whether a message of `level` would be written: check it before building an
// expensive message on a hot path.
bool LogEnabled(LogLevel level);
// Parses "debug", "info", "warn" (or "warning"), "error".
bool ParseLogLevel(std::string_view text, LogLevel* level);
// "debug", "info", "warn", "error": the level field's value.
std::string_view LogLevelName(LogLevel level);

void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();
// Parses "logfmt", "json".
bool ParseLogFormat(std::string_view text, LogFormat* format);
std::string_view LogFormatName(LogFormat format);

// One key=value of a structured line. Strings are written as strings (quoted
// in logfmt when needed), numbers and booleans as JSON numbers and booleans.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) : key_(key), value_(value) {}
  LogField(std::string_view key, std::string value) : key_(key), value_(std::move(value)) {}
  LogField(std::string_view key, bool value) : key_(key), value_(value ? "true" : "false"), kind_(Kind::kLiteral) {}
  template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>) LogField(std::string_view key, T value)
      : key_(key), value_(std::to_string(value)), kind_(Kind::kLiteral) {}
  LogField(std::string_view key, double value);

  std::string_view key() const { return key_; }
  const std::string& value() const { return value_; }
  // A number or a boolean: bare in JSON too.
  bool literal() const { return kind_ == Kind::kLiteral; }

 private:
  enum class Kind { kString, kLiteral };
  std::string_view key_;
  std::string value_;
  Kind kind_ = Kind::kString;
};

using LogFields = std::initializer_list<LogField>;

// Writes msg=message and the fields, after ts, level and caller (the file and
// line of the call: the defaults name the caller's), when `level` passes the threshold.
void Log(LogLevel level, std::string_view message, LogFields fields = {}, const char* file = __builtin_FILE(),
         int line = __builtin_LINE());

// The line Log would write (with its trailing newline), for tests and for
// callers that keep lines elsewhere. `unix_ms`: the time stamp.
std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level, std::string_view caller,
                          std::string_view message, LogFields fields);

// Where whole lines go instead of stderr (empty: stderr again); for tests.
void SetLogSink(std::function<void(std::string_view line)> sink);

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
