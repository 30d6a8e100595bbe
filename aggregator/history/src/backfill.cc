#include "prescale/aggregator/history/backfill.h"

#include <rapidjson/document.h>

#include <cmath>
#include <set>

#include "prescale/base/log.h"
#include "prescale/base/numbers.h"

namespace prescale::aggregator {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kQuarterMs = 15 * kMinuteMs;

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Seconds(int64_t ms) { return std::to_string(ms / 1000); }

// One query_range call; the points land in `demand` as avg, max or both.
Result<uint64_t> QueryInto(const std::string& base_url, const std::string& query, int64_t start_ms, int64_t end_ms,
                           int64_t step_ms, const std::string& resource, bool coarse, int which, DemandRollups* demand,
                           http::HttpClient* client, std::set<DemandKey>* touched) {
  const std::string url = base_url + "/api/v1/query_range?query=" + UrlEncode(query) + "&start=" + Seconds(start_ms) +
                          "&end=" + Seconds(end_ms) + "&step=" + std::to_string(step_ms / 1000);
  http::GetOptions options;
  options.timeout = std::chrono::seconds(60);
  options.max_body_bytes = 256 << 20;
  options.accept = "application/json";
  auto response = client->Get(url, options);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return Status::Unavailable("Prometheus answered " + std::to_string(response->status) + " to " + query + ": " +
                               response->body.substr(0, 300));
  }
  auto matrix = ParsePromMatrix(response->body, demand->options());
  if (!matrix.ok()) return matrix.status();
  const double nan = std::nan("");
  uint64_t points = 0;
  for (PromMatrixSeries& s : *matrix) {
    s.key.resource = resource;
    touched->insert(s.key);
    for (DemandPoint p : s.points) {
      // A point evaluated at t describes the time before t: the bucket ending at t.
      p.timestamp_ms -= coarse ? kQuarterMs : kMinuteMs;
      if (which == 1) p.max = nan;
      if (which == 2) p.avg = nan;
      demand->Backfill(s.key, coarse, p);
      ++points;
    }
  }
  return points;
}

}  // namespace

std::string DemandPromQL(const DemandOptions& options, const std::string& resource) {
  std::string counters, gauges;
  for (const DemandRule& r : options.rules) {
    if (r.resource != resource) continue;
    std::string& names = r.counter ? counters : gauges;
    names += (names.empty() ? "" : "|") + r.metric;
  }
  const std::string by = "sum by (" + options.tenant_label + ", " + options.service_label + ") ";
  const std::string match = options.tenant_label + "!=\"\", " + options.service_label + "!=\"\"";
  std::string expr;
  if (!counters.empty()) expr = by + "(rate({__name__=~\"" + counters + "\", " + match + "}[2m]))";
  if (!gauges.empty()) {
    expr += (expr.empty() ? "" : " + ") + by + "({__name__=~\"" + gauges + "\", " + match + "})";
  }
  return expr;
}

Result<std::vector<PromMatrixSeries>> ParsePromMatrix(std::string_view body, const DemandOptions& options) {
  rapidjson::Document doc;
  // Iterative: a deeply nested answer cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::ParseError("Prometheus's answer is not a JSON object");
  if (!doc.HasMember("status") || !doc["status"].IsString() ||
      std::string_view(doc["status"].GetString()) != "success") {
    return Status::ParseError("Prometheus's answer has no \"status\":\"success\"");
  }
  if (!doc.HasMember("data") || !doc["data"].IsObject()) return Status::ParseError("no \"data\" object");
  const auto& data = doc["data"];
  if (!data.HasMember("result") || !data["result"].IsArray()) return Status::ParseError("no \"data.result\" array");
  std::vector<PromMatrixSeries> out;
  for (const auto& series : data["result"].GetArray()) {
    if (!series.IsObject()) return Status::ParseError("a result that is not an object");
    if (!series.HasMember("metric") || !series["metric"].IsObject() || !series.HasMember("values") ||
        !series["values"].IsArray()) {
      return Status::ParseError("a result without \"metric\" and \"values\" (not a range query's matrix)");
    }
    PromMatrixSeries s;
    for (const auto& label : series["metric"].GetObject()) {
      if (!label.value.IsString()) return Status::ParseError("a label value that is not a string");
      const std::string_view name = label.name.GetString();
      if (name == options.tenant_label) s.key.tenant = label.value.GetString();
      if (name == options.service_label) s.key.service = label.value.GetString();
    }
    if (s.key.tenant.empty() || s.key.service.empty()) continue;
    for (const auto& v : series["values"].GetArray()) {
      if (!v.IsArray() || v.Size() != 2 || !v[0].IsNumber() || !v[1].IsString()) {
        return Status::ParseError("a value that is not [time, \"number\"]");
      }
      double value = 0;
      if (!ParseDouble(v[1].GetString(), &value) || !std::isfinite(value)) continue;
      const int64_t ms = std::llround(v[0].GetDouble() * 1000.0);
      s.points.push_back(DemandPoint{ms, value, value});
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<BackfillStats> BackfillFromPrometheus(const std::string& prometheus_url, DemandRollups* demand,
                                             const Clock& clock, http::HttpClient* client) {
  std::string base = prometheus_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const DemandOptions& o = demand->options();
  std::set<std::string> resources;
  for (const DemandRule& r : o.rules) resources.insert(r.resource);
  // Only minutes that are final by now: live ingest owns the open ones.
  const int64_t now = ToUnixMillis(clock.Now());
  const int64_t fine_end = (now - o.settle.count()) / kMinuteMs * kMinuteMs - kMinuteMs;
  const int64_t fine_start = fine_end - std::chrono::duration_cast<std::chrono::milliseconds>(o.fine_retention).count();
  const int64_t coarse_end = fine_end / kQuarterMs * kQuarterMs;
  const int64_t coarse_start =
      coarse_end - std::chrono::duration_cast<std::chrono::milliseconds>(o.coarse_retention).count() + kQuarterMs;
  BackfillStats stats;
  std::set<DemandKey> touched;
  for (const std::string& resource : resources) {
    const std::string expr = DemandPromQL(o, resource);
    struct Pass {
      std::string query;
      int64_t start, end, step;
      bool coarse;
      int which;  // 0: avg and max, 1: avg, 2: max
    };
    const Pass passes[] = {
        {expr, fine_start, fine_end, kMinuteMs, false, 0},
        {"avg_over_time((" + expr + ")[15m:1m])", coarse_start, coarse_end, kQuarterMs, true, 1},
        {"max_over_time((" + expr + ")[15m:1m])", coarse_start, coarse_end, kQuarterMs, true, 2},
    };
    for (const Pass& p : passes) {
      auto points =
          QueryInto(base, p.query, p.start, p.end, p.step, resource, p.coarse, p.which, demand, client, &touched);
      if (!points.ok()) return points.status();
      stats.points += *points;
    }
    Log(LogLevel::kInfo, "backfill: " + resource + " done, " + std::to_string(stats.points) + " points so far");
  }
  stats.series = touched.size();
  return stats;
}

}  // namespace prescale::aggregator
