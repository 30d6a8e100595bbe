// Demand rollups fed through the series store as ingest feeds them, with a
// fake clock: sums over instances pushed at different moments, rates of
// counters (with resets), minute and 15-minute avg/max, late data, queries,
// the snapshot export, and the /api/v1/series query parser.
#include "prescale/aggregator/history/demand.h"

#include <gtest/gtest.h>

#include <cmath>

#include "prescale/aggregator/api/series_api.h"
#include "prescale/aggregator/history/series_store.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;

constexpr int64_t kMinute = 60'000;

TimeSeries Source(const std::string& name, const std::string& node, double value, int64_t t_ms,
                  const std::string& service = "api") {
  return TimeSeries{{{"__name__", name}, {"node", node}, {"service", service}, {"tenant", "shop"}}, {{value, t_ms}}};
}

class DemandTest : public ::testing::Test {
 protected:
  void Make(DemandOptions options = {}) {
    demand_ = std::make_unique<DemandRollups>(std::move(options), clock_);
    store_ = std::make_unique<SeriesStore>(SeriesStoreOptions{.raw_retention = 15min}, clock_, demand_.get());
    // Start on a whole minute so the expectations below name whole minutes.
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
    base_ = ToUnixMillis(clock_.Now());
  }
  void AdvanceTo(int64_t t_ms) { clock_.Advance(std::chrono::milliseconds(t_ms - ToUnixMillis(clock_.Now()))); }
  void Push(std::vector<TimeSeries> series) {
    AppendStats stats;
    ASSERT_TRUE(store_->Append(series, &stats).ok());
  }
  // Runs time forward every 5 s until `end`, letting `at` push what each moment brings.
  template <typename Fn>
  void Run(int64_t end, Fn&& at) {
    for (int64_t t = ToUnixMillis(clock_.Now()); t < end; t += 5000) {
      AdvanceTo(t);
      at(t);
      demand_->Finalize();
    }
    AdvanceTo(end);
    demand_->Finalize();
  }
  std::vector<DemandPoint> Points(const std::string& resource, std::chrono::milliseconds step = 1min) {
    auto series = demand_->Query({"shop", "api", resource}, base_ - 60 * kMinute, ToUnixMillis(clock_.Now()), step);
    return series.empty() ? std::vector<DemandPoint>{} : series[0].points;
  }

  testing::FakeClock clock_;
  std::unique_ptr<DemandRollups> demand_;
  std::unique_ptr<SeriesStore> store_;
  int64_t base_ = 0;
};

TEST_F(DemandTest, CpuCoresAreTheSummedRatesOfInstancesPushedAtDifferentMoments) {
  Make();
  // Node a uses 0.5 cores and pushes at :00, :10, ...; node b 1.5 cores at :05, :15, ...
  Run(base_ + 12 * kMinute, [&](int64_t t) {
    const double s = static_cast<double>(t - base_) / 1000.0;
    if ((t - base_) % 10'000 == 0) Push({Source("container_cpu_usage_seconds_total", "a", 0.5 * s, t)});
    if ((t - base_) % 10'000 == 5000) Push({Source("container_cpu_usage_seconds_total", "b", 1.5 * s, t)});
  });
  const auto points = Points("cpu");
  // Minutes 1..10 are final and whole (minute 0 holds the first, partial intervals;
  // minute 11 is within `settle`).
  ASSERT_GE(points.size(), 10u);
  int whole = 0;
  for (const DemandPoint& p : points) {
    if (p.timestamp_ms < base_ + kMinute || p.timestamp_ms >= base_ + 11 * kMinute) continue;
    EXPECT_DOUBLE_EQ(p.avg, 2.0) << p.timestamp_ms - base_;
    EXPECT_DOUBLE_EQ(p.max, 2.0) << p.timestamp_ms - base_;
    ++whole;
  }
  EXPECT_EQ(whole, 10);
  EXPECT_LT(points.back().timestamp_ms, base_ + 11 * kMinute) << "a minute within settle is not final yet";
  EXPECT_EQ(demand_->Stats().late_intervals, 0u);
}

TEST_F(DemandTest, MemoryIsTheSumOfGaugesAndMaxCatchesABurstInOneBucket) {
  Make();
  Run(base_ + 4 * kMinute, [&](int64_t t) {
    if ((t - base_) % 10'000 != 0) return;
    // Instance b bursts to 1000 for the 10 s ending at 2m30s.
    const bool burst = t == base_ + 2 * kMinute + 30'000;
    Push({Source("container_memory_working_set_bytes", "a", 100, t),
          Source("container_memory_working_set_bytes", "b", burst ? 1000 : 200, t)});
  });
  const auto points = Points("memory");
  ASSERT_GE(points.size(), 2u);
  for (const DemandPoint& p : points) {
    if (p.timestamp_ms == base_ + kMinute) {
      EXPECT_DOUBLE_EQ(p.avg, 300);
      EXPECT_DOUBLE_EQ(p.max, 300);
    }
    if (p.timestamp_ms == base_ + 2 * kMinute) {
      EXPECT_DOUBLE_EQ(p.max, 1100);  // the (2m20s, 2m30s] bucket
      EXPECT_FLOAT_EQ(static_cast<float>(p.avg), (5 * 300 + 1100) / 6.0f);
    }
  }
}

TEST_F(DemandTest, CounterResetCountsFromZeroAndSeriesWithoutTenantOrRuleAreIgnored) {
  Make();
  Run(base_ + 4 * kMinute, [&](int64_t t) {
    if ((t - base_) % 10'000 != 0) return;
    const double s = static_cast<double>(t - base_) / 1000.0;
    // Restarted at 1m50s: the counter starts again from 0, still at 1 core.
    const double value = t < base_ + 2 * kMinute ? 1000 + s : s - 110;
    Push({Source("container_cpu_usage_seconds_total", "a", value, t),
          TimeSeries{{{"__name__", "container_cpu_usage_seconds_total"}, {"service", "api"}}, {{s * 9, t}}},
          Source("unrelated_metric", "a", 5, t)});
  });
  for (const DemandPoint& p : Points("cpu")) {
    if (p.timestamp_ms >= base_ + kMinute) {
      EXPECT_DOUBLE_EQ(p.avg, 1.0) << p.timestamp_ms - base_;
    }
  }
  EXPECT_EQ(demand_->Keys({}).size(), 1u);
}

TEST_F(DemandTest, DataForAFinalMinuteIsLateAndCounted) {
  Make();
  Run(base_ + 3 * kMinute, [&](int64_t t) {
    if ((t - base_) % 10'000 == 0) Push({Source("container_memory_working_set_bytes", "a", 10, t)});
  });
  // A second instance replays a minute that is already final.
  Push({Source("container_memory_working_set_bytes", "b", 500, base_ + 30'000)});
  Push({Source("container_memory_working_set_bytes", "b", 500, base_ + 40'000)});
  demand_->Finalize();
  EXPECT_GE(demand_->Stats().late_intervals, 1u);
  for (const DemandPoint& p : Points("memory")) EXPECT_LE(p.max, 10.0);
}

TEST_F(DemandTest, QuarterHourRollupAndCoarserStepsAverageMinutesAndKeepTheMax) {
  DemandOptions options;
  options.rules.push_back({"queue_depth", "queue", false});
  Make(options);
  // Every 10 s bucket of minute m (counted from base) holds the value m.
  auto minute_of = [&](int64_t t) { return static_cast<double>((t - 1 - base_) / kMinute); };
  Run(base_ + 40 * kMinute, [&](int64_t t) {
    if ((t - base_) % 10'000 == 0) Push({Source("queue_depth", "a", minute_of(t), t)});
  });
  const int64_t quarter = 15 * kMinute;
  const int64_t q_start = (base_ + kMinute + quarter - 1) / quarter * quarter;  // the first whole quarter
  const double first_minute = static_cast<double>((q_start - base_) / kMinute);
  auto coarse = Points("queue", 15min);
  bool found = false;
  for (const DemandPoint& p : coarse) {
    if (p.timestamp_ms != q_start) continue;
    found = true;
    EXPECT_DOUBLE_EQ(p.avg, first_minute + 7);  // the mean of m .. m+14
    EXPECT_DOUBLE_EQ(p.max, first_minute + 14);
  }
  EXPECT_TRUE(found) << "no 15-minute point at the first whole quarter";
  // A 5-minute step over the 1-minute rollup: mean of five minutes, max of them.
  for (const DemandPoint& p : Points("queue", 5min)) {
    if (p.timestamp_ms < base_ + 5 * kMinute || p.timestamp_ms + 5 * kMinute > base_ + 39 * kMinute) continue;
    if (p.timestamp_ms % (5 * kMinute) != 0) continue;
    const double m = static_cast<double>((p.timestamp_ms - base_) / kMinute);
    EXPECT_DOUBLE_EQ(p.avg, m + 2);
    EXPECT_DOUBLE_EQ(p.max, m + 4);
  }
  EXPECT_EQ(demand_->UnitOf("queue"), "value");
  EXPECT_EQ(demand_->UnitOf("cpu"), "cores");
}

TEST_F(DemandTest, ExportedRollupsRestoreIntoAnEmptyStore) {
  Make();
  Run(base_ + 20 * kMinute, [&](int64_t t) {
    if ((t - base_) % 10'000 == 0) {
      Push({Source("container_memory_working_set_bytes", "a", static_cast<double>((t - base_) / 1000), t)});
    }
  });
  const auto exported = demand_->Export();
  ASSERT_EQ(exported.size(), 4u);  // avg and max, per minute and per quarter
  DemandRollups restored(DemandOptions{}, clock_);
  EXPECT_TRUE(restored.empty());
  for (const auto& ts : exported) restored.Restore(ts);
  const int64_t now = ToUnixMillis(clock_.Now());
  for (auto step : {1min, 15min}) {
    const auto a = demand_->Query({}, base_, now, step);
    const auto b = restored.Query({}, base_, now, step);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    ASSERT_EQ(a[0].points.size(), b[0].points.size());
    ASSERT_FALSE(a[0].points.empty());
    for (size_t i = 0; i < a[0].points.size(); ++i) {
      EXPECT_EQ(a[0].points[i].timestamp_ms, b[0].points[i].timestamp_ms);
      EXPECT_FLOAT_EQ(static_cast<float>(a[0].points[i].avg), static_cast<float>(b[0].points[i].avg));
      EXPECT_FLOAT_EQ(static_cast<float>(a[0].points[i].max), static_cast<float>(b[0].points[i].max));
    }
  }
}

TEST_F(DemandTest, BackfilledBucketsAnswerQueriesAtBothResolutions) {
  Make();
  const DemandKey key{"shop", "api", "cpu"};
  const int64_t quarter = 15 * kMinute;
  const int64_t q0 = (base_ - 3 * 3600'000) / quarter * quarter;
  for (int i = 0; i < 8; ++i) demand_->Backfill(key, true, DemandPoint{q0 + i * quarter, 1.5, 2.0});
  for (int i = 0; i < 120; ++i) demand_->Backfill(key, false, DemandPoint{q0 + i * kMinute, 1.5, 1.5});
  demand_->Finalize();
  const auto coarse = demand_->Query(key, q0, base_, 15min);
  ASSERT_EQ(coarse.size(), 1u);
  ASSERT_EQ(coarse[0].points.size(), 8u);
  EXPECT_DOUBLE_EQ(coarse[0].points[3].avg, 1.5);
  EXPECT_DOUBLE_EQ(coarse[0].points[3].max, 2.0);
  const auto fine = demand_->Query(key, q0, base_, 1min);
  ASSERT_EQ(fine.size(), 1u);
  EXPECT_EQ(fine[0].points.size(), 120u);
}

TEST(SeriesQueryTest, ParsesFiltersTimesAndSteps) {
  auto q = ParseSeriesQuery("tenant=shop&service=api&resource=cpu&from=2026-11-28T02:00:00Z&to=1795834800&step=5m", 0);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->filter.tenant, "shop");
  EXPECT_EQ(q->filter.service, "api");
  EXPECT_EQ(q->filter.resource, "cpu");
  EXPECT_EQ(q->from_ms, 1795831200000);
  EXPECT_EQ(q->to_ms, 1795834800000);
  EXPECT_EQ(q->step, 5min);
  auto defaults = ParseSeriesQuery("", 10'000'000);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->to_ms, 10'000'000);
  EXPECT_EQ(defaults->from_ms, 10'000'000 - 3'600'000);
  EXPECT_EQ(defaults->step, 1min);
  int64_t ms = 0;
  ASSERT_TRUE(ParseTimestamp("2026-11-28T04:00:00.250+02:00", &ms));
  EXPECT_EQ(ms, 1795831200250);
}

TEST(SeriesQueryTest, RejectsBadParametersNamingThem) {
  const struct {
    const char* query;
    const char* field;
  } cases[] = {
      {"from=yesterday", "from"},
      {"to=2026-13-01T00:00:00Z", "to"},
      {"step=30s", "step"},
      {"step=abc", "step"},
      {"step=90s", "step"},
      {"from=2000&to=1000", "from"},
      {"from=0&to=1000000000", "step"},
      {"bogus=1", "bogus"},
      {"tenant=%zz", ""},
  };
  for (const auto& c : cases) {
    auto q = ParseSeriesQuery(c.query, 1'000'000'000);
    EXPECT_FALSE(q.ok()) << c.query;
    EXPECT_EQ(q.status().field(), c.field) << c.query << ": " << q.status().message();
  }
}

}  // namespace
}  // namespace prescale::aggregator
