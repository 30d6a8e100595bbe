// The aggregator's HTTP handlers through a real HttpServer on 127.0.0.1:0,
// driven with the curl program: every status code of the remote-write and JSON
// receivers, and the server keeps serving after bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <limits>
#include <regex>

#include "prescale/aggregator/aggregator.h"
#include "prescale/http/http_server.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;
using remote_write::WriteRequest;
using ::testing::HasSubstr;

constexpr const char* kToken = "s3cret-agent-token";
constexpr const char* kMonitorToken = "s3cret-monitor-token";

struct Reply {
  int status = 0;
  std::string headers;
  std::string body;
};

WriteRequest OneSeries(std::vector<Label> labels, std::vector<Sample> samples) {
  return WriteRequest{{TimeSeries{std::move(labels), std::move(samples)}}};
}

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    Start(1000);
  }

  void Start(uint64_t max_series, uint64_t sender_samples_per_second = 0, const std::string& data_dir = "") {
    server_.reset();
    AggregatorConfig config;
    config.listen = "127.0.0.1:0";
    config.data_dir = data_dir;
    config.max_series = max_series;
    config.sender_samples_per_second = sender_samples_per_second;
    config.max_body_bytes = 64 << 10;
    config.tokens = {{"node-a", Sha256Hex(kToken), "agent", ""}, {"scraper", Sha256Hex(kMonitorToken), "monitor", ""}};
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    auto server = http::HttpServer::Start(aggregator_->ServerOptions(), aggregator_->Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // curl -X method [headers] [--data-binary @body] URL
  Reply Curl(const std::string& method, const std::string& path, const std::string& body,
             const std::vector<std::string>& headers) {
    const testing::CurlReply r =
        testing::Curl(method, "http://127.0.0.1:" + std::to_string(server_->port()) + path, body, headers);
    return Reply{r.status, r.headers, r.body};
  }

  Reply Write(const std::string& body, const std::string& auth = std::string("Bearer ") + kToken,
              const std::string& encoding = "snappy") {
    std::vector<std::string> headers = {"Content-Type: application/x-protobuf",
                                        "X-Prometheus-Remote-Write-Version: 0.1.0"};
    if (!encoding.empty()) headers.push_back("Content-Encoding: " + encoding);
    if (!auth.empty()) headers.push_back("Authorization: " + auth);
    return Curl("POST", "/api/v1/write", body, headers);
  }
  Reply Ingest(const std::string& json, const std::string& auth = std::string("Bearer ") + kToken) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!auth.empty()) headers.push_back("Authorization: " + auth);
    return Curl("POST", "/api/v1/ingest", json, headers);
  }
  Reply Get(const std::string& path) { return Curl("GET", path, "", {std::string("Authorization: Bearer ") + kToken}); }
  // The value of one self metric line, e.g. `prescale_aggregator_active_series`.
  double Metric(const std::string& line_prefix) {
    const std::string text = aggregator_->MetricsText();
    const size_t at = text.find("\n" + line_prefix + " ");
    if (at == std::string::npos) return -1;
    return std::strtod(text.c_str() + at + line_prefix.size() + 2, nullptr);
  }

  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST_F(HandlersTest, RemoteWriteStoresSamplesAndRawReturnsThem) {
  const Reply r = Write(remote_write::Encode(
      OneSeries({{"__name__", "queue_depth"}, {"service", "web"}, {"tenant", "acme"}}, {{12.5, 1000}, {13, 2000}})));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  const Reply raw = Get("/api/v1/raw?match=queue_depth&tenant=acme");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.body,
            R"({"status":"success","data":[{"labels":{"__name__":"queue_depth","service":"web","tenant":"acme"},)"
            R"("samples":[[1000,"12.5"],[2000,"13"]]}]})");
  EXPECT_EQ(Get("/api/v1/raw?match=queue_depth&tenant=other").body, R"({"status":"success","data":[]})");
  EXPECT_EQ(Metric("prescale_aggregator_samples_received_total"), 2);
  EXPECT_EQ(Metric("prescale_aggregator_active_series"), 1);
  EXPECT_EQ(Metric(R"(prescale_aggregator_requests_total{code="204",handler="write"})"), 1);
  // The FakeClock reads 1700000000 s: the newest sample (2 s after the epoch) lags by the difference.
  EXPECT_EQ(Metric("prescale_aggregator_ingest_lag_seconds"), 1'700'000'000.0 - 2.0);
}

TEST_F(HandlersTest, MissingTokenIs401AndUnknownIs403) {
  const std::string body = remote_write::Encode(OneSeries({{"__name__", "x"}}, {{1, 1000}}));
  Reply r = Write(body, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("missing Authorization header"));
  EXPECT_THAT(r.headers, HasSubstr("WWW-Authenticate: Bearer"));
  r = Write(body, "Bearer wrong");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("unknown token"));
  EXPECT_EQ(Get("/api/v1/raw?match=x").body, R"({"status":"success","data":[]})");
  EXPECT_EQ(Curl("GET", "/api/v1/raw?match=x", "", {}).status, 401);
  r = Ingest(R"({"series":[]})", "Bearer wrong");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr(R"("error":"forbidden")"));
}

TEST_F(HandlersTest, BadRemoteWriteBodiesAre400WithAReason) {
  const std::string good = remote_write::Encode(OneSeries({{"__name__", "x"}, {"a", "b"}}, {{1, 1000}}));
  struct Case {
    const char* name;
    std::string body;
    const char* reason;
  };
  const Case cases[] = {
      {"truncated_snappy", good.substr(0, good.size() / 2), "snappy"},
      {"not_snappy", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10), "not snappy"},
      // A valid snappy block (length 3, one literal) holding a truncated protobuf field.
      {"wrong_protobuf", std::string("\x03\x08\x0a\x7f\x01", 5), "not a protobuf WriteRequest"},
      {"unsorted_labels", remote_write::Encode(OneSeries({{"__name__", "x"}, {"b", "1"}, {"a", "2"}}, {{1, 1000}})),
       "labels not sorted"},
      {"duplicate_labels", remote_write::Encode(OneSeries({{"__name__", "x"}, {"a", "1"}, {"a", "2"}}, {{1, 1000}})),
       "duplicate label a"},
      {"empty_label_value", remote_write::Encode(OneSeries({{"__name__", "x"}, {"a", ""}}, {{1, 1000}})),
       "empty value"},
      {"no_labels", remote_write::Encode(OneSeries({}, {{1, 1000}})), "no labels"},
      {"no_metric_name", remote_write::Encode(OneSeries({{"a", "b"}}, {{1, 1000}})), "no __name__"},
      {"invalid_label_name", remote_write::Encode(OneSeries({{"__name__", "x"}, {"a-b", "c"}}, {{1, 1000}})),
       "invalid label name"},
  };
  for (const Case& c : cases) {
    const Reply r = Write(c.body);
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr(c.reason)) << c.name;
  }
  const Reply gzip = Write(good, std::string("Bearer ") + kToken, "gzip");
  EXPECT_EQ(gzip.status, 400);
  EXPECT_THAT(gzip.body, HasSubstr("unsupported Content-Encoding 'gzip'"));
  EXPECT_EQ(Metric(R"(prescale_aggregator_requests_total{code="400",handler="write"})"), 10);
  EXPECT_EQ(Metric("prescale_aggregator_active_series"), 0);
  // Still serving.
  EXPECT_EQ(Write(good).status, 204);
  EXPECT_EQ(Curl("GET", "/healthz", "", {}).status, 200);
}

TEST_F(HandlersTest, HugeBodyIs413) {
  std::string huge(200 << 10, 'x');
  const Reply r = Write(huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("exceeds 65536 bytes"));
  // A small body whose snappy header claims 1 GiB decompressed: refused before decompressing.
  const Reply bomb = Write(std::string("\x80\x80\x80\x80\x04\x00", 6));
  EXPECT_EQ(bomb.status, 413);
  EXPECT_THAT(bomb.body, HasSubstr("decompressed body of 1073741824 bytes exceeds"));
  EXPECT_EQ(Curl("GET", "/readyz", "", {}).status, 200);
}

TEST_F(HandlersTest, OverMaxSeriesIs429WithRetryAfterAndCounted) {
  Start(2);
  ASSERT_EQ(Write(remote_write::Encode(OneSeries({{"__name__", "x"}, {"i", "1"}}, {{1, 1000}}))).status, 204);
  WriteRequest three;
  for (const char* i : {"1", "2", "3"}) three.timeseries.push_back({{{"__name__", "x"}, {"i", i}}, {{2, 2000}}});
  const Reply r = Write(remote_write::Encode(three));
  EXPECT_EQ(r.status, 429);
  EXPECT_THAT(r.body, HasSubstr("too many series"));
  EXPECT_THAT(r.body, HasSubstr("limit of 2 series"));
  EXPECT_THAT(r.headers, HasSubstr("Retry-After: 30"));
  EXPECT_EQ(Metric("prescale_aggregator_series_rejected_total"), 2);
  EXPECT_EQ(Metric(R"(prescale_aggregator_requests_total{code="429",handler="write"})"), 1);
  // Rejected whole: series 1 did not get the 2000 sample.
  EXPECT_EQ(Get("/api/v1/raw?match=x&i=1").body,
            R"({"status":"success","data":[{"labels":{"__name__":"x","i":"1"},"samples":[[1000,"1"]]}]})");
  const Reply json = Ingest(R"({"series":[{"labels":{"__name__":"y"},"samples":[1]},
                                           {"labels":{"__name__":"z"},"samples":[1]}]})");
  EXPECT_EQ(json.status, 429);
  EXPECT_THAT(json.body, HasSubstr(R"("error":"too_many_requests")"));
  EXPECT_THAT(json.body, HasSubstr(R"("field":"series")"));
}

TEST_F(HandlersTest, SenderOverItsRateIs429WithRetryAfterAndLosesNothingAccepted) {
  Start(1000, 10);  // 10 samples a second, bursts of 100
  std::vector<Sample> hundred;
  hundred.reserve(100);
  for (int i = 1; i <= 100; ++i) hundred.push_back({1.0 * i, int64_t{i} * 1000});
  EXPECT_EQ(Write(remote_write::Encode(OneSeries({{"__name__", "q"}, {"tenant", "a"}}, hundred))).status, 204);
  const Reply over = Write(remote_write::Encode(OneSeries({{"__name__", "q"}, {"tenant", "a"}}, {{5, 200'000}})));
  EXPECT_EQ(over.status, 429);
  EXPECT_THAT(over.body, HasSubstr("sender 'node-a' is over its limit of 10 samples per second"));
  EXPECT_THAT(over.headers, HasSubstr("Retry-After: 1"));
  const Reply json = Ingest(R"({"series":[{"labels":{"__name__":"q","tenant":"a"},"samples":[[300000,1]]}]})");
  EXPECT_EQ(json.status, 429);
  EXPECT_THAT(json.body, HasSubstr(R"("error":"too_many_requests")"));
  EXPECT_EQ(Metric("prescale_aggregator_samples_rate_limited_total"), 2);
  EXPECT_EQ(Metric("prescale_aggregator_samples_received_total"), 100) << "the accepted batch stays whole";
  clock_.Advance(1s);  // ten tokens back
  EXPECT_EQ(Write(remote_write::Encode(OneSeries({{"__name__", "q"}, {"tenant", "a"}}, {{5, 200'000}}))).status, 204);
}

TEST_F(HandlersTest, NaNInfStaleAndOutOfOrderAreAcceptedAndCounted) {
  const double stale = std::bit_cast<double>(remote_write::kStaleNaNBits);
  const Reply r =
      Write(remote_write::Encode(OneSeries({{"__name__", "x"}}, {{std::numeric_limits<double>::quiet_NaN(), 1000},
                                                                 {std::numeric_limits<double>::infinity(), 2000},
                                                                 {-std::numeric_limits<double>::infinity(), 3000},
                                                                 {5, 2500},
                                                                 {stale, 4000}})));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(Get("/api/v1/raw?match=x").body,
            R"({"status":"success","data":[{"labels":{"__name__":"x"},"samples":[[1000,"NaN"],[2000,"+Inf"],)"
            R"([3000,"-Inf"],[4000,"stale"]]}]})");
  EXPECT_EQ(Metric("prescale_aggregator_samples_out_of_order_total"), 1);
  EXPECT_EQ(Metric("prescale_aggregator_samples_received_total"), 4);
  // The stale marker ended the series: the next sweep removes it.
  EXPECT_EQ(aggregator_->ExpireIdle(), 1u);
  EXPECT_EQ(Metric("prescale_aggregator_series_expired_total"), 1);
}

TEST_F(HandlersTest, JsonIngestStoresAndReportsErrorsWithTheField) {
  clock_.Advance(5s);  // a bare value takes the clock's time: 1700000005000 ms
  Reply r = Ingest(R"({"series":[{"labels":{"__name__":"queue_depth","tenant":"a","service":"b"},
                                  "samples":[[1700000000000, 12.5], 13]}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"status\":\"success\",\"series\":1,\"samples_appended\":2,\"samples_out_of_order\":0}\n");
  EXPECT_EQ(Get("/api/v1/raw?match=queue_depth&service=b").body,
            R"({"status":"success","data":[{"labels":{"__name__":"queue_depth","service":"b","tenant":"a"},)"
            R"("samples":[[1700000000000,"12.5"],[1700000005000,"13"]]}]})");

  r = Ingest(R"({"series":[{"labels":{"__name__":"x","a-b":"c"},"samples":[1]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"("error":"bad_request")"));
  EXPECT_THAT(r.body, HasSubstr(R"("field":"series[0].labels")"));
  EXPECT_THAT(r.body, HasSubstr("invalid label name 'a-b'"));
  r = Ingest("{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid JSON at offset 1"));
  r = Ingest(R"({"series":[]})", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr(R"("error":"unauthorized")"));
  EXPECT_EQ(Metric(R"(prescale_aggregator_requests_total{code="400",handler="ingest"})"), 2);
}

TEST_F(HandlersTest, RawNeedsAValidMatch) {
  Reply r = Get("/api/v1/raw");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("match: required parameter is missing"));
  r = Get("/api/v1/raw?match=x&bad-label=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Curl("POST", "/api/v1/raw", "", {}).status, 405);
  EXPECT_EQ(Curl("GET", "/api/v1/write", "", {}).status, 405);
}

// The snapshot's temporary file leads to /dev/full, where every write fails
// with ENOSPC: while the data directory has no room, pushes are refused whole
// with 503 and a JSON reason; the next snapshot that fits lifts it.
TEST_F(HandlersTest, PushesAre503WhileTheDataDirectoryHasNoRoomForTheSnapshot) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full is missing or not writable";
  const testing::TempDir dir("prescale-handlers");
  Start(1000, 0, dir.path());
  ASSERT_EQ(Write(remote_write::Encode(OneSeries({{"__name__", "x"}}, {{1, 1000}}))).status, 204);
  ASSERT_EQ(::symlink("/dev/full", (dir.path() + "/series.snapshot.tmp").c_str()), 0);
  aggregator_->Snapshot();
  Reply r = Write(remote_write::Encode(OneSeries({{"__name__", "x"}}, {{2, 2000}})));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr(R"("error":"unavailable")"));
  EXPECT_THAT(r.body, HasSubstr("the data directory " + dir.path() + " is full"));
  EXPECT_EQ(Ingest(R"({"series":[{"labels":{"__name__":"x"},"samples":[[3000,3]]}]})").status, 503);
  EXPECT_EQ(Metric("prescale_aggregator_data_dir_full"), 1);
  EXPECT_EQ(Metric("prescale_aggregator_samples_received_total"), 1) << "nothing of a refused push is stored";
  // The failed snapshot removed its temporary file (the link): the next one fits.
  aggregator_->Snapshot();
  EXPECT_EQ(Write(remote_write::Encode(OneSeries({{"__name__", "x"}}, {{2, 2000}}))).status, 204);
  EXPECT_EQ(Metric("prescale_aggregator_data_dir_full"), 0);
}

TEST_F(HandlersTest, MetricsExposeTheSelfMetrics) {
  EXPECT_EQ(Curl("GET", "/metrics", "", {}).status, 401) << "every tenant's usage is on /metrics";
  const Reply r = Curl("GET", "/metrics", "", {std::string("Authorization: Bearer ") + kMonitorToken});
  EXPECT_EQ(r.status, 200);
  for (const char* name : {"prescale_aggregator_samples_received_total 0", "prescale_aggregator_active_series 0",
                           "prescale_aggregator_samples_out_of_order_total 0",
                           "prescale_aggregator_series_rejected_total 0", "prescale_aggregator_ingest_lag_seconds 0",
                           "prescale_aggregator_max_series 1000", "prescale_aggregator_anonymous_push_allowed 0"}) {
    EXPECT_THAT(r.body, HasSubstr(std::string("\n") + name + "\n")) << name;
  }
}

}  // namespace
}  // namespace prescale::aggregator
