#include "prescale/aggregator/api/ingest_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "prescale/aggregator/api/raw_json.h"

namespace prescale::aggregator {
namespace {

constexpr int64_t kNow = 1'700'000'123'456;

TEST(DecodeIngestJson, DecodesTheDocumentedExample) {
  auto r = DecodeIngestJson(R"({"series":[{"labels":{"tenant":"a","__name__":"queue_depth","service":"b"},
      "samples":[[1700000000000, 12.5], 7, ["NaN"], [1700000001000, "+Inf"], [1700000002000, "-Inf"]]}]})",
                            kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->timeseries.size(), 1u);
  const auto& ts = r->timeseries[0];
  // Labels come out sorted by name, as remote write has them.
  ASSERT_EQ(ts.labels.size(), 3u);
  EXPECT_EQ(ts.labels[0].name, "__name__");
  EXPECT_EQ(ts.labels[0].value, "queue_depth");
  EXPECT_EQ(ts.labels[1].name, "service");
  EXPECT_EQ(ts.labels[2].name, "tenant");
  ASSERT_EQ(ts.samples.size(), 5u);
  EXPECT_EQ(ts.samples[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(ts.samples[0].value, 12.5);
  EXPECT_EQ(ts.samples[1].timestamp_ms, kNow);
  EXPECT_EQ(ts.samples[1].value, 7);
  EXPECT_TRUE(std::isnan(ts.samples[2].value));
  EXPECT_EQ(ts.samples[2].timestamp_ms, kNow);
  EXPECT_EQ(ts.samples[3].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(ts.samples[4].value, -std::numeric_limits<double>::infinity());
}

struct BadJson {
  const char* name;
  const char* body;
  const char* field;
  const char* message;
};

const BadJson kBad[] = {
    {"not_json", "{series:", "", "invalid JSON at offset"},
    {"trailing_garbage", R"({"series":[]} x)", "", "invalid JSON"},
    {"not_an_object", "[1,2]", "", "expected an object"},
    {"missing_series", "{}", "series", "required field is missing"},
    {"unknown_top_field", R"({"series":[],"extra":1})", "extra", "unknown field"},
    {"series_not_array", R"({"series":{}})", "series", "expected an array"},
    {"series_item_not_object", R"({"series":[1]})", "series[0]", "expected an object"},
    {"missing_labels", R"({"series":[{"samples":[1]}]})", "series[0].labels", "required field is missing"},
    {"labels_not_object", R"({"series":[{"labels":[],"samples":[1]}]})", "series[0].labels", "expected an object"},
    {"label_value_number", R"({"series":[{"labels":{"__name__":"x","a":1},"samples":[1]}]})", "series[0].labels.a",
     "expected a string"},
    {"no_name", R"({"series":[{"labels":{"a":"b"},"samples":[1]}]})", "series[0].labels", "no __name__"},
    {"bad_metric_name", R"({"series":[{"labels":{"__name__":"1x"},"samples":[1]}]})", "series[0].labels",
     "invalid metric name"},
    {"bad_label_name", R"({"series":[{"labels":{"__name__":"x","a-b":"c"},"samples":[1]}]})", "series[0].labels",
     "invalid label name"},
    {"empty_label_value", R"({"series":[{"labels":{"__name__":"x","a":""},"samples":[1]}]})", "series[0].labels",
     "empty value"},
    {"duplicate_label", R"({"series":[{"labels":{"__name__":"x","a":"1","a":"2"},"samples":[1]}]})", "series[0].labels",
     "duplicate label a"},
    {"missing_samples", R"({"series":[{"labels":{"__name__":"x"}}]})", "series[0].samples", "required"},
    {"empty_samples", R"({"series":[{"labels":{"__name__":"x"},"samples":[]}]})", "series[0].samples",
     "non-empty array"},
    {"sample_three_items", R"({"series":[{"labels":{"__name__":"x"},"samples":[[1,2,3]]}]})", "series[0].samples[0]",
     "expected [timestamp_ms, value]"},
    {"timestamp_fraction", R"({"series":[{"labels":{"__name__":"x"},"samples":[[1.5,2]]}]})", "series[0].samples[0][0]",
     "whole milliseconds"},
    {"timestamp_string", R"({"series":[{"labels":{"__name__":"x"},"samples":[["now",2]]}]})", "series[0].samples[0][0]",
     "whole milliseconds"},
    {"timestamp_negative", R"({"series":[{"labels":{"__name__":"x"},"samples":[[-5,2]]}]})", "series[0].samples[0][0]",
     "positive"},
    {"value_word", R"({"series":[{"labels":{"__name__":"x"},"samples":[[1,"lots"]]}]})", "series[0].samples[0][1]",
     "expected a number"},
    {"value_null", R"({"series":[{"labels":{"__name__":"x"},"samples":[null]}]})", "series[0].samples[0]",
     "expected a number"},
    {"second_series_bad", R"({"series":[{"labels":{"__name__":"x"},"samples":[1]},{"labels":{},"samples":[1]}]})",
     "series[1].labels", "no labels"},
    {"invalid_utf8", "{\"series\":[{\"labels\":{\"__name__\":\"x\",\"a\":\"\xff\"},\"samples\":[1]}]}", "",
     "invalid JSON"},
    {"lone_surrogate", R"({"series":[{"labels":{"__name__":"x","a":"\udfff"},"samples":[1]}]})", "", "lone surrogate"},
};

class DecodeIngestJsonBad : public ::testing::TestWithParam<BadJson> {};

TEST_P(DecodeIngestJsonBad, NamesTheField) {
  const BadJson& c = GetParam();
  auto r = DecodeIngestJson(c.body, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), c.field);
  EXPECT_NE(r.status().message().find(c.message), std::string::npos) << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Cases, DecodeIngestJsonBad, ::testing::ValuesIn(kBad),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(DecodeIngestJson, DeepNestingIsAnErrorNotACrash) {
  std::string body(100000, '[');
  auto r = DecodeIngestJson(body, kNow);
  EXPECT_FALSE(r.ok());
}

TEST(DecodeIngestJson, LimitsSeriesAndSamples) {
  auto r = DecodeIngestJson(R"({"series":[{"labels":{"__name__":"x"},"samples":[1,2,3]}]})", kNow,
                            IngestJsonLimits{.max_series = 10, .max_samples = 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "series[0].samples");
}

TEST(RawQuery, ParsesMatchAndEqualities) {
  auto q = ParseRawQuery("match=queue_depth&tenant=a%20b&service=web+1");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->metric_name, "queue_depth");
  ASSERT_EQ(q->equalities.size(), 2u);
  EXPECT_EQ(q->equalities[0].value, "a b");
  EXPECT_EQ(q->equalities[1].value, "web 1");
  for (const char* bad :
       {"", "tenant=a", "match=1x", "match=x&match=y", "match=x&a-b=c", "match=x&a=%zz", "match=%4"}) {
    EXPECT_FALSE(ParseRawQuery(bad).ok()) << bad;
  }
}

TEST(RawJson, RendersValuesAsPrometheusDoes) {
  EXPECT_EQ(FormatSampleValue(12.5), "12.5");
  EXPECT_EQ(FormatSampleValue(0.1), "0.1");
  EXPECT_EQ(FormatSampleValue(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatSampleValue(-2.5e-7), "-0.00000025");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::denorm_min()).size(), 326u);
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(std::bit_cast<double>(remote_write::kStaleNaNBits)), "stale");
  const std::string json = RenderRawJson({SeriesData{{{"__name__", "x"}, {"a", "q\""}}, {{1.5, 1000}}}});
  EXPECT_EQ(json, R"({"status":"success","data":[{"labels":{"__name__":"x","a":"q\""},"samples":[[1000,"1.5"]]}]})");
}

}  // namespace
}  // namespace prescale::aggregator
