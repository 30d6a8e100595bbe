// Interop, receiver side: a real Prometheus 2.42 scrapes a fixed target every
// second and remote-writes to the built prescale-aggregator with a bearer
// token; the aggregator's /api/v1/raw must hold the same series (labels) and
// the same samples (timestamps and values) that Prometheus's own query API
// returns for them.
#include <rapidjson/document.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
#include "prescale/http/http_server.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::FindProgram;
using testing::FreeLoopbackPort;
using testing::PollUntil;
using testing::Subprocess;
using testing::TempDir;
constexpr const char* kToken = testing::kTestToken;
constexpr const char* kTokenSha256 = testing::kTestTokenSha256;
using testing::UrlEncode;

using LabelMap = std::map<std::string, std::string>;
using Samples = std::map<int64_t, std::string>;  // timestamp ms -> value as the API prints it

struct SeriesSamples {
  LabelMap labels;
  Samples samples;
};

// Prometheus: {"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},"values":[[1.5,"v"]]}]}}
bool ParsePrometheusMatrix(const std::string& body, std::vector<SeriesSamples>* out) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsObject()) return false;
  const auto& result = doc["data"]["result"];
  if (!result.IsArray()) return false;
  for (const auto& s : result.GetArray()) {
    SeriesSamples series;
    for (const auto& l : s["metric"].GetObject()) series.labels[l.name.GetString()] = l.value.GetString();
    for (const auto& v : s["values"].GetArray()) {
      const auto ms = static_cast<int64_t>(std::llround(v[0].GetDouble() * 1000));
      series.samples[ms] = v[1].GetString();
    }
    out->push_back(std::move(series));
  }
  return true;
}

// The aggregator: {"status":"success","data":[{"labels":{..},"samples":[[ms,"v"]]}]}
bool ParseAggregatorRaw(const std::string& body, std::vector<SeriesSamples>* out) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsArray()) return false;
  for (const auto& s : doc["data"].GetArray()) {
    SeriesSamples series;
    for (const auto& l : s["labels"].GetObject()) series.labels[l.name.GetString()] = l.value.GetString();
    for (const auto& v : s["samples"].GetArray()) series.samples[v[0].GetInt64()] = v[1].GetString();
    out->push_back(std::move(series));
  }
  return true;
}

class AggregatorRemoteWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prometheus_bin_ = FindProgram("prometheus");
    if (prometheus_bin_.empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    aggregator_bin_ = BinDir() + "/prescale-aggregator";
    ASSERT_EQ(::access(aggregator_bin_.c_str(), X_OK), 0) << aggregator_bin_ << " is missing: build it";
  }

  // The scrape target: a counter that grows by 1.5 per scrape and a fixed gauge with special values.
  void StartTarget() {
    std::vector<http::Route> routes;
    routes.push_back({"GET", "/metrics", [this](const http::HttpRequest&) {
                        const int n = ++scrapes_;
                        http::HttpResponse r;
                        r.content_type = "text/plain; version=0.0.4";
                        r.body =
                            "# TYPE interop_requests_total counter\n"
                            "interop_requests_total{tenant=\"acme\",service=\"web\"} " +
                            std::to_string(1.5 * n) +
                            "\n"
                            "# TYPE interop_queue_depth gauge\n"
                            "interop_queue_depth{tenant=\"acme\",service=\"web\",queue=\"a\"} 12.25\n"
                            "interop_queue_depth{tenant=\"acme\",service=\"web\",queue=\"b\"} +Inf\n";
                        return r;
                      }});
    auto server = http::HttpServer::Start({}, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    target_ = std::move(server).value();
  }

  void StartAggregator() {
    const std::string config = dir_.Write(
        "aggregator.yaml", std::string("tokens:\n  - name: prometheus\n    sha256: \"") + kTokenSha256 + "\"\n");
    ASSERT_TRUE(aggregator_.Start({aggregator_bin_, "--config", config, "--listen", "127.0.0.1:0"}));
    std::string log;
    aggregator_port_ = testing::WaitForServingPort(aggregator_, 20s, &log);
    ASSERT_NE(aggregator_port_, 0) << "the aggregator did not start: " << log;
  }

  bool PrometheusReady() {
    http::GetOptions o;
    o.timeout = 2s;
    auto r = client_->Get("http://127.0.0.1:" + std::to_string(prometheus_port_) + "/-/ready", o);
    return r.ok() && r->status == 200;
  }

  void StartPrometheus() {
    std::string yaml =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: interop\n    static_configs:\n"
        "      - targets: ['127.0.0.1:" +
        std::to_string(target_->port()) +
        "']\n"
        "remote_write:\n  - url: http://127.0.0.1:" +
        std::to_string(aggregator_port_) +
        "/api/v1/write\n"
        "    authorization:\n      credentials: " +
        kToken + "\n    queue_config:\n      batch_send_deadline: 1s\n";
    std::string error;
    testing::PrometheusOptions options;
    options.config_yaml = yaml;
    ASSERT_TRUE(testing::StartPrometheus(dir_, options, &prometheus_, &prometheus_port_, &error)) << error;
  }

  std::vector<SeriesSamples> QueryPrometheus(const std::string& selector) {
    http::GetOptions o;
    o.timeout = 5s;
    o.accept = "application/json";
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", now);
    auto r = client_->Get("http://127.0.0.1:" + std::to_string(prometheus_port_) +
                              "/api/v1/query?query=" + UrlEncode(selector + "[5m]") + "&time=" + time,
                          o);
    std::vector<SeriesSamples> out;
    if (!r.ok() || r->status != 200 || !ParsePrometheusMatrix(r->body, &out)) out.clear();
    return out;
  }

  std::vector<SeriesSamples> QueryAggregator(const std::string& query, const std::string& token = kToken,
                                             int* status = nullptr) {
    const testing::RunResult r =
        testing::RunCommand({"curl", "-sS", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + token,
                             "http://127.0.0.1:" + std::to_string(aggregator_port_) + "/api/v1/raw?" + query},
                            20s);
    const size_t nl = r.out.rfind('\n');
    if (status != nullptr) *status = nl == std::string::npos ? 0 : std::atoi(r.out.c_str() + nl + 1);
    std::vector<SeriesSamples> out;
    if (nl == std::string::npos || !ParseAggregatorRaw(r.out.substr(0, nl), &out)) out.clear();
    return out;
  }

  TempDir dir_{"prescale-agg-interop"};  // first: removed after the processes are gone
  std::string prometheus_bin_;
  std::string aggregator_bin_;
  std::atomic<int> scrapes_{0};
  std::unique_ptr<http::HttpServer> target_;
  Subprocess aggregator_;
  int aggregator_port_ = 0;
  Subprocess prometheus_;
  int prometheus_port_ = 0;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
};

TEST_F(AggregatorRemoteWriteTest, AggregatorHoldsTheSeriesAndValuesPrometheusHas) {
  StartTarget();
  ASSERT_NO_FATAL_FAILURE(StartAggregator());
  ASSERT_NO_FATAL_FAILURE(StartPrometheus());

  // Wait until the aggregator holds at least 5 samples of the counter: Prometheus sends every second.
  std::vector<SeriesSamples> counter;
  ASSERT_TRUE(PollUntil(
      [&] {
        counter = QueryAggregator("match=interop_requests_total&job=interop");
        return counter.size() == 1 && counter[0].samples.size() >= 5;
      },
      60s, 250ms))
      << "aggregator log:\n"
      << aggregator_.Stderr() << "\nprometheus log:\n"
      << prometheus_.Stderr();

  for (const std::string metric : {"interop_requests_total", "interop_queue_depth"}) {
    SCOPED_TRACE(metric);
    const std::vector<SeriesSamples> ours = QueryAggregator("match=" + metric);
    const std::vector<SeriesSamples> theirs = QueryPrometheus(metric);
    ASSERT_FALSE(theirs.empty()) << "Prometheus's query API returned nothing for " << metric;
    ASSERT_EQ(ours.size(), theirs.size());
    for (const SeriesSamples& mine : ours) {
      const SeriesSamples* match = nullptr;
      for (const SeriesSamples& t : theirs) {
        if (t.labels == mine.labels) match = &t;
      }
      ASSERT_NE(match, nullptr) << "a series Prometheus does not have, with " << mine.labels.size() << " labels";
      EXPECT_EQ(mine.labels.at("__name__"), metric);
      EXPECT_EQ(mine.labels.at("job"), "interop");
      EXPECT_EQ(mine.labels.at("tenant"), "acme");
      ASSERT_FALSE(mine.samples.empty());
      // Prometheus may hold newer samples not sent yet; every sample we hold must be its.
      for (const auto& [ts, value] : mine.samples) {
        auto it = match->samples.find(ts);
        ASSERT_NE(it, match->samples.end()) << "timestamp " << ts << " not in Prometheus";
        EXPECT_EQ(value, it->second) << "at " << ts;
      }
    }
  }
  // The counter's values are the target's: 1.5 per scrape.
  const std::vector<SeriesSamples> again = QueryAggregator("match=interop_requests_total&service=web");
  ASSERT_EQ(again.size(), 1u);
  for (const auto& [ts, value] : again[0].samples) {
    const double v = std::strtod(value.c_str(), nullptr);
    EXPECT_EQ(std::fmod(v, 1.5), 0.0) << value;
  }
  const std::vector<SeriesSamples> inf = QueryAggregator("match=interop_queue_depth&queue=b");
  ASSERT_EQ(inf.size(), 1u);
  EXPECT_EQ(inf[0].samples.begin()->second, "+Inf");
  // Prometheus's own series (up, scrape_duration_seconds) arrive too.
  EXPECT_EQ(QueryAggregator("match=up&job=interop").size(), 1u);

  // The aggregator's token check: a wrong token is refused.
  int status = 0;
  (void)QueryAggregator("match=up", "wrong", &status);
  EXPECT_EQ(status, 403);

  prometheus_.Signal(SIGTERM);
  prometheus_.Wait(20s);
  aggregator_.Signal(SIGTERM);
  EXPECT_EQ(aggregator_.Wait(10s), 0) << aggregator_.Stderr();
}

}  // namespace
}  // namespace prescale
