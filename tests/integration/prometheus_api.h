// Helpers for integration tests that check prescale's series through a real
// Prometheus: its HTTP query API (instant queries, each series with its
// labels), and a process's own CPU time to compare rates against.
#pragma once

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "prescale/http/http_client.h"
#include "tests/support/test_env.h"

namespace prescale::testing {

// CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat.
inline std::optional<double> ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3 (state) to 15 (stime): utime and stime are the 12th and 13th after the ')'.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

class PrometheusApi {
 public:
  struct Series {
    std::map<std::string, std::string> labels;
    double value = 0;
  };

  explicit PrometheusApi(int port) : base_("http://127.0.0.1:" + std::to_string(port)) {
    options_.timeout = std::chrono::seconds(5);
    options_.accept = "application/json";
  }

  // The series of an instant vector query evaluated at unix time `at`; nullopt when the query
  // failed (last_error() says why).
  std::optional<std::vector<Series>> Query(const std::string& promql, double at) {
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", at);
    auto r = client_->Get(base_ + "/api/v1/query?query=" + UrlEncode(promql) + "&time=" + time, options_);
    if (!r.ok()) {
      last_error_ = r.status().ToString();
      return std::nullopt;
    }
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[<t>,"<v>"]}]}}
    rapidjson::Document doc;
    doc.Parse(r->body.c_str());
    if (r->status != 200 || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsObject() ||
        !doc["data"].HasMember("result") || !doc["data"]["result"].IsArray()) {
      last_error_ = std::to_string(r->status) + " " + r->body;
      return std::nullopt;
    }
    std::vector<Series> out;
    for (const auto& item : doc["data"]["result"].GetArray()) {
      Series s;
      if (item.HasMember("metric") && item["metric"].IsObject()) {
        for (const auto& m : item["metric"].GetObject()) {
          if (m.value.IsString()) s.labels[m.name.GetString()] = m.value.GetString();
        }
      }
      if (item.HasMember("value") && item["value"].IsArray() && item["value"].Size() == 2 &&
          item["value"][1].IsString()) {
        s.value = std::strtod(item["value"][1].GetString(), nullptr);
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  // Only the values, in the answer's order.
  std::optional<std::vector<double>> Values(const std::string& promql, double at) {
    auto series = Query(promql, at);
    if (!series) return std::nullopt;
    std::vector<double> values;
    for (const Series& s : *series) values.push_back(s.value);
    return values;
  }

  const std::string& last_error() const { return last_error_; }

 private:
  std::string base_;
  http::GetOptions options_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
  std::string last_error_;
};

}  // namespace prescale::testing
