// GET /api/v1/series and /api/v1/forecasts: the demand history and the
// forecasts of tenants' services as JSON (docs/aggregator.md). Query parsing and rendering; pure functions,
// thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/aggregator/demand.h"
#include "prescale/aggregator/forecasts.h"
#include "prescale/base/status.h"

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
// or seconds; default 1m). InvalidArgument naming the parameter; *field gets it.
Result<SeriesQuery> ParseSeriesQuery(std::string_view query_string, int64_t now_ms, std::string* field);

// {"status":"success","data":[{"tenant":..,"service":..,"resource":..,"unit":..,
//  "step_seconds":60,"points":[[unix_seconds, avg, max], ...]}]}
std::string RenderSeriesJson(const std::vector<DemandSeries>& series, const DemandRollups& rollups);

// GET /api/v1/forecasts: tenant, service, resource (optional filters).
Result<DemandKey> ParseForecastsQuery(std::string_view query_string, std::string* field);
// {"status":"success","data":[{"tenant":..,"service":..,"resource":..,"unit":..,"model":..,
//  "last_observed":unix_s,"points":N,"forecasts":[{"horizon":"5m","horizon_seconds":300,
//  "target":unix_s,"point":..,"lower":..,"upper":..,"mase":x|null,"matured":n}]}]}
std::string RenderForecastsJson(const std::vector<SeriesForecast>& forecasts, const DemandRollups& rollups);

// RFC 3339 ("2026-11-28T03:00:00Z", "...+02:00", fractions allowed) or Unix
// seconds ("1764298800.5") to milliseconds since the epoch.
bool ParseTimestamp(std::string_view text, int64_t* ms);

}  // namespace prescale::aggregator
