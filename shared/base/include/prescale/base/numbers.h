// Allocation-free number parsing for the hot paths (cgroup and /proc files).
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace prescale {

// Whole-string parses: true only when all of `text` is the number.
bool ParseU64(std::string_view text, uint64_t* out);
bool ParseI64(std::string_view text, int64_t* out);
// Accepts what Prometheus accepts: decimal and exponent forms, NaN, +Inf, -Inf, Inf.
bool ParseDouble(std::string_view text, double* out);

// Splits off the next whitespace-separated token of `*rest` (spaces and tabs);
// returns an empty view when there is none.
std::string_view NextToken(std::string_view* rest);
// Splits off the next line (without its '\n'); returns false at the end.
bool NextLine(std::string_view* rest, std::string_view* line);

}  // namespace prescale
