#include "prescale/aggregator/series_api.h"

#include <cmath>
#include <ctime>

#include "json_envelope.h"
#include "prescale/aggregator/raw_json.h"
#include "prescale/base/duration.h"
#include "prescale/base/numbers.h"

namespace prescale::aggregator {
namespace {

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)"
bool ParseRfc3339(std::string_view s, int64_t* ms) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !ParseDigits(s, 5, 2, &month) || s[7] != '-' ||
      !ParseDigits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, &hour) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, &minute) || s[16] != ':' || !ParseDigits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  size_t pos = 19;
  int64_t millis = 0;
  if (s[pos] == '.') {
    int64_t scale = 100;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, scale /= 10) millis += (s[pos] - '0') * scale;
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    offset_s = 0;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh = 0, om = 0;
    if (!ParseDigits(s, pos + 1, 2, &oh) || !ParseDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) return false;
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(::timegm(&tm)) - offset_s;
  *ms = seconds * 1000 + millis;
  return true;
}

}  // namespace

bool ParseTimestamp(std::string_view text, int64_t* ms) {
  double seconds = 0;
  if (ParseDouble(text, &seconds)) {
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e13) return false;
    *ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
    return true;
  }
  return ParseRfc3339(text, ms);
}

Result<SeriesQuery> ParseSeriesQuery(std::string_view query_string, int64_t now_ms, std::string* field) {
  auto params = ParseQueryString(query_string);
  if (!params.ok()) return params.status();
  SeriesQuery q;
  bool has_from = false;
  q.to_ms = now_ms;
  auto fail = [field](const std::string& name, const std::string& why) {
    *field = name;
    return Status::InvalidArgument(name + ": " + why);
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

Result<DemandKey> ParseForecastsQuery(std::string_view query_string, std::string* field) {
  auto params = ParseQueryString(query_string);
  if (!params.ok()) return params.status();
  DemandKey filter;
  for (auto& [name, value] : *params) {
    if (name == "tenant" || name == "service" || name == "resource") {
      (name == "tenant" ? filter.tenant : name == "service" ? filter.service : filter.resource) = value;
    } else {
      *field = name;
      return Status::InvalidArgument(name + ": unknown parameter (expected tenant, service, resource)");
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
