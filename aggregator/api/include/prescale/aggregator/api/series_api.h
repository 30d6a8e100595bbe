// GET /api/v1/series and /api/v1/forecasts: the demand history and the
// forecasts of tenants' services as JSON (docs/aggregator.md). Query parsing and rendering; pure functions,
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/base/status.h"
#include "prescale/base/timestamp.h"

namespace prescale::aggregator {

struct SeriesQuery {
  DemandKey filter;  // empty fields match any
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  std::chrono::milliseconds step{60'000};
};

// Most points one series may answer with (Prometheus's query_range allows 11,000).
inline constexpr int64_t kMaxSeriesPoints = 11'000;

// tenant, service, resource (optional filters), from and to (Unix seconds or
// RFC 3339; default: the last hour before now), step (a duration such as 5m,
// or seconds; default 1m). InvalidArgument naming the parameter, in the message and as the field.
Result<SeriesQuery> ParseSeriesQuery(std::string_view query_string, int64_t now_ms);

// {"status":"success","data":[{"tenant":..,"service":..,"resource":..,"unit":..,
//  "step_seconds":60,"points":[[unix_seconds, avg, max], ...]}]}
std::string RenderSeriesJson(const std::vector<DemandSeries>& series, const DemandRollups& rollups);

// GET /api/v1/forecasts: tenant, service, resource (optional filters).
Result<DemandKey> ParseForecastsQuery(std::string_view query_string);
// {"status":"success","data":[{"tenant":..,"service":..,"resource":..,"unit":..,"model":..,
//  "last_observed":unix_s,"points":N,"forecasts":[{"horizon":"5m","horizon_seconds":300,
//  "target":unix_s,"point":..,"lower":..,"upper":..,"mase":x|null,"matured":n}]}]}
std::string RenderForecastsJson(const std::vector<SeriesForecast>& forecasts, const DemandRollups& rollups);

}  // namespace prescale::aggregator
