// The decision loop on the aggregator's own data: services from the control
// store, current use from the demand rollups (pushed as an agent would), the
// cluster's capacity from the agents' machine_cpu_cores, decisions at the tick,
// and their gauges on /metrics. On both control stores (Stores/.../sqlite, /postgres).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/control_api.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::TimeSeries;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60'000;

class DecisionLoopTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    // Start on a whole minute, so the pushed minutes line up.
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
    AggregatorConfig config;
    config.decisions.capacity_reserve = 0.25;
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    std::unique_ptr<ControlStore> store = stores_.OpenNew();
    if (store == nullptr) return;  // skipped, or failed saying why
    aggregator_->UseControlStore(std::move(store));
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    AuditRecord a;
    a.actor = "test";
    auto put = aggregator_->control_store()->Put(built->object, WriteMode::kUpsert, std::nullopt, a);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  // An agent's push every 10 s: web burning `cores`, on a node of 16 cores.
  void RunFor(std::chrono::seconds duration, double cores) {
    const int64_t end = ToUnixMillis(clock_.Now()) + duration.count() * 1000;
    for (int64_t t = ToUnixMillis(clock_.Now()); t < end; t += 10'000) {
      clock_.Advance(std::chrono::milliseconds(t - ToUnixMillis(clock_.Now())));
      cpu_seconds_ += cores * 10;
      std::vector<TimeSeries> push = {
          {{{"__name__", "container_cpu_usage_seconds_total"}, {"service", "web"}, {"tenant", "acme"}},
           {{cpu_seconds_, t}}},
          {{{"__name__", "machine_cpu_cores"}, {"node", "n1"}}, {{16, t}}}};
      AppendStats stats;
      ASSERT_TRUE(aggregator_->store().Append(push, &stats).ok());
      aggregator_->Tick();
    }
  }

  testing::TestControlStores stores_{GetParam()};
  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
  double cpu_seconds_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Stores, DecisionLoopTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(DecisionLoopTest, TickDecidesFromPushedUseAndAgentCapacity) {
  Seed(ObjectKind::kTenant, R"({"name":"acme","quotas":{"cpu_cores":8}})");
  Seed(ObjectKind::kService,
       R"({"name":"web","priority":"critical","replicas":{"current":2,"min":1,"max":40},)"
       R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0}})",
       "acme");
  // Three minutes at 3 cores: the first minutes become final and the tick decides.
  RunFor(3min, 3.0);
  std::vector<Decision> d = aggregator_->decisions()->Latest("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].tenant, "acme");
  EXPECT_EQ(d[0].from_replicas, 2);
  // 3 cores at 0.5 a replica wants 6; HPA's first step from 2 allows max(2 + 4, 4) = 6.
  EXPECT_EQ(d[0].to_replicas, 6) << d[0].reason;
  EXPECT_THAT(d[0].reason, HasSubstr("cpu"));
  EXPECT_FALSE(d[0].constrained);
  // Hotter than the quota allows: 8 cores of quota hold it at 16 replicas.
  RunFor(3min, 12.0);
  d = aggregator_->decisions()->Latest("acme");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].to_replicas, 6) << "the stored current replicas are still 2: HPA's rate caps the step";
  Seed(ObjectKind::kService,
       R"({"name":"web","priority":"critical","replicas":{"current":16,"min":1,"max":40},)"
       R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0}})",
       "acme");
  RunFor(1min, 12.0);
  d = aggregator_->decisions()->Latest("acme");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].to_replicas, 16);
  EXPECT_TRUE(d[0].constrained);
  EXPECT_EQ(d[0].limited_by, "tenant quota cpu");
  const std::string metrics = aggregator_->MetricsText();
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_desired_replicas{service="web",tenant="acme"} 16)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_constrained{service="web",tenant="acme"} 1)"));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_quota_utilization{resource="cpu",tenant="acme"} 1)"));
  // 16 cores from the agent, less the 25% reserve.
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_cluster_capacity{resource="cpu"} 12)"));
  EXPECT_TRUE(aggregator_->decisions()->Latest("other").empty());
  // The loop's own health: every tick succeeded, the last one just now.
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_decision_loop_runs_total{result="error"} 0)"));
  EXPECT_GE(testing::MetricValue(metrics, R"(prescale_decision_loop_runs_total{result="ok"})").value_or(0), 6);
  EXPECT_DOUBLE_EQ(testing::MetricValue(metrics, "prescale_decision_loop_last_success_timestamp_seconds").value_or(0),
                   static_cast<double>(ToUnixMillis(clock_.Now())) / 1000.0);
  EXPECT_GE(testing::MetricValue(metrics, "prescale_decision_loop_duration_seconds").value_or(-1), 0);
}

}  // namespace
}  // namespace prescale::aggregator
