// Backfill: when the aggregator starts with no demand history, it can fill
// the rollups from a Prometheus that has been scraping the agents (or
// cAdvisor with the same labels), through its query_range API: the 1-minute
// rollup for the last 2 days (the value at each minute, as avg and max), the
// 15-minute rollup for 5 weeks (avg_over_time and max_over_time of a 1-minute
// subquery). One call at start, from one thread; the rollups are thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "prescale/aggregator/history/demand.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/http/http_client.h"

namespace prescale::aggregator {

struct BackfillStats {
  uint64_t series = 0;  // demand series touched
  uint64_t points = 0;  // buckets set
};

// The PromQL expression of one resource's demand, summed by tenant and service.
std::string DemandPromQL(const DemandOptions& options, const std::string& resource);

// Unavailable when Prometheus does not answer, ParseError when it answers
// something that is not a query_range matrix; what was set before stays set.
Result<BackfillStats> BackfillFromPrometheus(const std::string& prometheus_url, DemandRollups* demand,
                                             const Clock& clock, http::HttpClient* client);

// Parses a query_range answer into points (exposed for tests and fuzzing).
struct PromMatrixSeries {
  DemandKey key;                    // resource left empty
  std::vector<DemandPoint> points;  // avg == max == the value
};
Result<std::vector<PromMatrixSeries>> ParsePromMatrix(std::string_view body, const DemandOptions& options);

}  // namespace prescale::aggregator
