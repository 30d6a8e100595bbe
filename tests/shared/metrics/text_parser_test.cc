#include "prescale/metrics/text_parser.h"

#include <gtest/gtest.h>

#include <cmath>

namespace prescale::metrics {
namespace {

TEST(ParseTextExposition, ParsesFamiliesTypesHelpLabelsAndTimestamps) {
  const char* body =
      "# HELP http_requests_total Requests served.\\nSecond line.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"GET\",path=\"/a\\\"b\\\\c\\n\"} 12 1700000000000\n"
      "http_requests_total{method=\"POST\",} 3\n"
      "# a plain comment\n"
      "\n"
      "temperature -1.5e2\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{le=\"0.1\"} 1\n"
      "latency_seconds_bucket{le=\"+Inf\"} 2\n"
      "latency_seconds_sum 0.3\n"
      "latency_seconds_count 2\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\"} NaN\n"
      "rpc_sum 1\n"
      "rpc_count 1\n";
  auto families = ParseTextExposition(body);
  ASSERT_TRUE(families.ok()) << families.status().ToString();
  ASSERT_EQ(families->size(), 4u);
  const MetricFamily& req = (*families)[0];
  EXPECT_EQ(req.name, "http_requests_total");
  EXPECT_EQ(req.type, MetricType::kCounter);
  EXPECT_EQ(req.help, "Requests served.\nSecond line.");
  ASSERT_EQ(req.samples.size(), 2u);
  EXPECT_EQ(req.samples[0].labels, (Labels{{"method", "GET"}, {"path", "/a\"b\\c\n"}}));
  EXPECT_EQ(req.samples[0].value, 12);
  EXPECT_EQ(req.samples[0].timestamp_ms, 1700000000000);
  EXPECT_FALSE(req.samples[1].timestamp_ms.has_value());
  EXPECT_EQ((*families)[1].type, MetricType::kUntyped);
  EXPECT_EQ((*families)[1].samples[0].value, -150);
  EXPECT_EQ((*families)[2].samples.size(), 4u);
  EXPECT_EQ((*families)[3].type, MetricType::kSummary);
  EXPECT_TRUE(std::isnan((*families)[3].samples[0].value));
}

struct BadCase {
  const char* body;
  const char* error;  // a fragment of the expected message
};

class ParseTextExpositionBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseTextExpositionBad, RejectsWithLineAndReason) {
  auto r = ParseTextExposition(GetParam().body);
  ASSERT_FALSE(r.ok()) << GetParam().body;
  EXPECT_NE(r.status().message().find(GetParam().error), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseTextExpositionBad,
    ::testing::Values(BadCase{"m 1", "newline"}, BadCase{"1m 1\n", "line 1: invalid metric name"},
                      BadCase{"m{a=\"1\" 1\n", "line 1"}, BadCase{"m{a=1} 1\n", "expected '\"'"},
                      BadCase{"m{a=\"1\",a=\"2\"} 1\n", "duplicate label"},
                      BadCase{"m{a=\"\\t\"} 1\n", "invalid escape"}, BadCase{"m{1a=\"x\"} 1\n", "invalid label name"},
                      BadCase{"m one\n", "invalid sample value"}, BadCase{"m 1 soon\n", "invalid timestamp"},
                      BadCase{"m 1 2 3\n", "unexpected text"},
                      BadCase{"# TYPE m counter\n# TYPE m gauge\n", "second # TYPE"},
                      BadCase{"# TYPE m bogus\n", "unknown metric type"},
                      BadCase{"a 1\nb 1\na 2\n", "line 3: lines of metric family 'a' are not contiguous"},
                      BadCase{"m 1\n# TYPE m gauge\n", "after its samples"},
                      BadCase{"# TYPE h histogram\nh_bucket 1\n", "lacks the le label"},
                      BadCase{"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", "le is not a number"},
                      BadCase{"m 1\r\n", "carriage return"}, BadCase{"m{a=\"x\"}1\n", "space before the value"}));

TEST(ParseTextExposition, EnforcesSizeAndSampleLimits) {
  TextParseLimits limits;
  limits.max_body_bytes = 10;
  auto big = ParseTextExposition("metric_name 1\n", limits);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  limits = {};
  limits.max_samples = 2;
  auto many = ParseTextExposition("a 1\nb 2\nc 3\n", limits);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().code(), StatusCode::kResourceExhausted);
}

TEST(ParseTextExposition, EmptyBodyHasNoFamilies) {
  auto r = ParseTextExposition("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace prescale::metrics
