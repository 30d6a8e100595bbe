#include "prescale/metrics/text_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "prescale/metrics/names.h"
#include "prescale/metrics/text_parser.h"

namespace prescale::metrics {
namespace {

TEST(TextWriter, WritesHelpTypeAndEscapedLabels) {
  std::string out;
  TextWriter w(&out);
  w.Family("m_total", "Help with \\ and\nnewline.", MetricType::kCounter);
  const LabelRef base[] = {{"id", "/a\"b"}, {"node", "n\\1"}};
  const LabelRef extra[] = {{"device", "line\nbreak"}};
  w.Sample("m_total", base, extra, 42);
  w.Sample("m_total", {}, 0.5);
  EXPECT_EQ(out,
            "# HELP m_total Help with \\\\ and\\nnewline.\n# TYPE m_total counter\n"
            "m_total{id=\"/a\\\"b\",node=\"n\\\\1\",device=\"line\\nbreak\"} 42\n"
            "m_total 0.5\n");
}

TEST(TextWriter, FormatsSpecialAndLargeValues) {
  std::string out;
  TextWriter::AppendValue(&out, std::numeric_limits<double>::quiet_NaN());
  out += ' ';
  TextWriter::AppendValue(&out, std::numeric_limits<double>::infinity());
  out += ' ';
  TextWriter::AppendValue(&out, -std::numeric_limits<double>::infinity());
  out += ' ';
  TextWriter::AppendValue(&out, 25276502016.0);
  out += ' ';
  TextWriter::AppendValue(&out, 1e300);
  out += ' ';
  TextWriter::AppendValue(&out, 0.1);
  EXPECT_EQ(out, "NaN +Inf -Inf 25276502016 1e+300 0.1");
}

TEST(TextWriter, OutputRoundTripsThroughTheStrictParser) {
  std::string out;
  TextWriter w(&out);
  w.Family("x_seconds_total", "x", MetricType::kCounter);
  const LabelRef base[] = {{"tenant", "a,b=\"c\""}, {"service", "\\\n"}};
  w.Sample("x_seconds_total", base, 1.25);
  w.Family("g", "", MetricType::kGauge);
  w.Sample("g", {}, -3);
  auto parsed = ParseTextExposition(out);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << out;
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].samples[0].labels, (Labels{{"tenant", "a,b=\"c\""}, {"service", "\\\n"}}));
  EXPECT_EQ((*parsed)[0].samples[0].value, 1.25);
  EXPECT_EQ((*parsed)[1].samples[0].value, -3);
}

TEST(Names, FollowPrometheusRules) {
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_TRUE(IsValidMetricName(":x"));
  EXPECT_FALSE(IsValidMetricName("9a"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("1a"));
}

}  // namespace
}  // namespace prescale::metrics
