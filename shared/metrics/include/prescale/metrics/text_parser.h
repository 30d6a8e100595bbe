// A strict parser of the Prometheus text exposition format 0.0.4, for bodies
// that come from outside (services' /metrics). It checks names, label syntax and
// escapes, values, TYPE/HELP placement and that each family's samples are
// contiguous, and it bounds size and counts so a hostile body cannot exhaust
// memory. Errors name the line. Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/metrics/types.h"

namespace prescale::metrics {

struct TextParseLimits {
  size_t max_body_bytes = 4 << 20;
  size_t max_samples = 100'000;
  size_t max_labels_per_sample = 64;
  size_t max_line_bytes = 64 << 10;
};

Result<std::vector<MetricFamily>> ParseTextExposition(std::string_view body, const TextParseLimits& limits = {});

}  // namespace prescale::metrics
