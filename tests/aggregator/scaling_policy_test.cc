// ScalingPolicy against Kubernetes HPA's documented behaviour: default rates,
// stabilization windows, Pods/Percent policies per period, selectPolicy, and
// prescale's cooldowns; PolicyFactory's reuse per stored version.
#include "prescale/aggregator/scaling/policy_factory.h"

#include <gtest/gtest.h>

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using Time = std::chrono::system_clock::time_point;

const Time kT0{std::chrono::seconds(1'700'000'000)};

// One evaluation whose result is applied as is (no arbitration in between).
struct Applied {
  const ScalingPolicy& policy;
  int64_t Decide(int64_t current, int64_t desired, int64_t min, int64_t max, Time now, ScalingState* state) const {
    const int64_t to = policy.Decide(current, desired, min, max, now, state);
    policy.Record(current, to, now, state);
    return to;
  }
};

Policy Spec(const std::string& json) {
  auto p = ParsePolicy(json);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : Policy{};
}

TEST(ScalingPolicy, DefaultScaleUpIsFourPodsOrDoublingPerFifteenSeconds) {
  const ScalingPolicy policy(DefaultPolicy());
  ScalingState state;
  // 2 -> at most max(2 + 4, 2 x 2) = 6.
  EXPECT_EQ(Applied{policy}.Decide(2, 20, 1, 100, kT0, &state), 6);
  // Within the same 15 s the period started at 2: no further growth.
  EXPECT_EQ(Applied{policy}.Decide(6, 20, 1, 100, kT0 + 5s, &state), 6);
  // A new period from 6: max(10, 12) = 12.
  EXPECT_EQ(Applied{policy}.Decide(6, 20, 1, 100, kT0 + 16s, &state), 12);
  // Capped by max.
  EXPECT_EQ(Applied{policy}.Decide(12, 20, 1, 15, kT0 + 32s, &state), 15);
}

TEST(ScalingPolicy, DefaultScaleDownWaitsForTheFiveMinuteWindow) {
  const ScalingPolicy policy(DefaultPolicy());
  ScalingState state;
  EXPECT_EQ(Applied{policy}.Decide(10, 10, 1, 100, kT0, &state), 10);
  // Demand drops: the highest recommendation of the last 300 s (10) holds.
  EXPECT_EQ(Applied{policy}.Decide(10, 3, 1, 100, kT0 + 60s, &state), 10);
  EXPECT_EQ(Applied{policy}.Decide(10, 3, 1, 100, kT0 + 299s, &state), 10);
  // Once 10 left the window: down to 3 at once (100% per 15 s allows it).
  EXPECT_EQ(Applied{policy}.Decide(10, 3, 1, 100, kT0 + 301s, &state), 3);
  // Never below min.
  EXPECT_EQ(Applied{policy}.Decide(3, 0, 2, 100, kT0 + 700s, &state), 2);
}

TEST(ScalingPolicy, SelectPolicyMinAndDisabledAndPercentDown) {
  const ScalingPolicy slow(Spec(R"({"name":"slow","behavior":{
      "scaleUp":{"selectPolicy":"Min","policies":[{"type":"Pods","value":4,"periodSeconds":60},
                                                  {"type":"Percent","value":100,"periodSeconds":60}]},
      "scaleDown":{"stabilizationWindowSeconds":0,"policies":[{"type":"Percent","value":10,"periodSeconds":60}]}}})"));
  ScalingState state;
  EXPECT_EQ(Applied{slow}.Decide(10, 40, 1, 100, kT0, &state), 14);  // min(10 + 4, 20)
  ScalingState down;
  EXPECT_EQ(Applied{slow}.Decide(100, 10, 1, 1000, kT0, &down), 90);       // 10% of 100 per minute
  EXPECT_EQ(Applied{slow}.Decide(90, 10, 1, 1000, kT0 + 30s, &down), 90);  // the minute started at 100
  EXPECT_EQ(Applied{slow}.Decide(90, 10, 1, 1000, kT0 + 61s, &down), 81);
  const ScalingPolicy never_down(Spec(
      R"({"name":"never-down","behavior":{"scaleDown":{"stabilizationWindowSeconds":0,"selectPolicy":"Disabled"}}})"));
  ScalingState s;
  EXPECT_EQ(Applied{never_down}.Decide(10, 1, 1, 100, kT0, &s), 10);
  EXPECT_EQ(Applied{never_down}.Decide(10, 12, 1, 100, kT0 + 1s, &s), 12);
}

TEST(ScalingPolicy, ScaleUpStabilizationTakesTheLowestRecentRecommendation) {
  const ScalingPolicy policy(Spec(R"({"name":"p","behavior":{"scaleUp":{"stabilizationWindowSeconds":60}}})"));
  ScalingState state;
  EXPECT_EQ(Applied{policy}.Decide(5, 5, 1, 100, kT0, &state), 5);
  // A spike is not followed until it has lasted the window.
  EXPECT_EQ(Applied{policy}.Decide(5, 9, 1, 100, kT0 + 20s, &state), 5);
  EXPECT_EQ(Applied{policy}.Decide(5, 9, 1, 100, kT0 + 61s, &state), 9);
}

TEST(ScalingPolicy, CooldownsHoldFurtherChangesInOneDirection) {
  const ScalingPolicy policy(Spec(
      R"({"name":"p","cooldown":{"scale_up":"2m","scale_down":"0s"},"behavior":{"scaleDown":{"stabilizationWindowSeconds":0}}})"));
  ScalingState state;
  EXPECT_EQ(Applied{policy}.Decide(2, 4, 1, 100, kT0, &state), 4);
  EXPECT_EQ(Applied{policy}.Decide(4, 8, 1, 100, kT0 + 60s, &state), 4);   // within the 2-minute cooldown
  EXPECT_EQ(Applied{policy}.Decide(4, 2, 1, 100, kT0 + 70s, &state), 2);   // down is not held
  EXPECT_EQ(Applied{policy}.Decide(2, 8, 1, 100, kT0 + 121s, &state), 6);  // cooldown over; max(2 + 4, 2 x 2)
}

TEST(PolicyFactory, BuildsOncePerVersionAndForgetsDeletedPolicies) {
  PolicyFactory factory;
  StoredObject stored;
  stored.key = {ObjectKind::kPolicy, "", "fast"};
  stored.version = 1;
  stored.spec_json = R"({"name":"fast","horizon":"5m"})";
  std::string error;
  auto a = factory.Get(stored, &error);
  ASSERT_NE(a, nullptr) << error;
  EXPECT_EQ(a->spec().horizon_seconds, 300);
  EXPECT_EQ(factory.Get(stored, &error), a);
  stored.version = 2;
  stored.spec_json = R"({"name":"fast","horizon":"10m"})";
  auto b = factory.Get(stored, &error);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(b, a);
  EXPECT_EQ(b->spec().horizon_seconds, 600);
  factory.Sweep();  // used since the last sweep: kept
  EXPECT_EQ(factory.Get(stored, &error), b);
  factory.Sweep();
  factory.Sweep();  // not asked for in between: forgotten, rebuilt on the next Get
  EXPECT_NE(factory.Get(stored, &error), b);
  stored.spec_json = R"({"name":"fast","mode":"sideways"})";
  stored.version = 3;
  EXPECT_EQ(factory.Get(stored, &error), nullptr);
  EXPECT_NE(error.find("mode"), std::string::npos) << error;
}

}  // namespace
}  // namespace prescale::aggregator
