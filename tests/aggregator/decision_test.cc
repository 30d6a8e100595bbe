// The decision tick: desired replicas from demand (forecast or use, HPA's
// tolerance), behaviour, arbitration, and CPU caps with hysteresis.
#include "prescale/decide/decision.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using Time = std::chrono::system_clock::time_point;

const Time kT0{std::chrono::seconds(1'700'000'000)};

Service Web(int64_t current) {
  Service s;
  s.tenant = "acme";
  s.name = "web";
  s.priority = Priority::kCritical;
  s.replicas = {current, 1, 50};
  s.request_cpu_cores = 0.5;
  s.request_memory_bytes = 1e9;
  s.target_utilization = {{"cpu", 0.8}, {"memory", 0.9}};
  return s;
}

TEST(DesiredReplicas, TheLargerOfForecastAndUseOverTheLargestResource) {
  std::string why;
  // 7.2 cores forecast at 0.5 x 0.8 a replica: 18.
  EXPECT_EQ(DesiredReplicas(Web(4), PolicyMode::kPredictive, {{"cpu", 3, 7.2}}, 0.1, &why), 18);
  EXPECT_NE(why.find("cpu forecast 7.2"), std::string::npos) << why;
  // Reactive: use only (3 / 0.4 = 7.5 -> 8).
  EXPECT_EQ(DesiredReplicas(Web(4), PolicyMode::kReactive, {{"cpu", 3, 7.2}}, 0.1, &why), 8);
  // A forecast below use never shrinks the service.
  EXPECT_EQ(DesiredReplicas(Web(4), PolicyMode::kPredictive, {{"cpu", 3, 1.0}}, 0.1, &why), 8);
  // Memory can be what drives it: 20 GB at 0.9 GB a replica -> 23.
  EXPECT_EQ(
      DesiredReplicas(Web(4), PolicyMode::kPredictive, {{"cpu", 1, 1.2}, {"memory", 20e9, std::nullopt}}, 0.1, &why),
      23);
  EXPECT_NE(why.find("memory use"), std::string::npos) << why;
  // Within 10% of what 10 replicas serve (4 cores): no change.
  EXPECT_EQ(DesiredReplicas(Web(10), PolicyMode::kReactive, {{"cpu", 4.1, std::nullopt}}, 0.1, &why), 10);
  EXPECT_NE(why.find("within tolerance"), std::string::npos) << why;
  EXPECT_EQ(DesiredReplicas(Web(10), PolicyMode::kReactive, {{"cpu", 4.5, std::nullopt}}, 0.1, &why), 12);
  // Off, or nothing to size by: the current replicas.
  EXPECT_EQ(DesiredReplicas(Web(6), PolicyMode::kOff, {{"cpu", 30, 40.0}}, 0.1, &why), 6);
  EXPECT_EQ(DesiredReplicas(Web(6), PolicyMode::kPredictive, {{"requests", 900, 1000.0}}, 0.1, &why), 6);
}

TEST(DecisionEngine, CriticalScalesUpWhileLowIsCappedAndTheCapLiftsAfterTheLoadGoes) {
  DecisionEngine engine({.tolerance = 0.1, .release_ticks = 3, .capacity_cpu_cores = 10, .capacity_memory_bytes = 0});
  const std::vector<AllocationTenant> tenants = {{"acme", 1, {}}, {"batch", 1, {}}};
  Service low;
  low.tenant = "batch";
  low.name = "etl";
  low.priority = Priority::kLow;
  low.replicas = {8, 2, 20};
  low.request_cpu_cores = 1;
  low.target_utilization = {{"cpu", 1.0}};
  // Quiet: both fit (web 4 x 0.5 = 2 cores, etl 8 cores).
  std::vector<ServiceInput> in = {{Web(4), nullptr, {{"cpu", 1.5, 1.5}}, "tick"},
                                  {low, nullptr, {{"cpu", 8, 8.0}}, "tick"}};
  Time now = kT0;
  std::vector<Decision> d = engine.Evaluate(tenants, in, now);
  EXPECT_EQ(d[0].to_replicas, 4);
  EXPECT_EQ(d[1].to_replicas, 8);
  EXPECT_FALSE(d[1].cpu_cap_cores.has_value());
  // The forecast says web needs 6 cores (15 replicas): HPA's rate allows 8 now;
  // the cluster has 10 cores, so etl goes toward its minimum and is capped.
  in[0].demand = {{"cpu", 2, 6.0}};
  now += 10s;
  d = engine.Evaluate(tenants, in, now);
  EXPECT_EQ(d[0].desired, 8);
  EXPECT_EQ(d[0].to_replicas, 8);
  EXPECT_FALSE(d[0].constrained);
  EXPECT_EQ(d[1].to_replicas, 6);  // 10 - 8 x 0.5
  EXPECT_TRUE(d[1].constrained);
  EXPECT_EQ(d[1].limited_by, "cluster capacity cpu");
  ASSERT_TRUE(d[1].cpu_cap_cores.has_value());
  EXPECT_DOUBLE_EQ(*d[1].cpu_cap_cores, 6);
  // The load goes: etl fits again, but its cap stays for release_ticks ticks.
  in[0].spec.replicas.current = 8;
  in[0].demand = {{"cpu", 1.5, 1.5}};
  in[1].spec.replicas.current = 6;
  in[1].demand = {{"cpu", 6, 6.0}};
  for (int tick = 1; tick <= 3; ++tick) {
    now += 10s;
    d = engine.Evaluate(tenants, in, now);
    EXPECT_FALSE(d[1].constrained) << "tick " << tick;
    EXPECT_EQ(d[1].cpu_cap_cores.has_value(), tick < 3) << "tick " << tick;
  }
}

TEST(DecisionEngine, RecommendOnlyDecidesButDoesNotExecuteNorCountAsAChange) {
  DecisionEngine engine({});
  Policy recommend = DefaultPolicy();
  recommend.mode = PolicyMode::kRecommendOnly;
  auto policy = std::make_shared<const ScalingPolicy>(recommend);
  const std::vector<ServiceInput> in = {{Web(2), policy, {{"cpu", 2, 4.0}}, "alert:abc"}};
  const std::vector<Decision> d = engine.Evaluate({{"acme", 1, {}}}, in, kT0);
  EXPECT_FALSE(d[0].execute);
  EXPECT_EQ(d[0].to_replicas, 6);  // 2 -> max(2 + 4, 2 x 2): HPA's first step toward 10
  EXPECT_EQ(d[0].trigger, "alert:abc");
  // The next tick starts from the same current replicas and is not rate limited by a change never made.
  const std::vector<Decision> again = engine.Evaluate({{"acme", 1, {}}}, in, kT0 + 5s);
  EXPECT_EQ(again[0].to_replicas, 6);
}

// A service's own executor mode: recommend-only keeps the executor (an
// approval can act through it) but records only; off keeps the replicas, even
// under a policy that would act.
TEST(DecisionEngine, ExecutorModeRecommendOnlyRecordsAndOffKeepsTheReplicas) {
  DecisionEngine engine({});
  const std::vector<AllocationTenant> tenants = {{"acme", 1, {}}};
  std::vector<ServiceInput> in = {{Web(2), nullptr, {{"cpu", 2, 4.0}}, "tick"}};
  in[0].spec.executor.type = "webhook";
  in[0].spec.executor.mode = "recommend-only";
  const Decision recommended = engine.Evaluate(tenants, in, kT0)[0];
  EXPECT_FALSE(recommended.execute);
  EXPECT_EQ(recommended.to_replicas, 6) << recommended.reason;
  in[0].spec.executor.mode = "off";
  const Decision off = engine.Evaluate(tenants, in, kT0 + 5s)[0];
  EXPECT_FALSE(off.execute);
  EXPECT_EQ(off.to_replicas, 2);
  EXPECT_EQ(off.driver, "off");
  EXPECT_EQ(off.reason, "executor mode off");
  // Off keeps the replicas when the tenant's quota grants fewer: nothing to recommend or approve.
  const std::vector<AllocationTenant> tight = {{"acme", 1, {std::nullopt, std::nullopt, 1}}};
  const Decision kept = engine.Evaluate(tight, in, kT0 + 7s)[0];
  EXPECT_FALSE(kept.changed());
  EXPECT_TRUE(kept.constrained);
  EXPECT_THAT(kept.reason, HasSubstr("off: kept at 2"));
  in[0].spec.executor.mode = "act";
  const Decision acted = engine.Evaluate(tenants, in, kT0 + 10s)[0];
  EXPECT_TRUE(acted.execute);
  EXPECT_EQ(acted.to_replicas, 6) << acted.reason;
}

// An executor refused the first change (an HPA owns the Deployment): the service
// still runs 2, and the change counted for it must not rate-limit what follows.
TEST(DecisionEngine, AChangeTheExecutorRefusedNoLongerLimitsTheNextDecision) {
  DecisionEngine engine({});
  const std::vector<AllocationTenant> tenants = {{"acme", 1, {}}};
  std::vector<ServiceInput> in = {{Web(2), nullptr, {{"cpu", 4, 4.0}}, "tick"}};
  in[0].spec.executor.type = "kubernetes";
  EXPECT_EQ(engine.Evaluate(tenants, in, kT0)[0].to_replicas, 6);  // acted on: counted as 2 -> 6
  // Unheld, the counted +4 within HPA's 15 s period leaves no room above the 2 it still runs.
  EXPECT_EQ(engine.Evaluate(tenants, in, kT0 + 5s)[0].to_replicas, 2);
  in[0].changes_refused = true;
  in[0].spec.executor.type = "recommend-only";
  const Decision held = engine.Evaluate(tenants, in, kT0 + 10s)[0];
  EXPECT_EQ(held.to_replicas, 6) << held.reason;
  EXPECT_FALSE(held.execute);
}

}  // namespace
}  // namespace prescale::aggregator
