// Scaling actions end to end inside the aggregator: the decision loop records
// each change in the audit log and the outbox (one transaction), the
// dispatcher delivers the outbox to a real HTTP receiver on loopback with a
// verifiable signature, retries with backoff on the injected clock, keeps the
// order per service, survives a reopen of the store, and takes the replicas
// the receiver reports. Also: recommend-only records, Alertmanager triggers,
// directives and replica reports through the aggregator's handlers. On both
// control stores: Stores/ActionsTest.*/sqlite and /postgres.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <set>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/actions/webhook_executor.h"
#include "prescale/aggregator/actions/webhook_signature.h"
#include "prescale/aggregator/aggregator.h"
#include "prescale/http/http_server.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::TimeSeries;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60'000;
constexpr const char* kSecret = "s3cret-key";
// Every route but /metrics, /healthz and /readyz needs a token.
constexpr const char* kAdminToken = "admin-token";
constexpr const char* kAcmeViewerToken = "acme-viewer-token";
constexpr const char* kOtherViewerToken = "other-viewer-token";

// The tokens the aggregators of these tests know.
std::vector<TokenConfig> TestTokens() {
  return {{"admin", Sha256Hex(kAdminToken), "admin", ""},
          {"acme-viewer", Sha256Hex(kAcmeViewerToken), "viewer", "acme"},
          {"other-viewer", Sha256Hex(kOtherViewerToken), "viewer", "other"}};
}

// A request carrying `token`.
http::HttpRequest WithToken(const char* token, std::string method) {
  http::HttpRequest r;
  r.method = std::move(method);
  r.headers.emplace_back("Authorization", std::string("Bearer ") + token);
  return r;
}

// A webhook receiver on 127.0.0.1:0: answers with the queued statuses (then
// 200), keeps every request it got.
class Receiver {
 public:
  Receiver() {
    auto server = http::HttpServer::Start(
        http::HttpServerOptions{}, {{"POST", "/scale", [this](const http::HttpRequest& r) { return Handle(r); }}});
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/scale"; }
  void Answer(int status, std::string body = "") {
    std::lock_guard lock(mu_);
    answers_.emplace_back(status, std::move(body));
  }
  std::vector<http::HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  void Stop() { server_->Stop(); }

 private:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    requests_.push_back(r);
    http::HttpResponse out;
    out.content_type = "application/json";
    if (!answers_.empty()) {
      out.status = answers_.front().first;
      out.body = answers_.front().second;
      answers_.pop_front();
    }
    return out;
  }
  mutable std::mutex mu_;
  std::deque<std::pair<int, std::string>> answers_;
  std::vector<http::HttpRequest> requests_;
  std::unique_ptr<http::HttpServer> server_;
};

class ActionsTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
    secret_file_ = dir_.Write("webhook-secret", std::string(kSecret) + "\n");
    location_ = stores_.NewLocation();
    if (location_.empty()) return;  // skipped, or failed saying why
    Open();
  }

  // An aggregator on the test's store (again, after the first time: a restart).
  void Open() {
    aggregator_.reset();
    AggregatorConfig config;
    config.tokens = TestTokens();
    config.decisions.cluster_cpu_cores = 64;
    config.decisions.capacity_reserve = 0;
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    auto store = stores_.Open(location_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    aggregator_->UseControlStore(std::move(store).value());
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    AuditRecord a;
    a.actor = "test";
    auto put = store()->Put(built->object, WriteMode::kUpsert, std::nullopt, a);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  void SeedWebService(const std::string& executor_json) {
    Seed(ObjectKind::kTenant, R"({"name":"acme","quotas":{"cpu_cores":32}})");
    Seed(ObjectKind::kService,
         R"({"name":"web","priority":"critical","replicas":{"current":2,"min":1,"max":40},)"
         R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0},"executor":)" +
             executor_json + "}",
         "acme");
  }

  std::string WebhookExecutorJson(const std::string& url) {
    return R"({"type":"webhook","url":")" + url + R"(","secret_file":")" + secret_file_ + R"("})";
  }

  // An agent's push every 10 s: web burning `cores` on node n1 (the first push 10 s from now).
  void RunFor(std::chrono::seconds duration, double cores) {
    const int64_t end = ToUnixMillis(clock_.Now()) + duration.count() * 1000;
    for (int64_t t = ToUnixMillis(clock_.Now()) + 10'000; t <= end; t += 10'000) {
      clock_.Advance(std::chrono::milliseconds(t - ToUnixMillis(clock_.Now())));
      cpu_seconds_ += cores * 10;
      std::vector<TimeSeries> push = {
          {{{"__name__", "container_cpu_usage_seconds_total"}, {"node", "n1"}, {"service", "web"}, {"tenant", "acme"}},
           {{cpu_seconds_, t}}}};
      AppendStats stats;
      ASSERT_TRUE(aggregator_->store().Append(push, &stats).ok());
      aggregator_->Tick();
    }
  }

  std::vector<AuditRecord> Audit(const std::string& action) {
    AuditQuery q;
    q.limit = 1000;
    auto page = store()->ListAudit(q);
    EXPECT_TRUE(page.ok());
    std::vector<AuditRecord> out;
    for (AuditRecord& r : page->items) {
      if (r.action == action) out.push_back(std::move(r));
    }
    return out;
  }

  int64_t Outbox() {
    auto backlog = store()->OutboxBacklog();
    EXPECT_TRUE(backlog.ok());
    return backlog->first;
  }

  ControlStore* store() { return aggregator_->control_store(); }

  testing::TempDir dir_{"prescale-actions"};
  testing::TestControlStores stores_{GetParam()};
  std::string location_;
  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
  std::string secret_file_;
  double cpu_seconds_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Stores, ActionsTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ActionsTest, ScaleUpIsAuditedQueuedAndDeliveredSigned) {
  Receiver receiver;
  SeedWebService(WebhookExecutorJson(receiver.url()));
  RunFor(3min, 3.0);
  // 3 cores at 0.5 a replica: 2 -> 6 (HPA's first step allows it), audited and queued once.
  std::vector<AuditRecord> scale = Audit("scale");
  ASSERT_EQ(scale.size(), 1u);
  EXPECT_EQ(scale[0].actor, "decision-engine");
  EXPECT_EQ(scale[0].before_json, R"({"replicas":2})");
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("demand":{"cpu":{"current":3)"));
  EXPECT_EQ(Outbox(), 1);
  // Later ticks start from the target: no repeat.
  RunFor(1min, 3.0);
  EXPECT_EQ(Audit("scale").size(), 1u);
  EXPECT_EQ(aggregator_->decisions()->Latest("acme")[0].from_replicas, 6);

  EXPECT_EQ(aggregator_->dispatcher()->RunOnce(), 1u);
  std::vector<http::HttpRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  const http::HttpRequest& r = got[0];
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, r.body, r.Header("X-Prescale-Signature")))
      << "signed with the secret file's content, its trailing newline removed";
  auto action = ParseActionJson(r.body);
  ASSERT_TRUE(action.ok()) << r.body;
  EXPECT_EQ(r.Header("Idempotency-Key"), action->id);
  EXPECT_EQ(action->tenant, "acme");
  EXPECT_EQ(action->service, "web");
  EXPECT_EQ(action->from_replicas, 2);
  EXPECT_EQ(action->to_replicas, 6);
  EXPECT_EQ(action->trigger, "tick");
  EXPECT_FALSE(action->constrained);
  EXPECT_THAT(action->reason, HasSubstr("cpu"));
  EXPECT_EQ(r.Header("X-Prescale-Timestamp"), std::to_string(ToUnixMillis(clock_.Now()) / 1000));
  EXPECT_EQ(Outbox(), 0);
  std::vector<AuditRecord> delivered = Audit("scale.delivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].request_id, action->id);
  EXPECT_EQ(delivered[0].status, 200);
  const std::string metrics = aggregator_->MetricsText();
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="delivered"} 1)"));
  EXPECT_THAT(
      metrics,
      HasSubstr(R"(prescale_scaling_actions_total{direction="up",reason="use",service="web",tenant="acme"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("prescale_action_outbox_size 0"));
  // The audit chain holds with the new records.
  auto verified = store()->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST_P(ActionsTest, ServerErrorsAreRetriedWithBackoffAndClientErrorsFail) {
  Receiver receiver;
  SeedWebService(WebhookExecutorJson(receiver.url()));
  receiver.Answer(503);
  receiver.Answer(500);
  RunFor(3min, 3.0);
  ActionDispatcher* d = aggregator_->dispatcher();
  EXPECT_EQ(d->RunOnce(), 1u);  // 503: again in 1 s
  EXPECT_EQ(d->RunOnce(), 0u) << "not due yet";
  clock_.Advance(1s);
  EXPECT_EQ(d->RunOnce(), 1u);  // 500: again in 2 s
  clock_.Advance(1s);
  EXPECT_EQ(d->RunOnce(), 0u);
  clock_.Advance(1s);
  EXPECT_EQ(d->RunOnce(), 1u);  // 200
  EXPECT_EQ(Outbox(), 0);
  std::vector<http::HttpRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, got[2].body) << "a retry sends the same body";
  EXPECT_EQ(got[0].Header("Idempotency-Key"), got[2].Header("Idempotency-Key"));
  ASSERT_EQ(Audit("scale.delivered").size(), 1u);
  EXPECT_THAT(aggregator_->MetricsText(),
              HasSubstr(R"(prescale_action_deliveries_total{executor="webhook",result="retry"} 2)"));

  // A 4xx other than 408/429 will not work by retrying: failed, audited, gone.
  // (Later actions of the same service are delivered after it.)
  receiver.Answer(404, "no such deployment");
  RunFor(2min, 9.0);
  const int64_t queued = Outbox();
  EXPECT_GE(queued, 1);
  EXPECT_EQ(d->RunOnce(), static_cast<size_t>(queued));
  EXPECT_EQ(Outbox(), 0);
  std::vector<AuditRecord> failed = Audit("scale.failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(Audit("scale.delivered").size(), static_cast<size_t>(queued));
  EXPECT_EQ(failed[0].status, 404);
  EXPECT_THAT(failed[0].message, HasSubstr("no such deployment"));
}

TEST_P(ActionsTest, OutboxSurvivesARestartAndKeepsTheOrderOfAService) {
  Receiver receiver;
  receiver.Stop();  // down: connection refused
  SeedWebService(WebhookExecutorJson(receiver.url()));
  RunFor(3min, 3.0);  // 2 -> 6
  EXPECT_EQ(aggregator_->dispatcher()->RunOnce(), 1u);
  RunFor(2min, 9.0);  // 6 -> 18 in HPA's steps, queued behind the first
  const int64_t queued = Outbox();
  EXPECT_GE(queued, 2);
  // The aggregator restarts on the same database.
  Open();
  Receiver up;
  // The receiver came back elsewhere: point the service at it (the queued actions keep their ids).
  SeedWebService(WebhookExecutorJson(up.url()));
  EXPECT_EQ(Outbox(), queued);
  EXPECT_EQ(aggregator_->dispatcher()->RunOnce(), static_cast<size_t>(queued));
  std::vector<http::HttpRequest> got = up.requests();
  ASSERT_EQ(got.size(), static_cast<size_t>(queued));
  std::set<std::string> ids;
  int64_t replicas = 2;
  for (const http::HttpRequest& r : got) {
    auto a = ParseActionJson(r.body);
    ASSERT_TRUE(a.ok()) << r.body;
    EXPECT_EQ(a->from_replicas, replicas) << "in the order they were decided";
    replicas = a->to_replicas;
    ids.insert(a->id);
  }
  EXPECT_EQ(replicas, 18);
  EXPECT_EQ(ids.size(), got.size());
  EXPECT_EQ(Outbox(), 0);
}

TEST_P(ActionsTest, ReceiverFeedbackAndReportsSetCurrentReplicas) {
  Receiver receiver;
  receiver.Answer(200, R"({"replicas":5})");
  SeedWebService(WebhookExecutorJson(receiver.url()));
  RunFor(3min, 3.0);
  aggregator_->dispatcher()->RunOnce();
  auto statuses = store()->ServiceStatuses();
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 1u);
  EXPECT_EQ((*statuses)[0].current, 5);
  EXPECT_EQ((*statuses)[0].current_source, "webhook");
  RunFor(10s, 3.0);
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr(R"(prescale_current_replicas{service="web",tenant="acme"} 5)"));

  http::HttpRequest report = WithToken(kAdminToken, "POST");
  report.path = "/api/v1/tenants/acme/services/web/replicas";
  report.path_params = {{"tenant", "acme"}, {"service", "web"}};
  report.body = R"({"current": 7})";
  EXPECT_EQ(aggregator_->Handle("replicas_report", report).status, 204);
  report.body = R"({"current": -1})";
  http::HttpResponse bad = aggregator_->Handle("replicas_report", report);
  EXPECT_EQ(bad.status, 422);
  EXPECT_THAT(bad.body, HasSubstr(R"("field":"current")"));
  report.body = "{";
  EXPECT_EQ(aggregator_->Handle("replicas_report", report).status, 400);
  report.path_params = {{"tenant", "acme"}, {"service", "nope"}};
  report.body = R"({"current": 1})";
  EXPECT_EQ(aggregator_->Handle("replicas_report", report).status, 404);
  statuses = store()->ServiceStatuses();
  ASSERT_TRUE(statuses.ok());
  EXPECT_EQ((*statuses)[0].current, 7);
  EXPECT_EQ((*statuses)[0].current_source, "report");
}

TEST_P(ActionsTest, RecommendOnlyIsRecordedOncePerChangeAndNeverQueued) {
  SeedWebService(R"({"type":"recommend-only"})");
  RunFor(3min, 3.0);
  RunFor(1min, 3.0);
  std::vector<AuditRecord> recommend = Audit("recommend");
  ASSERT_EQ(recommend.size(), 1u);
  EXPECT_THAT(recommend[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_EQ(Outbox(), 0);
  EXPECT_TRUE(Audit("scale").empty());
  EXPECT_EQ(aggregator_->decisions()->Latest("")[0].from_replicas, 2) << "nothing changed the replicas";
}

std::string AlertBody(const std::string& status, const std::string& action) {
  return R"({"version":"4","status":")" + status + R"(","receiver":"prescale","groupKey":"g","alerts":[)" +
         R"({"status":")" + status + R"(","labels":{"alertname":"WebLatency","tenant":"acme","service":"web")" +
         (action.empty() ? "" : R"(,"prescale_action":")" + action + "\"") +
         R"(},"annotations":{},"startsAt":"2026-11-28T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",)" +
         R"("fingerprint":"00000000000000a1"}]})";
}

TEST_P(ActionsTest, AlertmanagerAlertEvaluatesAtOnceAndScaleUpHoldsUntilResolved) {
  Receiver receiver;
  SeedWebService(WebhookExecutorJson(receiver.url()));
  Seed(ObjectKind::kService,
       R"({"name":"web","priority":"critical","replicas":{"current":4,"min":1,"max":40},)"
       R"("requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0},"executor":)" +
           WebhookExecutorJson(receiver.url()) + "}",
       "acme");
  RunFor(3min, 2.0);  // 2 cores at 0.5: 4 replicas, no change
  EXPECT_TRUE(Audit("scale").empty());
  EXPECT_FALSE(aggregator_->EvaluateTriggers()) << "nothing pending";

  http::HttpRequest alert = WithToken(kAdminToken, "POST");
  alert.body = AlertBody("firing", "scale_up");
  http::HttpResponse r = aggregator_->Handle("alerts_alertmanager", alert);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("triggered":1)"));
  // Alertmanager repeats it: dropped.
  r = aggregator_->Handle("alerts_alertmanager", alert);
  EXPECT_THAT(r.body, HasSubstr(R"("repeats":1)"));
  ASSERT_TRUE(aggregator_->EvaluateTriggers());
  std::vector<Decision> d = aggregator_->decisions()->Latest("acme");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].trigger, "alertmanager:00000000000000a1");
  EXPECT_EQ(d[0].to_replicas, 5) << "scale_up: one above what it ran while the alert fires";
  std::vector<AuditRecord> scale = Audit("scale");
  ASSERT_EQ(scale.size(), 1u);
  EXPECT_THAT(scale[0].after_json, HasSubstr(R"("trigger":"alertmanager:00000000000000a1")"));
  // Resolved: the floor goes, the use-driven decision returns (after HPA's
  // scale-down stabilisation of 5 minutes).
  alert.body = AlertBody("resolved", "scale_up");
  r = aggregator_->Handle("alerts_alertmanager", alert);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(aggregator_->EvaluateTriggers());
  RunFor(6min, 2.0);
  EXPECT_EQ(aggregator_->decisions()->Latest("acme")[0].to_replicas, 4)
      << aggregator_->decisions()->Latest("acme")[0].reason;
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr(R"(prescale_triggers_total{source="alertmanager"} 2)"));
}

TEST_P(ActionsTest, AlertmanagerBadBodiesAreRefusedWithTheField) {
  SeedWebService(R"({"type":"recommend-only"})");
  http::HttpRequest alert = WithToken(kAdminToken, "POST");
  alert.body = "{not json";
  http::HttpResponse r = aggregator_->Handle("alerts_alertmanager", alert);
  EXPECT_EQ(r.status, 400);
  alert.body = R"({"version":"3","alerts":[]})";
  r = aggregator_->Handle("alerts_alertmanager", alert);
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(r.body, HasSubstr(R"("field":"version")"));
  // Alerts without tenant and service labels are counted, not acted on.
  alert.body =
      R"({"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-11-28T10:00:00Z"}]})";
  r = aggregator_->Handle("alerts_alertmanager", alert);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("ignored":1)"));
  EXPECT_FALSE(aggregator_->triggers().pending());
}

TEST_P(ActionsTest, DirectivesShareAThrottledServicesCapAmongItsNodes) {
  // A low-priority service squeezed by the cluster's capacity gets a cap.
  AggregatorConfig config;
  config.tokens = TestTokens();
  config.decisions.cluster_cpu_cores = 4;
  config.decisions.capacity_reserve = 0;
  aggregator_ = std::make_unique<Aggregator>(config, clock_);
  std::unique_ptr<ControlStore> squeeze = stores_.OpenNew("squeeze");
  ASSERT_NE(squeeze, nullptr);
  aggregator_->UseControlStore(std::move(squeeze));
  Seed(ObjectKind::kTenant, R"({"name":"acme"})");
  Seed(ObjectKind::kService,
       R"({"name":"web","priority":"low","replicas":{"current":4,"min":1,"max":40},)"
       R"("requests":{"cpu_cores":1},"target_utilization":{"cpu":1.0}})",
       "acme");
  // Two cgroups on n1, one on n2; 12 cores of use wants 12 replicas of 1 core, 4 fit.
  const int64_t end = ToUnixMillis(clock_.Now()) + 3 * kMinute;
  double used = 0;
  for (int64_t t = ToUnixMillis(clock_.Now()); t < end; t += 10'000) {
    clock_.Advance(std::chrono::milliseconds(t - ToUnixMillis(clock_.Now())));
    used += 40;
    std::vector<TimeSeries> push;
    for (const auto& [node, id] : {std::pair{"n1", "a"}, {"n1", "b"}, {"n2", "c"}}) {
      push.push_back({{{"__name__", "container_cpu_usage_seconds_total"},
                       {"id", id},
                       {"node", node},
                       {"service", "web"},
                       {"tenant", "acme"}},
                      {{used, t}}});
    }
    AppendStats stats;
    ASSERT_TRUE(aggregator_->store().Append(push, &stats).ok());
    aggregator_->Tick();
  }
  std::vector<Decision> d = aggregator_->decisions()->Latest("");
  ASSERT_EQ(d.size(), 1u);
  ASSERT_TRUE(d[0].cpu_cap_cores.has_value()) << d[0].reason;
  const double cap = *d[0].cpu_cap_cores;
  EXPECT_DOUBLE_EQ(cap, 4.0);
  http::HttpRequest get = WithToken(kAdminToken, "GET");
  get.query = "node=n1";
  http::HttpResponse r = aggregator_->Handle("directives", get);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("node":"n1","lease_seconds":60)"));
  EXPECT_THAT(r.body, HasSubstr(R"({"tenant":"acme","service":"web","cpu_cores":2.6666666666666)"));
  get.query = "node=n2";
  EXPECT_THAT(aggregator_->Handle("directives", get).body, HasSubstr(R"("cpu_cores":1.3333333333333)"));
  get.query = "node=n3";
  EXPECT_THAT(aggregator_->Handle("directives", get).body, HasSubstr(R"("directives":[])"));
  get.query = "";
  r = aggregator_->Handle("directives", get);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"("field":"node")"));
  get.query = "node=n1&x=1";
  EXPECT_EQ(aggregator_->Handle("directives", get).status, 400);
  get.query = "node=n1&tenant=other";
  EXPECT_THAT(aggregator_->Handle("directives", get).body, HasSubstr(R"("directives":[])")) << "filtered by tenant";

  // Tenant-bound tokens see only their tenant's caps: acme's viewer all of them, other's none,
  // and naming a tenant not theirs is a 403 naming `tenant`.
  http::HttpRequest acme = WithToken(kAcmeViewerToken, "GET");
  acme.query = "node=n1";
  EXPECT_THAT(aggregator_->Handle("directives", acme).body,
              HasSubstr(R"({"tenant":"acme","service":"web","cpu_cores":2.6666666666666)"));
  http::HttpRequest other = WithToken(kOtherViewerToken, "GET");
  other.query = "node=n1";
  r = aggregator_->Handle("directives", other);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("directives":[])"));
  other.query = "node=n1&tenant=acme";
  r = aggregator_->Handle("directives", other);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr(R"("field":"tenant")"));
  // Without a token: 401, whatever is asked.
  http::HttpRequest anonymous;
  anonymous.method = "GET";
  anonymous.query = "node=n1";
  EXPECT_EQ(aggregator_->Handle("directives", anonymous).status, 401);
}

TEST_P(ActionsTest, KubernetesTargetsAreReadBackAsCurrentReplicas) {
  // An API server's scale subresource on loopback, scaled to 7 by hand.
  auto api = http::HttpServer::Start(
      http::HttpServerOptions{},
      {{"GET", "/apis/apps/v1/namespaces/shop/deployments/web/scale", [](const http::HttpRequest& r) {
          http::HttpResponse out;
          out.content_type = "application/json";
          if (r.Header("Authorization") != "Bearer k8s-token") {
            out.status = 401;
            return out;
          }
          out.body = R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"shop"},)"
                     R"("spec":{"replicas":7},"status":{"replicas":7,"selector":"app=web"}})";
          return out;
        }}});
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  AggregatorConfig config;
  config.kubernetes_api_server = "http://127.0.0.1:" + std::to_string((*api)->port());
  config.kubernetes_token_file = dir_.Write("k8s-token", "k8s-token\n");
  aggregator_ = std::make_unique<Aggregator>(config, clock_);
  std::unique_ptr<ControlStore> k8s = stores_.OpenNew("k8s");
  ASSERT_NE(k8s, nullptr);
  aggregator_->UseControlStore(std::move(k8s));
  SeedWebService(R"({"type":"kubernetes","namespace":"shop","kind":"Deployment","name":"web"})");
  EXPECT_EQ(aggregator_->dispatcher()->RefreshReplicas(), 1u);
  auto statuses = store()->ServiceStatuses();
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 1u);
  EXPECT_EQ((*statuses)[0].current, 7);
  EXPECT_EQ((*statuses)[0].target, 7);
  EXPECT_EQ((*statuses)[0].current_source, "kubernetes");
  aggregator_->Tick();
  EXPECT_EQ(aggregator_->decisions()->Latest("acme")[0].from_replicas, 7) << "the next decision starts from them";
}

}  // namespace
}  // namespace prescale::aggregator
