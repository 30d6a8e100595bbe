#include "prescale/base/duration.h"

#include <charconv>
#include <limits>
#include <utility>

namespace prescale {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  const std::string quoted = "'" + std::string(text) + "'";
  int64_t total_ms = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || ptr == rest.data()) {
      return Status::InvalidArgument("invalid duration " + quoted + ": expected a number such as 5s, 500ms, 1m30s");
    }
    rest.remove_prefix(static_cast<size_t>(ptr - rest.data()));
    int64_t unit_ms = 0;
    if (rest.starts_with("ms")) {
      unit_ms = 1;
      rest.remove_prefix(2);
    } else if (!rest.empty()) {
      switch (rest.front()) {
        case 's': unit_ms = 1000; break;
        case 'm': unit_ms = 60'000; break;
        case 'h': unit_ms = 3'600'000; break;
        case 'd': unit_ms = 86'400'000; break;
        case 'w': unit_ms = 7 * 86'400'000LL; break;
        default: break;
      }
      if (unit_ms != 0) rest.remove_prefix(1);
    }
    if (unit_ms == 0) {
      return Status::InvalidArgument("invalid duration " + quoted + ": missing or unknown unit (ms, s, m, h, d, w)");
    }
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / unit_ms) ||
        total_ms > std::numeric_limits<int64_t>::max() - static_cast<int64_t>(n) * unit_ms) {
      return Status::InvalidArgument("invalid duration " + quoted + ": too large");
    }
    total_ms += static_cast<int64_t>(n) * unit_ms;
  }
  return std::chrono::milliseconds(total_ms);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  // As Prometheus prints durations: the largest units first, zero parts left out.
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : kUnits) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data()) {
    return Status::InvalidArgument("invalid size '" + std::string(text) + "': expected e.g. 4096, 64KiB, 4MiB");
  }
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},      {"B", 1},        {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},
      {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      if (n > std::numeric_limits<uint64_t>::max() / u.factor) break;
      return n * u.factor;
    }
  }
  return Status::InvalidArgument("invalid size '" + std::string(text) +
                                 "': unknown unit (B, KiB, MiB, GiB, KB, MB, GB)");
}

}  // namespace prescale
