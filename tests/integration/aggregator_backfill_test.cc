// Backfill and the demand API end to end: three hours of two nodes' usage of
// one service are written into a real Prometheus 2.42's TSDB (promtool tsdb
// create-blocks-from openmetrics); the built prescale-aggregator, started with
// --prometheus-url and an empty store, fills its demand rollups from
// Prometheus's query_range API, and GET /api/v1/series answers the summed
// demand (1.5 cores, 3 GB) at 1-minute and 15-minute steps; the forecasts of
// that history come from GET /api/v1/forecasts and /metrics.
#include <rapidjson/document.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::FindProgram;
using testing::PollUntil;
using testing::Subprocess;
using testing::TempDir;
constexpr const char* kToken = testing::kTestToken;
constexpr const char* kTokenSha256 = testing::kTestTokenSha256;

struct Point {
  int64_t t_s;
  double avg;
  double max;
};

class AggregatorBackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prometheus_bin_ = FindProgram("prometheus");
    promtool_bin_ = FindProgram("promtool");
    if (prometheus_bin_.empty() || promtool_bin_.empty()) {
      GTEST_SKIP() << "prometheus or promtool is not installed (Debian package prometheus)";
    }
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    aggregator_bin_ = BinDir() + "/prescale-aggregator";
    ASSERT_EQ(::access(aggregator_bin_.c_str(), X_OK), 0) << aggregator_bin_ << " is missing: build it";
  }

  // Node a: 0.5 cores, 1 GB; node b: 1.0 cores, 2 GB; every 15 s for 3 hours ending 20 minutes ago.
  void WriteHistory() {
    now_s_ =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    start_s_ = (now_s_ - 3L * 3600) / 60 * 60;
    end_s_ = (now_s_ - 20L * 60) / 60 * 60;
    std::string text;
    for (auto [node, cores, bytes] : {std::tuple{"a", 0.5, 1e9}, {"b", 1.0, 2e9}}) {
      for (int64_t t = start_s_; t <= end_s_; t += 15) {
        text += std::string("container_cpu_usage_seconds_total{node=\"") + node +
                "\",service=\"api\",tenant=\"shop\"} " + std::to_string(cores * static_cast<double>(t - start_s_)) +
                " " + std::to_string(t) + "\n";
      }
      for (int64_t t = start_s_; t <= end_s_; t += 15) {
        text += std::string("container_memory_working_set_bytes{node=\"") + node +
                "\",service=\"api\",tenant=\"shop\"} " + std::to_string(bytes) + " " + std::to_string(t) + "\n";
      }
    }
    text += "# EOF\n";
    const std::string file = dir_.Write("history.om", text);
    const auto r = testing::RunCommand(
        {promtool_bin_, "tsdb", "create-blocks-from", "openmetrics", file, dir_.path() + "/tsdb"}, 120s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  void StartPrometheus() {
    std::string error;
    testing::PrometheusOptions options;
    options.tsdb_path = dir_.path() + "/tsdb";
    ASSERT_TRUE(testing::StartPrometheus(dir_, options, &prometheus_, &prometheus_port_, &error)) << error;
  }

  void StartAggregator() {
    const std::string config =
        dir_.Write("aggregator.yaml", std::string("tokens:\n  - name: ops\n    sha256: \"") + kTokenSha256 + "\"\n" +
                                          testing::kTestMonitorTokenYaml);
    ASSERT_TRUE(aggregator_.Start({aggregator_bin_, "--config", config, "--listen", "127.0.0.1:0", "--prometheus-url",
                                   "http://127.0.0.1:" + std::to_string(prometheus_port_)}));
    std::string log;
    aggregator_port_ = testing::WaitForServingPort(aggregator_, 20s, &log);
    ASSERT_NE(aggregator_port_, 0) << "the aggregator did not start: " << log;
  }

  // GET path on the aggregator with `token` (none when null): the status and the body.
  std::pair<int, std::string> Get(const std::string& path, const char* token = kToken) {
    std::vector<std::string> argv = {"curl", "-sS", "-w", "\n%{http_code}"};
    if (token != nullptr) argv.insert(argv.end(), {"-H", std::string("Authorization: Bearer ") + token});
    argv.push_back("http://127.0.0.1:" + std::to_string(aggregator_port_) + path);
    const auto r = testing::RunCommand(argv, 20s);
    const size_t nl = r.out.rfind('\n');
    if (nl == std::string::npos) return {0, r.out};
    return {std::atoi(r.out.c_str() + nl + 1), r.out.substr(0, nl)};
  }

  std::vector<Point> Series(const std::string& resource, const std::string& step) {
    const auto [status, body] =
        Get("/api/v1/series?tenant=shop&service=api&resource=" + resource + "&from=" + std::to_string(start_s_) +
            "&to=" + std::to_string(now_s_) + "&step=" + step);
    std::vector<Point> out;
    if (status != 200) return out;
    rapidjson::Document doc;
    doc.Parse(body.c_str());
    if (doc.HasParseError() || !doc["data"].IsArray() || doc["data"].Size() != 1) return out;
    for (const auto& p : doc["data"][0]["points"].GetArray()) {
      out.push_back(Point{p[0].GetInt64(), p[1].GetDouble(), p[2].GetDouble()});
    }
    return out;
  }

  TempDir dir_{"prescale-backfill"};
  std::string prometheus_bin_, promtool_bin_, aggregator_bin_;
  Subprocess prometheus_, aggregator_;
  int prometheus_port_ = 0, aggregator_port_ = 0;
  int64_t now_s_ = 0, start_s_ = 0, end_s_ = 0;
};

TEST_F(AggregatorBackfillTest, FillsEmptyRollupsFromPrometheusAndServesThemAsSeries) {
  WriteHistory();
  StartPrometheus();
  StartAggregator();
  std::vector<Point> cpu;
  ASSERT_TRUE(PollUntil(
      [&] {
        cpu = Series("cpu", "1m");
        return cpu.size() > 100;
      },
      60s))
      << aggregator_.Stderr();
  int checked = 0;
  for (const Point& p : cpu) {
    // Away from the edges, where rate() sees whole windows.
    if (p.t_s < start_s_ + 300 || p.t_s > end_s_ - 300) continue;
    EXPECT_NEAR(p.avg, 1.5, 1e-6) << p.t_s;
    EXPECT_NEAR(p.max, 1.5, 1e-6) << p.t_s;
    ++checked;
  }
  EXPECT_GT(checked, 100);
  std::vector<Point> memory;
  ASSERT_TRUE(PollUntil(
      [&] {
        memory = Series("memory", "1m");
        return memory.size() > 100;
      },
      60s));
  for (const Point& p : memory) {
    if (p.t_s > start_s_ + 300 && p.t_s < end_s_ - 300) {
      EXPECT_NEAR(p.avg, 3e9, 1e3) << p.t_s;
    }
  }
  std::vector<Point> quarters;
  ASSERT_TRUE(PollUntil(
      [&] {
        quarters = Series("cpu", "15m");
        return quarters.size() >= 8;
      },
      60s))
      << quarters.size() << " points; " << aggregator_.Stderr();
  for (const Point& p : quarters) {
    if (p.t_s % 900 != 0) ADD_FAILURE() << "a 15-minute point not on a quarter: " << p.t_s;
    if (p.t_s > start_s_ + 900 && p.t_s + 1800 < end_s_) {
      EXPECT_NEAR(p.avg, 1.5, 1e-3) << p.t_s;
    }
  }

  // The history is forecast at every tick, at each default horizon. (Its last minutes fall as
  // rate() windows run past the data's end, so the forecast is not simply 1.5.)
  rapidjson::Document forecasts;
  ASSERT_TRUE(PollUntil(
      [&] {
        const auto [code, text] = Get("/api/v1/forecasts?tenant=shop&service=api&resource=cpu");
        forecasts.Parse(text.c_str());
        // The replay feeds at most 2 s of history a tick: wait until it reached the newest final minute.
        return code == 200 && !forecasts.HasParseError() && forecasts["data"].Size() == 1 &&
               forecasts["data"][0]["last_observed"].GetInt64() == cpu.back().t_s;
      },
      60s))
      << "the forecasts never reached the newest final minute";
  const auto& cpu_forecast = forecasts["data"][0];
  EXPECT_GT(std::string(cpu_forecast["model"].GetString()).size(), 0u);
  EXPECT_EQ(std::string(cpu_forecast["unit"].GetString()), "cores");
  EXPECT_EQ(cpu_forecast["last_observed"].GetInt64(), cpu.back().t_s) << "fed up to the newest final minute";
  EXPECT_GE(cpu_forecast["points"].GetUint64(), cpu.size());
  ASSERT_EQ(cpu_forecast["forecasts"].Size(), 3u);
  for (const auto& f : cpu_forecast["forecasts"].GetArray()) {
    EXPECT_GE(f["point"].GetDouble(), 0.0) << f["horizon"].GetString();
    EXPECT_LE(f["point"].GetDouble(), 2.0) << f["horizon"].GetString();
    EXPECT_LE(f["lower"].GetDouble(), f["point"].GetDouble());
    EXPECT_GE(f["upper"].GetDouble(), f["point"].GetDouble());
  }

  // Bad queries: 400 with the parameter named; no token: 401. The aggregator keeps serving.
  auto [status, body] = Get("/api/v1/series?step=30s");
  EXPECT_EQ(status, 400);
  EXPECT_NE(body.find("\"field\":\"step\""), std::string::npos) << body;
  EXPECT_EQ(Get("/api/v1/series", nullptr).first, 401);
  EXPECT_EQ(Get("/metrics", nullptr).first, 401) << "every tenant's usage is on /metrics";
  const auto metrics = Get("/metrics", testing::kTestMonitorToken);
  EXPECT_NE(metrics.second.find("prescale_service_usage{resource=\"cpu\",service=\"api\",tenant=\"shop\"}"),
            std::string::npos);
  EXPECT_NE(metrics.second.find("prescale_aggregator_demand_series 2"), std::string::npos);
  EXPECT_NE(metrics.second.find("prescale_forecast{bound=\"point\",horizon=\"15m\",resource=\"cpu\",service=\"api\","
                                "tenant=\"shop\"}"),
            std::string::npos);
  EXPECT_EQ(Get("/api/v1/forecasts?horizon=5m").first, 400);
}

}  // namespace
}  // namespace prescale
