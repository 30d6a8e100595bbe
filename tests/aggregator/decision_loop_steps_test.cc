// The decision loop's steps one at a time, on a FakeClock and the in-memory
// FakeControlStore: the cluster's capacity (the agents' or the configured
// one), current use, forecasts and the demand they make, tenant use, the
// records of an action (audit + outbox, recommend-only), stored specs that do
// not parse (logged once per version, skipped, counted), the objects read
// again only on a change, and the replicas and triggers known by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aggregator/scaling/src/decision_steps.h"
#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/scaling/capacity.h"
#include "prescale/aggregator/scaling/decision_loop.h"
#include "tests/support/aggregator/fake_control_store.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::TimeSeries;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMinute = 60'000;
constexpr const char* kWeb = R"({"name":"web","priority":"critical","replicas":{"current":2,"min":1,"max":40},)"
                             R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0})";
constexpr const char* kWebhook = R"(,"executor":{"type":"webhook","url":"http://127.0.0.1:9/scale"}})";

class DecisionStepsTest : public ::testing::Test {
 protected:
  DecisionStepsTest() {
    // On a whole minute, so the minutes of use line up.
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
  }

  std::unique_ptr<DecisionLoop> Loop(DecisionLoopOptions options = {.cluster_cpu_cores = 64, .capacity_reserve = 0}) {
    auto loop = std::make_unique<DecisionLoop>(&store_, &demand_, &forecasts_, &series_, clock_, options,
                                               [this] { return "act_test_" + std::to_string(++ids_); });
    loop->OnActionsQueued([this] { ++notified_; });
    return loop;
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto put = store_.PutJson(kind, json, tenant);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  // A stored object as it is, spec and all (one that does not parse).
  void SeedRaw(ObjectKind kind, const std::string& tenant, const std::string& name, const std::string& spec) {
    StoredObject o;
    o.key = {kind, tenant, name};
    o.owner = tenant;
    o.spec_json = spec;
    auto put = store_.Put(o, WriteMode::kUpsert, std::nullopt, AuditRecord{});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  // The service's CPU use in the last final minute.
  void Use(const std::string& tenant, const std::string& service, double cores) {
    const int64_t minute = ToUnixMillis(clock_.Now()) / kMinute * kMinute - kMinute;
    demand_.Backfill({tenant, service, "cpu"}, false, DemandPoint{minute, cores, cores});
  }
  // One sample of each node's machine_cpu_cores and machine_memory_bytes, now.
  void Nodes(const std::vector<std::pair<double, double>>& nodes) {
    std::vector<TimeSeries> push;
    const int64_t t = ToUnixMillis(clock_.Now());
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string node = "n" + std::to_string(i);
      push.push_back({{{"__name__", "machine_cpu_cores"}, {"node", node}}, {{nodes[i].first, t}}});
      push.push_back({{{"__name__", "machine_memory_bytes"}, {"node", node}}, {{nodes[i].second, t}}});
    }
    AppendStats stats;
    ASSERT_TRUE(series_.Append(push, &stats).ok());
  }
  static std::string Metrics(const DecisionLoop& loop) {
    std::string out;
    loop.AppendMetrics(&out);
    return out;
  }

  testing::FakeClock clock_;
  testing::FakeControlStore store_;
  DemandRollups demand_{DemandOptions{}, clock_};
  ForecastEngine forecasts_{ForecastSettings{}, demand_, clock_};
  SeriesStore series_{SeriesStoreOptions{}, clock_, &demand_};
  int ids_ = 0;
  int notified_ = 0;
};

TEST_F(DecisionStepsTest, AgentsCapacitySumsTheNodesAndWalksAgainOnlyAfterAMinute) {
  Nodes({{16, 64e9}, {8, 32e9}});
  AgentsCapacity agents(&series_, clock_);
  Capacity c = agents.Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 24);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 96e9);
  // A third node joins: not seen until a minute has passed since the walk.
  clock_.Advance(30s);
  Nodes({{16, 64e9}, {8, 32e9}, {4, 16e9}});
  EXPECT_DOUBLE_EQ(agents.Read().cpu_cores, 24);
  clock_.Advance(30s);
  c = agents.Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 28);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 112e9);
  // Only what is asked for is read.
  AgentsCapacity cpu_only(&series_, clock_, /*cpu=*/true, /*memory=*/false);
  c = cpu_only.Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 28);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 0);
}

TEST_F(DecisionStepsTest, ConfiguredCapacityWinsPerResourceAndTheReserveIsTakenOff) {
  Nodes({{16, 64e9}});
  // Both configured: the agents are not asked.
  Capacity c = MakeCapacitySource({8, 1e9}, &series_, clock_)->Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 8);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 1e9);
  // CPU configured, memory from the agents; and the other way round.
  c = MakeCapacitySource({8, 0}, &series_, clock_)->Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 8);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 64e9);
  c = MakeCapacitySource({0, 2e9}, &series_, clock_)->Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 16);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 2e9);
  // Without another source a resource not configured stays unknown.
  c = ConfiguredCapacity({8, 0}).Read();
  EXPECT_DOUBLE_EQ(c.cpu_cores, 8);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 0);
  c = AfterReserve({10, 100}, 0.25);
  EXPECT_DOUBLE_EQ(c.cpu_cores, 7.5);
  EXPECT_DOUBLE_EQ(c.memory_bytes, 75);
  EXPECT_DOUBLE_EQ(AfterReserve({10, 100}, 2).cpu_cores, 0);
  EXPECT_DOUBLE_EQ(AfterReserve({10, 100}, -1).cpu_cores, 10);
}

TEST_F(DecisionStepsTest, TheLoopArbitratesTheAgentsCapacityOrTheConfiguredOne) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + "}", "acme");
  Use("acme", "web", 3);
  Nodes({{16, 64e9}});
  auto agents = Loop({.capacity_reserve = 0.25});
  ASSERT_TRUE(agents->Run().ok());
  EXPECT_THAT(Metrics(*agents), HasSubstr(R"(prescale_cluster_capacity{resource="cpu"} 12)"));
  EXPECT_THAT(Metrics(*agents), HasSubstr(R"(prescale_cluster_capacity{resource="memory"} 48000000000)"));
  auto configured = Loop({.cluster_cpu_cores = 40, .capacity_reserve = 0.25});
  ASSERT_TRUE(configured->Run().ok());
  EXPECT_THAT(Metrics(*configured), HasSubstr(R"(prescale_cluster_capacity{resource="cpu"} 30)"));
  EXPECT_THAT(Metrics(*configured), HasSubstr(R"(prescale_cluster_capacity{resource="memory"} 48000000000)"));
  // Too little capacity: 2 cores less the reserve hold web below the 6 replicas it wants.
  auto small = Loop({.cluster_cpu_cores = 2, .capacity_reserve = 0.25});
  ASSERT_TRUE(small->Run().ok());
  const std::vector<Decision> d = small->Latest("acme");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].desired, 6);
  EXPECT_EQ(d[0].to_replicas, 3) << d[0].reason;  // 1.5 cores at 0.5 a replica
  EXPECT_TRUE(d[0].constrained);
}

TEST_F(DecisionStepsTest, CurrentUseIsTheRecentPushesElseTheLatestMinute) {
  // web: pushed as an agent pushes (a CPU counter at 2 cores, 30 s to 10 s ago).
  const int64_t now = ToUnixMillis(clock_.Now());
  std::vector<TimeSeries> push = {
      {{{"__name__", "container_cpu_usage_seconds_total"}, {"service", "web"}, {"tenant", "acme"}},
       {{0, now - 30'000}, {20, now - 20'000}, {40, now - 10'000}}}};
  AppendStats stats;
  ASSERT_TRUE(series_.Append(push, &stats).ok());
  // api: only a final minute (as a backfill gives).
  Use("acme", "api", 1.5);
  const decision_steps::UseIndex use = decision_steps::CurrentUse(demand_);
  ASSERT_TRUE(use.contains({"acme", "web", "cpu"}));
  EXPECT_NEAR(use.at({"acme", "web", "cpu"}), 2.0, 1e-9);
  ASSERT_TRUE(use.contains({"acme", "api", "cpu"}));
  EXPECT_DOUBLE_EQ(use.at({"acme", "api", "cpu"}), 1.5);
  EXPECT_FALSE(use.contains({"acme", "web", "memory"}));
}

TEST_F(DecisionStepsTest, ForecastsAreIndexedAndTheirUpperBoundOverTheHorizonIsTheDemand) {
  const int64_t now = ToUnixMillis(clock_.Now());
  auto horizon = [](int64_t target_ms, double upper) {
    HorizonForecast h;
    h.target_ms = target_ms;
    h.upper = upper;
    return h;
  };
  std::vector<SeriesForecast> all(3);
  all[0].key = {"acme", "web", "cpu"};
  all[0].model = "holt";
  all[0].points = decision_steps::kMinForecastMinutes;
  all[0].horizons = {horizon(now - 120'000, 2), horizon(now + 300'000, 4), horizon(now + 900'000, 6),
                     horizon(now + 3'600'000, 9)};
  all[1].key = {"acme", "young", "cpu"};  // too little history to act on
  all[1].points = decision_steps::kMinForecastMinutes - 1;
  all[1].horizons = {horizon(now, 100)};
  all[2].key = {"acme", "empty", "cpu"};  // no horizon
  all[2].points = 60;
  const decision_steps::ForecastIndex index = decision_steps::IndexForecasts(all);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index.at({"acme", "web", "cpu"}), &all[0]);

  const decision_steps::UseIndex use = {{{"acme", "web", "cpu"}, 3.0}, {{"acme", "web", "memory"}, 1e9}};
  Policy hour;
  hour.name = "hour";
  hour.horizon_seconds = 3600;
  Policy minute = hour;
  minute.name = "minute";
  minute.horizon_seconds = 30;
  const decision_steps::PolicyIndex policies = {{"hour", std::make_shared<const ScalingPolicy>(hour)},
                                                {"minute", std::make_shared<const ScalingPolicy>(minute)}};
  const decision_steps::DemandContext context{use, index, policies, now};
  auto demand_of = [&](const std::string& policy) {
    ServiceInput in;
    in.spec.tenant = "acme";
    in.spec.name = "web";
    in.spec.policy = policy;
    decision_steps::AddDemand({"acme", "web", "cpu"}, {"acme", "web", "memory"}, context, &in);
    return in;
  };
  // No policy: the default horizon (15 minutes) takes the 5 and 15 minute forecasts.
  ServiceInput in = demand_of("");
  EXPECT_EQ(in.policy, nullptr);
  ASSERT_EQ(in.demand.size(), 2u);
  EXPECT_EQ(in.demand[0].resource, "cpu");
  EXPECT_DOUBLE_EQ(in.demand[0].current, 3.0);
  EXPECT_EQ(in.demand[0].forecast_upper, 6.0);
  EXPECT_EQ(in.models.at("cpu"), "holt");
  EXPECT_EQ(in.demand[1].resource, "memory");
  EXPECT_DOUBLE_EQ(in.demand[1].current, 1e9);
  EXPECT_FALSE(in.demand[1].forecast_upper.has_value()) << "no memory forecast";
  // A policy's horizon: an hour takes the hour's; 30 s takes none in range, so the nearest.
  in = demand_of("hour");
  EXPECT_EQ(in.policy, policies.at("hour"));
  EXPECT_EQ(in.demand[0].forecast_upper, 9.0);
  EXPECT_EQ(demand_of("minute").demand[0].forecast_upper, 2.0);
  // Without current use a resource has no demand at all.
  ServiceInput idle;
  decision_steps::AddDemand({"acme", "idle", "cpu"}, {"acme", "idle", "memory"}, context, &idle);
  EXPECT_TRUE(idle.demand.empty());
}

TEST_F(DecisionStepsTest, TenantUseSumsTheGrantedReplicasRequests) {
  const std::vector<AllocationTenant> tenants = {{"acme", 1, {}}, {"beta", 2, {}}};
  std::vector<ServiceInput> services(3);
  services[0].spec.tenant = "acme";
  services[0].spec.request_cpu_cores = 0.5;
  services[0].spec.request_memory_bytes = 1e9;
  services[1].spec.tenant = "acme";
  services[1].spec.request_cpu_cores = 2;
  services[2].spec.tenant = "gone";  // a tenant that is not stored: counted nowhere
  services[2].spec.request_cpu_cores = 100;
  std::vector<Decision> decisions(3);
  decisions[0].to_replicas = 4;
  decisions[1].to_replicas = 3;
  decisions[2].to_replicas = 7;
  const auto use = decision_steps::TenantUseOf(tenants, services, decisions);
  ASSERT_EQ(use.size(), 2u);
  EXPECT_DOUBLE_EQ(use[0].cpu_cores, 8);  // 4 x 0.5 + 3 x 2
  EXPECT_DOUBLE_EQ(use[0].memory_bytes, 4e9);
  EXPECT_EQ(use[0].replicas, 7);
  EXPECT_DOUBLE_EQ(use[1].cpu_cores, 0);
  EXPECT_EQ(use[1].replicas, 0);
}

TEST_F(DecisionStepsTest, TenantsThatDoNotParseAreSkippedLoggedOncePerVersionAndCounted) {
  std::vector<StoredObject> tenants(2);
  tenants[0].key = {ObjectKind::kTenant, "", "acme"};
  tenants[0].version = 1;
  tenants[0].spec_json = R"({"name":"acme","weight":3,"quotas":{"cpu_cores":8}})";
  tenants[1].key = {ObjectKind::kTenant, "", "bad"};
  tenants[1].version = 1;
  tenants[1].spec_json = R"({"name":"bad","weight":"heavy"})";
  decision_steps::SpecErrors errors;
  std::vector<AllocationTenant> read = decision_steps::ReadTenants(tenants, &errors);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].name, "acme");
  EXPECT_DOUBLE_EQ(read[0].weight, 3);
  EXPECT_EQ(read[0].quotas.cpu_cores, 8.0);
  EXPECT_EQ(errors.Count(ObjectKind::kTenant), 1u);
  EXPECT_EQ(errors.logged(), 1u);
  // The same version again: counted, not logged again. A new version: logged.
  read = decision_steps::ReadTenants(tenants, &errors);
  EXPECT_EQ(errors.logged(), 1u);
  EXPECT_EQ(errors.Count(ObjectKind::kTenant), 1u);
  tenants[1].version = 2;
  (void)decision_steps::ReadTenants(tenants, &errors);
  EXPECT_EQ(errors.logged(), 2u);
  // Fixed: no longer counted.
  tenants[1].spec_json = R"({"name":"bad","weight":2})";
  EXPECT_EQ(decision_steps::ReadTenants(tenants, &errors).size(), 2u);
  EXPECT_EQ(errors.Count(ObjectKind::kTenant), 0u);
  EXPECT_EQ(errors.Count(ObjectKind::kService), 0u);
}

TEST_F(DecisionStepsTest, AChangeIsAnActionWithItsAuditRecordAndOutboxEntry) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + kWebhook, "acme");
  Use("acme", "web", 3);
  auto loop = Loop();
  ASSERT_TRUE(loop->Run().ok());
  const std::vector<Decision> d = loop->Latest("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].from_replicas, 2);
  EXPECT_EQ(d[0].to_replicas, 6) << d[0].reason;
  const std::vector<AuditRecord> scale = store_.audit("scale");
  ASSERT_EQ(scale.size(), 1u);
  EXPECT_EQ(scale[0].request_id, "act_test_1");
  EXPECT_EQ(scale[0].actor, "decision-engine");
  EXPECT_EQ(scale[0].tenant, "acme");
  EXPECT_EQ(scale[0].name, "web");
  EXPECT_EQ(scale[0].time_ms, ToUnixMillis(clock_.Now()));
  EXPECT_EQ(scale[0].before_json, R"({"replicas":2})");
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"({"action_id":"act_test_1","replicas":6,"desired":6,)"));
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("executor":"webhook")"));
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("demand":{"cpu":{"current":3.0,"model":"","forecast_upper":null}})"));
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("tenant_use":{"cpu_cores":3.0,"memory_bytes":0.0,"replicas":6})"));
  auto queued = store_.QueuedActions(10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  const OutboxEntry& e = queued->front();
  EXPECT_EQ(e.action_id, "act_test_1");
  EXPECT_EQ(e.executor, "webhook");
  EXPECT_EQ(e.next_attempt_ms, ToUnixMillis(clock_.Now()));
  auto action = ParseActionJson(e.payload_json);
  ASSERT_TRUE(action.ok()) << action.status().ToString();
  EXPECT_EQ(action->from_replicas, 2);
  EXPECT_EQ(action->to_replicas, 6);
  EXPECT_EQ(action->trigger, "tick");
  EXPECT_EQ(store_.status("acme", "web")->target, 6);
  EXPECT_EQ(notified_, 1);
  EXPECT_THAT(Metrics(*loop), HasSubstr(R"(prescale_scaling_actions_total{direction="up",reason=")" + d[0].driver +
                                        R"(",service="web",tenant="acme"} 1)"));
  // The next tick starts from the target: nothing changes, nothing is recorded.
  clock_.Advance(10s);
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(loop->Latest("")[0].from_replicas, 6);
  EXPECT_EQ(store_.audit("scale").size(), 1u);
  EXPECT_EQ(notified_, 1);
}

TEST_F(DecisionStepsTest, ActionRecordsAreMadeFromTheDecision) {
  Decision d;
  d.tenant = "acme";
  d.service = "web";
  d.from_replicas = 4;
  d.to_replicas = 3;
  d.desired = 5;
  d.reason = "capacity";
  d.trigger = "alert:fp";
  d.constrained = true;
  d.cpu_cap_cores = 1.5;
  d.execute = false;
  ServiceInput in;
  in.spec.executor.type = "kubernetes";
  const ScaleAction a = decision_steps::ActionOf(d, "act_x", 1234);
  EXPECT_EQ(a.id, "act_x");
  EXPECT_EQ(a.created_ms, 1234);
  EXPECT_EQ(a.throttle, 1.5);
  EXPECT_TRUE(a.constrained);
  const AuditRecord audit = decision_steps::ActionAudit(a, d, in, nullptr);
  EXPECT_EQ(audit.action, "recommend");
  EXPECT_EQ(audit.time_ms, 1234);
  EXPECT_EQ(audit.message, "capacity");
  EXPECT_THAT(audit.after_json, HasSubstr(R"("cpu_cap_cores":1.5})"));
  EXPECT_THAT(audit.after_json, Not(HasSubstr("tenant_use")));
  const std::optional<OutboxEntry> k8s = decision_steps::OutboxEntryFor(a, "kubernetes");
  ASSERT_TRUE(k8s.has_value());
  EXPECT_EQ(k8s->created_ms, 1234);
  EXPECT_EQ(k8s->payload_json, ActionJson(a));
  EXPECT_FALSE(decision_steps::OutboxEntryFor(a, "recommend-only").has_value());
}

TEST_F(DecisionStepsTest, RecommendOnlyIsRecordedWhenTheRecommendationChangesAndNeverQueued) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + "}", "acme");
  Use("acme", "web", 3);
  auto loop = Loop();
  ASSERT_TRUE(loop->Run().ok());
  clock_.Advance(10s);
  ASSERT_TRUE(loop->Run().ok());
  std::vector<AuditRecord> recommend = store_.audit("recommend");
  ASSERT_EQ(recommend.size(), 1u) << "the same recommendation twice is recorded once";
  EXPECT_EQ(recommend[0].request_id, "act_test_1");
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_FALSE(loop->Latest("")[0].execute);
  EXPECT_EQ(loop->Latest("")[0].from_replicas, 2) << "a recommendation sets no target";
  // Back to what it runs: a change of the recommendation, recorded too.
  clock_.Advance(1min);
  Use("acme", "web", 1);
  ASSERT_TRUE(loop->Run().ok());
  recommend = store_.audit("recommend");
  ASSERT_EQ(recommend.size(), 2u);
  EXPECT_THAT(recommend[1].after_json, HasSubstr(R"("replicas":2)"));
  EXPECT_TRUE(store_.audit("scale").empty());
  EXPECT_EQ(store_.OutboxBacklog()->first, 0);
  EXPECT_FALSE(store_.status("acme", "web").has_value());
  EXPECT_EQ(notified_, 0);
}

TEST_F(DecisionStepsTest, AHeldServiceIsDecidedAsRecommendOnlyAndSaysWhyUntilTheHoldEnds) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService,
       std::string(kWeb) + R"(,"executor":{"type":"kubernetes","namespace":"acme","kind":"Deployment","name":"web"}})",
       "acme");
  Use("acme", "web", 3);
  const std::string why = "HorizontalPodAutoscaler acme/web-hpa scales this Deployment; prescale recommends only";
  ServiceHolds holds = {{{"acme", "web"}, {{"hpa_conflict", "HorizontalPodAutoscaler acme/web-hpa", why}, 1234}}};
  auto loop = Loop();
  loop->ReadHoldsFrom([&holds] { return holds; });
  for (int tick = 0; tick < 3; ++tick) {
    ASSERT_TRUE(loop->Run().ok());
    clock_.Advance(10s);
  }
  ServiceHolds held;
  std::vector<Decision> d = loop->Latest("", &held);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FALSE(d[0].execute);
  EXPECT_EQ(d[0].from_replicas, 2);
  EXPECT_EQ(d[0].to_replicas, 6) << d[0].reason;
  EXPECT_THAT(d[0].reason, ::testing::EndsWith("; " + why));
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held.begin()->second.refusal.reason, "hpa_conflict");
  EXPECT_EQ(held.begin()->second.since_ms, 1234);
  EXPECT_TRUE(loop->Latest("other", &held).empty());
  EXPECT_TRUE(held.empty()) << "another tenant's holds are not shown";
  // Recorded as a recommendation (once), naming the executor that refuses and why; nothing queued.
  const std::vector<AuditRecord> recommend = store_.audit("recommend");
  ASSERT_EQ(recommend.size(), 1u);
  EXPECT_THAT(recommend[0].message, HasSubstr(why));
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("executor":"kubernetes")"));
  EXPECT_THAT(recommend[0].after_json,
              HasSubstr(R"("hold":{"reason":"hpa_conflict","by":"HorizontalPodAutoscaler acme/web-hpa","message":")" +
                        why + R"(","since":"1970-01-01T00:00:01.234Z"})"));
  EXPECT_TRUE(store_.audit("scale").empty());
  EXPECT_EQ(store_.OutboxBacklog()->first, 0);
  EXPECT_FALSE(store_.status("acme", "web").has_value()) << "a recommendation sets no target";
  EXPECT_EQ(notified_, 0);
  // The hold ends: the next tick acts, with HPA's whole first step (the held
  // ticks were not counted against the policy's rate limits).
  holds.clear();
  ASSERT_TRUE(loop->Run().ok());
  d = loop->Latest("", &held);
  EXPECT_TRUE(d[0].execute);
  EXPECT_THAT(d[0].reason, Not(HasSubstr("HorizontalPodAutoscaler")));
  EXPECT_TRUE(held.empty());
  const std::vector<AuditRecord> scale = store_.audit("scale");
  ASSERT_EQ(scale.size(), 1u);
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_THAT(scale[0].after_json, Not(HasSubstr("hold")));
  EXPECT_EQ(store_.OutboxBacklog()->first, 1);
  EXPECT_EQ(notified_, 1);
}

TEST_F(DecisionStepsTest, AStoredServiceThatDoesNotParseIsLoggedOncePerVersionAndSkipped) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + "}", "acme");
  SeedRaw(ObjectKind::kService, "acme", "broken", R"({"tenant":"acme","name":"broken","replicas":{"max":"lots"}})");
  Use("acme", "web", 3);
  auto loop = Loop();
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(loop->Run().ok());
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("level=warn caller=decision_steps.cc:"));
  EXPECT_THAT(log, HasSubstr("msg=\"decisions: service acme/broken: replicas.max"));
  EXPECT_THAT(log, HasSubstr("(stored service version 1 does not parse"));
  std::vector<Decision> d = loop->Latest("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].service, "web");
  EXPECT_EQ(d[0].to_replicas, 6);
  EXPECT_THAT(Metrics(*loop), HasSubstr(R"(prescale_decision_unparsable_specs{kind="service"} 1)"));
  // Other objects change (the services are parsed again): the same version is not logged again.
  Seed(ObjectKind::kTenant, R"({"name":"beta"})");
  clock_.Advance(10s);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(loop->Run().ok());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), Not(HasSubstr("acme/broken")));
  // A new version that still does not parse is logged again.
  SeedRaw(ObjectKind::kService, "acme", "broken", R"({"tenant":"acme","name":"broken","replicas":[]})");
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(loop->Run().ok());
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("service acme/broken: replicas"));
  EXPECT_THAT(log, HasSubstr("version 2"));
  // Fixed: decided with the others, no longer counted.
  Seed(ObjectKind::kService, R"({"name":"broken","replicas":{"current":1,"max":5}})", "acme");
  ASSERT_TRUE(loop->Run().ok());
  d = loop->Latest("acme");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].service, "broken");
  EXPECT_THAT(Metrics(*loop), HasSubstr(R"(prescale_decision_unparsable_specs{kind="service"} 0)"));
}

TEST_F(DecisionStepsTest, APolicyThatDoesNotParseIsLoggedOnceAndItsServicesGetTheDefault) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  SeedRaw(ObjectKind::kPolicy, "", "slow", R"({"name":"slow","horizon":"soon"})");
  Seed(ObjectKind::kService, std::string(kWeb) + R"(,"policy":"slow"})", "acme");
  Use("acme", "web", 3);
  auto loop = Loop();
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(loop->Run().ok());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(10s);
    ASSERT_TRUE(loop->Run().ok());
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("decisions: policy slow: horizon"));
  EXPECT_EQ(log.find("policy slow"), log.rfind("policy slow")) << "logged once over four ticks:\n" << log;
  const std::vector<Decision> d = loop->Latest("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].to_replicas, 6) << "decided with the default policy";
  EXPECT_THAT(Metrics(*loop), HasSubstr(R"(prescale_decision_unparsable_specs{kind="policy"} 1)"));
}

TEST_F(DecisionStepsTest, ObjectsAreReadAgainOnlyWhenTheyChange) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + "}", "acme");
  Seed(ObjectKind::kService, R"({"name":"api","replicas":{"current":3,"max":5}})", "acme");
  auto loop = Loop();
  ASSERT_TRUE(loop->Run().ok());
  const size_t lists = store_.list_calls();
  EXPECT_EQ(lists, 3u) << "tenants, policies, services: one page each";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(store_.list_calls(), lists);
  EXPECT_EQ(store_.generation_calls(), 4u);
  EXPECT_EQ(loop->Latest("").size(), 2u);
  // A deletion changes the generation: read again, the service is gone.
  AuditRecord audit;
  ASSERT_TRUE(store_.Delete({ObjectKind::kService, "acme", "api"}, std::nullopt, audit).ok());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(store_.list_calls(), lists + 3);
  const std::vector<Decision> d = loop->Latest("");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].service, "web");
  // No services at all: nothing decided, nothing shown.
  ASSERT_TRUE(store_.Delete({ObjectKind::kService, "acme", "web"}, std::nullopt, audit).ok());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_TRUE(loop->Latest("").empty());
  EXPECT_THAT(Metrics(*loop), Not(HasSubstr("prescale_desired_replicas")));
}

TEST_F(DecisionStepsTest, ReportedReplicasAndScaleUpTriggersAreAppliedByName) {
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService, std::string(kWeb) + kWebhook, "acme");
  Seed(ObjectKind::kService, R"({"name":"api","replicas":{"current":3,"max":5}})", "acme");
  Use("acme", "web", 2.5);  // 5 replicas' worth
  ASSERT_TRUE(store_.SetCurrentReplicas("acme", "web", 5, "report", ToUnixMillis(clock_.Now())).ok());
  auto loop = Loop();
  ASSERT_TRUE(loop->Run().ok());
  std::vector<Decision> d = loop->Latest("acme");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].service, "web");
  EXPECT_EQ(d[1].from_replicas, 5) << "the reported replicas, not the spec's 2";
  EXPECT_EQ(d[1].to_replicas, 5);
  EXPECT_THAT(Metrics(*loop), HasSubstr(R"(prescale_current_replicas{service="web",tenant="acme"} 5)"));
  // An alert holds web one replica above what it ran, until it resolves.
  TriggerEvent alert{"alertmanager", "fp1", "acme", "web", "scale_up", false};
  clock_.Advance(10s);
  ASSERT_TRUE(loop->Run({alert}).ok());
  d = loop->Latest("acme");
  EXPECT_EQ(d[1].trigger, "alertmanager:fp1");
  EXPECT_EQ(d[1].to_replicas, 6);
  EXPECT_EQ(d[0].trigger, "tick") << "api was not named";
  EXPECT_EQ(store_.audit("scale").back().request_id, "act_test_" + std::to_string(ids_));
  clock_.Advance(10s);
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(loop->Latest("acme")[1].to_replicas, 6) << "the floor holds while the alert fires";
  alert.resolved = true;
  clock_.Advance(10s);
  ASSERT_TRUE(loop->Run({alert}).ok());
  d = loop->Latest("acme");
  EXPECT_EQ(d[1].from_replicas, 6);
  EXPECT_EQ(d[1].trigger, "alertmanager:fp1");
  // The floor is gone: back to what the use asks (the floor never was a recommendation HPA's window keeps).
  EXPECT_EQ(d[1].to_replicas, 5) << d[1].reason;
  const std::vector<AuditRecord> scale = store_.audit("scale");
  ASSERT_EQ(scale.size(), 2u);
  EXPECT_EQ(scale[1].before_json, R"({"replicas":6})");
  EXPECT_THAT(scale[1].after_json, HasSubstr(R"("replicas":5)"));
  EXPECT_THAT(scale[1].after_json, HasSubstr(R"("trigger":"alertmanager:fp1")"));
}

}  // namespace
}  // namespace prescale::aggregator
