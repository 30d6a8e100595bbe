#include "prescale/aggregator/api/raw_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>

#include "prescale/metrics/names.h"

namespace prescale::aggregator {

Result<RawQuery> ParseRawQuery(std::string_view query_string) {
  auto params = http::ParseQueryString(query_string);
  if (!params.ok()) return params.status();
  RawQuery q;
  bool has_match = false;
  for (auto& [name, value] : *params) {
    if (name == "match") {
      if (has_match) return Status::InvalidArgument("match: given more than once");
      if (!metrics::IsValidMetricName(value))
        return Status::InvalidArgument("match: invalid metric name '" + value + "'");
      q.metric_name = value;
      has_match = true;
    } else {
      if (!metrics::IsValidLabelName(name)) return Status::InvalidArgument(name + ": invalid label name");
      q.equalities.push_back({name, value});
    }
  }
  if (!has_match) return Status::InvalidArgument("match: required parameter is missing (a metric name)");
  return q;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return IsStaleMarker(value) ? "stale" : "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits without an exponent, as Prometheus's API prints values
  // (strconv.FormatFloat(v, 'f', -1, 64)); 5e-324 takes about 330 characters.
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string RenderRawJson(const std::vector<SeriesData>& series) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("status");
  w.String("success");
  w.Key("data");
  w.StartArray();
  for (const SeriesData& s : series) {
    w.StartObject();
    w.Key("labels");
    w.StartObject();
    for (const auto& l : s.labels) {
      w.Key(l.name.data(), static_cast<rapidjson::SizeType>(l.name.size()));
      w.String(l.value.data(), static_cast<rapidjson::SizeType>(l.value.size()));
    }
    w.EndObject();
    w.Key("samples");
    w.StartArray();
    for (const auto& sample : s.samples) {
      w.StartArray();
      w.Int64(sample.timestamp_ms);
      const std::string v = FormatSampleValue(sample.value);
      w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
      w.EndArray();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace prescale::aggregator
