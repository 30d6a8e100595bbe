// GET /api/v1/raw: query-string parsing and the JSON rendering of raw series
// (docs/aggregator.md). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/aggregator/history/series_store.h"
#include "prescale/base/status.h"
#include "prescale/http/query_string.h"

namespace prescale::aggregator {

struct RawQuery {
  std::string metric_name;
  std::vector<remote_write::Label> equalities;
};

// "match=NAME&label=value&...": InvalidArgument naming the parameter.
Result<RawQuery> ParseRawQuery(std::string_view query_string);
// {"status":"success","data":[{"labels":{...},"samples":[[ts_ms,"value"],...]}]};
// values are strings as in Prometheus's API ("12.5", "NaN", "+Inf"), stale markers "stale".
std::string RenderRawJson(const std::vector<SeriesData>& series);
// Prometheus's API formatting of a sample value: shortest round-trip digits without an
// exponent, NaN, +Inf, -Inf; a stale marker is "stale".
std::string FormatSampleValue(double value);

}  // namespace prescale::aggregator
