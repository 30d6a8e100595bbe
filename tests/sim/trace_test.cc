#include "prescale/sim/trace.h"

#include <cmath>

#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace prescale::sim {
namespace {

TEST(TraceCsv, TimestampValueWithCivilTimesAsUtc) {
  auto t = ParseTraceCsv("timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,1.5e2\n", {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->value_column, "value");
  EXPECT_EQ(t->time_column, "timestamp");
  // date -u -d '2014-02-14 14:30:00' +%s = 1392388200
  EXPECT_EQ(t->timestamps_ms, (std::vector<int64_t>{1392388200000, 1392388500000}));
  EXPECT_EQ(t->values, (std::vector<double>{0.132, 150}));
}

TEST(TraceCsv, BitbrainsPicksUnixSecondsAndCpuUsageUnlessAColumnIsNamed) {
  const std::string text =
      "unix_s,timestamp_utc,cpu_cores,cpu_usage_mhz,net_rx_kbps\n"
      "1375308176,2013-07-31 22:02:56,2,204.8199692,6.8\n"
      "1375308476,2013-07-31 22:07:56,2,152.15197712,5.333333333333333\n";
  auto t = ParseTraceCsv(text, {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->time_column, "unix_s");
  EXPECT_EQ(t->value_column, "cpu_usage_mhz");
  EXPECT_EQ(t->timestamps_ms, (std::vector<int64_t>{1375308176000, 1375308476000}));
  EXPECT_EQ(t->values[1], 152.15197712);

  TraceOptions o;
  o.column = "net_rx_kbps";
  o.time_column = "timestamp_utc";
  t = ParseTraceCsv(text, o);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->timestamps_ms[0], 1375308176000);  // the UTC column says the same instant
  EXPECT_EQ(t->values[0], 6.8);
}

TEST(TraceCsv, NasaRequestsColumn) {
  auto t = ParseTraceCsv("timestamp,requests\r\n1995-07-01 00:00:00,42\r\n1995-07-01 00:01:00,61\r\n", {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->value_column, "requests");
  EXPECT_EQ(t->timestamps_ms, (std::vector<int64_t>{804556800000, 804556860000}));
  EXPECT_EQ(t->values, (std::vector<double>{42, 61}));
}

TEST(TraceCsv, NoTimeColumnPlacesRowIEveryRowInterval) {
  const std::string text = "avg_cpu,avg_mem\n0.44,0.33\n0.43,0.32\n0.45,0.31\n";
  auto t = ParseTraceCsv(text, {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->value_column, "avg_cpu");
  EXPECT_EQ(t->time_column, "");
  EXPECT_EQ(t->timestamps_ms, (std::vector<int64_t>{0, 300000, 600000}));
  TraceOptions o;
  o.column = "avg_mem";
  t = ParseTraceCsv(text, o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->values[2], 0.31);
}

TEST(TraceCsv, EmptyAndNanCellsAreGapsAndIsoTimesWork) {
  auto t = ParseTraceCsv("\xEF\xBB\xBFtime,x\n2020-01-01T00:00:00Z,1\n2020-01-01T00:05:00.5Z,\n1577837400,NaN\n\n", {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->timestamps_ms, (std::vector<int64_t>{1577836800000, 1577837100500, 1577837400000}));
  EXPECT_EQ(t->values[0], 1);
  EXPECT_TRUE(std::isnan(t->values[1]));
  EXPECT_TRUE(std::isnan(t->values[2]));
}

void ExpectError(const std::string& text, const TraceOptions& o, const std::string& needle) {
  auto t = ParseTraceCsv(text, o, "f.csv");
  ASSERT_FALSE(t.ok()) << text;
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().message();
}

TEST(TraceCsv, ErrorsNameTheSourceAndLine) {
  ExpectError("timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,x1\n", {}, "f.csv line 3: bad number 'x1'");
  ExpectError("timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:25:00,2\n", {},
              "f.csv line 3: time goes backwards");
  ExpectError("timestamp,value\n2014-13-14 14:30:00,1\n", {}, "f.csv line 2: bad time '2014-13-14 14:30:00'");
  ExpectError("timestamp,value\n\n2014-02-14 14:30:00\n", {}, "f.csv line 3: 1 cells, expected 2");
  ExpectError("timestamp,value\n", {}, "f.csv: no data rows");
  ExpectError("", {}, "f.csv: empty file");
  TraceOptions o;
  o.column = "cpu";
  ExpectError("timestamp,value\n1,2\n", o, "f.csv line 1: no column 'cpu' (columns: timestamp, value)");
  o = {};
  o.time_column = "when";
  ExpectError("timestamp,value\n1,2\n", o, "no time column 'when'");
  ExpectError("timestamp,a,b\n1,2,3\n", {}, "several value columns; choose one with --column");
}

TEST(TraceCsv, RepeatedTimesKeepTheFirstRow) {
  auto t = ParseTraceCsv(
      "timestamp,value\n2014-03-09 01:59:00,1\n2014-03-09 03:00:00,2\n2014-03-09 03:00:00,3\n"
      "2014-03-09 03:00:00,4\n2014-03-09 03:04:00,5\n",
      {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->values, (std::vector<double>{1, 2, 5}));
  EXPECT_EQ(t->repeated_times_dropped, 2u);
}

TEST(TraceCsv, LoadNamesAMissingFile) {
  auto t = LoadTraceCsv("/nonexistent/trace.csv", {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  EXPECT_NE(t.status().message().find("/nonexistent/trace.csv"), std::string::npos);
}

TEST(TraceCsv, LoadsEveryRealTraceWhenPresent) {
  const std::string dir = testing::TracesDir();
  const char* files[] = {"nab_aws/ec2_cpu_utilization_24ae8d.csv", "bitbrains_rnd/rnd_2013-08_vm303.csv",
                         "nasa_http95/nasa_jul95_requests_5min.csv", "google2019_agg/instance_usage_28days_300s.csv",
                         "nab_knowncause/nyc_taxi.csv"};
  for (const char* f : files) {
    auto t = LoadTraceCsv(dir + "/" + f, {});
    if (!t.ok() && t.status().code() == StatusCode::kNotFound) GTEST_SKIP() << "no real traces in " << dir;
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_GT(t->values.size(), 1000u) << f;
  }
}

}  // namespace
}  // namespace prescale::sim
