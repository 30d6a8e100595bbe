// Timestamps as users write them in queries and payloads. Pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace prescale {

// RFC 3339 ("2026-11-28T03:00:00Z", "...+02:00", fractions allowed) or Unix
// seconds ("1764298800.5") to milliseconds since the epoch.
bool ParseTimestamp(std::string_view text, int64_t* ms);

}  // namespace prescale
