// process_* and prescale_build_info (issue 19): read from a /proc laid out
// by the test (known values, a command name with spaces and parentheses),
// and from the test's own process, parsed back by the strict text parser.
#include "prescale/metrics/process_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>

#include "prescale/base/build_info.h"
#include "prescale/metrics/text_parser.h"
#include "tests/support/test_env.h"

namespace prescale::metrics {
namespace {

// name -> (first sample's labels, value), checking the exposition parses.
std::map<std::string, Sample> Parse(const std::string& text) {
  auto families = ParseTextExposition(text);
  EXPECT_TRUE(families.ok()) << families.status().ToString() << "\n" << text;
  std::map<std::string, Sample> out;
  if (!families.ok()) return out;
  for (const MetricFamily& f : *families) {
    EXPECT_EQ(f.samples.size(), 1u) << f.name;
    if (!f.samples.empty()) out[f.name] = f.samples[0];
  }
  return out;
}

TEST(ProcessMetrics, ReadFromProcStatLikeTheClientLibraries) {
  testing::TempDir proc("prescale-proc");
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // proc(5) fields 3..24 after the command name: utime 14 = 250 ticks, stime 15 = 50,
  // starttime 22 = 1000 ticks after boot, vsize 23, rss 24 = 300 pages.
  proc.Write("self/stat",
             "4242 (agent (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1000 123456789 300 "
             "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
  proc.Write("stat", "cpu  1 2 3 4\nbtime 1700000000\nprocesses 9\n");
  proc.Write("self/fd/0", "");
  proc.Write("self/fd/1", "");
  proc.Write("self/fd/2", "");
  std::string text;
  AppendProcessMetrics(&text, proc.path());
  const auto m = Parse(text);
  ASSERT_TRUE(m.contains("process_cpu_seconds_total")) << text;
  EXPECT_DOUBLE_EQ(m.at("process_cpu_seconds_total").value, 300 / ticks);
  EXPECT_DOUBLE_EQ(m.at("process_start_time_seconds").value, 1700000000 + 1000 / ticks);
  EXPECT_DOUBLE_EQ(m.at("process_virtual_memory_bytes").value, 123456789);
  EXPECT_DOUBLE_EQ(m.at("process_resident_memory_bytes").value, 300 * page);
  EXPECT_DOUBLE_EQ(m.at("process_open_fds").value, 2);  // three entries, one of them the reader's own
  EXPECT_TRUE(m.contains("process_max_fds"));
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos) << text;
}

TEST(ProcessMetrics, WhatCannotBeReadIsLeftOut) {
  testing::TempDir proc("prescale-proc-empty");
  std::string text;
  AppendProcessMetrics(&text, proc.path());
  const auto m = Parse(text);
  EXPECT_FALSE(m.contains("process_cpu_seconds_total"));
  EXPECT_FALSE(m.contains("process_open_fds"));
}

TEST(ProcessMetrics, OwnProcessAndBuildInfo) {
  std::string text;
  AppendProcessMetrics(&text);
  AppendBuildInfo(&text);
  const auto m = Parse(text);
  ASSERT_TRUE(m.contains("process_resident_memory_bytes")) << text;
  EXPECT_GT(m.at("process_resident_memory_bytes").value, 1 << 20);
  EXPECT_GT(m.at("process_open_fds").value, 2);
  EXPECT_GT(m.at("process_start_time_seconds").value, 1.7e9);
  ASSERT_TRUE(m.contains("prescale_build_info"));
  const Sample& info = m.at("prescale_build_info");
  EXPECT_EQ(info.value, 1);
  std::map<std::string, std::string> labels(info.labels.begin(), info.labels.end());
  EXPECT_EQ(labels["version"], GetBuildInfo().version);
  EXPECT_EQ(labels["revision"], GetBuildInfo().revision);
  EXPECT_FALSE(labels["revision"].empty());
  EXPECT_FALSE(labels["branch"].empty());
  EXPECT_TRUE(labels["compiler"].starts_with("GNU ") || labels["compiler"].starts_with("Clang ")) << labels["compiler"];
}

TEST(BuildInfo, VersionTextLooksLikePrometheus) {
  const std::string text = VersionText("prescale-agent");
  EXPECT_TRUE(text.starts_with("prescale-agent, version " + std::string(GetBuildInfo().version) + " (branch: "))
      << text;
  EXPECT_NE(text.find(", revision: " + std::string(GetBuildInfo().revision) + ")\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  platform:         linux/"), std::string::npos) << text;
}

}  // namespace
}  // namespace prescale::metrics
