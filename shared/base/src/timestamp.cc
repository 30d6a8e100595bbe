#include "prescale/base/timestamp.h"

#include <cmath>
#include <ctime>

#include "prescale/base/numbers.h"

namespace prescale {
namespace {

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)"
bool ParseRfc3339(std::string_view s, int64_t* ms) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !ParseDigits(s, 5, 2, &month) || s[7] != '-' ||
      !ParseDigits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, &hour) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, &minute) || s[16] != ':' || !ParseDigits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  size_t pos = 19;
  int64_t millis = 0;
  if (s[pos] == '.') {
    int64_t scale = 100;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) millis += (s[pos] - '0') * scale;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    offset_s = 0;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (!ParseDigits(s, pos + 1, 2, &oh) || !ParseDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) return false;
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(::timegm(&tm)) - offset_s;
  *ms = seconds * 1000 + millis;
  return true;
}

}  // namespace

bool ParseTimestamp(std::string_view text, int64_t* ms) {
  double seconds = 0;
  if (ParseDouble(text, &seconds)) {
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e13) return false;
    *ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
    return true;
  }
  return ParseRfc3339(text, ms);
}

}  // namespace prescale
