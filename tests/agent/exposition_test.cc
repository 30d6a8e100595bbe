#include "prescale/agent/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <string>
#include <utility>

#include "prescale/agent/cgroup_mapper.h"
#include "prescale/agent/cgroup_table.h"
#include "tests/agent/agent_test_util.h"

namespace prescale::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParsedExposition;

BlockDevice Device(uint32_t major, uint32_t minor, const char* name) {
  BlockDevice d;
  d.major = major;
  d.minor = minor;
  std::strncpy(d.name.data(), name, d.name.size() - 1);
  return d;
}

// A table of hand-made cgroups under the prescale layout.
class ExpositionTest : public ::testing::Test {
 protected:
  ExpositionTest() : mapper_({PrescaleLayoutRule()}, false), table_(mapper_, "node-a", 100) {}

  CgroupStats& Add(const std::string& path) {
    TrackedCgroup* cg = table_.Touch(path);
    EXPECT_NE(cg, nullptr);
    return cg->stats;
  }
  std::string Write() {
    table_.EndCycle();
    std::string out;
    WriteCgroupExposition(table_, node_, &out);
    return out;
  }
  void SetUp() override { table_.BeginCycle(true); }

  CgroupMapper mapper_;
  CgroupTable table_;
  NodeStats node_;
};

TEST_F(ExpositionTest, WritesPresentFieldsWithAllLabels) {
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = kFieldCpuUsage | kFieldMemUsage | kFieldMemStat | kFieldCpuQuota | kFieldCpuPeriod;
  s.cpu_usage_ns = 2'500'000'000;
  s.mem_usage_bytes = 1000;
  s.mem_working_set_bytes = 600;
  s.mem_rss_bytes = 500;
  s.mem_cache_bytes = 400;
  s.cpu_quota_us = 50000;
  s.cpu_period_us = 100000;
  const std::string text = Write();
  const ParsedExposition e(text);
  ASSERT_EQ(e.error(), "") << text;
  const metrics::Labels l = {{"id", "/prescale/acme/web"}, {"node", "node-a"}, {"tenant", "acme"}, {"service", "web"}};
  EXPECT_EQ(e.Value("container_cpu_usage_seconds_total", l), 2.5);
  EXPECT_EQ(e.Value("container_memory_usage_bytes", l), 1000);
  EXPECT_EQ(e.Value("container_memory_working_set_bytes", l), 600);
  EXPECT_EQ(e.Value("container_memory_rss", l), 500);
  EXPECT_EQ(e.Value("container_memory_cache", l), 400);
  EXPECT_EQ(e.Value("container_spec_cpu_quota", l), 50000);
  EXPECT_EQ(e.Value("container_spec_cpu_period", l), 100000);
  EXPECT_EQ(e.TypeOf("container_cpu_usage_seconds_total"), metrics::MetricType::kCounter);
  EXPECT_EQ(e.TypeOf("container_memory_usage_bytes"), metrics::MetricType::kGauge);
}

TEST_F(ExpositionTest, FamiliesWithoutSamplesAreLeftOut) {
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = kFieldCpuUsage;
  const std::string text = Write();
  EXPECT_THAT(text, HasSubstr("# TYPE container_cpu_usage_seconds_total counter\n"));
  EXPECT_THAT(text, Not(HasSubstr("container_spec_cpu_quota")));
  EXPECT_THAT(text, Not(HasSubstr("container_memory")));
  EXPECT_THAT(text, Not(HasSubstr("container_fs_")));
  EXPECT_THAT(text, Not(HasSubstr("container_network_")));
}

TEST_F(ExpositionTest, WorkingSetNeedsUsageAndMemoryStat) {
  Add("/prescale/acme/web").present = kFieldMemUsage;
  Add("/prescale/acme/batch").present = kFieldMemUsage | kFieldMemStat;
  const ParsedExposition e(Write());
  EXPECT_TRUE(e.Find("container_memory_working_set_bytes", {{"service", "web"}}).empty());
  EXPECT_EQ(e.Find("container_memory_working_set_bytes", {{"service", "batch"}}).size(), 1u);
}

TEST_F(ExpositionTest, StalledPressureNeedsAFullLine) {
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = kFieldPsiCpu | kFieldPsiIo;
  s.pressure[kPressureCpu] = {1'500'000, 0, false};
  s.pressure[kPressureIo] = {3'000'000, 250'000, true};
  const ParsedExposition e(Write());
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(e.Value("container_pressure_cpu_waiting_seconds_total"), 1.5);
  EXPECT_TRUE(e.Find("container_pressure_cpu_stalled_seconds_total").empty());
  EXPECT_EQ(e.Value("container_pressure_io_waiting_seconds_total"), 3);
  EXPECT_EQ(e.Value("container_pressure_io_stalled_seconds_total"), 0.25);
  EXPECT_TRUE(e.Find("container_pressure_memory_waiting_seconds_total").empty());
}

TEST_F(ExpositionTest, IoDevicesAreNamedFromPartitionsOrByNumber) {
  node_.block_devices = {Device(8, 0, "sda")};
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = kFieldIo;
  s.io = {{8, 0, 100, 200, 3, 4}, {253, 7, 10, 20, 1, 2}};
  const ParsedExposition e(Write());
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(e.Value("container_fs_reads_bytes_total", {{"device", "/dev/sda"}}), 100);
  EXPECT_EQ(e.Value("container_fs_writes_bytes_total", {{"device", "/dev/sda"}}), 200);
  EXPECT_EQ(e.Value("container_fs_reads_total", {{"device", "/dev/sda"}}), 3);
  EXPECT_EQ(e.Value("container_fs_writes_total", {{"device", "/dev/sda"}}), 4);
  EXPECT_EQ(e.Value("container_fs_reads_bytes_total", {{"device", "253:7"}}), 10);
  EXPECT_EQ(e.Value("container_fs_writes_total", {{"device", "253:7"}}), 2);
}

TEST_F(ExpositionTest, NetworkSeriesCarryTheInterface) {
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = kFieldNet;
  NetDeviceStats d;
  std::snprintf(d.name.data(), d.name.size(), "%s", "eth0");
  d.rx_bytes = 11;
  d.tx_dropped = 7;
  s.net.push_back(d);
  const ParsedExposition e(Write());
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(e.Value("container_network_receive_bytes_total", {{"interface", "eth0"}}), 11);
  EXPECT_EQ(e.Value("container_network_transmit_packets_dropped_total", {{"interface", "eth0"}}), 7);
}

TEST_F(ExpositionTest, LabelValuesAreEscaped) {
  // A regex rule can capture any byte of a cgroup name, quotes and backslashes included.
  MappingRule rule;
  rule.pattern = R"(^/odd/([\s\S]+)$)";  // any byte, newlines included
  rule.regex = std::regex(rule.pattern);
  rule.labels = {{"tenant", "t"}, {"service", "$1"}};
  CgroupMapper mapper({rule}, false);
  CgroupTable table(mapper, "node\"x", 10);
  table.BeginCycle(true);
  const std::string odd = "/odd/a\"b\\c\nd";
  TrackedCgroup* cg = table.Touch(odd);
  ASSERT_NE(cg, nullptr);
  cg->stats.present = kFieldTasks;
  cg->stats.tasks = 3;
  table.EndCycle();
  std::string out;
  WriteCgroupExposition(table, NodeStats{}, &out);
  EXPECT_THAT(out, HasSubstr(R"(service="a\"b\\c\nd")"));
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("container_threads", {{"service", "a\"b\\c\nd"}, {"id", odd}, {"node", "node\"x"}}), 3);
}

TEST_F(ExpositionTest, CgroupsAreWrittenInPathOrder) {
  for (const char* path : {"/prescale/b/x", "/prescale/a/y", "/prescale/a/x"}) Add(path).present = kFieldTasks;
  const ParsedExposition e(Write());
  const auto samples = e.Find("container_threads");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(testing::LabelOf(samples[0], "id"), "/prescale/a/x");
  EXPECT_EQ(testing::LabelOf(samples[1], "id"), "/prescale/a/y");
  EXPECT_EQ(testing::LabelOf(samples[2], "id"), "/prescale/b/x");
}

TEST_F(ExpositionTest, UnmappedCgroupsAreNotWritten) {
  Add("/prescale/acme/web").present = kFieldTasks;
  Add("/system.slice/sshd.service").present = kFieldTasks;
  const ParsedExposition e(Write());
  EXPECT_EQ(e.Find("container_threads").size(), 1u);
}

TEST(WriteNodeExposition, WritesEachSectionThatWasRead) {
  NodeStats n;
  n.has_stat = true;
  n.cpus = {{0, {1, 2, 3, 4, 5, 6, 7, 8}}, {1, {10, 20, 30, 40, 50, 60, 70, 80}}};
  n.has_meminfo = true;
  n.mem_total_bytes = 4096;
  n.mem_available_bytes = 1024;
  n.has_loadavg = true;
  n.load1 = 0.5;
  n.load5 = 0.25;
  n.load15 = 0.125;
  n.pressure_present = 1u << kPressureMemory;
  n.pressure[kPressureMemory] = {2'000'000, 1'000'000, true};
  std::string out;
  WriteNodeExposition(n, "node-a", &out);
  const ParsedExposition e(out);
  ASSERT_EQ(e.error(), "") << out;
  EXPECT_EQ(e.Value("node_cpu_seconds_total", {{"node", "node-a"}, {"cpu", "1"}, {"mode", "softirq"}}), 70);
  EXPECT_EQ(e.Value("node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "steal"}}), 8);
  EXPECT_EQ(e.Find("node_cpu_seconds_total").size(), 16u);
  EXPECT_EQ(e.Value("machine_cpu_cores"), 2);
  EXPECT_EQ(e.Value("machine_memory_bytes"), 4096);
  EXPECT_EQ(e.Value("node_memory_MemTotal_bytes", {{"node", "node-a"}}), 4096);
  EXPECT_EQ(e.Value("node_memory_MemAvailable_bytes", {{"node", "node-a"}}), 1024);
  EXPECT_TRUE(e.Find("node_memory_available_bytes").empty());
  EXPECT_EQ(e.Value("node_load1"), 0.5);
  EXPECT_EQ(e.Value("node_load15"), 0.125);
  EXPECT_EQ(e.Value("node_pressure_memory_waiting_seconds_total"), 2);
  EXPECT_EQ(e.Value("node_pressure_memory_stalled_seconds_total"), 1);
  EXPECT_TRUE(e.Find("node_pressure_cpu_waiting_seconds_total").empty());
  EXPECT_TRUE(e.Find("node_network_receive_bytes_total").empty());
}

// Every family under its peer's type and extra labels, so the peer's queries
// and recording rules (rate() on counters) work unchanged: cAdvisor's
// metrics/prometheus.go and prometheus_machine.go, node_exporter's collectors.
TEST_F(ExpositionTest, FamiliesHaveTheirPeersTypesAndLabels) {
  CgroupStats& s = Add("/prescale/acme/web");
  s.present = ~0u;
  for (PressureStats& p : s.pressure) p.has_full = true;
  s.io.push_back({8, 0, 1, 2, 3, 4});
  NetDeviceStats eth;
  std::strncpy(eth.name.data(), "eth0", eth.name.size() - 1);
  s.net.push_back(eth);
  std::string text = Write();

  NodeStats n;
  n.has_stat = n.has_meminfo = n.has_loadavg = n.has_net = true;
  n.cpus = {{0, {1, 2, 3, 4, 5, 6, 7, 8}}};
  n.net = {eth};
  n.pressure_present = 7;
  for (PressureStats& p : n.pressure) p = {1, 1, true};
  WriteNodeExposition(n, "node-a", &text);
  const ParsedExposition e(text);
  ASSERT_EQ(e.error(), "") << text;

  using metrics::MetricType;
  const std::pair<const char*, MetricType> kWant[] = {
      // cAdvisor
      {"container_cpu_usage_seconds_total", MetricType::kCounter},
      {"container_cpu_user_seconds_total", MetricType::kCounter},
      {"container_cpu_system_seconds_total", MetricType::kCounter},
      {"container_cpu_cfs_periods_total", MetricType::kCounter},
      {"container_cpu_cfs_throttled_periods_total", MetricType::kCounter},
      {"container_cpu_cfs_throttled_seconds_total", MetricType::kCounter},
      {"container_spec_cpu_quota", MetricType::kGauge},
      {"container_spec_cpu_period", MetricType::kGauge},
      {"container_spec_cpu_shares", MetricType::kGauge},
      {"container_memory_usage_bytes", MetricType::kGauge},
      {"container_memory_working_set_bytes", MetricType::kGauge},
      {"container_memory_rss", MetricType::kGauge},
      {"container_memory_cache", MetricType::kGauge},
      {"container_spec_memory_limit_bytes", MetricType::kGauge},
      {"container_memory_failcnt", MetricType::kCounter},  // sic: no _total, as cAdvisor
      {"container_oom_events_total", MetricType::kCounter},
      {"container_threads", MetricType::kGauge},
      {"container_threads_max", MetricType::kGauge},
      {"container_pressure_cpu_waiting_seconds_total", MetricType::kCounter},
      {"container_pressure_cpu_stalled_seconds_total", MetricType::kCounter},
      {"container_pressure_memory_waiting_seconds_total", MetricType::kCounter},
      {"container_pressure_memory_stalled_seconds_total", MetricType::kCounter},
      {"container_pressure_io_waiting_seconds_total", MetricType::kCounter},
      {"container_pressure_io_stalled_seconds_total", MetricType::kCounter},
      {"container_fs_reads_bytes_total", MetricType::kCounter},
      {"container_fs_writes_bytes_total", MetricType::kCounter},
      {"container_fs_reads_total", MetricType::kCounter},
      {"container_fs_writes_total", MetricType::kCounter},
      {"container_network_receive_bytes_total", MetricType::kCounter},
      {"container_network_receive_packets_total", MetricType::kCounter},
      {"container_network_receive_errors_total", MetricType::kCounter},
      {"container_network_receive_packets_dropped_total", MetricType::kCounter},
      {"container_network_transmit_bytes_total", MetricType::kCounter},
      {"container_network_transmit_packets_total", MetricType::kCounter},
      {"container_network_transmit_errors_total", MetricType::kCounter},
      {"container_network_transmit_packets_dropped_total", MetricType::kCounter},
      {"machine_cpu_cores", MetricType::kGauge},
      {"machine_memory_bytes", MetricType::kGauge},
      // node_exporter
      {"node_cpu_seconds_total", MetricType::kCounter},
      {"node_memory_MemTotal_bytes", MetricType::kGauge},
      {"node_memory_MemAvailable_bytes", MetricType::kGauge},
      {"node_load1", MetricType::kGauge},
      {"node_load5", MetricType::kGauge},
      {"node_load15", MetricType::kGauge},
      {"node_network_receive_bytes_total", MetricType::kCounter},
      {"node_network_receive_packets_total", MetricType::kCounter},
      {"node_network_receive_errs_total", MetricType::kCounter},
      {"node_network_receive_drop_total", MetricType::kCounter},
      {"node_network_transmit_bytes_total", MetricType::kCounter},
      {"node_network_transmit_packets_total", MetricType::kCounter},
      {"node_network_transmit_errs_total", MetricType::kCounter},
      {"node_network_transmit_drop_total", MetricType::kCounter},
      {"node_pressure_cpu_waiting_seconds_total", MetricType::kCounter},
      {"node_pressure_cpu_stalled_seconds_total", MetricType::kCounter},
      {"node_pressure_memory_waiting_seconds_total", MetricType::kCounter},
      {"node_pressure_memory_stalled_seconds_total", MetricType::kCounter},
      {"node_pressure_io_waiting_seconds_total", MetricType::kCounter},
      {"node_pressure_io_stalled_seconds_total", MetricType::kCounter},
  };
  for (const auto& [name, type] : kWant) EXPECT_EQ(e.TypeOf(name), type) << name;
  // Nothing the table above leaves out, so a new family gets its peer checked too.
  EXPECT_EQ(e.families().size(), std::size(kWant));

  // The per-sample labels: cAdvisor's `device` (block) and `interface`
  // (network); node_exporter's `cpu`/`mode` and `device` (network).
  EXPECT_EQ(e.Find("container_fs_reads_total", {{"device", "8:0"}}).size(), 1u);
  EXPECT_EQ(e.Find("container_network_receive_bytes_total", {{"interface", "eth0"}}).size(), 1u);
  EXPECT_EQ(e.Find("node_cpu_seconds_total", {{"cpu", "0"}, {"mode", "idle"}}).size(), 1u);
  EXPECT_EQ(e.Find("node_network_receive_bytes_total", {{"device", "eth0"}}).size(), 1u);
}

TEST(WriteNodeExposition, NothingReadWritesNothing) {
  std::string out;
  WriteNodeExposition(NodeStats{}, "node-a", &out);
  EXPECT_EQ(out, "");
}

TEST(IsAgentFamilyName, CoversTheAgentsOwnPrefixes) {
  for (const char* name : {"container_cpu_usage_seconds_total", "container_anything", "node_load1", "node_custom",
                           "machine_cpu_cores", "prescale_agent_read_errors_total"}) {
    EXPECT_TRUE(IsAgentFamilyName(name)) << name;
  }
  for (const char* name : {"http_requests_total", "nodes_total", "containers", "prescale_aggregator_x", "machines"}) {
    EXPECT_FALSE(IsAgentFamilyName(name)) << name;
  }
}

}  // namespace
}  // namespace prescale::agent
