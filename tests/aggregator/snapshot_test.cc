#include "prescale/aggregator/history/snapshot.h"

#include <gtest/gtest.h>

#include <bit>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using remote_write::Sample;
using remote_write::TimeSeries;

TimeSeries Series(const std::string& name, const std::string& tenant, std::vector<Sample> samples) {
  return TimeSeries{{{"__name__", name}, {"tenant", tenant}}, std::move(samples)};
}

std::string FlipByte(std::string s, size_t at) {
  s[at] = static_cast<char>(s[at] ^ 0x20);
  return s;
}

class SnapshotTest : public ::testing::Test {
 protected:
  std::unique_ptr<SeriesStore> NewStore() { return std::make_unique<SeriesStore>(SeriesStoreOptions{}, clock_); }
  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-snapshot"};
};

TEST_F(SnapshotTest, RoundTripsEverySeriesAndSampleAcrossShards) {
  auto store = NewStore();
  std::vector<TimeSeries> series;
  series.reserve(301);
  for (int i = 0; i < 300; ++i) {  // enough series to land in many shards
    series.push_back(Series("cpu", "t" + std::to_string(i), {{1.0 * i, 1000}, {2.0 * i, 2000}}));
  }
  series.push_back(Series("ended", "x", {{std::bit_cast<double>(remote_write::kStaleNaNBits), 3000}}));
  AppendStats stats;
  ASSERT_TRUE(store->Append(series, &stats).ok());
  auto written = WriteSnapshot(*store, nullptr, dir_.path());
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->series, 301u);
  EXPECT_EQ(written->samples, 601u);

  auto restored = NewStore();
  auto loaded = LoadSnapshot(restored.get(), nullptr, dir_.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->series, 301u);
  EXPECT_EQ(loaded->samples, 601u);
  EXPECT_EQ(restored->active_series(), 301u);
  const auto t7 = restored->Query("cpu", {{"tenant", "t7"}});
  ASSERT_EQ(t7.size(), 1u);
  ASSERT_EQ(t7[0].samples.size(), 2u);
  EXPECT_EQ(t7[0].samples[1].value, 14.0);
  EXPECT_EQ(t7[0].samples[1].timestamp_ms, 2000);
  const auto ended = restored->Query("ended", {});
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(std::bit_cast<uint64_t>(ended[0].samples[0].value), remote_write::kStaleNaNBits);
}

TEST_F(SnapshotTest, RestoredSeriesKeepAppendingAndRollupsComeBack) {
  DemandRollups demand(DemandOptions{}, clock_);
  SeriesStore store(SeriesStoreOptions{}, clock_, &demand);
  const int64_t t0 = ToUnixMillis(clock_.Now());
  AppendStats stats;
  for (int i = 0; i < 50; ++i) {
    clock_.Advance(std::chrono::seconds(10));
    const TimeSeries memory{
        {{"__name__", "container_memory_working_set_bytes"}, {"service", "api"}, {"tenant", "shop"}},
        {{1e9 + 4096.0 * (i % 3), t0 + int64_t{10'000} * (i + 1)}}};
    ASSERT_TRUE(store.Append({memory}, &stats).ok());
    demand.Finalize();
  }
  ASSERT_TRUE(WriteSnapshot(store, &demand, dir_.path()).ok());
  DemandRollups demand2(DemandOptions{}, clock_);
  SeriesStore restored(SeriesStoreOptions{}, clock_, &demand2);
  auto loaded = LoadSnapshot(&restored, &demand2, dir_.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->samples, 50u);
  const auto before = demand.Query({}, t0, ToUnixMillis(clock_.Now()), std::chrono::minutes(1));
  const auto after = demand2.Query({}, t0, ToUnixMillis(clock_.Now()), std::chrono::minutes(1));
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_FALSE(after[0].points.empty());
  EXPECT_EQ(before[0].points.size(), after[0].points.size());
  // The restored chunk goes on compressing where it stopped.
  const TimeSeries next{{{"__name__", "container_memory_working_set_bytes"}, {"service", "api"}, {"tenant", "shop"}},
                        {{5.5, t0 + 510'000}, {6.5, t0 + 520'000}}};
  ASSERT_TRUE(restored.Append({next}, &stats).ok());
  const auto held = restored.Query("container_memory_working_set_bytes", {});
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(held[0].samples.size(), 52u);
  EXPECT_EQ(held[0].samples[49].timestamp_ms, t0 + 500'000);
  EXPECT_EQ(held[0].samples[50].value, 5.5);
  EXPECT_EQ(held[0].samples[51].timestamp_ms, t0 + 520'000);
}

TEST_F(SnapshotTest, NoSnapshotLoadsNothing) {
  auto store = NewStore();
  auto loaded = LoadSnapshot(store.get(), nullptr, dir_.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->series, 0u);
  EXPECT_EQ(store->active_series(), 0u);
}

TEST_F(SnapshotTest, CorruptOrTruncatedSnapshotIsMovedAsideAndLoadsNothing) {
  auto store = NewStore();
  AppendStats stats;
  ASSERT_TRUE(store->Append({Series("cpu", "a", {{1, 1000}})}, &stats).ok());
  ASSERT_TRUE(WriteSnapshot(*store, nullptr, dir_.path()).ok());
  const std::string path = SnapshotPath(dir_.path());
  const std::string whole = testing::ReadFileOrEmpty(path);
  const std::vector<std::string> bad_ones = {whole.substr(0, whole.size() - 3), std::string("not a snapshot"),
                                             whole + std::string(9, '\x01'), FlipByte(whole, whole.size() - 2),
                                             std::string("prescale-snapshot-1\n") + whole.substr(20)};
  // Each one goes to a name of its own: an earlier corrupt snapshot set aside is never overwritten.
  auto aside = [&path](size_t i) { return path + ".corrupt" + (i == 0 ? "" : "." + std::to_string(i)); };
  for (size_t i = 0; i < bad_ones.size(); ++i) {
    const std::string& bad = bad_ones[i];
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    auto fresh = NewStore();
    auto loaded = LoadSnapshot(fresh.get(), nullptr, dir_.path());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kParseError);
    EXPECT_NE(loaded.status().message().find(path), std::string::npos) << loaded.status().message();
    EXPECT_NE(loaded.status().message().find("moved to " + aside(i) + ","), std::string::npos)
        << loaded.status().message();
    EXPECT_EQ(fresh->active_series(), 0u);
    EXPECT_EQ(testing::ReadFileOrEmpty(aside(i)), bad);
    EXPECT_TRUE(testing::ReadFileOrEmpty(path).empty()) << "the corrupt snapshot stays in place";
  }
  for (size_t i = 0; i < bad_ones.size(); ++i) EXPECT_EQ(testing::ReadFileOrEmpty(aside(i)), bad_ones[i]) << aside(i);
}

TEST_F(SnapshotTest, UnwritableDirectoryIsAnIoErrorNamingThePath) {
  auto store = NewStore();
  auto written = WriteSnapshot(*store, nullptr, dir_.path() + "/missing/dir");
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), StatusCode::kIoError);
  EXPECT_NE(written.status().message().find("missing/dir"), std::string::npos);
}

}  // namespace
}  // namespace prescale::aggregator
