// Approving a recommendation once (POST /api/v1/tenants/{t}/services/{s}/approve):
// the route through a real HttpServer on 127.0.0.1:0 (driven with the curl
// program) and a real aggregator's decision loop, on both control stores
// (Stores/ApproveTest.*/sqlite, /postgres): 202 and one action through the
// service's executor at the next tick, with its audit record naming the
// approval; 409 for a stale recommendation, none pending or an executor that
// cannot act; 422 for a bad body; the approval used once, also by a second
// leader on the same store; a stale approval used up with an
// "approve.skipped" record; a deposed leader's tick writes nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/control_api.h"
#include "prescale/http/http_server.h"
#include "tests/support/control_stores.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using remote_write::TimeSeries;
using testing::CurlReply;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60'000;

class ApproveTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    // Start on a whole minute, so the pushed minutes line up.
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinute - now % kMinute) % kMinute + kMinute));
    location_ = stores_.NewLocation();
    if (location_.empty()) return;  // skipped, or failed saying why
    aggregator_ = Start();
    if (aggregator_ == nullptr) return;
    store_ = aggregator_->control_store();
    auto server = http::HttpServer::Start(aggregator_->ServerOptions(), aggregator_->Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    // acme/web only recommends (its policy) but has a webhook executor that
    // could act; acme/advice's executor is recommend-only.
    Seed(ObjectKind::kTenant, R"({"name":"acme"})");
    Seed(ObjectKind::kTenant, R"({"name":"other"})");
    Seed(ObjectKind::kPolicy, R"({"name":"advise","tenant":"acme","mode":"recommend-only"})");
    Seed(ObjectKind::kService, WebSpec(40), "acme");
    Seed(ObjectKind::kService,
         R"({"name":"advice","replicas":{"current":2,"min":1,"max":40},"requests":{"cpu_cores":0.5},)"
         R"("target_utilization":{"cpu":1.0},"selector":{"tenant":"acme","service":"web"}})",
         "acme");
    tokens_["admin"] = Issue("admin", "");
    tokens_["operator"] = Issue("operator", "acme");
    tokens_["viewer"] = Issue("viewer", "acme");
    tokens_["other"] = Issue("operator", "other");
  }

  // An aggregator on the test's store (a second one shares it, as HA replicas do).
  std::unique_ptr<Aggregator> Start() {
    AggregatorConfig config;
    config.listen = "127.0.0.1:0";
    config.decisions.capacity_reserve = 0;
    auto aggregator = std::make_unique<Aggregator>(config, clock_);
    auto store = stores_.Open(location_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    aggregator->UseControlStore(std::move(store).value());
    return aggregator;
  }

  static std::string WebSpec(int max) {
    return R"({"name":"web","policy":"advise","replicas":{"current":2,"min":1,"max":)" + std::to_string(max) +
           R"(},"requests":{"cpu_cores":0.5},"target_utilization":{"cpu":1.0},)"
           R"("executor":{"type":"webhook","url":"http://127.0.0.1:9/scale"}})";
  }

  AuditRecord Admin() const {
    AuditRecord a;
    a.time_ms = ToUnixMillis(clock_.Now());
    a.actor = "test";
    a.actor_role = "admin";
    return a;
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    auto put = store_->Put(built->object, WriteMode::kUpsert, std::nullopt, Admin());
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  std::string Issue(const std::string& role, const std::string& tenant) {
    auto issued = IssueToken(store_, {role + "-token", role, tenant, 0}, ToUnixMillis(clock_.Now()), Admin());
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return "";
    names_[role == "operator" && tenant == "other" ? "other" : role] = issued->record.id;
    return issued->secret;
  }

  // An agent's push every 10 s: web burning `cores`; each push is followed by a tick.
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

  CurlReply Approve(const std::string& who, const std::string& service, const std::string& body,
                    const std::string& tenant = "acme") {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!tokens_[who].empty()) headers.push_back("Authorization: Bearer " + tokens_[who]);
    return testing::Curl("POST",
                         "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/tenants/" + tenant +
                             "/services/" + service + "/approve",
                         body, headers);
  }

  std::optional<Decision> DecisionOf(const std::string& service) const {
    for (const Decision& d : aggregator_->decisions()->Latest("acme")) {
      if (d.service == service) return d;
    }
    return std::nullopt;
  }

  // The audit records with this action, oldest first.
  std::vector<AuditRecord> Audit(const std::string& action) const {
    std::vector<AuditRecord> out;
    AuditQuery q;
    q.limit = 1000;
    while (true) {
      auto page = store_->ListAudit(q);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok() || page->items.empty()) break;
      for (const AuditRecord& a : page->items) {
        if (a.action == action) out.push_back(a);
      }
      q.after_seq = page->items.back().seq;
    }
    return out;
  }

  std::vector<OutboxEntry> Queued(const std::string& service) const {
    auto queued = store_->QueuedActions(1000);
    EXPECT_TRUE(queued.ok()) << queued.status().ToString();
    std::vector<OutboxEntry> out;
    for (const OutboxEntry& e : queued.ok() ? *queued : std::vector<OutboxEntry>()) {
      if (e.service == service) out.push_back(e);
    }
    return out;
  }

  testing::TestControlStores stores_{GetParam()};
  std::string location_;
  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
  ControlStore* store_ = nullptr;
  std::unique_ptr<http::HttpServer> server_;
  std::map<std::string, std::string> tokens_, names_;
  double cpu_seconds_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Stores, ApproveTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ApproveTest, ApprovedRecommendationIsActedOnOnceThroughTheExecutor) {
  if (server_ == nullptr) return;
  // 3 cores at 0.5 a replica: 6 recommended from 2, not acted on.
  RunFor(3min, 3.0);
  std::optional<Decision> d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  ASSERT_FALSE(d->execute);
  ASSERT_EQ(d->from_replicas, 2);
  ASSERT_EQ(d->to_replicas, 6) << d->reason;
  EXPECT_TRUE(Queued("web").empty());

  // What the caller did not see is refused, saying what is recommended now.
  CurlReply r = Approve("operator", "web", R"({"replicas":5})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("the recommendation is 6 replicas, not 5"));
  EXPECT_THAT(r.body, HasSubstr(R"("field":"replicas")"));
  // Bad bodies.
  EXPECT_EQ(Approve("operator", "web", "not json").status, 400);
  r = Approve("operator", "web", R"({"replicas":"6"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("field":"replicas")"));
  EXPECT_EQ(Approve("operator", "web", R"({"replicas":-1})").status, 422);
  r = Approve("operator", "web", R"({"replicas":6,"force":true})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("field":"force")"));
  EXPECT_EQ(Approve("operator", "nope", R"({"replicas":6})").status, 404);
  // Who may approve: admins and the tenant's operators only.
  EXPECT_EQ(Approve("viewer", "web", R"({"replicas":6})").status, 403);
  EXPECT_EQ(Approve("other", "web", R"({"replicas":6})").status, 403);
  EXPECT_EQ(Approve("", "web", R"({"replicas":6})").status, 401);
  // An executor that could not act: nothing to approve.
  r = Approve("operator", "advice", R"({"replicas":6})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("executor recommend-only"));
  // Refused approvals are audited with their status (the unauthenticated one is not).
  std::vector<AuditRecord> refused = Audit("approve");
  ASSERT_EQ(refused.size(), 9u);
  EXPECT_EQ(refused[0].status, 409);
  EXPECT_EQ(refused[0].actor, names_["operator"]);
  EXPECT_EQ(refused[0].name, "web");

  r = Approve("operator", "web", R"({"replicas":6})");
  ASSERT_EQ(r.status, 202) << r.body;
  rapidjson::Document body;
  body.Parse(r.body.c_str());
  ASSERT_TRUE(body.IsObject()) << r.body;
  EXPECT_EQ(body["replicas"].GetInt64(), 6);
  EXPECT_EQ(body["from_replicas"].GetInt64(), 2);
  EXPECT_STREQ(body["status"].GetString(), "pending");
  const int64_t approval_seq = body["approval_seq"].GetInt64();
  std::vector<AuditRecord> approvals = Audit("approve");
  ASSERT_EQ(approvals.size(), 10u);
  EXPECT_EQ(approvals.back().seq, approval_seq);
  EXPECT_EQ(approvals.back().status, 202);
  EXPECT_EQ(approvals.back().actor_role, "operator");
  EXPECT_EQ(approvals.back().after_json, R"({"replicas":6})");
  auto pending = store_->PendingApprovals();
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].seq, approval_seq);

  // The approval's trigger wakes the tick: one action through the webhook, naming the approval.
  ASSERT_TRUE(aggregator_->EvaluateTriggers());
  std::vector<OutboxEntry> queued = Queued("web");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].executor, "webhook");
  EXPECT_THAT(queued[0].payload_json, HasSubstr(R"("to_replicas":6)"));
  EXPECT_THAT(queued[0].payload_json, HasSubstr("approval:" + names_["operator"]));
  std::vector<AuditRecord> scales = Audit("scale");
  ASSERT_EQ(scales.size(), 1u);
  EXPECT_EQ(scales[0].name, "web");
  EXPECT_EQ(scales[0].before_json, R"({"replicas":2})");
  EXPECT_THAT(scales[0].after_json, HasSubstr(R"("replicas":6)"));
  EXPECT_THAT(scales[0].after_json, HasSubstr(R"("trigger":"approval:)" + names_["operator"] + "\""));
  EXPECT_THAT(scales[0].after_json, HasSubstr(R"("approval_seq":)" + std::to_string(approval_seq)));
  EXPECT_THAT(scales[0].message, HasSubstr("approved by " + names_["operator"]));
  pending = store_->PendingApprovals();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  // At once (before the next tick), nothing is pending any more.
  d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->from_replicas, 6);
  EXPECT_EQ(Approve("operator", "web", R"({"replicas":6})").status, 409);
  auto statuses = store_->ServiceStatuses();
  ASSERT_TRUE(statuses.ok());
  bool found = false;
  for (const ServiceStatus& s : *statuses) {
    if (s.service == "web") {
      found = true;
      EXPECT_EQ(s.target, 6);
    }
  }
  EXPECT_TRUE(found);

  // Once: later ticks (a second replica taking over on the same store too) act no more,
  // and the service goes back to recommending from its new replicas.
  RunFor(1min, 3.0);
  std::unique_ptr<Aggregator> second = Start();
  ASSERT_NE(second, nullptr);
  second->Tick();
  EXPECT_EQ(Audit("scale").size(), 1u);
  EXPECT_EQ(Queued("web").size(), 1u);
  d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->from_replicas, 6);
  EXPECT_FALSE(d->execute);
  r = Approve("operator", "web", R"({"replicas":6})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("no pending recommendation"));
  // Hotter: a new recommendation, which the admin may approve too.
  RunFor(2min, 4.0);
  d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->to_replicas, 8) << d->reason;
  EXPECT_EQ(Approve("admin", "web", R"({"replicas":8})").status, 202);
  RunFor(10s, 4.0);
  EXPECT_EQ(Audit("scale").size(), 2u);
  EXPECT_EQ(Queued("web").size(), 2u);
}

// The service's own executor mode (what the console's form sets), not its
// policy: recommend-only keeps the webhook, so an approval acts through it;
// back to act, the service scales on its own and there is nothing to approve.
TEST_P(ApproveTest, ServiceInExecutorModeRecommendOnlyIsApprovedThroughItsExecutor) {
  if (server_ == nullptr) return;
  const std::string spec = R"({"name":"web","replicas":{"current":2,"min":1,"max":40},"requests":{"cpu_cores":0.5},)"
                           R"("target_utilization":{"cpu":1.0},"executor":{"type":"webhook","mode":"recommend-only",)"
                           R"("url":"http://127.0.0.1:9/scale"}})";
  Seed(ObjectKind::kService, spec, "acme");
  RunFor(3min, 3.0);
  std::optional<Decision> d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  ASSERT_FALSE(d->execute);
  ASSERT_EQ(d->to_replicas, 6) << d->reason;
  EXPECT_TRUE(Queued("web").empty());
  CurlReply r = Approve("operator", "web", R"({"replicas":6})");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_TRUE(aggregator_->EvaluateTriggers());
  std::vector<OutboxEntry> queued = Queued("web");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].executor, "webhook");
  EXPECT_THAT(queued[0].payload_json, HasSubstr(R"("to_replicas":6)"));

  std::string acting = spec;
  acting.replace(acting.find(R"("mode":"recommend-only")"), 23, R"("mode":"act")");
  Seed(ObjectKind::kService, acting, "acme");
  RunFor(2min, 4.0);
  d = DecisionOf("web");
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->execute);
  r = Approve("operator", "web", R"({"replicas":8})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("acts on its own"));
}

TEST_P(ApproveTest, StaleApprovalIsUsedUpWithoutAnAction) {
  if (server_ == nullptr) return;
  RunFor(3min, 3.0);
  ASSERT_EQ(Approve("operator", "web", R"({"replicas":6})").status, 202);
  // Before the leader's tick the recommendation changes (a lower max): not acted on.
  Seed(ObjectKind::kService, WebSpec(4), "acme");
  RunFor(10s, 3.0);
  EXPECT_TRUE(Audit("scale").empty());
  EXPECT_TRUE(Queued("web").empty());
  std::vector<AuditRecord> skipped = Audit("approve.skipped");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].name, "web");
  EXPECT_THAT(skipped[0].message, HasSubstr("the recommendation is 4 replicas now, not the 6 approved"));
  auto pending = store_->PendingApprovals();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  RunFor(1min, 3.0);
  EXPECT_EQ(Audit("approve.skipped").size(), 1u);
  EXPECT_TRUE(Audit("scale").empty());
}

TEST_P(ApproveTest, ApprovalIsUsedOnceAndOnlyByTheLeader) {
  if (server_ == nullptr) return;
  // Two store objects on one database, as two replicas: A leads, then B takes over.
  auto a = stores_.Open(location_);
  auto b = stores_.Open(location_);
  ASSERT_TRUE(a.ok() && b.ok());
  const int64_t now = ToUnixMillis(clock_.Now());
  ASSERT_TRUE((*a)->AcquireLease("a", now, 10'000).ok());
  AuditRecord audit = Admin();
  audit.action = "approve";
  audit.kind = "service";
  audit.tenant = "acme";
  audit.name = "web";
  auto first = (*a)->Approve({"acme", "web", 6, 0, "op", now}, audit);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // A later approval of the service replaces it.
  auto second = (*a)->Approve({"acme", "web", 7, 0, "op", now}, audit);
  ASSERT_TRUE(second.ok());
  EXPECT_GT(second->seq, first->seq);
  AuditRecord action = Admin();
  action.action = "scale";
  action.kind = "service";
  action.tenant = "acme";
  action.name = "web";
  auto used = (*a)->UseApproval(first->seq, action, {}, 6);
  EXPECT_EQ(used.status().code(), StatusCode::kNotFound) << used.status().ToString();
  // B takes over once A's lease expired: A's use is fenced off, and leaves the approval pending.
  ASSERT_TRUE((*b)->AcquireLease("b", now + 20'000, 10'000).ok());
  used = (*a)->UseApproval(second->seq, action, {}, 7);
  EXPECT_EQ(used.status().code(), StatusCode::kFailedPrecondition) << used.status().ToString();
  auto pending = (*b)->PendingApprovals();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].replicas, 7);
  EXPECT_EQ((*pending)[0].actor, "op");
  used = (*b)->UseApproval(second->seq, action, {}, 7);
  ASSERT_TRUE(used.ok()) << used.status().ToString();
  EXPECT_EQ(used->action, "scale");
  used = (*b)->UseApproval(second->seq, action, {}, 7);
  EXPECT_EQ(used.status().code(), StatusCode::kNotFound);
  pending = (*a)->PendingApprovals();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  auto verified = (*b)->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

}  // namespace
}  // namespace prescale::aggregator
