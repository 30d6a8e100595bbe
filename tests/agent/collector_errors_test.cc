// Malformed, truncated and missing files in copies of the fixture trees: each
// bad file is one read error under its collector, and the rest of the data is
// still exported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/agent_test_util.h"

namespace prescale::agent {
namespace {

using metrics::Labels;
using testing::AgentOnFixture;
using testing::CgroupLabels;
using testing::FileKeyValues;
using testing::FileU64;
using testing::Fixture;
using testing::FixtureConfig;
using testing::FixtureText;
using testing::ParsedExposition;
using testing::ReadErrors;
using testing::TempDir;

struct Corruption {
  std::string file;  // relative to the web cgroup
  std::string content;
  std::vector<std::string> gone;  // families web loses
  std::vector<std::string> kept;  // families web keeps
};

// One corrupted file of web in the pure v2 tree: one read error, web loses only
// what that file gives, and the other cgroups are untouched.
TEST(AgentCollect, CorruptV2FileCountsOneErrorAndKeepsTheRest) {
  const std::string cpu_stat = FixtureText(Fixture("cgroup_v2/prescale/acme/web/cpu.stat"));
  const Corruption cases[] = {
      {"memory.stat",
       "anon lots\nfile 1\n",
       {"container_memory_rss", "container_memory_working_set_bytes"},
       {"container_memory_usage_bytes", "container_cpu_usage_seconds_total"}},
      {"cpu.stat",
       cpu_stat.substr(0, cpu_stat.find("user_usec") + 6),  // truncated mid-key
       {"container_cpu_usage_seconds_total", "container_cpu_cfs_periods_total"},
       {"container_memory_usage_bytes", "container_spec_cpu_quota"}},
      {"cpu.max",
       "lots 100000\n",
       {"container_spec_cpu_quota", "container_spec_cpu_period"},
       {"container_cpu_usage_seconds_total"}},
      // Without a readable memory.current, usage falls back to anon + file (as on the root).
      {"memory.current", "", {}, {"container_memory_rss", "container_memory_usage_bytes"}},
      {"io.stat", "254:0 rbytes=x\n", {"container_fs_reads_bytes_total"}, {"container_threads"}},
      {"pids.current", "\x01\x02garbage", {"container_threads"}, {"container_threads_max"}},
      {"cpu.pressure",
       "some avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
       {"container_pressure_cpu_waiting_seconds_total"},
       {"container_pressure_io_waiting_seconds_total"}},
      {"memory.events",
       "low 0\nhigh 0\nmax 0\noom 0\noom_kill many\n",
       {"container_oom_events_total"},
       {"container_spec_memory_limit_bytes"}},
      {"cpu.weight", "heavy\n", {"container_spec_cpu_shares"}, {"container_spec_cpu_period"}},
      {"memory.max", "-1\n", {"container_spec_memory_limit_bytes"}, {"container_memory_usage_bytes"}},
  };
  for (const Corruption& c : cases) {
    SCOPED_TRACE(c.file);
    TempDir dir;
    testing::CopyTree(Fixture("cgroup_v2"), dir.path());
    testing::Overwrite(dir.path() + "/prescale/acme/web/" + c.file, c.content);
    AgentOnFixture agent(FixtureConfig(dir.path()));
    ASSERT_TRUE(agent.ok());
    const ParsedExposition e = agent.Collect();
    ASSERT_EQ(e.error(), "");
    EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 1);
    const Labels web = CgroupLabels("/prescale/acme/web");
    for (const std::string& name : c.gone) EXPECT_TRUE(e.Find(name, web).empty()) << name;
    for (const std::string& name : c.kept) EXPECT_FALSE(e.Find(name, web).empty()) << name;
    EXPECT_EQ(e.Value("container_memory_usage_bytes", CgroupLabels("/prescale/acme/batch")),
              FileU64(Fixture("cgroup_v2/prescale/acme/batch/memory.current")));
    // A counter: a second cycle over the same bad file counts again.
    EXPECT_EQ(ReadErrors(agent.Collect(), "cgroup_v2"), 2);
  }
}

TEST(AgentCollect, CorruptV1FileCountsUnderCgroupV1) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v1"), dir.path());
  testing::Overwrite(dir.path() + "/memory/prescale/acme/web/memory.stat", "total_rss 12\ntotal_cache\n");
  testing::Overwrite(dir.path() + "/cpuacct/prescale/acme/batch/cpuacct.usage", "12x\n");
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(ReadErrors(e, "cgroup_v1"), 2);
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0);
  const Labels web = CgroupLabels("/prescale/acme/web");
  EXPECT_TRUE(e.Find("container_memory_working_set_bytes", web).empty());
  EXPECT_EQ(e.Value("container_memory_usage_bytes", web),
            FileU64(Fixture("cgroup_v1/memory/prescale/acme/web/memory.usage_in_bytes")));
  EXPECT_FALSE(e.Find("container_pressure_memory_waiting_seconds_total", web).empty());
  const Labels batch = CgroupLabels("/prescale/acme/batch");
  // batch's cpuacct.usage is broken: the hybrid host falls back to the unified cpu.stat.
  EXPECT_DOUBLE_EQ(
      e.Value("container_cpu_usage_seconds_total", batch).value_or(-1),
      static_cast<double>(FileKeyValues(Fixture("cgroup_v1/unified/prescale/acme/batch/cpu.stat")).at("usage_usec")) /
          1e6);
  EXPECT_FALSE(e.Find("container_cpu_cfs_periods_total", batch).empty());
}

TEST(AgentCollect, MissingFilesAreNotErrors) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  for (const char* name : {"memory.stat", "cpu.max", "io.stat", "memory.pressure", "pids.max"}) {
    std::filesystem::remove(dir.path() + "/prescale/acme/web/" + name);
  }
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0);
  const Labels web = CgroupLabels("/prescale/acme/web");
  EXPECT_TRUE(e.Find("container_memory_working_set_bytes", web).empty());
  EXPECT_TRUE(e.Find("container_spec_cpu_period", web).empty());
  EXPECT_TRUE(e.Find("container_fs_reads_bytes_total", web).empty());
  EXPECT_TRUE(e.Find("container_pressure_memory_waiting_seconds_total", web).empty());
  EXPECT_EQ(e.Value("container_memory_usage_bytes", web),
            FileU64(Fixture("cgroup_v2/prescale/acme/web/memory.current")));
  EXPECT_FALSE(e.Find("container_pressure_cpu_waiting_seconds_total", web).empty());
}

TEST(AgentCollect, MissingControllerHierarchyIsNotAnError) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v1"), dir.path());
  std::filesystem::remove_all(dir.path() + "/blkio");
  std::filesystem::remove_all(dir.path() + "/pids");
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->layout().hierarchies.size(), 4u);
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(ReadErrors(e, "cgroup_v1"), 0);
  EXPECT_TRUE(e.Find("container_fs_reads_bytes_total").empty());
  EXPECT_TRUE(e.Find("container_threads").empty());
  EXPECT_FALSE(e.Find("container_cpu_usage_seconds_total", CgroupLabels("/prescale/acme/web")).empty());
}

TEST(AgentCollect, EmptyPressureFileMeansPsiIsOff) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  testing::Overwrite(dir.path() + "/prescale/acme/web/io.pressure", "");
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  EXPECT_EQ(ReadErrors(e, "cgroup_v2"), 0);
  EXPECT_TRUE(e.Find("container_pressure_io_waiting_seconds_total", CgroupLabels("/prescale/acme/web")).empty());
}

TEST(AgentCollect, CorruptProcFilesCountUnderNode) {
  TempDir proc;
  testing::CopyTree(Fixture("proc"), proc.path());
  testing::Overwrite(proc.path() + "/loadavg", "high\n");
  testing::Overwrite(proc.path() + "/meminfo", "MemTotal: 1 kB\n");
  std::filesystem::remove(proc.path() + "/pressure/io");
  AgentOnFixture agent(FixtureConfig(Fixture("cgroup_v2"), proc.path()));
  ASSERT_TRUE(agent.ok());
  const ParsedExposition e = agent.Collect();
  ASSERT_EQ(e.error(), "");
  EXPECT_EQ(ReadErrors(e, "node"), 2);
  EXPECT_TRUE(e.Find("node_load1").empty());
  EXPECT_TRUE(e.Find("machine_memory_bytes").empty());
  EXPECT_TRUE(e.Find("node_pressure_io_waiting_seconds_total").empty());
  EXPECT_FALSE(e.Find("node_cpu_seconds_total").empty());
  EXPECT_FALSE(e.Find("container_cpu_usage_seconds_total").empty());
}

}  // namespace
}  // namespace prescale::agent
