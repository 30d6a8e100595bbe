// The agent across collection cycles on copies of the fixture trees: cgroups
// that come and go, files that change, cycles between discoveries, and a real
// cgroup re-created under the same path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
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

TEST(AgentCollect, RemovedCgroupDisappearsAtTheNextDiscovery) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const Labels batch = CgroupLabels("/prescale/acme/batch");
  const ParsedExposition before = agent.Collect();
  EXPECT_TRUE(before.Value("container_cpu_usage_seconds_total", batch).has_value());
  EXPECT_EQ(before.Value("prescale_agent_cgroups_tracked", {{"state", "included"}}), 3);

  std::filesystem::remove_all(dir.path() + "/prescale/acme/batch");
  agent.Advance(DefaultAgentConfig().discovery_interval);
  const ParsedExposition after = agent.Collect();
  ASSERT_EQ(after.error(), "");
  for (const auto& f : after.families()) {
    for (const auto& s : f.samples) EXPECT_NE(testing::LabelOf(s, "id"), "/prescale/acme/batch") << s.name;
  }
  EXPECT_TRUE(after.Value("container_cpu_usage_seconds_total", CgroupLabels("/prescale/acme/web")).has_value());
  EXPECT_EQ(after.Value("prescale_agent_cgroups_tracked", {{"state", "included"}}), 2);
  EXPECT_EQ(ReadErrors(after, "cgroup_v2"), 0) << "a cgroup that is gone is not a read error";
}

// Between discoveries the agent re-reads known cgroups through kept
// descriptors (and skips idle ones): the exposition must not lose series.
TEST(AgentCollect, CyclesBetweenDiscoveriesKeepEverySeries) {
  for (const char* tree : {"cgroup_v1", "cgroup_v2"}) {
    SCOPED_TRACE(tree);
    AgentConfig config = FixtureConfig(Fixture(tree));
    config.discovery_interval = DefaultAgentConfig().discovery_interval;
    const auto interval = config.interval;
    AgentOnFixture agent(std::move(config));
    ASSERT_TRUE(agent.ok());
    auto series = [](const ParsedExposition& e) {
      std::map<std::string, double> out;
      for (const auto& f : e.families()) {
        if (!f.name.starts_with("container_") && !f.name.starts_with("node_")) continue;
        for (const auto& s : f.samples) {
          std::string key = s.name;
          for (const auto& [k, v] : s.labels) key += "," + k + "=" + v;
          out[key] = s.value;
        }
      }
      return out;
    };
    const auto discovered = series(agent.Collect());
    ASSERT_GT(discovered.size(), 50u);
    agent.Advance(interval);
    EXPECT_EQ(series(agent.Collect()), discovered) << "same files, same exposition";
  }
}

TEST(AgentCollect, ActiveCgroupIsReadBetweenDiscoveries) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;
  const auto interval = config.interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const Labels web = CgroupLabels("/prescale/acme/web");
  (void)agent.Collect();
  // web used CPU and memory since: rewrite its files in place (the agent keeps them open).
  const std::string cpu_stat = dir.path() + "/prescale/acme/web/cpu.stat";
  auto cpu = FileKeyValues(cpu_stat);
  cpu["usage_usec"] += 2'000'000;
  std::string text;
  for (const char* key : {"usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec",
                          "nr_bursts", "burst_usec"}) {
    text += std::string(key) + " " + std::to_string(cpu.at(key)) + "\n";
  }
  std::FILE* f = std::fopen(cpu_stat.c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  const std::string current = dir.path() + "/prescale/acme/web/memory.current";
  f = std::fopen(current.c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fputs("88888888\n", f);
  std::fclose(f);

  agent.Advance(interval);
  const ParsedExposition e = agent.Collect();
  EXPECT_DOUBLE_EQ(e.Value("container_cpu_usage_seconds_total", web).value_or(-1),
                   static_cast<double>(cpu.at("usage_usec")) / 1e6);
  EXPECT_EQ(e.Value("container_memory_usage_bytes", web), 88888888);
  EXPECT_EQ(e.Value("container_spec_cpu_quota", web), 50000) << "limits are kept between discoveries";
}

// Rewrites web's memory.current in place (the agent keeps it open).
void SetWebMemory(const std::string& root, const char* value) {
  std::FILE* f = std::fopen((root + "/prescale/acme/web/memory.current").c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fputs(value, f);
  std::fclose(f);
}

TEST(AgentCollect, IdleCgroupKeepsItsLastFullReadUntilTheNextDiscovery) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;
  ASSERT_TRUE(config.skip_idle_cgroups);
  const auto interval = config.interval;
  const auto discovery = config.discovery_interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const Labels web = CgroupLabels("/prescale/acme/web");
  const uint64_t before = FileU64(Fixture("cgroup_v2/prescale/acme/web/memory.current"));
  EXPECT_EQ(agent.Collect().Value("container_memory_usage_bytes", web), before);
  SetWebMemory(dir.path(), "77777777\n");  // no CPU used: web is idle
  agent.Advance(interval);
  EXPECT_EQ(agent.Collect().Value("container_memory_usage_bytes", web), before) << "skipped as idle";
  agent.Advance(discovery);
  EXPECT_EQ(agent.Collect().Value("container_memory_usage_bytes", web), 77777777) << "full read on discovery";
}

TEST(AgentCollect, IdleCgroupIsReadEveryCycleWhenNotSkipped) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;
  config.skip_idle_cgroups = false;
  const auto interval = config.interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  (void)agent.Collect();
  SetWebMemory(dir.path(), "77777777\n");
  agent.Advance(interval);
  const ParsedExposition e = agent.Collect();
  EXPECT_EQ(e.Value("container_memory_usage_bytes", CgroupLabels("/prescale/acme/web")), 77777777);
  EXPECT_EQ(e.Value("container_spec_memory_limit_bytes", CgroupLabels("/prescale/acme/web")), 256 << 20);
}

// Rewrites a file in place, keeping its inode (the agent reads it through a
// descriptor it keeps open): the first `from` becomes `to`.
void ReplaceInFile(const std::string& path, const std::string& from, const std::string& to) {
  std::string text = FixtureText(path);
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "'" << from << "' not in " << path;
  text.replace(at, from.size(), to);
  std::ofstream(path, std::ios::trunc) << text;
}

// Adds `delta` to the value of a "key value" line (memory.stat, cpu.stat).
void AddToKey(const std::string& path, const std::string& key, uint64_t delta) {
  const uint64_t value = FileKeyValues(path).at(key);
  std::string text = "\n" + FixtureText(path);  // every line, the first too, follows a newline
  const std::string from = "\n" + key + " " + std::to_string(value) + "\n";
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "'" << key << "' not in " << path;
  text.replace(at, from.size(), "\n" + key + " " + std::to_string(value + delta) + "\n");
  std::ofstream(path, std::ios::trunc) << text.substr(1);
}

// One cycle's view of web: what is read every cycle and what the costly files give.
struct WebSample {
  std::optional<double> cpu, usage, working_set, rss, psi_memory, io_read_bytes;
};
WebSample SampleWeb(const ParsedExposition& e) {
  const Labels web = CgroupLabels("/prescale/acme/web");
  return {e.Value("container_cpu_usage_seconds_total", web),
          e.Value("container_memory_usage_bytes", web),
          e.Value("container_memory_working_set_bytes", web),
          e.Value("container_memory_rss", web),
          e.Value("container_pressure_memory_waiting_seconds_total", web),
          e.Value("container_fs_reads_bytes_total", testing::With(web, "device", testing::DeviceLabel("254:0")))};
}

// Where web's files are in a fixture tree, and the memory.stat keys of its cgroup version.
struct WebFiles {
  const char* tree;
  std::string cpu_usage, mem_usage, mem_stat, pressure, io;
  const char *rss_key, *inactive_key;
  std::string io_from, io_to;
};

// Web used one more second of CPU: busy for the activity probe.
void BurnWebCpu(const WebFiles& f, bool v2) {
  if (v2) {
    AddToKey(f.cpu_usage, "usage_usec", 1'000'000);
  } else {
    const uint64_t ns = FileU64(f.cpu_usage);
    ReplaceInFile(f.cpu_usage, std::to_string(ns), std::to_string(ns + 1'000'000'000));
  }
}

// Changes every other value web shows: the memory usage, memory.stat's rss and
// inactive_file (+10 MB each), memory pressure (+1 s) and the bytes read from
// 254:0 (+1 MB). Returns memory.stat as it was.
std::map<std::string, uint64_t> ChangeWeb(const WebFiles& f) {
  auto stat = FileKeyValues(f.mem_stat);
  const uint64_t usage = FileU64(f.mem_usage);
  ReplaceInFile(f.mem_usage, std::to_string(usage), std::to_string(usage + 10'000'000));
  for (const char* key : {f.rss_key, f.inactive_key}) AddToKey(f.mem_stat, key, 10'000'000);
  ReplaceInFile(f.pressure, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000");
  ReplaceInFile(f.io, f.io_from, f.io_to);
  return stat;
}

// The costly files (memory.stat, pressure, blkio / io.stat) of a busy cgroup are
// read every detail_interval and keep their last values in between; CPU and
// memory usage are read every cycle, and the working set follows the fresh
// usage less the kept inactive_file.
TEST(AgentCollect, CostlyFilesAreReadOnTheDetailCadence) {
  for (const bool v2 : {false, true}) {
    for (const bool skip_idle : {true, false}) {
      SCOPED_TRACE(std::string(v2 ? "cgroup_v2" : "cgroup_v1") +
                   (skip_idle ? ", busy by the probe" : ", every cgroup"));
      TempDir dir;
      const std::string tree = v2 ? "cgroup_v2" : "cgroup_v1";
      testing::CopyTree(Fixture(tree), dir.path());
      const std::string r = dir.path() + "/";
      const std::string web = "/prescale/acme/web/";
      const WebFiles files = v2 ? WebFiles{"cgroup_v2",
                                           r + web + "cpu.stat",
                                           r + web + "memory.current",
                                           r + web + "memory.stat",
                                           r + web + "memory.pressure",
                                           r + web + "io.stat",
                                           "anon",
                                           "inactive_file",
                                           "254:0 rbytes=8388608",
                                           "254:0 rbytes=9388608"}
                                : WebFiles{"cgroup_v1",
                                           r + "cpuacct" + web + "cpuacct.usage",
                                           r + "memory" + web + "memory.usage_in_bytes",
                                           r + "memory" + web + "memory.stat",
                                           r + "unified" + web + "memory.pressure",
                                           r + "blkio" + web + "blkio.throttle.io_service_bytes_recursive",
                                           "total_rss",
                                           "total_inactive_file",
                                           "254:0 Read 8388608",
                                           "254:0 Read 9388608"};
      AgentConfig config = FixtureConfig(dir.path());
      config.interval = std::chrono::seconds(5);
      config.discovery_interval = std::chrono::minutes(1);  // no walk in this test after the first
      config.detail_interval = std::chrono::seconds(10);
      config.skip_idle_cgroups = skip_idle;
      AgentOnFixture agent(std::move(config));
      ASSERT_TRUE(agent.ok());
      const WebSample first = SampleWeb(agent.Collect());
      ASSERT_TRUE(first.cpu && first.usage && first.working_set && first.rss && first.psi_memory &&
                  first.io_read_bytes);
      BurnWebCpu(files, v2);
      const auto stat = ChangeWeb(files);

      agent.Advance(std::chrono::seconds(5));
      const WebSample steady = SampleWeb(agent.Collect());
      EXPECT_DOUBLE_EQ(steady.cpu.value_or(-1), *first.cpu + 1) << "CPU usage: every cycle";
      EXPECT_EQ(steady.usage, *first.usage + 10'000'000) << "memory usage: every cycle";
      EXPECT_EQ(steady.rss, first.rss) << "memory.stat: kept until the next detail read";
      EXPECT_EQ(steady.psi_memory, first.psi_memory) << "pressure: kept";
      EXPECT_EQ(steady.io_read_bytes, first.io_read_bytes) << "IO: kept";
      EXPECT_EQ(steady.working_set, *steady.usage - static_cast<double>(stat.at(files.inactive_key)))
          << "the fresh usage less the kept inactive_file";

      BurnWebCpu(files, v2);
      agent.Advance(std::chrono::seconds(5));  // 10 s since the last detail read, no discovery
      const WebSample detail = SampleWeb(agent.Collect());
      EXPECT_EQ(detail.rss, *first.rss + 10'000'000);
      EXPECT_DOUBLE_EQ(detail.psi_memory.value_or(-1), *first.psi_memory + 1);
      EXPECT_EQ(detail.io_read_bytes, *first.io_read_bytes + 1'000'000);
      EXPECT_EQ(detail.working_set, *first.working_set) << "usage and inactive_file both rose by 10 MB";
    }
  }
}

TEST(AgentCollect, CostlyFilesAreReadEveryCycleWithDetailIntervalZero) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  const std::string web = dir.path() + "/prescale/acme/web/";
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = std::chrono::minutes(1);
  config.detail_interval = std::chrono::milliseconds(0);
  const auto interval = config.interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const WebSample first = SampleWeb(agent.Collect());
  const WebFiles files{
      "cgroup_v2",     web + "cpu.stat", web + "memory.current", web + "memory.stat",    web + "memory.pressure",
      web + "io.stat", "anon",           "inactive_file",        "254:0 rbytes=8388608", "254:0 rbytes=9388608"};
  BurnWebCpu(files, true);
  ChangeWeb(files);
  agent.Advance(interval);
  const WebSample next = SampleWeb(agent.Collect());
  EXPECT_EQ(next.rss, *first.rss + 10'000'000);
  EXPECT_DOUBLE_EQ(next.psi_memory.value_or(-1), *first.psi_memory + 1);
  EXPECT_EQ(next.io_read_bytes, *first.io_read_bytes + 1'000'000);
  EXPECT_EQ(next.working_set, first.working_set);
}

TEST(AgentCollect, NewCgroupAppearsInTheNextCycle) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  const Labels api = {{"id", "/prescale/acme/api"}, {"tenant", "acme"}, {"service", "api"}};
  EXPECT_TRUE(agent.Collect().Find("container_cpu_usage_seconds_total", api).empty());
  std::filesystem::copy(dir.path() + "/prescale/acme/web", dir.path() + "/prescale/acme/api");
  dir.Write("prescale/acme/api/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
  const ParsedExposition e = agent.Collect();
  EXPECT_EQ(e.Value("container_cpu_usage_seconds_total", api), 1.5);
}

// The trees are walked when a cgroup comes or goes (inotify), not on every discovery: a discovery
// without a change re-reads every file (a new limit shows) without walking, and a cgroup created or
// removed shows at the next cycle, before the discovery interval is up.
TEST(AgentCollect, TreesAreWalkedWhenACgroupComesOrGoes) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentConfig config = FixtureConfig(dir.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  auto walks = [](const ParsedExposition& e) { return e.Value("prescale_agent_cgroup_walks_total", {}); };
  const Labels web = CgroupLabels("/prescale/acme/web");
  const Labels api = {{"id", "/prescale/acme/api"}, {"tenant", "acme"}, {"service", "api"}};
  const ParsedExposition first = agent.Collect();
  ASSERT_EQ(walks(first), 1);

  dir.Write("prescale/acme/web/memory.max", "123456789\n");
  agent.Advance(DefaultAgentConfig().discovery_interval);
  const ParsedExposition rediscovered = agent.Collect();
  EXPECT_EQ(walks(rediscovered), 1) << "nothing came or went: no walk";
  EXPECT_EQ(rediscovered.Value("container_spec_memory_limit_bytes", web), 123456789) << "a discovery re-reads limits";

  std::filesystem::copy(dir.path() + "/prescale/acme/web", dir.path() + "/prescale/acme/api");
  const ParsedExposition created = agent.Collect();  // no time passed: the event alone
  EXPECT_EQ(walks(created), 2);
  EXPECT_FALSE(created.Find("container_cpu_usage_seconds_total", api).empty());

  std::filesystem::remove_all(dir.path() + "/prescale/acme/api");
  const ParsedExposition removed = agent.Collect();
  EXPECT_EQ(walks(removed), 3);
  EXPECT_TRUE(removed.Find("container_cpu_usage_seconds_total", api).empty());
  EXPECT_EQ(ReadErrors(removed, "cgroup_v2"), 0);

  const ParsedExposition quiet = agent.Collect();
  EXPECT_EQ(walks(quiet), 3) << "a cycle without a change does not walk";
}

TEST(AgentCollect, CountersFollowTheFilesAcrossCycles) {
  TempDir dir;
  testing::CopyTree(Fixture("cgroup_v2"), dir.path());
  AgentOnFixture agent(FixtureConfig(dir.path()));
  ASSERT_TRUE(agent.ok());
  const Labels web = CgroupLabels("/prescale/acme/web");
  (void)agent.Collect();
  // The agent keeps descriptors open and re-reads them: rewrite in place.
  const std::string path = dir.path() + "/prescale/acme/web/memory.current";
  std::FILE* f = std::fopen(path.c_str(), "r+");
  ASSERT_NE(f, nullptr);
  std::fputs("99999999\n", f);
  std::fclose(f);
  EXPECT_EQ(agent.Collect().Value("container_memory_usage_bytes", web), 99999999);
}

// A cgroup removed and re-created under the same path between two cycles (a
// restarted systemd service) must be read again: the descriptors the agent kept
// open point at the removed cgroup, and the kernel answers them with ENODEV.
// Only a real cgroup2 mount behaves so; the test makes one under it.
TEST(AgentCollect, RecreatedCgroupIsReadAgain) {
  std::string mount;
  for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (std::filesystem::exists(std::string(candidate) + "/cgroup.controllers")) {
      mount = candidate;
      break;
    }
  }
  if (mount.empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  const std::string name = "prescale-unit-" + std::to_string(::getpid());
  const std::string dir = mount + "/" + name + "/app";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) GTEST_SKIP() << "cannot create a cgroup under " << mount << ": " << ec.message();
  struct Cleanup {
    std::string top, app;
    ~Cleanup() {
      ::rmdir(app.c_str());
      ::rmdir(top.c_str());
    }
  } cleanup{mount + "/" + name, dir};

  TempDir root;  // the agent sees only the cgroup2 mount, as "unified"
  std::filesystem::create_directory_symlink(mount, root.path() + "/unified");
  AgentConfig config = FixtureConfig(root.path());
  config.discovery_interval = DefaultAgentConfig().discovery_interval;  // cycles between walks read kept descriptors
  MappingRule rule;
  rule.pattern = "^/" + name + "/app$";
  rule.regex = std::regex(rule.pattern);
  rule.labels = {{"tenant", "unit"}, {"service", "app"}};
  config.mapping = {rule};
  const auto interval = config.interval;
  AgentOnFixture agent(std::move(config));
  ASSERT_TRUE(agent.ok());
  const Labels app = {{"id", "/" + name + "/app"}, {"service", "app"}};
  auto errors = [](const ParsedExposition& e) {
    double sum = 0;
    for (const auto& s : e.Find("prescale_agent_read_errors_total")) sum += s.value;
    return sum;
  };
  const ParsedExposition first = agent.Collect();
  ASSERT_TRUE(first.Value("container_cpu_usage_seconds_total", app).has_value());
  ASSERT_EQ(errors(first), 0);

  // Stopped: a cycle between discoveries reads the descriptors of the removed cgroup.
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  agent.Advance(interval);
  (void)agent.Collect();
  // Started again under the same path, then the next discovery and one more cycle.
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  agent.Advance(interval);
  const ParsedExposition back = agent.Collect();
  EXPECT_TRUE(back.Value("container_cpu_usage_seconds_total", app).has_value())
      << "the re-created cgroup is read again";
  agent.Advance(interval);
  const ParsedExposition later = agent.Collect();
  EXPECT_TRUE(later.Value("container_cpu_usage_seconds_total", app).has_value());
  EXPECT_EQ(errors(later), errors(back)) << "no read errors once the cgroup is back";
}

}  // namespace
}  // namespace prescale::agent
