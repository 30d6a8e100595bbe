// prescale's Prometheus baselines against a real Prometheus 2.42: a slice of
// a real trace is backfilled with `promtool tsdb create-blocks-from
// openmetrics`, Prometheus serves the blocks, and for many evaluation times
// (on samples and between them, so the range edges are exercised)
//   predict_linear(m[1h], 900) and holt_winters(m[1h], 0.5, 0.5)
// from /api/v1/query must equal PromPredictLinear / PromHoltWinters over the
// same samples to 1e-9 relative. The Forecaster adapters must answer the same
// when asked right at a sample.
#include <rapidjson/document.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/forecast/prom_functions.h"
#include "prescale/http/http_client.h"
#include "prescale/sim/trace.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using forecast::PromSample;
using testing::FindProgram;
using testing::RunCommand;
using testing::Subprocess;
using testing::TempDir;
using testing::UrlEncode;

constexpr int64_t kRangeMs = 3'600'000;
constexpr size_t kSliceSamples = 2 * 24 * 12;  // two days at 5 minutes

std::string TracePath() { return testing::TracesDir() + "/bitbrains_rnd/rnd_2013-08_vm303.csv"; }

// The value of a one-element instant vector: {"data":{"result":[{"value":[t,"v"]}]}}.
std::optional<double> ParseScalarVector(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data")) return std::nullopt;
  const auto& result = doc["data"]["result"];
  if (!result.IsArray() || result.Size() != 1) return std::nullopt;
  const auto& value = result[0]["value"];
  if (!value.IsArray() || value.Size() != 2 || !value[1].IsString()) return std::nullopt;
  return std::strtod(value[1].GetString(), nullptr);
}

bool Near(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::max(std::fabs(a), std::fabs(b))); }

class PrometheusForecastEquivalenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_bin_ = FindProgram("promtool");
    if (FindProgram("prometheus").empty() || promtool_bin_.empty()) {
      GTEST_SKIP() << "prometheus and promtool are not installed (Debian package prometheus)";
    }
    auto trace = sim::LoadTraceCsv(TracePath(), {});
    if (!trace.ok()) GTEST_SKIP() << "the real trace is not available: " << trace.status().message();
    // Bitbrains: jittered timestamps and real gaps, which is what the range edges should see.
    for (size_t i = 0; i < trace->values.size() && samples_.size() < kSliceSamples; ++i) {
      if (std::isfinite(trace->values[i])) samples_.push_back({trace->timestamps_ms[i], trace->values[i]});
    }
    ASSERT_EQ(samples_.size(), kSliceSamples);
  }

  // OpenMetrics with timestamps in seconds; %.17g keeps every double exact.
  std::string OpenMetrics() const {
    std::string text = "# TYPE prescale_trace_demand gauge\n";
    char line[128];
    for (const PromSample& s : samples_) {
      std::snprintf(line, sizeof line, "prescale_trace_demand %.17g %.3f\n", s.value,
                    static_cast<double>(s.timestamp_ms) / 1e3);
      text += line;
    }
    return text + "# EOF\n";
  }

  void Backfill() {
    const std::string input = dir_.Write("trace.om", OpenMetrics());
    const testing::RunResult r =
        RunCommand({promtool_bin_, "tsdb", "create-blocks-from", "openmetrics", input, dir_.path() + "/tsdb"}, 120s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  void StartPrometheus() {
    testing::PrometheusOptions options;
    options.config_yaml = "global:\n  scrape_interval: 1m\n";
    options.tsdb_path = dir_.path() + "/tsdb";  // the backfilled blocks
    // Retention far longer than the trace's age, so the 2013 blocks are kept.
    options.extra_flags = {"--storage.tsdb.retention.time=100y"};
    std::string error;
    ASSERT_TRUE(testing::StartPrometheus(dir_, options, &prometheus_, &port_, &error)) << error;
  }

  std::optional<double> Query(const std::string& expr, int64_t eval_ms) {
    http::GetOptions o;
    o.timeout = 10s;
    o.accept = "application/json";
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", static_cast<double>(eval_ms) / 1e3);
    auto r = client_->Get(BaseUrl() + "/api/v1/query?query=" + UrlEncode(expr) + "&time=" + time, o);
    if (!r.ok() || r->status != 200) return std::nullopt;
    return ParseScalarVector(r->body);
  }

  // The samples Prometheus 2.x selects for m[1h] at eval_ms: [eval - 1h, eval].
  std::vector<PromSample> Range(int64_t eval_ms) const {
    std::vector<PromSample> out;
    for (const PromSample& s : samples_) {
      if (s.timestamp_ms >= eval_ms - kRangeMs && s.timestamp_ms <= eval_ms) out.push_back(s);
    }
    return out;
  }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  TempDir dir_{"prescale-prom-forecast"};  // first: removed after Prometheus is gone
  std::string promtool_bin_;
  std::vector<PromSample> samples_;
  Subprocess prometheus_;
  int port_ = 0;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
};

TEST_F(PrometheusForecastEquivalenceTest, PredictLinearAndHoltWintersMatchPrometheus) {
  ASSERT_NO_FATAL_FAILURE(Backfill());
  ASSERT_NO_FATAL_FAILURE(StartPrometheus());
  std::vector<int64_t> times;
  for (size_t i = 20; i < samples_.size(); i += 23) {
    times.push_back(samples_[i].timestamp_ms);            // right on a sample: both range ends hit samples
    times.push_back(samples_[i].timestamp_ms + 137'000);  // between samples
  }
  size_t compared = 0;
  for (const int64_t t : times) {
    SCOPED_TRACE("evaluation time " + std::to_string(t / 1000));
    const std::vector<PromSample> range = Range(t);
    const std::optional<double> ours_linear = forecast::PromPredictLinear(range, t, 900);
    const std::optional<double> ours_hw = forecast::PromHoltWinters(range, 0.5, 0.5);
    const std::optional<double> theirs_linear = Query("predict_linear(prescale_trace_demand[1h], 900)", t);
    const std::optional<double> theirs_hw = Query("holt_winters(prescale_trace_demand[1h], 0.5, 0.5)", t);
    ASSERT_EQ(ours_linear.has_value(), theirs_linear.has_value()) << range.size() << " samples in the range";
    ASSERT_EQ(ours_hw.has_value(), theirs_hw.has_value());
    if (!ours_linear.has_value()) continue;
    EXPECT_PRED2(Near, *ours_linear, *theirs_linear) << range.size() << " samples";
    EXPECT_PRED2(Near, *ours_hw, *theirs_hw) << range.size() << " samples";
    ++compared;
  }
  EXPECT_GE(compared, 20u);
}

TEST_F(PrometheusForecastEquivalenceTest, ForecasterAdaptersAnswerWhatPrometheusAnswersAtTheNewestSample) {
  ASSERT_NO_FATAL_FAILURE(Backfill());
  ASSERT_NO_FATAL_FAILURE(StartPrometheus());
  forecast::ForecastSpec linear_spec, hw_spec;
  linear_spec.model = "prom_predict_linear";
  hw_spec.model = "prom_double_exponential_smoothing";
  auto linear = forecast::MakePromBaseline(linear_spec);
  auto hw = forecast::MakePromBaseline(hw_spec);
  ASSERT_TRUE(linear.ok() && hw.ok());
  size_t compared = 0;
  for (size_t i = 0; i < samples_.size(); ++i) {
    (*linear)->Observe(samples_[i].timestamp_ms, samples_[i].value);
    (*hw)->Observe(samples_[i].timestamp_ms, samples_[i].value);
    if (i < 30 || i % 41 != 0) continue;
    const int64_t t = samples_[i].timestamp_ms;
    SCOPED_TRACE("evaluation time " + std::to_string(t / 1000));
    const std::optional<double> theirs_linear = Query("predict_linear(prescale_trace_demand[1h], 900)", t);
    const std::optional<double> theirs_hw = Query("holt_winters(prescale_trace_demand[1h], 0.5, 0.5)", t);
    ASSERT_TRUE(theirs_linear.has_value() && theirs_hw.has_value());
    const forecast::ForecastResult l = (*linear)->Forecast(900s);
    const forecast::ForecastResult h = (*hw)->Forecast(900s);
    EXPECT_EQ(l.target_ms, t + 900'000);
    // The Forecaster contract floors demand at 0; CPU use is positive anyway.
    EXPECT_PRED2(Near, l.point, std::max(0.0, *theirs_linear));
    EXPECT_PRED2(Near, h.point, std::max(0.0, *theirs_hw));
    ++compared;
  }
  EXPECT_GE(compared, 10u);
}

}  // namespace
}  // namespace prescale
