// Durations as users write them: Prometheus style "500ms", "5s", "1m30s", "2h", "1d".
// Byte sizes as users write them: "4096", "64KiB", "4MiB", "1GiB", "10MB".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::milliseconds d);
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace prescale
