#include "prescale/aggregator/api/series_api.h"

#include <cmath>
#include <ctime>

#include "json_envelope.h"
#include "prescale/aggregator/api/raw_json.h"
#include "prescale/base/duration.h"
#include "prescale/base/numbers.h"
#include "prescale/base/timestamp.h"

namespace prescale::aggregator {
Result<SeriesQuery> ParseSeriesQuery(std::string_view query_string, int64_t now_ms) {
  auto params = http::ParseQueryString(query_string);
  if (!params.ok()) return params.status();
  SeriesQuery q;
  bool has_from = false;
  q.to_ms = now_ms;
  auto fail = [](const std::string& name, std::string_view why) {
    return Status::ForField(StatusCode::kInvalidArgument, name, why);
  };
  for (auto& [name, value] : *params) {
    if (name == "tenant" || name == "service" || name == "resource") {
      (name == "tenant" ? q.filter.tenant : name == "service" ? q.filter.service : q.filter.resource) = value;
    } else if (name == "from" || name == "to") {
      int64_t ms = 0;
      if (!ParseTimestamp(value, &ms))
        return fail(name, "expected Unix seconds or an RFC 3339 time, got '" + value + "'");
      (name == "from" ? q.from_ms : q.to_ms) = ms;
      has_from = has_from || name == "from";
    } else if (name == "step") {
      double seconds = 0;
      if (ParseDouble(value, &seconds) && std::isfinite(seconds) && seconds > 0 && seconds < 1e9) {
        q.step = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
      } else if (auto d = ParseDuration(value); d.ok() && d->count() > 0) {
        q.step = *d;
      } else {
        return fail(name, "expected a duration such as 5m or seconds, got '" + value + "'");
      }
      if (q.step < std::chrono::minutes(1) || q.step.count() % 60'000 != 0) {
        return fail(name, "must be a whole number of minutes (the rollups' resolution is 1m)");
      }
    } else {
      return fail(name, "unknown parameter (expected tenant, service, resource, from, to, step)");
    }
  }
  if (!has_from) q.from_ms = q.to_ms - 3'600'000;
  if (q.from_ms >= q.to_ms) return fail("from", "must be before to");
  if ((q.to_ms - q.from_ms) / q.step.count() > kMaxSeriesPoints) {
    return fail("step", "too many points for the range (at most " + std::to_string(kMaxSeriesPoints) +
                            " per series); raise step or shorten the range");
  }
  return q;
}

namespace {

void WriteKeyFields(JsonWriter& w, const DemandKey& key, const DemandRollups& rollups) {
  WriteStringField(w, "tenant", key.tenant);
  WriteStringField(w, "service", key.service);
  WriteStringField(w, "resource", key.resource);
  WriteStringField(w, "unit", rollups.UnitOf(key.resource));
}

}  // namespace

std::string RenderSeriesJson(const std::vector<DemandSeries>& series, const DemandRollups& rollups) {
  return RenderSuccessJson([&](JsonWriter& w) {
    for (const DemandSeries& s : series) {
      w.StartObject();
      WriteKeyFields(w, s.key, rollups);
      w.Key("step_seconds");
      w.Int64(s.step.count() / 1000);
      w.Key("points");
      w.StartArray();
      for (const DemandPoint& p : s.points) {
        w.StartArray();
        w.Int64(p.timestamp_ms / 1000);
        w.Double(p.avg);
        w.Double(p.max);
        w.EndArray();
      }
      w.EndArray();
      w.EndObject();
    }
  });
}

Result<DemandKey> ParseForecastsQuery(std::string_view query_string) {
  auto params = http::ParseQueryString(query_string);
  if (!params.ok()) return params.status();
  DemandKey filter;
  for (auto& [name, value] : *params) {
    if (name == "tenant" || name == "service" || name == "resource") {
      (name == "tenant" ? filter.tenant : name == "service" ? filter.service : filter.resource) = value;
    } else {
      return Status::ForField(StatusCode::kInvalidArgument, name,
                              "unknown parameter (expected tenant, service, resource)");
    }
  }
  return filter;
}

std::string RenderForecastsJson(const std::vector<SeriesForecast>& forecasts, const DemandRollups& rollups) {
  return RenderSuccessJson([&](JsonWriter& w) {
    for (const SeriesForecast& f : forecasts) {
      w.StartObject();
      WriteKeyFields(w, f.key, rollups);
      WriteStringField(w, "model", f.model);
      w.Key("last_observed");
      w.Int64(f.last_observed_ms / 1000);
      w.Key("points");
      w.Uint64(f.points);
      w.Key("forecasts");
      w.StartArray();
      for (const HorizonForecast& h : f.horizons) {
        w.StartObject();
        WriteStringField(w, "horizon", FormatDuration(h.horizon));
        w.Key("horizon_seconds");
        w.Int64(h.horizon.count() / 1000);
        w.Key("target");
        w.Int64(h.target_ms / 1000);
        for (auto [key, value] : {std::pair{"point", h.point}, {"lower", h.lower}, {"upper", h.upper}}) {
          w.Key(key);
          w.Double(value);
        }
        w.Key("mase");
        if (h.mase < 0) {
          w.Null();
        } else {
          w.Double(h.mase);
        }
        w.Key("matured");
        w.Uint64(h.matured);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
  });
}

}  // namespace prescale::aggregator
