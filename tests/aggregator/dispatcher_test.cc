// ActionDispatcher on its own: the outbox of a real control store (each kind:
// Stores/DispatcherTest.*/sqlite, /postgres), a RecordingExecutor with
// scripted outcomes, and a FakeClock moved by hand.
// Delivery in queue order with a service's later actions held behind a retry,
// exponential backoff (capped), giving up after give_up_after, failures that
// are not retried, replicas the executor reports taken as current,
// RefreshReplicas, and refusals: a service held to recommend-only while its
// executor refuses (an HPA scales its target), until it would act again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <optional>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/control/objects.h"
#include "tests/support/aggregator/recording_executor.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Outcome = ExecutionResult::Outcome;

constexpr const char* kWebhook = R"("executor":{"type":"webhook","url":"http://127.0.0.1:9/scale"})";
constexpr const char* kShop =
    R"({"name":"shop","executor":{"type":"kubernetes","namespace":"acme","kind":"Deployment","name":"shop"}})";

// An executor that refuses while a refusal is set, as the kubernetes one does
// while an HPA scales the target, and acts otherwise; WouldRefuse answers the
// same, or that it cannot tell. It reads back `current` replicas.
class RefusingExecutor final : public Executor {
 public:
  static Refusal Hpa(const std::string& name) {
    return {"hpa_conflict", "HorizontalPodAutoscaler acme/" + name,
            "HorizontalPodAutoscaler acme/" + name + " scales this Deployment; prescale recommends only"};
  }
  void Refuse(std::optional<Refusal> refusal) {
    std::lock_guard lock(mu_);
    refusal_ = std::move(refusal);
  }
  void CannotTell(bool cannot) {
    std::lock_guard lock(mu_);
    cannot_tell_ = cannot;
  }
  int executed() const {
    std::lock_guard lock(mu_);
    return executed_;
  }
  int asked() const {
    std::lock_guard lock(mu_);
    return asked_;
  }

  ExecutionResult Execute(const Service&, const ScaleAction&) override {
    std::lock_guard lock(mu_);
    ++executed_;
    if (refusal_) return {Outcome::kRefused, 0, refusal_->message, std::nullopt};
    return {Outcome::kDone, 200, "set", std::nullopt};
  }
  Result<std::optional<Refusal>> WouldRefuse(const Service&) override {
    std::lock_guard lock(mu_);
    ++asked_;
    if (cannot_tell_) return Status::Unavailable("GET .../horizontalpodautoscalers: 503");
    return refusal_;
  }
  std::optional<int64_t> CurrentReplicas(const Service&, std::string*) override { return 3; }

 private:
  mutable std::mutex mu_;
  std::optional<Refusal> refusal_;
  bool cannot_tell_ = false;
  int executed_ = 0, asked_ = 0;
};

class DispatcherTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    store_ = stores_.OpenNew();
    if (store_ == nullptr) return;  // skipped, or failed saying why
    dispatcher_ = std::make_unique<ActionDispatcher>(store_.get(), clock_, options_);
    auto executor = std::make_unique<testing::RecordingExecutor>();
    webhook_ = executor.get();
    dispatcher_->AddExecutor("webhook", std::move(executor));
    Seed(ObjectKind::kTenant, R"({"name":"acme"})");
    Seed(ObjectKind::kService, std::string(R"({"name":"web",)") + kWebhook + "}", "acme");
    Seed(ObjectKind::kService, std::string(R"({"name":"api",)") + kWebhook + "}", "acme");
  }

  // Stores an object from its JSON as the API would (upsert, audited).
  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    AuditRecord audit;
    audit.time_ms = Now();
    audit.actor = "test";
    audit.action = "apply";
    audit.kind = std::string(ObjectKindName(kind));
    audit.tenant = built->object.owner;
    audit.name = built->object.key.name;
    auto put = store_->Put(built->object, WriteMode::kUpsert, std::nullopt, audit);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  // The audit records with this action ("scale.delivered", ...), in order.
  std::vector<AuditRecord> Audit(const std::string& action) {
    auto page = store_->ListAudit({.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<AuditRecord> out;
    if (!page.ok()) return out;
    for (AuditRecord& a : page->items) {
      if (a.action == action) out.push_back(std::move(a));
    }
    return out;
  }

  // The status of one service, if it has one.
  std::optional<ServiceStatus> StatusOf(const std::string& tenant, const std::string& service) {
    auto statuses = store_->ServiceStatuses();
    EXPECT_TRUE(statuses.ok()) << statuses.status().ToString();
    if (!statuses.ok()) return std::nullopt;
    for (const ServiceStatus& s : *statuses) {
      if (s.tenant == tenant && s.service == service) return s;
    }
    return std::nullopt;
  }

  int64_t Now() const { return ToUnixMillis(clock_.Now()); }

  // Queues an action as the decision loop does (audit record, outbox entry, target), decided now.
  void Queue(const std::string& id, const std::string& service, int64_t from, int64_t to,
             const std::string& executor = "webhook") {
    ScaleAction a;
    a.id = id;
    a.tenant = "acme";
    a.service = service;
    a.from_replicas = from;
    a.to_replicas = to;
    a.reason = "test";
    a.trigger = "tick";
    a.created_ms = Now();
    OutboxEntry e{id, "acme", service, executor, ActionJson(a), Now(), Now(), 0, ""};
    AuditRecord audit;
    audit.time_ms = Now();
    audit.request_id = id;
    audit.action = "scale";
    audit.kind = "service";
    audit.tenant = "acme";
    audit.name = service;
    auto recorded = store_->RecordAction(audit, e, to);
    ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  }

  std::vector<OutboxEntry> Outbox() {
    auto queued = store_->QueuedActions(100);
    EXPECT_TRUE(queued.ok()) << queued.status().ToString();
    return queued.ok() ? *queued : std::vector<OutboxEntry>{};
  }

  std::string Metrics() const {
    std::string out;
    dispatcher_->AppendMetrics(&out);
    return out;
  }

  testing::FakeClock clock_;
  testing::TestControlStores stores_{GetParam()};
  std::unique_ptr<ControlStore> store_;
  DispatcherOptions options_{.initial_backoff = 1000ms, .max_backoff = 4000ms, .give_up_after = 10s, .batch = 100};
  std::unique_ptr<ActionDispatcher> dispatcher_;
  testing::RecordingExecutor* webhook_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Stores, DispatcherTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(DispatcherTest, DeliversEveryDueActionInQueueOrderAndAuditsIt) {
  Queue("a1", "web", 2, 4);
  Queue("b1", "api", 1, 2);
  Queue("a2", "web", 4, 6);
  EXPECT_EQ(testing::MetricValue(Metrics(), "prescale_action_dispatcher_last_run_timestamp_seconds"), 0.0);
  EXPECT_EQ(dispatcher_->RunOnce(), 3u);
  EXPECT_EQ(testing::MetricValue(Metrics(), "prescale_action_dispatcher_last_run_timestamp_seconds"),
            static_cast<double>(Now()) / 1000.0);
  EXPECT_THAT(webhook_->action_ids(), ElementsAre("a1", "b1", "a2"));
  const std::vector<testing::RecordingExecutor::Call> calls = webhook_->calls();
  EXPECT_EQ(calls[0].spec.name, "web");
  EXPECT_EQ(calls[0].spec.executor.url, "http://127.0.0.1:9/scale");
  EXPECT_EQ(calls[0].action.from_replicas, 2);
  EXPECT_EQ(calls[0].action.to_replicas, 4);
  EXPECT_EQ(calls[1].spec.name, "api");
  EXPECT_TRUE(Outbox().empty());
  const std::vector<AuditRecord> delivered = Audit("scale.delivered");
  ASSERT_EQ(delivered.size(), 3u);
  EXPECT_EQ(delivered[0].request_id, "a1");
  EXPECT_EQ(delivered[0].actor, "executor");
  EXPECT_EQ(delivered[0].status, 200);
  EXPECT_EQ(delivered[0].time_ms, Now());
  EXPECT_EQ(delivered[0].after_json, R"({"action_id":"a1","attempts":1,"executor":"webhook"})");
  EXPECT_THAT(Metrics(), HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="delivered"} 3)"));
  EXPECT_THAT(Metrics(), HasSubstr("prescale_action_outbox_size 0"));
  EXPECT_EQ(dispatcher_->RunOnce(), 0u) << "nothing left";
}

TEST_P(DispatcherTest, ARetryBacksOffAndHoldsTheServicesLaterActions) {
  webhook_->AnswerRetry("503 from the target");  // a1, first attempt
  webhook_->AnswerDone();                        // b1
  webhook_->AnswerRetry("timeout", 0);           // a1, second attempt
  Queue("a1", "web", 2, 4);
  Queue("b1", "api", 1, 2);
  Queue("a2", "web", 4, 6);
  const int64_t start = Now();
  EXPECT_EQ(dispatcher_->RunOnce(), 2u) << "a1 (retry) and b1; a2 waits behind a1";
  std::vector<OutboxEntry> out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].action_id, "a1");
  EXPECT_EQ(out[0].attempts, 1);
  EXPECT_EQ(out[0].next_attempt_ms, start + 1000);
  EXPECT_EQ(out[0].last_error, "503 from the target");
  EXPECT_EQ(out[1].action_id, "a2");
  EXPECT_THAT(Metrics(), HasSubstr("prescale_action_outbox_size 2"));
  clock_.Advance(999ms);
  EXPECT_EQ(dispatcher_->RunOnce(), 0u) << "a1 is not due, and a2 keeps its place behind it";
  clock_.Advance(1ms);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);  // a1 again: timeout, again in 2 s (doubled)
  out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].attempts, 2);
  EXPECT_EQ(out[0].next_attempt_ms, Now() + 2000);
  clock_.Advance(2s);
  EXPECT_EQ(dispatcher_->RunOnce(), 2u);  // a1 delivered, then a2
  EXPECT_THAT(webhook_->action_ids(), ElementsAre("a1", "b1", "a1", "a1", "a2"));
  EXPECT_TRUE(Outbox().empty());
  const std::vector<AuditRecord> delivered = Audit("scale.delivered");
  ASSERT_EQ(delivered.size(), 3u);
  EXPECT_EQ(delivered[1].request_id, "a1");
  EXPECT_EQ(delivered[1].after_json, R"({"action_id":"a1","attempts":3,"executor":"webhook"})");
  EXPECT_EQ(delivered[2].request_id, "a2");
  EXPECT_THAT(Metrics(), HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="retry"} 2)"));
}

TEST_P(DispatcherTest, BackoffIsCappedAndTheActionFailsAfterGiveUpAfter) {
  webhook_->SetDefault({Outcome::kRetry, 503, "503 from the target", std::nullopt});
  Queue("a1", "web", 2, 4);
  const int64_t created = Now();
  // Attempts at 0, 1, 3, 7 s (backoff 1, 2, 4 s), then 11 s: the cap (4 s), past give_up_after (10 s).
  std::vector<int64_t> waits;
  for (int attempt = 0; attempt < 4; ++attempt) {
    ASSERT_EQ(dispatcher_->RunOnce(), 1u) << "attempt " << attempt;
    const std::vector<OutboxEntry> out = Outbox();
    ASSERT_EQ(out.size(), 1u);
    waits.push_back(out[0].next_attempt_ms - Now());
    clock_.Advance(std::chrono::milliseconds(waits.back()));
  }
  EXPECT_THAT(waits, ElementsAre(1000, 2000, 4000, 4000));
  EXPECT_EQ(Now() - created, 11'000);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_TRUE(Outbox().empty());
  const std::vector<AuditRecord> failed = Audit("scale.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].request_id, "a1");
  EXPECT_EQ(failed[0].status, 503);
  EXPECT_EQ(failed[0].message, "503 from the target (gave up after 5 attempts)");
  EXPECT_EQ(webhook_->calls().size(), 5u);
  EXPECT_THAT(Metrics(), HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="failed"} 1)"));
  EXPECT_THAT(Metrics(), HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="retry"} 4)"));
}

TEST_P(DispatcherTest, FailuresThatRetryingCannotFixAreAuditedAtOnce) {
  webhook_->AnswerFailed("404 no such deployment", 404);
  Queue("a1", "web", 2, 4);
  Queue("x1", "web", 4, 5, "kubernetes");  // no kubernetes executor configured
  Queue("g1", "gone", 1, 2);               // a service that is not stored
  EXPECT_EQ(dispatcher_->RunOnce(), 3u);
  EXPECT_TRUE(Outbox().empty());
  const std::vector<AuditRecord> failed = Audit("scale.failed");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].status, 404);
  EXPECT_EQ(failed[0].message, "404 no such deployment");
  EXPECT_EQ(failed[1].message, "no kubernetes executor is configured");
  EXPECT_EQ(failed[2].message, "the service was deleted");
  EXPECT_EQ(webhook_->calls().size(), 1u) << "only a1 reached an executor";
  EXPECT_TRUE(Audit("scale.delivered").empty());
}

TEST_P(DispatcherTest, ReplicasTheExecutorReportsBecomeTheServicesCurrentOnes) {
  webhook_->AnswerDone(5);
  Queue("a1", "web", 2, 4);
  EXPECT_EQ(StatusOf("acme", "web")->target, 4);
  EXPECT_FALSE(StatusOf("acme", "web")->current.has_value());
  clock_.Advance(1s);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  const std::optional<ServiceStatus> st = StatusOf("acme", "web");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->current, 5);
  EXPECT_EQ(st->target, 5) << "the next decision starts from what runs";
  EXPECT_EQ(st->current_source, "webhook");
  EXPECT_EQ(st->updated_ms, Now());
  // An answer without replicas leaves the status as it was.
  Queue("a2", "web", 5, 6);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_EQ(StatusOf("acme", "web")->current, 5);
  EXPECT_EQ(StatusOf("acme", "web")->target, 6);
}

TEST_P(DispatcherTest, RefreshReplicasReadsBackServicesWithNothingQueued) {
  Seed(ObjectKind::kService, R"({"name":"quiet"})", "acme");  // recommend-only: no executor to ask
  webhook_->SetCurrentReplicas(7);
  Queue("b1", "api", 1, 2);  // api has an action queued: left alone
  EXPECT_EQ(dispatcher_->RefreshReplicas(), 1u);
  EXPECT_THAT(webhook_->replica_reads(), ElementsAre("acme/web"));
  const std::optional<ServiceStatus> web = StatusOf("acme", "web");
  ASSERT_TRUE(web.has_value());
  EXPECT_EQ(web->current, 7);
  EXPECT_EQ(web->target, 7);
  EXPECT_EQ(web->current_source, "webhook");
  EXPECT_FALSE(StatusOf("acme", "api")->current.has_value());
  EXPECT_FALSE(StatusOf("acme", "quiet").has_value());
  // Once the outbox is empty api is read too; an executor that cannot tell changes nothing.
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  webhook_->SetCurrentReplicas(std::nullopt, "");
  EXPECT_EQ(dispatcher_->RefreshReplicas(), 0u);
  EXPECT_THAT(webhook_->replica_reads(), ElementsAre("acme/web", "acme/api", "acme/web"));
  EXPECT_EQ(StatusOf("acme", "web")->current, 7);
  EXPECT_EQ(StatusOf("acme", "api")->target, 2);
}

class RefusalTest : public DispatcherTest {
 protected:
  void SetUp() override {
    DispatcherTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto executor = std::make_unique<RefusingExecutor>();
    k8s_ = executor.get();
    dispatcher_->AddExecutor("kubernetes", std::move(executor));
    Seed(ObjectKind::kService, kShop, "acme");
    k8s_->Refuse(RefusingExecutor::Hpa("shop-hpa"));
  }

  std::optional<ServiceHold> Hold(const std::string& service) const {
    const ServiceHolds holds = dispatcher_->Holds();
    auto it = holds.find({"acme", service});
    if (it == holds.end()) return std::nullopt;
    return it->second;
  }

  RefusingExecutor* k8s_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Stores, RefusalTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(RefusalTest, ARefusedActionIsAuditedOnceHoldsTheServiceAndIsNeitherRetriedNorFailed) {
  Queue("k1", "shop", 3, 6, "kubernetes");
  EXPECT_EQ(StatusOf("acme", "shop")->target, 6);
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_TRUE(Outbox().empty()) << "not retried";
  const std::vector<AuditRecord> refused = Audit("scale.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].request_id, "k1");
  EXPECT_EQ(refused[0].actor, "executor");
  EXPECT_EQ(refused[0].message,
            "HorizontalPodAutoscaler acme/shop-hpa scales this Deployment; prescale recommends only");
  EXPECT_EQ(refused[0].after_json, R"({"action_id":"k1","attempts":1,"executor":"kubernetes","reason":"hpa_conflict",)"
                                   R"("by":"HorizontalPodAutoscaler acme/shop-hpa"})");
  EXPECT_TRUE(Audit("scale.failed").empty());
  EXPECT_TRUE(Audit("scale.delivered").empty());
  // Held, since now, with the executor's own words.
  const std::optional<ServiceHold> hold = Hold("shop");
  ASSERT_TRUE(hold.has_value());
  EXPECT_EQ(hold->refusal.reason, "hpa_conflict");
  EXPECT_EQ(hold->refusal.by, "HorizontalPodAutoscaler acme/shop-hpa");
  EXPECT_EQ(hold->since_ms, Now());
  EXPECT_FALSE(Hold("web").has_value());
  // The refused action set nothing: what runs is read back, and the next decision starts from it.
  EXPECT_EQ(StatusOf("acme", "shop")->current, 3);
  EXPECT_EQ(StatusOf("acme", "shop")->target, 3);
  EXPECT_EQ(StatusOf("acme", "shop")->current_source, "kubernetes");
  // Counted apart from failures, so the failed-actions alert does not fire.
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_action_deliveries_total{executor="kubernetes",result="refused"} 1)"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr(R"(result="failed")")));
}

TEST_P(RefusalTest, TheHoldLastsWhileTheExecutorRefusesOrCannotTellAndEndsWhenItWouldAct) {
  Queue("k1", "shop", 3, 6, "kubernetes");
  ASSERT_EQ(dispatcher_->RunOnce(), 1u);
  const int64_t since = Now();
  // Still refused (by another HPA now): held since the first refusal, with the new words.
  clock_.Advance(30s);
  k8s_->Refuse(RefusingExecutor::Hpa("shop-hpa-2"));
  dispatcher_->RefreshReplicas();
  ASSERT_TRUE(Hold("shop").has_value());
  EXPECT_EQ(Hold("shop")->since_ms, since);
  EXPECT_EQ(Hold("shop")->refusal.by, "HorizontalPodAutoscaler acme/shop-hpa-2");
  // The API server cannot be asked: what was known stays.
  k8s_->CannotTell(true);
  clock_.Advance(30s);
  dispatcher_->RefreshReplicas();
  EXPECT_TRUE(Hold("shop").has_value());
  // The HPA is gone: the hold ends, and the next action is carried out.
  k8s_->CannotTell(false);
  k8s_->Refuse(std::nullopt);
  clock_.Advance(30s);
  dispatcher_->RefreshReplicas();
  EXPECT_FALSE(Hold("shop").has_value());
  EXPECT_EQ(k8s_->asked(), 4) << "once after the refusal, once per read-back while held";
  const int asked = k8s_->asked();
  dispatcher_->RefreshReplicas();
  EXPECT_EQ(k8s_->asked(), asked) << "a service that is not held is not asked";
  Queue("k2", "shop", 3, 6, "kubernetes");
  EXPECT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_EQ(Audit("scale.delivered").size(), 1u);
  EXPECT_EQ(Audit("scale.refused").size(), 1u);
}

TEST_P(RefusalTest, ADeliveredActionEndsTheHold) {
  Queue("k1", "shop", 3, 6, "kubernetes");
  ASSERT_EQ(dispatcher_->RunOnce(), 1u);
  ASSERT_TRUE(Hold("shop").has_value());
  // An action queued before the hold, carried out now that nothing refuses.
  k8s_->Refuse(std::nullopt);
  Queue("k2", "shop", 3, 5, "kubernetes");
  ASSERT_EQ(dispatcher_->RunOnce(), 1u);
  EXPECT_FALSE(Hold("shop").has_value());
}

TEST_P(RefusalTest, AServiceDeletedOrWithoutAnExecutorIsHeldNoMore) {
  Seed(ObjectKind::kService,
       R"({"name":"cart","executor":{"type":"kubernetes","namespace":"acme","kind":"Deployment","name":"cart"}})",
       "acme");
  Queue("k1", "shop", 3, 6, "kubernetes");
  Queue("c1", "cart", 1, 2, "kubernetes");
  ASSERT_EQ(dispatcher_->RunOnce(), 2u);
  ASSERT_TRUE(Hold("shop").has_value());
  ASSERT_TRUE(Hold("cart").has_value());
  // shop becomes recommend-only by its spec; cart is deleted.
  Seed(ObjectKind::kService, R"({"name":"shop","executor":{"type":"recommend-only"}})", "acme");
  AuditRecord audit;
  ASSERT_TRUE(store_->Delete({ObjectKind::kService, "acme", "cart"}, std::nullopt, audit).ok());
  dispatcher_->RefreshReplicas();
  EXPECT_TRUE(dispatcher_->Holds().empty());
}

}  // namespace
}  // namespace prescale::aggregator
