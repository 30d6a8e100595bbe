// An HPA on a service's workload, through the whole aggregator: its real
// kubernetes executor against the API server stand-in (kubernetes_stand_in.h),
// a control store (SQLite and PostgreSQL: Stores/HpaConflictTest.*/sqlite,
// /postgres), pushed use and ticks on a FakeClock. The refused
// action is audited as refused (not failed, not retried), the service is held
// to recommend-only, and GET /api/v1/decisions says why until the HPA is gone;
// then the next action patches the scale subresource.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/auth.h"
#include "tests/aggregator/kubernetes_stand_in.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using k8s_stand_in::FakeApiServer;
using remote_write::TimeSeries;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMinute = 60'000;
constexpr char kViewer[] = "shop-viewer-token";
constexpr char kWhy[] = "HorizontalPodAutoscaler shop/web-hpa scales this Deployment; prescale recommends only";
constexpr char kScalePath[] = "/apis/apps/v1/namespaces/shop/deployments/web/scale";

class HpaConflictTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
    api_.Add("deployments", "shop", "web", {2, 2, "app=web"});
    AggregatorConfig config;
    config.decisions.cluster_cpu_cores = 64;
    config.decisions.capacity_reserve = 0;
    config.kubernetes_api_server = api_.url();
    config.kubernetes_token_file = dir_.Write("k8s-token", "token-1\n");
    config.tokens = {{"shop-viewer", Sha256Hex(kViewer), "viewer", "shop"}};
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    std::unique_ptr<ControlStore> store = stores_.OpenNew();
    if (store == nullptr) return;  // skipped, or failed saying why
    aggregator_->UseControlStore(std::move(store));
    Seed(ObjectKind::kTenant, R"({"name":"shop"})");
    Seed(ObjectKind::kService,
         R"({"name":"web","priority":"critical","replicas":{"current":2,"min":1,"max":40},)"
         R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0},)"
         R"("executor":{"type":"kubernetes","namespace":"shop","kind":"Deployment","name":"web"}})",
         "shop");
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    AuditRecord a;
    a.actor = "test";
    auto put = aggregator_->control_store()->Put(built->object, WriteMode::kUpsert, std::nullopt, a);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  // An agent's push every 10 s: web burning `cores`; a tick after each.
  void RunFor(std::chrono::seconds duration, double cores) {
    const int64_t end = ToUnixMillis(clock_.Now()) + duration.count() * 1000;
    for (int64_t t = ToUnixMillis(clock_.Now()) + 10'000; t <= end; t += 10'000) {
      clock_.Advance(std::chrono::milliseconds(t - ToUnixMillis(clock_.Now())));
      cpu_seconds_ += cores * 10;
      std::vector<TimeSeries> push = {
          {{{"__name__", "container_cpu_usage_seconds_total"}, {"service", "web"}, {"tenant", "shop"}},
           {{cpu_seconds_, t}}}};
      AppendStats stats;
      ASSERT_TRUE(aggregator_->store().Append(push, &stats).ok());
      aggregator_->Tick();
    }
  }

  // A decision as GET /api/v1/decisions shows it (the fields this test reads).
  struct ShownDecision {
    bool execute = true;
    int64_t from_replicas = -1, to_replicas = -1;
    std::string reason;
    bool held = false;  // "hold" is an object, not null
    std::string hold_reason, hold_by, hold_message, hold_since;
  };

  // GET /api/v1/decisions?tenant=shop as the shop viewer sees it: the one decision.
  ShownDecision ShowDecision() {
    http::HttpRequest get;
    get.method = "GET";
    get.path = "/api/v1/decisions";
    get.query = "tenant=shop";
    get.headers = {{"Authorization", std::string("Bearer ") + kViewer}};
    const http::HttpResponse r = aggregator_->Handle("decisions", get);
    EXPECT_EQ(r.status, 200) << r.body;
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    ShownDecision out;
    if (doc.HasParseError() || !doc.IsObject() || !doc["data"].IsArray() || doc["data"].Size() != 1) {
      ADD_FAILURE() << "not one decision: " << r.body;
      return out;
    }
    const rapidjson::Value& d = doc["data"][0];
    out.execute = d["execute"].GetBool();
    out.from_replicas = d["from_replicas"].GetInt64();
    out.to_replicas = d["to_replicas"].GetInt64();
    out.reason = d["reason"].GetString();
    EXPECT_TRUE(d.HasMember("hold")) << "hold is always there, null when nothing holds: " << r.body;
    if (d.HasMember("hold") && d["hold"].IsObject()) {
      out.held = true;
      out.hold_reason = d["hold"]["reason"].GetString();
      out.hold_by = d["hold"]["by"].GetString();
      out.hold_message = d["hold"]["message"].GetString();
      out.hold_since = d["hold"]["since"].GetString();
    } else {
      EXPECT_TRUE(d.HasMember("hold") && d["hold"].IsNull()) << r.body;
    }
    return out;
  }

  std::vector<AuditRecord> Audit(const std::string& action) {
    AuditQuery q;
    q.limit = 1000;
    auto page = aggregator_->control_store()->ListAudit(q);
    EXPECT_TRUE(page.ok());
    std::vector<AuditRecord> out;
    for (AuditRecord& r : page->items) {
      if (r.action == action) out.push_back(std::move(r));
    }
    return out;
  }

  int Patches() const {
    int n = 0;
    for (const http::HttpRequest& r : api_.requests()) n += r.method == "PATCH" ? 1 : 0;
    return n;
  }

  testing::TempDir dir_{"prescale-hpa-conflict"};
  testing::TestControlStores stores_{GetParam()};
  testing::FakeClock clock_;
  FakeApiServer api_;
  std::unique_ptr<Aggregator> aggregator_;
  double cpu_seconds_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Stores, HpaConflictTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(HpaConflictTest, TheDecisionSaysTheServiceRecommendsOnlyWhileAnHpaScalesItsWorkload) {
  api_.AddHpa("shop", "web-hpa", "Deployment", "web");
  RunFor(3min, 3.0);  // 3 cores at 0.5 a replica: 2 -> 6, queued
  ASSERT_EQ(Audit("scale").size(), 1u);
  ActionDispatcher* dispatcher = aggregator_->dispatcher();
  ASSERT_EQ(dispatcher->RunOnce(), 1u);
  EXPECT_EQ(Patches(), 0);
  const std::vector<AuditRecord> refused = Audit("scale.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].message, kWhy);
  EXPECT_THAT(refused[0].after_json,
              HasSubstr(R"("reason":"hpa_conflict","by":"HorizontalPodAutoscaler shop/web-hpa")"));
  EXPECT_TRUE(Audit("scale.failed").empty());

  // The next decisions: recommend-only, from what the Deployment runs, saying why.
  RunFor(1min, 3.0);
  EXPECT_EQ(dispatcher->RunOnce(), 0u) << "nothing more queued";
  ShownDecision d = ShowDecision();
  EXPECT_FALSE(d.execute);
  EXPECT_EQ(d.from_replicas, 2) << "read back after the refusal";
  EXPECT_EQ(d.to_replicas, 6);
  EXPECT_THAT(d.reason, ::testing::EndsWith(std::string("; ") + kWhy));
  ASSERT_TRUE(d.held);
  EXPECT_EQ(d.hold_reason, "hpa_conflict");
  EXPECT_EQ(d.hold_by, "HorizontalPodAutoscaler shop/web-hpa");
  EXPECT_EQ(d.hold_message, kWhy);
  EXPECT_EQ(d.hold_since, FormatRfc3339(refused[0].time_ms));
  const std::vector<AuditRecord> recommend = Audit("recommend");
  ASSERT_EQ(recommend.size(), 1u) << "one recommendation, recorded once";
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("executor":"kubernetes")"));
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("hold":{"reason":"hpa_conflict")"));
  EXPECT_EQ(Audit("scale").size(), 1u);
  std::string metrics = aggregator_->MetricsText();
  EXPECT_THAT(metrics,
              HasSubstr(R"(prescale_kubernetes_hpa_conflicts{hpa="shop/web-hpa",service="web",tenant="shop"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_hpa_refused_actions_total 1"));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_action_deliveries_total{executor="kubernetes",result="refused"} 1)"));
  EXPECT_THAT(metrics, Not(HasSubstr(R"(result="failed")")));
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_desired_replicas{service="web",tenant="shop"} 6)"));

  // Still there at the next read-back: held as before.
  EXPECT_EQ(dispatcher->RefreshReplicas(), 1u);
  RunFor(10s, 3.0);
  EXPECT_TRUE(ShowDecision().held);

  // The HPA is deleted: once the cached list is stale, the read-back lifts the
  // hold and the next tick patches.
  api_.RemoveHpas("shop");
  RunFor(30s, 3.0);
  EXPECT_TRUE(ShowDecision().held) << "the cached list still shows the HPA";
  dispatcher->RefreshReplicas();
  RunFor(10s, 3.0);
  d = ShowDecision();
  EXPECT_TRUE(d.execute);
  EXPECT_FALSE(d.held);
  EXPECT_THAT(d.reason, Not(HasSubstr("HorizontalPodAutoscaler")));
  ASSERT_EQ(dispatcher->RunOnce(), 1u) << d.reason;
  EXPECT_EQ(Patches(), 1);
  EXPECT_EQ(api_.Get("deployments", "shop", "web")->spec_replicas, 6);
  EXPECT_EQ(Audit("scale.delivered").size(), 1u);
  EXPECT_THAT(aggregator_->MetricsText(), Not(HasSubstr("prescale_kubernetes_hpa_conflicts{")));
  EXPECT_EQ(api_.requests().back().path, kScalePath);
}

TEST_P(HpaConflictTest, WithoutAnHpaTheDecisionHasNoHold) {
  RunFor(3min, 3.0);
  ASSERT_EQ(aggregator_->dispatcher()->RunOnce(), 1u);
  EXPECT_EQ(Patches(), 1);
  RunFor(10s, 3.0);
  const ShownDecision d = ShowDecision();
  EXPECT_TRUE(d.execute);
  EXPECT_FALSE(d.held);
  EXPECT_TRUE(aggregator_->dispatcher()->Holds().empty());
}

}  // namespace
}  // namespace prescale::aggregator
