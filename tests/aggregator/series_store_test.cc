#include "prescale/aggregator/history/series_store.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <thread>

#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;

TimeSeries Series(const std::string& name, const std::string& tenant, std::vector<Sample> samples) {
  return TimeSeries{{{"__name__", name}, {"tenant", tenant}}, std::move(samples)};
}

class SeriesStoreTest : public ::testing::Test {
 protected:
  SeriesStore& Make(uint64_t max_series = 1000, std::chrono::milliseconds retention = 60s) {
    store_ =
        std::make_unique<SeriesStore>(SeriesStoreOptions{.max_series = max_series, .raw_retention = retention}, clock_);
    return *store_;
  }
  testing::FakeClock clock_;
  std::unique_ptr<SeriesStore> store_;
};

TEST_F(SeriesStoreTest, AppendsAndQueriesByNameAndLabels) {
  SeriesStore& store = Make();
  AppendStats stats;
  ASSERT_TRUE(store
                  .Append({Series("cpu", "a", {{1.5, 1000}, {2.5, 2000}}), Series("cpu", "b", {{7, 1000}}),
                           Series("mem", "a", {{100, 1000}})},
                          &stats)
                  .ok());
  EXPECT_EQ(stats.samples_appended, 4u);
  EXPECT_EQ(stats.series_created, 3u);
  EXPECT_EQ(store.active_series(), 3u);
  EXPECT_EQ(store.newest_timestamp_ms(), 2000);

  auto cpu = store.Query("cpu", {});
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu[0].labels[1].value, "a");  // sorted by labels
  ASSERT_EQ(cpu[0].samples.size(), 2u);
  EXPECT_EQ(cpu[0].samples[1].timestamp_ms, 2000);
  EXPECT_EQ(cpu[0].samples[1].value, 2.5);
  auto b = store.Query("cpu", {{"tenant", "b"}});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].samples[0].value, 7);
  EXPECT_TRUE(store.Query("cpu", {{"tenant", "c"}}).empty());
  EXPECT_TRUE(store.Query("disk", {}).empty());

  // The same label set again is the same series.
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{3.5, 3000}})}, &stats).ok());
  EXPECT_EQ(store.active_series(), 3u);
  EXPECT_EQ(store.Query("cpu", {{"tenant", "a"}})[0].samples.size(), 3u);
}

TEST_F(SeriesStoreTest, OutOfOrderAndDuplicateSamplesAreDroppedAndCounted) {
  SeriesStore& store = Make();
  AppendStats stats;
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{1, 2000}, {2, 1000}, {3, 2000}, {4, 3000}})}, &stats).ok());
  EXPECT_EQ(stats.samples_appended, 2u);
  EXPECT_EQ(stats.samples_out_of_order, 2u);
  auto s = store.Query("cpu", {});
  ASSERT_EQ(s[0].samples.size(), 2u);
  EXPECT_EQ(s[0].samples[0].value, 1);
  EXPECT_EQ(s[0].samples[1].value, 4);
}

TEST_F(SeriesStoreTest, KeepsOnlyTheRetentionWindow) {
  SeriesStore& store = Make(1000, 10s);
  AppendStats stats;
  std::vector<Sample> samples;
  for (int i = 0; i < 100; ++i) samples.push_back({static_cast<double>(i), 1'000'000 + i * 1000});
  ASSERT_TRUE(store.Append({Series("cpu", "a", samples)}, &stats).ok());
  auto s = store.Query("cpu", {});
  // Newest at +99 s: samples older than 89 s are gone; (89 s, 99 s] remain.
  ASSERT_EQ(s[0].samples.size(), 10u);
  EXPECT_EQ(s[0].samples.front().value, 90);
  EXPECT_EQ(s[0].samples.back().value, 99);
}

// Series created together must not close and drop their chunks together: the
// store's size would swing by half the retention's worth of samples (the
// fleet's memory peak). With chunk grids offset per series it stays flat.
TEST_F(SeriesStoreTest, SeriesStartedTogetherExpireChunksAtDifferentTimes) {
  SeriesStore& store = Make(10000, 60s);
  constexpr int kSeries = 2000;
  uint64_t low = std::numeric_limits<uint64_t>::max(), high = 0;
  for (int64_t t = 1'000'000; t <= 1'000'000 + 4 * 60'000; t += 1000) {
    std::vector<TimeSeries> batch;
    for (int i = 0; i < kSeries; ++i) {
      batch.push_back(Series("cpu", "t" + std::to_string(i), {{static_cast<double>(t % 7919) * 1.37 + i, t}}));
    }
    AppendStats stats;
    ASSERT_TRUE(store.Append(batch, &stats).ok());
    if (t >= 1'000'000 + 2 * 60'000) {  // steady state: 1.5 x the retention has passed
      low = std::min(low, store.bytes());
      high = std::max(high, store.bytes());
    }
  }
  // Every series keeps its window all along.
  const std::vector<SeriesData> one = store.Query("cpu", {{"tenant", "t7"}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].samples.size(), 60u);  // (t - 60 s, t]
  EXPECT_EQ(one[0].samples.back().timestamp_ms, 1'000'000 + 4 * 60'000);
  // In lockstep the held samples would swing between 1 and 1.5 x the retention.
  EXPECT_LT(static_cast<double>(high) / static_cast<double>(low), 1.1) << "low " << low << " high " << high;
}

TEST_F(SeriesStoreTest, NaNInfAndStaleMarkersAreStored) {
  SeriesStore& store = Make();
  AppendStats stats;
  const double stale = std::bit_cast<double>(remote_write::kStaleNaNBits);
  ASSERT_TRUE(store
                  .Append({Series("cpu", "a",
                                  {{std::numeric_limits<double>::quiet_NaN(), 1000},
                                   {std::numeric_limits<double>::infinity(), 2000},
                                   {-std::numeric_limits<double>::infinity(), 3000},
                                   {stale, 4000}})},
                          &stats)
                  .ok());
  auto s = store.Query("cpu", {});
  ASSERT_EQ(s[0].samples.size(), 4u);
  EXPECT_TRUE(std::isnan(s[0].samples[0].value));
  EXPECT_FALSE(IsStaleMarker(s[0].samples[0].value));
  EXPECT_EQ(s[0].samples[1].value, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(IsStaleMarker(s[0].samples[3].value));
  // A stale marker ends the series: the next sweep removes it, without waiting for retention.
  EXPECT_EQ(store.ExpireIdle(), 1u);
  EXPECT_EQ(store.active_series(), 0u);
  EXPECT_TRUE(store.Query("cpu", {}).empty());
}

TEST_F(SeriesStoreTest, IdleSeriesExpireAfterRetention) {
  SeriesStore& store = Make(1000, 60s);
  AppendStats stats;
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{1, 1000}}), Series("cpu", "b", {{1, 1000}})}, &stats).ok());
  clock_.Advance(30s);
  ASSERT_TRUE(store.Append({Series("cpu", "b", {{2, 31000}})}, &stats).ok());
  EXPECT_EQ(store.ExpireIdle(), 0u);
  clock_.Advance(30s);  // a: idle 60 s; b: idle 30 s
  EXPECT_EQ(store.ExpireIdle(), 1u);
  auto left = store.Query("cpu", {});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].labels[1].value, "b");
  clock_.Advance(30s);
  EXPECT_EQ(store.ExpireIdle(), 1u);
  EXPECT_EQ(store.active_series(), 0u);
}

TEST_F(SeriesStoreTest, MaxSeriesRejectsTheWholeBatch) {
  SeriesStore& store = Make(3);
  AppendStats stats;
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{1, 1000}}), Series("cpu", "b", {{1, 1000}})}, &stats).ok());
  AppendStats rejected;
  const Status s = store.Append(
      {Series("cpu", "a", {{2, 2000}}), Series("cpu", "c", {{1, 1000}}), Series("cpu", "d", {{1, 1000}})}, &rejected);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("limit of 3 series"), std::string::npos) << s.message();
  EXPECT_EQ(rejected.series_rejected, 2u);
  EXPECT_EQ(rejected.samples_appended, 0u);
  EXPECT_EQ(store.active_series(), 2u);
  EXPECT_EQ(store.Query("cpu", {{"tenant", "a"}})[0].samples.size(), 1u);  // nothing of the batch was kept
  // Existing series still take samples, and one new series still fits.
  AppendStats ok;
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{2, 2000}}), Series("cpu", "c", {{1, 1000}})}, &ok).ok());
  EXPECT_EQ(store.active_series(), 3u);
  // After expiry there is room again.
  clock_.Advance(store.options().raw_retention);
  EXPECT_EQ(store.ExpireIdle(), 3u);
  ASSERT_TRUE(store.Append({Series("cpu", "d", {{1, 1000}})}, &ok).ok());
}

TEST_F(SeriesStoreTest, ConcurrentWritersNeverPassMaxSeries) {
  SeriesStore& store = Make(500);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 300; ++i) {
        AppendStats stats;
        (void)store.Append({Series("cpu", std::to_string(t) + "-" + std::to_string(i), {{1, 1000}}),
                            Series("shared", std::to_string(i % 10), {{1.0, 1000 + i}})},
                           &stats);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(store.active_series(), 500u);
  size_t counted = store.Query("shared", {}).size();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 300; ++i) {
      counted += store.Query("cpu", {{"tenant", std::to_string(t) + "-" + std::to_string(i)}}).size();
    }
  }
  EXPECT_EQ(counted, store.active_series());
}

TEST_F(SeriesStoreTest, ExtremeTimestampsAreOrderedWithoutOverflow) {
  SeriesStore& store = Make();
  AppendStats stats;
  const int64_t min = std::numeric_limits<int64_t>::min();
  const int64_t max = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(store.Append({Series("cpu", "a", {{1, min}, {2, min + 1}, {3, 0}, {4, max}})}, &stats).ok());
  EXPECT_EQ(stats.samples_appended, 4u);
  auto s = store.Query("cpu", {});
  ASSERT_EQ(s[0].samples.size(), 1u);  // only the newest is within retention of int64 max
  EXPECT_EQ(s[0].samples[0].timestamp_ms, max);
}

TEST(HashLabels, DiffersWhenBoundariesMove) {
  EXPECT_NE(HashLabels({{"a", "bc"}}), HashLabels({{"ab", "c"}}));
  EXPECT_EQ(HashLabels({{"a", "b"}, {"c", "d"}}), HashLabels({{"a", "b"}, {"c", "d"}}));
}

}  // namespace
}  // namespace prescale::aggregator
