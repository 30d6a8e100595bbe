#include "prescale/agent/parsers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/agent/agent_test_util.h"

namespace prescale::agent {
namespace {

using testing::FileBlkio;
using testing::FileIoStat;
using testing::FileKeyValues;
using testing::FilePressure;
using testing::FileU64;
using testing::Fixture;
using testing::FixtureText;

std::string V1Web(const std::string& controller, const std::string& file) {
  return Fixture("cgroup_v1/" + controller + "/prescale/acme/web/" + file);
}
std::string V2Web(const std::string& file) { return Fixture("cgroup_v2/prescale/acme/web/" + file); }

size_t Lines(std::string_view text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1; }

TEST(ParseSingleU64, ReadsCgroupCounterFiles) {
  uint64_t v = 0;
  ASSERT_TRUE(ParseSingleU64(FixtureText(V1Web("cpuacct", "cpuacct.usage")), &v));
  EXPECT_EQ(v, FileU64(V1Web("cpuacct", "cpuacct.usage")));
  ASSERT_TRUE(ParseSingleU64(FixtureText(V2Web("memory.current")), &v));
  EXPECT_EQ(v, FileU64(V2Web("memory.current")));
  ASSERT_TRUE(ParseSingleU64("0\n", &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(ParseSingleU64("18446744073709551615\n", &v));
  EXPECT_EQ(v, UINT64_MAX);
}

TEST(ParseSingleU64, RejectsGarbageAndEmptyInput) {
  uint64_t v = 7;
  EXPECT_FALSE(ParseSingleU64("", &v));
  EXPECT_FALSE(ParseSingleU64("\n", &v));
  EXPECT_FALSE(ParseSingleU64("12a\n", &v));
  EXPECT_FALSE(ParseSingleU64("-1\n", &v));
  EXPECT_FALSE(ParseSingleU64("1 2\n", &v));
  EXPECT_FALSE(ParseSingleU64("18446744073709551616\n", &v));  // overflow
  EXPECT_FALSE(ParseSingleU64("max\n", &v));
}

TEST(ParseSingleI64, ReadsCfsQuotaIncludingUnlimited) {
  int64_t v = 0;
  ASSERT_TRUE(ParseSingleI64(FixtureText(V1Web("cpu", "cpu.cfs_quota_us")), &v));
  EXPECT_EQ(v, testing::FileI64(V1Web("cpu", "cpu.cfs_quota_us")));
  ASSERT_TRUE(ParseSingleI64(FixtureText(Fixture("cgroup_v1/cpu/prescale/acme/batch/cpu.cfs_quota_us")), &v));
  EXPECT_EQ(v, -1);
  EXPECT_FALSE(ParseSingleI64("", &v));
  EXPECT_FALSE(ParseSingleI64("--1\n", &v));
  EXPECT_FALSE(ParseSingleI64("5000x\n", &v));
}

TEST(ParseCpuMax, ReadsQuotaAndPeriod) {
  uint64_t quota = 1, period = 1;
  ASSERT_TRUE(ParseCpuMax(FixtureText(V2Web("cpu.max")), &quota, &period));
  std::istringstream want(FixtureText(V2Web("cpu.max")));
  uint64_t want_quota = 0, want_period = 0;
  want >> want_quota >> want_period;
  EXPECT_EQ(quota, want_quota);
  EXPECT_EQ(period, want_period);
  EXPECT_GT(quota, 0u);
}

TEST(ParseCpuMax, MaxMeansNoQuota) {
  uint64_t quota = 1, period = 1;
  ASSERT_TRUE(ParseCpuMax(FixtureText(Fixture("cgroup_v2/prescale/acme/batch/cpu.max")), &quota, &period));
  EXPECT_EQ(quota, 0u);
  EXPECT_EQ(period, 100000u);
}

TEST(ParseCpuMax, RejectsMalformedText) {
  uint64_t quota = 0, period = 0;
  EXPECT_FALSE(ParseCpuMax("", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("max\n", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("50000\n", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("max max\n", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("50000 100000 7\n", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("-1 100000\n", &quota, &period));
  EXPECT_FALSE(ParseCpuMax("unlimited 100000\n", &quota, &period));
}

TEST(ParseMaxOrU64, ReadsLimitsAndMax) {
  uint64_t v = 1;
  ASSERT_TRUE(ParseMaxOrU64(FixtureText(V2Web("pids.max")), &v));
  EXPECT_EQ(v, 0u) << "web has no pids limit";
  ASSERT_TRUE(ParseMaxOrU64(FixtureText(Fixture("cgroup_v2/prescale/acme/batch/pids.max")), &v));
  EXPECT_EQ(v, FileU64(Fixture("cgroup_v2/prescale/acme/batch/pids.max")));
  ASSERT_TRUE(ParseMaxOrU64(FixtureText(V2Web("memory.max")), &v));
  EXPECT_EQ(v, FileU64(V2Web("memory.max")));
  EXPECT_FALSE(ParseMaxOrU64("maximum\n", &v));
  EXPECT_FALSE(ParseMaxOrU64("", &v));
  EXPECT_FALSE(ParseMaxOrU64("12 34\n", &v));
}

TEST(ForEachKeyValue, VisitsEveryLineOfMemoryStat) {
  for (const std::string& path : {V1Web("memory", "memory.stat"), V2Web("memory.stat"), V2Web("cpu.stat"),
                                  V1Web("cpu", "cpu.stat"), V1Web("memory", "memory.oom_control")}) {
    SCOPED_TRACE(path);
    const auto want = FileKeyValues(path);
    std::map<std::string, uint64_t> got;
    ASSERT_TRUE(ForEachKeyValue(FixtureText(path), [&](std::string_view k, uint64_t v) { got[std::string(k)] = v; }));
    EXPECT_EQ(got, want);
    EXPECT_GT(got.size(), 2u);
  }
}

TEST(ForEachKeyValue, NegativeValuesCountAsZero) {
  std::map<std::string, uint64_t> got;
  ASSERT_TRUE(ForEachKeyValue("a 5\nb -3\n", [&](std::string_view k, uint64_t v) { got[std::string(k)] = v; }));
  EXPECT_EQ(got, (std::map<std::string, uint64_t>{{"a", 5}, {"b", 0}}));
}

TEST(ForEachKeyValue, RejectsTruncatedOrGarbageLines) {
  auto ignore = [](std::string_view, uint64_t) {};
  EXPECT_FALSE(ForEachKeyValue("", ignore));
  EXPECT_FALSE(ForEachKeyValue("\n\n", ignore));
  // A memory.stat cut in the middle of a key has a key without a value.
  const std::string stat = FixtureText(V1Web("memory", "memory.stat"));
  const size_t cut = stat.find("total_inactive_file") + 10;
  EXPECT_FALSE(ForEachKeyValue(std::string_view(stat).substr(0, cut), ignore));
  EXPECT_FALSE(ForEachKeyValue("usage_usec lots\n", ignore));
  EXPECT_FALSE(ForEachKeyValue("usage_usec 1.5\n", ignore));
}

TEST(ParseBlkio, ReadsReadAndWriteOfEachDevice) {
  const auto bytes = FileBlkio(V1Web("blkio", "blkio.throttle.io_service_bytes_recursive"));
  const auto ops = FileBlkio(V1Web("blkio", "blkio.throttle.io_serviced_recursive"));
  std::vector<IoDeviceStats> io;
  ASSERT_TRUE(ParseBlkio(FixtureText(V1Web("blkio", "blkio.throttle.io_service_bytes_recursive")), true, &io));
  ASSERT_TRUE(ParseBlkio(FixtureText(V1Web("blkio", "blkio.throttle.io_serviced_recursive")), false, &io));
  ASSERT_EQ(io.size(), 1u) << "the operations merge into the device the bytes created";
  const std::string dev = std::to_string(io[0].major) + ":" + std::to_string(io[0].minor);
  ASSERT_TRUE(bytes.count(dev)) << dev;
  EXPECT_EQ(io[0].read_bytes, bytes.at(dev).at("Read"));
  EXPECT_EQ(io[0].write_bytes, bytes.at(dev).at("Write"));
  EXPECT_EQ(io[0].reads, ops.at(dev).at("Read"));
  EXPECT_EQ(io[0].writes, ops.at(dev).at("Write"));
  EXPECT_GT(io[0].read_bytes, 0u);
}

TEST(ParseBlkio, SkipsSyncAsyncDiscardAndTotalLines) {
  std::vector<IoDeviceStats> io;
  ASSERT_TRUE(
      ParseBlkio("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Async 0\n8:0 Discard 5\n8:0 Total 30\n"
                 "8:16 Read 1\n8:16 Write 2\nTotal 33\n",
                 true, &io));
  ASSERT_EQ(io.size(), 2u);
  EXPECT_EQ(io[0].major, 8u);
  EXPECT_EQ(io[0].minor, 0u);
  EXPECT_EQ(io[0].read_bytes, 10u);
  EXPECT_EQ(io[0].write_bytes, 20u);
  EXPECT_EQ(io[1].minor, 16u);
  EXPECT_EQ(io[1].write_bytes, 2u);
}

TEST(ParseBlkio, IdleCgroupHasNoDevices) {
  std::vector<IoDeviceStats> io;
  ASSERT_TRUE(ParseBlkio("Total 0\n", true, &io));
  EXPECT_TRUE(io.empty());
}

TEST(ParseBlkio, RejectsGarbage) {
  std::vector<IoDeviceStats> io;
  EXPECT_FALSE(ParseBlkio("8:x Read 1\n", true, &io));
  EXPECT_FALSE(ParseBlkio("8:0 Read\n", true, &io));  // truncated before the value
  EXPECT_FALSE(ParseBlkio("8:0 Read many\n", true, &io));
  EXPECT_FALSE(ParseBlkio("80 Read 1\n", true, &io));
  EXPECT_FALSE(ParseBlkio("4294967296:0 Read 1\n", true, &io));
}

TEST(ParseIoStat, ReadsEveryDeviceOfTheFixture) {
  const auto want = FileIoStat(V2Web("io.stat"));
  ASSERT_FALSE(want.empty());
  std::vector<IoDeviceStats> io;
  ASSERT_TRUE(ParseIoStat(FixtureText(V2Web("io.stat")), &io));
  ASSERT_EQ(io.size(), want.size());
  for (const IoDeviceStats& d : io) {
    const auto& w = want.at(std::to_string(d.major) + ":" + std::to_string(d.minor));
    EXPECT_EQ(d.read_bytes, w.at("rbytes"));
    EXPECT_EQ(d.write_bytes, w.at("wbytes"));
    EXPECT_EQ(d.reads, w.at("rios"));
    EXPECT_EQ(d.writes, w.at("wios"));
  }
}

TEST(ParseIoStat, ReadsSeveralDevicesAndIgnoresUnknownKeys) {
  std::vector<IoDeviceStats> io;
  ASSERT_TRUE(
      ParseIoStat("8:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n"
                  "253:0 rbytes=10 wbytes=20 rios=30 wios=40 dbytes=0 dios=0 cost.usage=7\n",
                  &io));
  ASSERT_EQ(io.size(), 2u);
  EXPECT_EQ(io[0].major, 8u);
  EXPECT_EQ(io[0].minor, 16u);
  EXPECT_EQ(io[0].writes, 4u);
  EXPECT_EQ(io[1].major, 253u);
  EXPECT_EQ(io[1].read_bytes, 10u);
  io.clear();
  ASSERT_TRUE(ParseIoStat("", &io));
  EXPECT_TRUE(io.empty());
}

TEST(ParseIoStat, RejectsTruncatedOrGarbageLines) {
  std::vector<IoDeviceStats> io;
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=8388608 wbyt\n", &io));
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=\n", &io));
  EXPECT_FALSE(ParseIoStat("8:0 rbytes=-1\n", &io));
  EXPECT_FALSE(ParseIoStat("sda rbytes=1\n", &io));
}

TEST(ParsePressure, ReadsSomeAndFullTotals) {
  for (const std::string& path : {V2Web("cpu.pressure"), V2Web("io.pressure"), Fixture("proc/pressure/memory")}) {
    SCOPED_TRACE(path);
    const auto want = FilePressure(path);
    PressureStats p;
    ASSERT_TRUE(ParsePressure(FixtureText(path), &p));
    EXPECT_EQ(p.some_us, want.some_us);
    ASSERT_TRUE(want.full_us.has_value());
    EXPECT_TRUE(p.has_full);
    EXPECT_EQ(p.full_us, *want.full_us);
  }
}

TEST(ParsePressure, SomeOnlyHasNoFull) {
  PressureStats p;
  p.has_full = true;
  ASSERT_TRUE(ParsePressure("some avg10=1.00 avg60=0.50 avg300=0.10 total=12345\n", &p));
  EXPECT_EQ(p.some_us, 12345u);
  EXPECT_FALSE(p.has_full);
}

TEST(ParsePressure, RejectsTruncatedOrGarbage) {
  PressureStats p;
  EXPECT_FALSE(ParsePressure("", &p));
  EXPECT_FALSE(ParsePressure("some avg10=0.00 avg60=0.00 avg", &p));  // cut before total=
  EXPECT_FALSE(ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=\n", &p));
  EXPECT_FALSE(ParsePressure("most avg10=0.00 total=1\n", &p));
  EXPECT_FALSE(ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", &p)) << "full without some";
}

TEST(ParseNetDev, ReadsEveryInterfaceButLoopback) {
  const std::string text = FixtureText(Fixture("proc/net/dev"));
  std::vector<NetDeviceStats> net;
  ASSERT_TRUE(ParseNetDev(text, &net));
  // Expected values from the file itself: name, then 16 numbers.
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  size_t checked = 0;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[16];
    for (uint64_t& x : v) fields >> x;
    const auto it =
        std::find_if(net.begin(), net.end(), [&](const NetDeviceStats& d) { return name == d.name.data(); });
    if (name == "lo") {
      EXPECT_EQ(it, net.end()) << "lo must be skipped";
      continue;
    }
    ASSERT_NE(it, net.end()) << name;
    EXPECT_EQ(it->rx_bytes, v[0]);
    EXPECT_EQ(it->rx_packets, v[1]);
    EXPECT_EQ(it->rx_errors, v[2]);
    EXPECT_EQ(it->rx_dropped, v[3]);
    EXPECT_EQ(it->tx_bytes, v[8]);
    EXPECT_EQ(it->tx_packets, v[9]);
    EXPECT_EQ(it->tx_errors, v[10]);
    EXPECT_EQ(it->tx_dropped, v[11]);
    ++checked;
  }
  EXPECT_EQ(checked, net.size());
  EXPECT_GT(checked, 0u);
}

TEST(ParseNetDev, RejectsTruncatedLinesAndLongNames) {
  const std::string text = FixtureText(Fixture("proc/net/dev"));
  std::vector<NetDeviceStats> net;
  EXPECT_FALSE(ParseNetDev(text.substr(0, text.size() - 20), &net)) << "last line cut short";
  EXPECT_FALSE(ParseNetDev(text.substr(0, text.find('\n')), &net)) << "only one header line";
  const std::string header = text.substr(0, text.find('\n', text.find('\n') + 1) + 1);
  EXPECT_FALSE(ParseNetDev(header + "eth0 1 2 3\n", &net)) << "no colon";
  EXPECT_FALSE(ParseNetDev(header + std::string(40, 'x') + ": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", &net));
  net.clear();
  EXPECT_TRUE(ParseNetDev(header, &net));
  EXPECT_TRUE(net.empty());
}

TEST(ParseProcStat, ConvertsTicksOfEachCpuToSeconds) {
  const std::string text = FixtureText(Fixture("proc/stat"));
  std::vector<NodeCpuStats> cpus;
  ASSERT_TRUE(ParseProcStat(text, 100, &cpus));
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (!line.starts_with("cpu") || line[3] == ' ') continue;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    ASSERT_LT(n, cpus.size());
    EXPECT_EQ(cpus[n].cpu, std::stoul(name.substr(3)));
    for (size_t mode = 0; mode < 8; ++mode) {
      uint64_t ticks = 0;
      fields >> ticks;
      EXPECT_DOUBLE_EQ(cpus[n].seconds[mode], static_cast<double>(ticks) / 100) << name << " mode " << mode;
    }
    ++n;
  }
  EXPECT_EQ(n, cpus.size());
  EXPECT_GE(n, 1u);
}

TEST(ParseProcStat, RejectsGarbageAndTextWithoutCpus) {
  std::vector<NodeCpuStats> cpus;
  EXPECT_FALSE(ParseProcStat("", 100, &cpus));
  EXPECT_FALSE(ParseProcStat("cpu  1 2 3 4\nintr 5\n", 100, &cpus));
  EXPECT_FALSE(ParseProcStat("cpux 1 2 3\n", 100, &cpus));
  EXPECT_FALSE(ParseProcStat("cpu0 1 two 3\n", 100, &cpus));
}

TEST(ParseMeminfo, ReadsTotalAndAvailableInBytes) {
  const auto kv = [] {
    std::map<std::string, uint64_t> out;
    std::istringstream in(FixtureText(Fixture("proc/meminfo")));
    std::string key, unit;
    uint64_t v = 0;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      if (fields >> key >> v) out[key] = v;
    }
    return out;
  }();
  uint64_t total = 0, available = 0;
  ASSERT_TRUE(ParseMeminfo(FixtureText(Fixture("proc/meminfo")), &total, &available));
  EXPECT_EQ(total, kv.at("MemTotal:") * 1024);
  EXPECT_EQ(available, kv.at("MemAvailable:") * 1024);
  EXPECT_LE(available, total);
}

TEST(ParseMeminfo, RejectsMissingFieldsAndGarbage) {
  uint64_t total = 0, available = 0;
  EXPECT_FALSE(ParseMeminfo("MemTotal:       24684084 kB\n", &total, &available));
  EXPECT_FALSE(ParseMeminfo("MemTotal: lots kB\nMemAvailable: 1 kB\n", &total, &available));
  EXPECT_FALSE(ParseMeminfo("MemTotal: 99999999999999999 kB\nMemAvailable: 1 kB\n", &total, &available));
  EXPECT_FALSE(ParseMeminfo("", &total, &available));
}

TEST(ParseLoadavg, ReadsTheThreeAverages) {
  const std::string text = FixtureText(Fixture("proc/loadavg"));
  std::istringstream in(text);
  double l1 = 0, l5 = 0, l15 = 0;
  in >> l1 >> l5 >> l15;
  double a = -1, b = -1, c = -1;
  ASSERT_TRUE(ParseLoadavg(text, &a, &b, &c));
  EXPECT_DOUBLE_EQ(a, l1);
  EXPECT_DOUBLE_EQ(b, l5);
  EXPECT_DOUBLE_EQ(c, l15);
  EXPECT_FALSE(ParseLoadavg("", &a, &b, &c));
  EXPECT_FALSE(ParseLoadavg("0.5 0.4\n", &a, &b, &c));
  EXPECT_FALSE(ParseLoadavg("high low none 1/2 3\n", &a, &b, &c));
}

TEST(ParsePartitions, ReadsDeviceNumbersAndNames) {
  std::vector<BlockDevice> devices;
  ASSERT_TRUE(ParsePartitions(FixtureText(Fixture("proc/partitions")), &devices));
  std::istringstream in(FixtureText(Fixture("proc/partitions")));
  std::string line;
  std::getline(in, line);  // header
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint32_t major = 0, minor = 0;
    uint64_t blocks = 0;
    std::string name;
    if (!(fields >> major >> minor >> blocks >> name)) continue;
    ASSERT_LT(n, devices.size());
    EXPECT_EQ(devices[n].major, major);
    EXPECT_EQ(devices[n].minor, minor);
    EXPECT_EQ(std::string(devices[n].name.data()), name);
    ++n;
  }
  EXPECT_EQ(n, devices.size());
  EXPECT_GE(n, 1u);
}

TEST(ParsePartitions, RejectsTruncatedLines) {
  std::vector<BlockDevice> devices;
  EXPECT_FALSE(ParsePartitions("major minor  #blocks  name\n\n 254        0\n", &devices));
  EXPECT_FALSE(ParsePartitions("major minor  #blocks  name\n\n abc 0 1 vda\n", &devices));
  EXPECT_FALSE(ParsePartitions("major minor  #blocks  name\n\n 8 0 1 " + std::string(40, 'd') + "\n", &devices));
}

TEST(CpuWeightToShares, MapsWeightsAsCadvisorDoes) {
  // cAdvisor: shares = 2 + ((weight - 1) * 262142) / 9999, so 1 -> 2 and 10000 -> 262144.
  EXPECT_EQ(CpuWeightToShares(1), 2u);
  EXPECT_EQ(CpuWeightToShares(10000), 262144u);
  EXPECT_EQ(CpuWeightToShares(100), 2u + (99u * 262142u) / 9999u);
  EXPECT_EQ(CpuWeightToShares(0), 0u);
  EXPECT_EQ(CpuWeightToShares(20000), 262144u) << "clamped to the kernel's maximum weight";
}

// Every parser on every prefix of every fixture file and on seeded random
// bytes: none may crash or read out of bounds (ASan checks), and none may
// produce more records than the text has lines.
TEST(Parsers, SurviveEveryTruncationAndRandomBytes) {
  std::vector<std::string> inputs;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(testing::TestDataDir())) {
    if (!entry.is_regular_file() || entry.path().extension() == ".py" || entry.path().extension() == ".md") continue;
    const std::string text = ::prescale::testing::ReadFileOrEmpty(entry.path().string());
    if (text.size() > 4096) continue;  // the root's long cgroup.procs adds nothing here
    for (size_t n = 0; n <= text.size(); ++n) inputs.push_back(text.substr(0, n));
  }
  std::mt19937 rng(42);
  const std::string alphabet = "0123456789 :=\n\tabcdefghijklmnopqrstuvwxyz-max_.totalsomefull";
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 200, ' ');
    for (char& c : s) c = (rng() % 8 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    inputs.push_back(std::move(s));
  }
  ASSERT_GT(inputs.size(), 10000u);
  for (const std::string& text : inputs) {
    const size_t lines = Lines(text);
    uint64_t u = 0, q = 0, p = 0;
    int64_t i = 0;
    double d1 = 0, d2 = 0, d3 = 0;
    (void)ParseSingleU64(text, &u);
    (void)ParseSingleI64(text, &i);
    (void)ParseCpuMax(text, &q, &p);
    (void)ParseMaxOrU64(text, &u);
    (void)ParseMeminfo(text, &q, &p);
    (void)ParseLoadavg(text, &d1, &d2, &d3);
    size_t visited = 0;
    (void)ForEachKeyValue(text, [&](std::string_view, uint64_t) { ++visited; });
    EXPECT_LE(visited, lines);
    std::vector<IoDeviceStats> io;
    (void)ParseBlkio(text, true, &io);
    (void)ParseIoStat(text, &io);
    EXPECT_LE(io.size(), 2 * lines);
    PressureStats psi;
    (void)ParsePressure(text, &psi);
    std::vector<NetDeviceStats> net;
    (void)ParseNetDev(text, &net);
    EXPECT_LE(net.size(), lines);
    std::vector<NodeCpuStats> cpus;
    (void)ParseProcStat(text, 100, &cpus);
    EXPECT_LE(cpus.size(), lines);
    std::vector<BlockDevice> devices;
    (void)ParsePartitions(text, &devices);
    EXPECT_LE(devices.size(), lines);
    if (HasFailure()) {
      ADD_FAILURE() << "input: '" << text << "'";
      return;
    }
  }
}

}  // namespace
}  // namespace prescale::agent
