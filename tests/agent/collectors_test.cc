// Agent::Create + CollectOnce on the fixture trees: every exported number must
// equal what the fixture files say, computed here from the files themselves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/agent_test_util.h"
#include "tests/support/fake_clock.h"

namespace prescale::agent {
namespace {

using metrics::Labels;
using testing::AgentOnFixture;
using testing::CgroupLabels;
using testing::DeviceLabel;
using testing::FileBlkio;
using testing::FileIoStat;
using testing::FileKeyValues;
using testing::FilePressure;
using testing::FileU64;
using testing::Fixture;
using testing::FixtureConfig;
using testing::FixtureText;
using testing::kNode;
using testing::kServices;
using testing::NsPerTick;
using testing::ParsedExposition;
using testing::ReadErrors;
using testing::TempDir;
using testing::With;

TEST(AgentCollect, HybridFixtureExportsTheV1Numbers) {
  const std::string root = Fixture("cgroup_v1");
  AgentOnFixture agent(FixtureConfig(root));
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->layout().kind, CgroupLayoutKind::kHybrid);
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  for (const std::string id : kServices) {
    SCOPED_TRACE(id);
    const Labels l = CgroupLabels(id);
    auto file = [&](const std::string& ctrl, const std::string& name) { return root + "/" + ctrl + id + "/" + name; };
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_usage_seconds_total", l).value_or(-1),
                     static_cast<double>(FileU64(file("cpuacct", "cpuacct.usage"))) / 1e9);
    const auto acct = FileKeyValues(file("cpuacct", "cpuacct.stat"));
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_user_seconds_total", l).value_or(-1),
                     static_cast<double>(acct.at("user")) * NsPerTick() / 1e9);
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_system_seconds_total", l).value_or(-1),
                     static_cast<double>(acct.at("system")) * NsPerTick() / 1e9);
    const auto cpu = FileKeyValues(file("cpu", "cpu.stat"));
    EXPECT_EQ(e.Value("container_cpu_cfs_periods_total", l), cpu.at("nr_periods"));
    EXPECT_EQ(e.Value("container_cpu_cfs_throttled_periods_total", l), cpu.at("nr_throttled"));
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_cfs_throttled_seconds_total", l).value_or(-1),
                     static_cast<double>(cpu.at("throttled_time")) / 1e9);
    EXPECT_EQ(e.Value("container_spec_cpu_period", l), FileU64(file("cpu", "cpu.cfs_period_us")));
    EXPECT_EQ(e.Value("container_spec_cpu_shares", l), FileU64(file("cpu", "cpu.shares")));
    const int64_t quota = testing::FileI64(file("cpu", "cpu.cfs_quota_us"));
    if (quota > 0) {
      EXPECT_EQ(e.Value("container_spec_cpu_quota", l), quota);
    } else {
      EXPECT_TRUE(e.Find("container_spec_cpu_quota", l).empty()) << "no series without a quota";
    }

    const uint64_t usage = FileU64(file("memory", "memory.usage_in_bytes"));
    const auto mem = FileKeyValues(file("memory", "memory.stat"));
    EXPECT_EQ(e.Value("container_memory_usage_bytes", l), usage);
    EXPECT_EQ(e.Value("container_memory_working_set_bytes", l), usage - mem.at("total_inactive_file"));
    EXPECT_EQ(e.Value("container_memory_rss", l), mem.at("total_rss"));
    EXPECT_EQ(e.Value("container_memory_cache", l), mem.at("total_cache"));
    const uint64_t limit = FileU64(file("memory", "memory.limit_in_bytes"));
    EXPECT_EQ(e.Value("container_spec_memory_limit_bytes", l), limit >= (1ULL << 62) ? 0 : limit);
    EXPECT_EQ(e.Value("container_memory_failcnt", l), FileU64(file("memory", "memory.failcnt")));
    EXPECT_EQ(e.Value("container_oom_events_total", l),
              FileKeyValues(file("memory", "memory.oom_control")).at("oom_kill"));

    EXPECT_EQ(e.Value("container_threads", l), FileU64(file("pids", "pids.current")));
    const std::string pids_max = FixtureText(file("pids", "pids.max"));
    EXPECT_EQ(e.Value("container_threads_max", l), pids_max == "max\n" ? 0 : std::stoull(pids_max));

    const auto bytes = FileBlkio(file("blkio", "blkio.throttle.io_service_bytes_recursive"));
    const auto ops = FileBlkio(file("blkio", "blkio.throttle.io_serviced_recursive"));
    size_t devices = 0;
    for (const auto& [dev, by_op] : bytes) {
      if (dev == "Total") continue;
      ++devices;
      const Labels d = With(l, "device", DeviceLabel(dev));
      EXPECT_EQ(e.Value("container_fs_reads_bytes_total", d), by_op.at("Read")) << dev;
      EXPECT_EQ(e.Value("container_fs_writes_bytes_total", d), by_op.at("Write")) << dev;
      EXPECT_EQ(e.Value("container_fs_reads_total", d), ops.at(dev).at("Read")) << dev;
      EXPECT_EQ(e.Value("container_fs_writes_total", d), ops.at(dev).at("Write")) << dev;
    }
    EXPECT_EQ(e.Find("container_fs_reads_bytes_total", l).size(), devices);

    // Pressure comes from the unified hierarchy.
    for (const auto& [resource, file_name] :
         {std::pair{"cpu", "cpu.pressure"}, {"memory", "memory.pressure"}, {"io", "io.pressure"}}) {
      const auto psi = FilePressure(file("unified", file_name));
      EXPECT_DOUBLE_EQ(
          e.Value(std::string("container_pressure_") + resource + "_waiting_seconds_total", l).value_or(-1),
          static_cast<double>(psi.some_us) / 1e6)
          << resource;
      ASSERT_TRUE(psi.full_us.has_value());
      EXPECT_DOUBLE_EQ(
          e.Value(std::string("container_pressure_") + resource + "_stalled_seconds_total", l).value_or(-1),
          static_cast<double>(*psi.full_us) / 1e6)
          << resource;
    }
  }
  EXPECT_EQ(ReadErrors(e, "cgroup_v1"), 0);
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0);
  EXPECT_EQ(e.Value("prescale_agent_build_info", {{"cgroup_layout", "hybrid"}}), 1);
}

TEST(AgentCollect, HybridFixtureHasTheWorkloadThatMadeIt) {
  // The capture ran a CPU burner under a 50% quota and a 256 MiB limit in web:
  // make sure the fixture still shows it, so the tests above compare real numbers.
  const std::string web = Fixture("cgroup_v1/cpu/prescale/acme/web/");
  EXPECT_GT(FileKeyValues(web + "cpu.stat").at("nr_throttled"), 0u);
  EXPECT_EQ(testing::FileI64(web + "cpu.cfs_quota_us"), 50000);
  EXPECT_EQ(FileU64(Fixture("cgroup_v1/memory/prescale/acme/web/memory.limit_in_bytes")), 256u << 20);
  EXPECT_GT(FileKeyValues(Fixture("cgroup_v1/memory/prescale/acme/web/memory.stat")).at("total_inactive_file"), 0u);
  EXPECT_GT(FileU64(Fixture("cgroup_v1/cpuacct/prescale/acme/batch/cpuacct.usage")), 0u);
}

TEST(AgentCollect, PureV2FixtureExportsTheV2Numbers) {
  const std::string root = Fixture("cgroup_v2");
  AgentOnFixture agent(FixtureConfig(root));
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->layout().kind, CgroupLayoutKind::kV2);
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  for (const std::string id : kServices) {
    SCOPED_TRACE(id);
    const Labels l = CgroupLabels(id);
    const std::string dir = root + id + "/";
    const auto cpu = FileKeyValues(dir + "cpu.stat");
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_usage_seconds_total", l).value_or(-1),
                     static_cast<double>(cpu.at("usage_usec")) / 1e6);
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_user_seconds_total", l).value_or(-1),
                     static_cast<double>(cpu.at("user_usec")) / 1e6);
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_system_seconds_total", l).value_or(-1),
                     static_cast<double>(cpu.at("system_usec")) / 1e6);
    EXPECT_EQ(e.Value("container_cpu_cfs_periods_total", l), cpu.at("nr_periods"));
    EXPECT_EQ(e.Value("container_cpu_cfs_throttled_periods_total", l), cpu.at("nr_throttled"));
    EXPECT_DOUBLE_EQ(e.Value("container_cpu_cfs_throttled_seconds_total", l).value_or(-1),
                     static_cast<double>(cpu.at("throttled_usec")) / 1e6);
    std::istringstream cpu_max(FixtureText(dir + "cpu.max"));
    std::string quota;
    uint64_t period = 0;
    cpu_max >> quota >> period;
    EXPECT_EQ(e.Value("container_spec_cpu_period", l), period);
    if (quota == "max") {
      EXPECT_TRUE(e.Find("container_spec_cpu_quota", l).empty());
    } else {
      EXPECT_EQ(e.Value("container_spec_cpu_quota", l), std::stoull(quota));
    }
    // cAdvisor's conversion of cpu.weight to shares.
    const uint64_t weight = FileU64(dir + "cpu.weight");
    EXPECT_EQ(e.Value("container_spec_cpu_shares", l), 2 + ((weight - 1) * 262142) / 9999);

    const uint64_t current = FileU64(dir + "memory.current");
    const auto mem = FileKeyValues(dir + "memory.stat");
    EXPECT_EQ(e.Value("container_memory_usage_bytes", l), current);
    EXPECT_EQ(e.Value("container_memory_working_set_bytes", l), current - mem.at("inactive_file"));
    EXPECT_EQ(e.Value("container_memory_rss", l), mem.at("anon"));
    EXPECT_EQ(e.Value("container_memory_cache", l), mem.at("file"));
    const std::string memory_max = FixtureText(dir + "memory.max");
    EXPECT_EQ(e.Value("container_spec_memory_limit_bytes", l), memory_max == "max\n" ? 0 : std::stoull(memory_max));
    EXPECT_EQ(e.Value("container_oom_events_total", l), FileKeyValues(dir + "memory.events").at("oom_kill"));
    EXPECT_TRUE(e.Find("container_memory_failcnt", l).empty()) << "v2 has no failcnt";

    EXPECT_EQ(e.Value("container_threads", l), FileU64(dir + "pids.current"));
    const std::string pids_max = FixtureText(dir + "pids.max");
    EXPECT_EQ(e.Value("container_threads_max", l), pids_max == "max\n" ? 0 : std::stoull(pids_max));

    const auto io = FileIoStat(dir + "io.stat");
    for (const auto& [dev, s] : io) {
      const Labels d = With(l, "device", DeviceLabel(dev));
      EXPECT_EQ(e.Value("container_fs_reads_bytes_total", d), s.at("rbytes")) << dev;
      EXPECT_EQ(e.Value("container_fs_writes_bytes_total", d), s.at("wbytes")) << dev;
      EXPECT_EQ(e.Value("container_fs_reads_total", d), s.at("rios")) << dev;
      EXPECT_EQ(e.Value("container_fs_writes_total", d), s.at("wios")) << dev;
    }
    EXPECT_EQ(e.Find("container_fs_writes_total", l).size(), io.size());

    for (const std::string resource : {"cpu", "memory", "io"}) {
      const auto psi = FilePressure(dir + resource + ".pressure");
      EXPECT_DOUBLE_EQ(e.Value("container_pressure_" + resource + "_waiting_seconds_total", l).value_or(-1),
                       static_cast<double>(psi.some_us) / 1e6)
          << resource;
      EXPECT_DOUBLE_EQ(e.Value("container_pressure_" + resource + "_stalled_seconds_total", l).value_or(-1),
                       static_cast<double>(psi.full_us.value_or(0)) / 1e6)
          << resource;
    }
  }
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0);
  EXPECT_EQ(e.Value("prescale_agent_build_info", {{"cgroup_layout", "v2"}}), 1);
  EXPECT_EQ(e.Value("prescale_agent_cgroups_tracked", {{"state", "included"}}), 3);
  EXPECT_EQ(e.Value("prescale_agent_cgroups_tracked", {{"state", "seen"}}), 7);
}

TEST(AgentCollect, DeviceLabelFallsBackToNumbersWithoutAPartitionName) {
  TempDir proc;
  testing::CopyTree(Fixture("proc"), proc.path());
  testing::Overwrite(proc.path() + "/partitions", "major minor  #blocks  name\n\n");
  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2"), proc.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  const auto io = FileIoStat(Fixture("cgroup_v2/prescale/acme/web/io.stat"));
  ASSERT_FALSE(io.empty());
  for (const auto& [dev, s] : io) {
    EXPECT_EQ(e.Value("container_fs_reads_bytes_total", With(CgroupLabels("/prescale/acme/web"), "device", dev)),
              s.at("rbytes"));
  }
}

TEST(AgentCollect, OnlyMappedCgroupsAreExportedByDefault) {
  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2")));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  std::set<std::string> ids;
  for (const auto& s : e.Find("container_cpu_usage_seconds_total")) ids.insert(testing::LabelOf(s, "id"));
  EXPECT_EQ(ids, (std::set<std::string>{"/prescale/acme/batch", "/prescale/acme/web", "/system.slice/nginx.service"}));
}

TEST(AgentCollect, KeepUnmatchedExportsTheRootFromMemoryStat) {
  AgentConfig config = FixtureConfig(Fixture("cgroup_v2"));
  config.keep_unmatched = true;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  std::set<std::string> ids;
  for (const auto& s : e.Find("container_cpu_usage_seconds_total")) ids.insert(testing::LabelOf(s, "id"));
  EXPECT_EQ(ids.size(), 7u);
  const Labels root = {{"id", "/"}, {"tenant", ""}, {"service", ""}};
  // The root has no memory.current: usage is anon + file from memory.stat.
  const auto mem = FileKeyValues(Fixture("cgroup_v2/memory.stat"));
  EXPECT_EQ(e.Value("container_memory_usage_bytes", root), mem.at("anon") + mem.at("file"));
  EXPECT_EQ(e.Value("container_memory_working_set_bytes", root),
            mem.at("anon") + mem.at("file") - mem.at("inactive_file"));
  EXPECT_DOUBLE_EQ(e.Value("container_cpu_usage_seconds_total", root).value_or(-1),
                   static_cast<double>(FileKeyValues(Fixture("cgroup_v2/cpu.stat")).at("usage_usec")) / 1e6);
  EXPECT_TRUE(e.Find("container_cpu_cfs_periods_total", root).empty()) << "the root has no CFS statistics";
  EXPECT_TRUE(e.Find("container_spec_memory_limit_bytes", root).empty());
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0) << "files absent on the root are not errors";
}

TEST(AgentCollect, NodeMetricsComeFromProc) {
  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2")));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  const Labels node = {{"node", kNode}};
  // /proc/stat, in USER_HZ ticks.
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::istringstream stat(FixtureText(Fixture("proc/stat")));
  std::string line;
  int cpus = 0;
  const char* const modes[] = {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"};
  while (std::getline(stat, line)) {
    if (!line.starts_with("cpu") || line[3] == ' ') continue;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    for (const char* mode : modes) {
      uint64_t ticks = 0;
      fields >> ticks;
      EXPECT_DOUBLE_EQ(e.Value("node_cpu_seconds_total", {{"cpu", name.substr(3)}, {"mode", mode}}).value_or(-1),
                       static_cast<double>(ticks) / hz)
          << name << " " << mode;
    }
    ++cpus;
  }
  EXPECT_EQ(e.Value("machine_cpu_cores", node), cpus);
  std::map<std::string, uint64_t> meminfo;
  std::istringstream mi(FixtureText(Fixture("proc/meminfo")));
  while (std::getline(mi, line)) {
    std::istringstream fields(line);
    std::string key;
    uint64_t kib = 0;
    if (fields >> key >> kib) meminfo[key] = kib;
  }
  EXPECT_EQ(e.Value("machine_memory_bytes", node), meminfo.at("MemTotal:") * 1024);
  EXPECT_EQ(e.Value("node_memory_MemTotal_bytes", node), meminfo.at("MemTotal:") * 1024);
  EXPECT_EQ(e.Value("node_memory_MemAvailable_bytes", node), meminfo.at("MemAvailable:") * 1024);
  std::istringstream load(FixtureText(Fixture("proc/loadavg")));
  double l1 = 0, l5 = 0, l15 = 0;
  load >> l1 >> l5 >> l15;
  EXPECT_DOUBLE_EQ(e.Value("node_load1", node).value_or(-1), l1);
  EXPECT_DOUBLE_EQ(e.Value("node_load5", node).value_or(-1), l5);
  EXPECT_DOUBLE_EQ(e.Value("node_load15", node).value_or(-1), l15);
  for (const std::string resource : {"cpu", "memory", "io"}) {
    const auto psi = FilePressure(Fixture("proc/pressure/" + resource));
    EXPECT_DOUBLE_EQ(e.Value("node_pressure_" + resource + "_waiting_seconds_total", node).value_or(-1),
                     static_cast<double>(psi.some_us) / 1e6);
    EXPECT_DOUBLE_EQ(e.Value("node_pressure_" + resource + "_stalled_seconds_total", node).value_or(-1),
                     static_cast<double>(psi.full_us.value_or(0)) / 1e6);
  }
  // /proc/net/dev: every interface but lo.
  std::istringstream dev(FixtureText(Fixture("proc/net/dev")));
  std::getline(dev, line);
  std::getline(dev, line);
  size_t interfaces = 0;
  while (std::getline(dev, line)) {
    std::string name = line.substr(0, line.find(':'));
    name.erase(0, name.find_first_not_of(' '));
    std::istringstream fields(line.substr(line.find(':') + 1));
    uint64_t v[16];
    for (uint64_t& x : v) fields >> x;
    if (name == "lo") {
      EXPECT_TRUE(e.Find("node_network_receive_bytes_total", {{"device", "lo"}}).empty());
      continue;
    }
    ++interfaces;
    EXPECT_EQ(e.Value("node_network_receive_bytes_total", {{"device", name}}), v[0]) << name;
    EXPECT_EQ(e.Value("node_network_receive_packets_total", {{"device", name}}), v[1]) << name;
    EXPECT_EQ(e.Value("node_network_transmit_bytes_total", {{"device", name}}), v[8]) << name;
    EXPECT_EQ(e.Value("node_network_transmit_packets_total", {{"device", name}}), v[9]) << name;
  }
  EXPECT_EQ(e.Find("node_network_receive_bytes_total").size(), interfaces);
  EXPECT_EQ(ReadErrors(e, "node"), 0);
}

// Network: /proc/<pid>/net/dev of the first process of each cgroup, one per
// namespace (identified by the inode of /proc/<pid>/ns/net), the host's left out.
TEST(AgentCollect, NetworkIsCountedOncePerNamespace) {
  TempDir proc;
  testing::CopyTree(Fixture("proc"), proc.path());
  auto first_pid = [](const std::string& id) {
    std::istringstream in(FixtureText(Fixture("cgroup_v2" + id + "/cgroup.procs")));
    std::string pid;
    in >> pid;
    return pid;
  };
  const std::string web = first_pid("/prescale/acme/web");
  const std::string batch = first_pid("/prescale/acme/batch");
  const std::string nginx = first_pid("/system.slice/nginx.service");
  ASSERT_FALSE(web.empty());
  ASSERT_FALSE(batch.empty());
  ASSERT_FALSE(nginx.empty());
  const std::string header =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
      "carrier compressed\n";
  proc.Write("1/ns/net", "host");
  proc.Write(web + "/ns/net", "web");
  proc.Write(web + "/net/dev", header +
                                   "    lo:     100       1    0    0    0     0          0         0      100       "
                                   "1    0    0    0     0       0          0\n"
                                   "  eth0:  123456     789    1    2    0     0          0         0    65432     "
                                   "321    3    4    0     0       0          0\n");
  // batch shares the host's namespace, nginx shares web's: neither is counted again.
  std::filesystem::create_directories(proc.path() + "/" + batch + "/ns");
  std::filesystem::create_hard_link(proc.path() + "/1/ns/net", proc.path() + "/" + batch + "/ns/net");
  std::filesystem::create_directories(proc.path() + "/" + nginx + "/ns");
  std::filesystem::create_hard_link(proc.path() + "/" + web + "/ns/net", proc.path() + "/" + nginx + "/ns/net");
  proc.Write(nginx + "/net/dev", header + "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");

  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2"), proc.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  const Labels eth0 = With(CgroupLabels("/prescale/acme/web"), "interface", "eth0");
  EXPECT_EQ(e.Value("container_network_receive_bytes_total", eth0), 123456);
  EXPECT_EQ(e.Value("container_network_receive_packets_total", eth0), 789);
  EXPECT_EQ(e.Value("container_network_receive_errors_total", eth0), 1);
  EXPECT_EQ(e.Value("container_network_receive_packets_dropped_total", eth0), 2);
  EXPECT_EQ(e.Value("container_network_transmit_bytes_total", eth0), 65432);
  EXPECT_EQ(e.Value("container_network_transmit_packets_total", eth0), 321);
  EXPECT_EQ(e.Value("container_network_transmit_errors_total", eth0), 3);
  EXPECT_EQ(e.Value("container_network_transmit_packets_dropped_total", eth0), 4);
  EXPECT_EQ(e.Find("container_network_receive_bytes_total").size(), 1u) << "lo, batch and nginx are left out";
  EXPECT_EQ(ReadErrors(e, "network"), 0);
}

// An empty cgroup whose CPU usage does not move is not looked into again (its cgroup.procs reads
// cost the most of an idle node's discoveries); once it uses CPU, its process's network shows.
TEST(AgentCollect, EmptyIdleCgroupIsNotSearchedForAProcessAgain) {
  TempDir proc;
  testing::CopyTree(Fixture("proc"), proc.path());
  TempDir cgroups;
  testing::CopyTree(Fixture("cgroup_v2"), cgroups.path());
  std::istringstream in(FixtureText(Fixture("cgroup_v2/prescale/acme/web/cgroup.procs")));
  std::string pid;
  in >> pid;
  ASSERT_FALSE(pid.empty());
  proc.Write("1/ns/net", "host");
  proc.Write(pid + "/ns/net", "web");
  proc.Write(pid + "/net/dev",
             "Inter-|   Receive                                                |  Transmit\n"
             " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
             "carrier compressed\n"
             "  eth0: 500 5 0 0 0 0 0 0 600 6 0 0 0 0 0 0\n");
  cgroups.Write("prescale/acme/web/cgroup.procs", "");
  AgentOnFixture agent(FixtureConfig(cgroups.path(), proc.path()));  // every cycle a discovery
  ASSERT_TRUE(agent.ok());
  const Labels eth0 = With(CgroupLabels("/prescale/acme/web"), "interface", "eth0");
  EXPECT_FALSE(agent.Collect().Value("container_network_receive_bytes_total", eth0).has_value());

  cgroups.Write("prescale/acme/web/cgroup.procs", pid + "\n");  // moved in, has not run yet
  EXPECT_FALSE(agent.Collect().Value("container_network_receive_bytes_total", eth0).has_value())
      << "usage unchanged: not looked into again";

  cgroups.Write("prescale/acme/web/cpu.stat", "usage_usec 999600\nuser_usec 894008\nsystem_usec 105591\n");
  EXPECT_EQ(agent.Collect().Value("container_network_receive_bytes_total", eth0), 500);
}

TEST(AgentCollect, MaxCgroupsBoundsTheTable) {
  AgentConfig config = FixtureConfig(Fixture("cgroup_v2"));
  config.max_cgroups = 4;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  EXPECT_LE(e.Value("prescale_agent_cgroups_tracked", {{"state", "seen"}}).value_or(99), 4);
  EXPECT_LE(agent->table().size(), 4u);
}

TEST(AgentCollect, ReadyAfterTheFirstCycle) {
  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2")));
  ASSERT_TRUE(agent.ok());
  EXPECT_FALSE(agent->ready());
  const ParsedExposition empty(agent->Exposition());
  EXPECT_TRUE(empty.Find("container_cpu_usage_seconds_total").empty());
  agent->CollectOnce();
  EXPECT_TRUE(agent->ready());
}

TEST(AgentCreate, EmptyCgroupRootIsNotFound) {
  TempDir dir;
  ::prescale::testing::FakeClock clock;
  auto agent = Agent::Create(FixtureConfig(dir.path()), clock);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace prescale::agent
