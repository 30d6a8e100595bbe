// Prometheus naming rules for metric and label names. Pure functions.
#pragma once

#include <string_view>

namespace prescale::metrics {

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*
bool IsValidLabelName(std::string_view name);

}  // namespace prescale::metrics
