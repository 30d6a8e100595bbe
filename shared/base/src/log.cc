#include "prescale/base/log.h"

#include <rapidjson/encodings.h>
#include <rapidjson/stream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>

namespace prescale {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kLogfmt)};

std::mutex& WriteMutex() {
  static std::mutex mu;
  return mu;
}
// Guarded by WriteMutex().
std::function<void(std::string_view)>& Sink() {
  static std::function<void(std::string_view)> sink;
  return sink;
}

// The length of the valid UTF-8 sequence at the start of `s` (RapidJSON's
// decoder: no overlong forms, no surrogates), 0 when it is not valid.
size_t ValidSequence(std::string_view s) {
  // NUL-terminated, as StringStream reads: a sequence cut short meets the NUL and fails.
  char bytes[5] = {};
  s.copy(bytes, 4);
  rapidjson::StringStream in(bytes);
  unsigned codepoint = 0;
  if (!rapidjson::UTF8<>::Decode(in, &codepoint)) return 0;
  return in.Tell();
}

// `s` with every invalid UTF-8 byte replaced by U+FFFD.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += s[i++];
      continue;
    }
    const size_t n = ValidSequence(s.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) return true;
    if (c >= 0x80) {
      const size_t n = ValidSequence(value.substr(i));
      if (n == 0) return true;
      i += n - 1;
    }
  }
  return false;
}

void AppendLogfmtKey(std::string_view key, std::string* out) {
  if (key.empty()) {
    *out += '_';
    return;
  }
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    *out += (c <= ' ' || c == '=' || c == '"' || c >= 0x7f) ? '_' : ch;
  }
}

void AppendLogfmtValue(std::string_view value, std::string* out) {
  if (!NeedsQuotes(value)) {
    out->append(value);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '\\': *out += "\\\\"; continue;
      case '"': *out += "\\\""; continue;
      case '\n': *out += "\\n"; continue;
      case '\r': *out += "\\r"; continue;
      case '\t': *out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      *out += "\\u00";
      *out += kHex[c >> 4];
      *out += kHex[c & 0xf];
    } else if (c < 0x80) {
      *out += value[i];
    } else if (const size_t n = ValidSequence(value.substr(i)); n == 0) {
      *out += "\\ufffd";
    } else {
      out->append(value.substr(i, n));
      i += n - 1;
    }
  }
  *out += '"';
}

std::string Timestamp(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  const int64_t millis = unix_ms - static_cast<int64_t>(seconds) * 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[40];
  const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(millis));
  return std::string(stamp, n) + frac;
}

void WriteLine(std::string_view line) {
  std::lock_guard lock(WriteMutex());
  if (const auto& sink = Sink(); sink) {
    sink(line);
    return;
  }
  while (!line.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone: nothing else to tell
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

LogField::LogField(std::string_view key, double value) : key_(key) {
  if (!std::isfinite(value)) {  // JSON has no NaN or infinities: a string, as Prometheus writes them
    value_ = std::isnan(value) ? "NaN" : (value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  value_.assign(buf, ec == std::errc() ? end : buf);
  kind_ = Kind::kLiteral;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "warning") {
    *level = LogLevel::kWarning;
    return true;
  }
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LogLevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void SetLogFormat(LogFormat format) { g_format.store(static_cast<int>(format)); }
LogFormat GetLogFormat() { return static_cast<LogFormat>(g_format.load()); }

std::string_view LogFormatName(LogFormat format) { return format == LogFormat::kJson ? "json" : "logfmt"; }

bool ParseLogFormat(std::string_view text, LogFormat* format) {
  for (LogFormat f : {LogFormat::kLogfmt, LogFormat::kJson}) {
    if (text == LogFormatName(f)) {
      *format = f;
      return true;
    }
  }
  return false;
}

std::string FormatLogLine(LogFormat format, int64_t unix_ms, LogLevel level, std::string_view caller,
                          std::string_view message, LogFields fields) {
  const std::string ts = Timestamp(unix_ms);
  const std::string_view level_name = LogLevelName(level);
  if (format == LogFormat::kLogfmt) {
    std::string line;
    line.reserve(64 + message.size() + 24 * fields.size());
    auto pair = [&line](std::string_view key, std::string_view value) {
      if (!line.empty()) line += ' ';
      AppendLogfmtKey(key, &line);
      line += '=';
      AppendLogfmtValue(value, &line);
    };
    pair("ts", ts);
    pair("level", level_name);
    if (!caller.empty()) pair("caller", caller);
    pair("msg", message);
    for (const LogField& f : fields) pair(f.key(), f.value());
    line += '\n';
    return line;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](std::string_view text) {
    const std::string valid = ValidUtf8(text);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  };
  auto key = [&w](std::string_view text) {
    const std::string valid = ValidUtf8(text);
    w.Key(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  };
  w.StartObject();
  key("ts");
  str(ts);
  key("level");
  str(level_name);
  if (!caller.empty()) {
    key("caller");
    str(caller);
  }
  key("msg");
  str(message);
  for (const LogField& f : fields) {
    key(f.key());
    if (f.literal() && (f.value() == "true" || f.value() == "false")) {
      w.Bool(f.value() == "true");
    } else if (f.literal()) {
      w.RawValue(f.value().data(), f.value().size(), rapidjson::kNumberType);
    } else {
      str(f.value());
    }
  }
  w.EndObject();
  std::string line(buf.GetString(), buf.GetSize());
  line += '\n';
  return line;
}

void Log(LogLevel level, std::string_view message, LogFields fields, const char* file, int line) {
  if (!LogEnabled(level)) return;
  std::timespec now{};
  std::timespec_get(&now, TIME_UTC);
  const int64_t unix_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
  std::string_view name = file != nullptr ? file : "";
  if (const size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  const std::string caller = std::string(name) + ":" + std::to_string(line);
  WriteLine(FormatLogLine(GetLogFormat(), unix_ms, level, caller, message, fields));
}

void SetLogSink(std::function<void(std::string_view line)> sink) {
  std::lock_guard lock(WriteMutex());
  Sink() = std::move(sink);
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
