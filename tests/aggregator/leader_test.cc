// Leadership among replicas sharing a control store (issue 17), on both
// stores: the lease and its fencing token (ControlStore::AcquireLease), the
// fencing of every action write, the caps the leader publishes, and
// LeaderElection's own view of its lease on an injected clock. Each "replica"
// here is a store object of its own on one database (its own SQLite
// connection to one file, its own PostgreSQL connection), as two processes
// would have.
#include "prescale/aggregator/control/leader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "prescale/aggregator/control/control_store.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

AuditRecord ScaleAudit(const std::string& service, int64_t time_ms) {
  AuditRecord audit;
  audit.time_ms = time_ms;
  audit.actor = "decisions";
  audit.action = "scale";
  audit.kind = "service";
  audit.tenant = "a";
  audit.name = service;
  audit.message = "scale " + service;
  return audit;
}

class LeaseTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    location_ = stores_.NewLocation();
    if (location_.empty()) return;  // skipped or failed, saying why
    a_ = Open();
    b_ = Open();
  }

  std::unique_ptr<ControlStore> Open() {
    auto opened = stores_.Open(location_);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  std::vector<AuditRecord> Audit() {
    AuditQuery query;
    query.limit = 1000;
    auto page = a_->ListAudit(query);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<AuditRecord>{};
  }

  testing::TestControlStores stores_{GetParam()};
  std::string location_;
  std::unique_ptr<ControlStore> a_, b_;  // two replicas' connections
};

INSTANTIATE_TEST_SUITE_P(Stores, LeaseTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(LeaseTest, OneHolderAtATimeAndTheTokenGrowsOnEveryTakeover) {
  if (a_ == nullptr) return;
  auto first = a_->AcquireLease("a/1", 1000, 500);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->holder, "a/1");
  EXPECT_EQ(first->token, 1);
  EXPECT_EQ(first->expires_ms, 1500);

  auto refused = b_->AcquireLease("b/1", 1400, 500);  // still a's
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->holder, "a/1");
  EXPECT_EQ(refused->token, 1);

  auto renewed = a_->AcquireLease("a/1", 1450, 500);  // renewal: same token, later expiry
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->token, 1);
  EXPECT_EQ(renewed->expires_ms, 1950);
  EXPECT_EQ(b_->AcquireLease("b/1", 1900, 500)->holder, "a/1");

  auto taken = b_->AcquireLease("b/1", 1950, 500);  // expired: b takes it
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->holder, "b/1");
  EXPECT_EQ(taken->token, 2);
  auto lost = a_->AcquireLease("a/1", 2000, 500);
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(lost->holder, "b/1");
  EXPECT_EQ(a_->ReadLease()->token, 2);

  // A holder renews its own expired lease nobody took, keeping its token.
  auto late = b_->AcquireLease("b/1", 9000, 500);
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->holder, "b/1");
  EXPECT_EQ(late->token, 2);
}

TEST_P(LeaseTest, TakeoversAreAuditedInTheChain) {
  if (a_ == nullptr) return;
  ASSERT_TRUE(a_->AcquireLease("a/1", 1000, 500).ok());
  ASSERT_TRUE(a_->AcquireLease("a/1", 1200, 500).ok());  // a renewal is not audited
  ASSERT_TRUE(b_->AcquireLease("b/1", 1800, 500).ok());
  const std::vector<AuditRecord> records = Audit();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].action, "leader.acquire");
  EXPECT_EQ(records[0].actor, "a/1");
  EXPECT_EQ(records[0].before_json, "null");
  EXPECT_EQ(records[1].actor, "b/1");
  EXPECT_THAT(records[1].message, HasSubstr("fencing token 2"));
  EXPECT_THAT(records[1].message, HasSubstr("a/1's lease expired at 1700"));
  EXPECT_THAT(records[1].before_json, HasSubstr(R"("holder":"a/1")"));
  auto verified = b_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;
}

TEST_P(LeaseTest, TheOldLeaderWritesNoActionOnceAnotherTookTheLease) {
  if (a_ == nullptr) return;
  ASSERT_EQ(a_->AcquireLease("a/1", 1000, 500)->holder, "a/1");
  ASSERT_TRUE(a_->RecordAction(ScaleAudit("web", 1100), testing::TestOutboxEntry("act_1", "web", 1100), 3).ok());
  ASSERT_TRUE(a_->RecordAction(ScaleAudit("api", 1150), testing::TestOutboxEntry("act_2", "api", 1150), 2).ok());
  ASSERT_TRUE(a_->PublishCaps({{"a", "web", 1.5}}).ok());

  // a pauses past its lease; b takes it. a wakes up and carries on.
  ASSERT_EQ(b_->AcquireLease("b/1", 1600, 500)->holder, "b/1");
  auto recorded = a_->RecordAction(ScaleAudit("web", 1700), testing::TestOutboxEntry("act_3", "web", 1700), 4);
  ASSERT_FALSE(recorded.ok());
  EXPECT_EQ(recorded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(recorded.status().message(), HasSubstr("not the leader"));
  EXPECT_THAT(recorded.status().message(), HasSubstr("held by b/1 with fencing token 2"));
  EXPECT_EQ(a_->RetryAction("act_1", 5000, "timeout").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a_->FinishAction("act_1", ScaleAudit("web", 1700)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a_->PublishCaps({}).code(), StatusCode::kFailedPrecondition);

  // Nothing of it landed: act_1 is still queued, untouched, act_3 never was,
  // the caps are a's last ones; the new leader goes on from there.
  auto queued = b_->QueuedActions(10);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].action_id, "act_1");
  EXPECT_EQ((*queued)[0].attempts, 0);
  EXPECT_EQ((*queued)[1].action_id, "act_2");
  EXPECT_EQ(b_->PublishedCaps()->size(), 1u);
  ASSERT_TRUE(b_->FinishAction("act_1", ScaleAudit("web", 1800)).ok());
  ASSERT_TRUE(b_->RetryAction("act_2", 5000, "timeout").ok());
  ASSERT_TRUE(b_->RecordAction(ScaleAudit("web", 1900), testing::TestOutboxEntry("act_4", "web", 1900), 5).ok());
  for (const AuditRecord& r : Audit()) EXPECT_NE(r.time_ms, 1700) << r.action << " " << r.message;
  auto verified = b_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->reason;

  // Renewing shows a it follows, and it stays fenced.
  EXPECT_EQ(a_->AcquireLease("a/1", 2000, 500)->holder, "b/1");
  EXPECT_EQ(a_->RecordAction(ScaleAudit("web", 2000), std::nullopt, 4).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(LeaseTest, AReplicaThatNeverLedIsFencedAndAStoreOutsideTheElectionIsNot) {
  if (a_ == nullptr) return;
  ASSERT_EQ(a_->AcquireLease("a/1", 1000, 500)->holder, "a/1");
  ASSERT_EQ(b_->AcquireLease("b/1", 1100, 500)->holder, "a/1");
  auto refused = b_->RecordAction(ScaleAudit("web", 1200), std::nullopt, 2);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("b/1 never held it"));
  // One process on its own (the command line, a store without replicas) never asks for the lease.
  auto alone = Open();
  ASSERT_NE(alone, nullptr);
  EXPECT_TRUE(alone->RecordAction(ScaleAudit("web", 1300), std::nullopt, 2).ok());
}

TEST_P(LeaseTest, AReleasedLeaseIsTakenAtOnce) {
  if (a_ == nullptr) return;
  ASSERT_EQ(a_->AcquireLease("a/1", 1000, 60'000)->holder, "a/1");
  ASSERT_TRUE(b_->ReleaseLease("b/1").ok());  // not b's: nothing happens
  EXPECT_EQ(b_->AcquireLease("b/1", 1100, 60'000)->holder, "a/1");
  ASSERT_TRUE(a_->ReleaseLease("a/1").ok());
  auto taken = b_->AcquireLease("b/1", 1200, 60'000);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->holder, "b/1");
  EXPECT_EQ(taken->token, 2);
}

TEST_P(LeaseTest, PublishedCapsReachTheOtherReplicas) {
  if (a_ == nullptr) return;
  EXPECT_TRUE(b_->PublishedCaps()->empty());
  ASSERT_EQ(a_->AcquireLease("a/1", 1000, 500)->holder, "a/1");
  const std::vector<PublishedCap> caps = {{"a", "api", 0.25}, {"a", "web", 1.0 / 3.0}, {"b", "db", 12.5}};
  ASSERT_TRUE(a_->PublishCaps(caps).ok());
  auto read = b_->PublishedCaps();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, caps);  // exactly: the shortest text of a double reads back the same
  ASSERT_TRUE(a_->PublishCaps({{"a", "web", 2}}).ok());
  EXPECT_EQ(*b_->PublishedCaps(), (std::vector<PublishedCap>{{"a", "web", 2}}));
  ASSERT_TRUE(a_->PublishCaps({}).ok());
  EXPECT_TRUE(b_->PublishedCaps()->empty());
}

// LeaderElection over two replicas' stores, on one fake clock.
class LeaderElectionTest : public LeaseTest {
 protected:
  static constexpr auto kLease = 3000ms;
  testing::FakeClock clock_;
};

INSTANTIATE_TEST_SUITE_P(Stores, LeaderElectionTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(LeaderElectionTest, AFollowerTakesOverWhenTheLeaderStopsRenewing) {
  if (a_ == nullptr) return;
  LeaderElection a(a_.get(), clock_, {.replica = "agg-0", .lease = kLease}, "00000001");
  LeaderElection b(b_.get(), clock_, {.replica = "agg-1", .lease = kLease}, "00000002");
  EXPECT_EQ(a.holder(), "agg-0/00000001");
  EXPECT_EQ(b.renew_interval(), 1000ms);
  EXPECT_TRUE(a.Step());
  EXPECT_FALSE(b.Step());
  EXPECT_EQ(b.leader(), "agg-0");
  EXPECT_EQ(b.token(), 1);
  for (int i = 0; i < 5; ++i) {  // renewed every third of the lease: a keeps it
    clock_.Advance(1000ms);
    EXPECT_TRUE(a.Step());
    EXPECT_FALSE(b.Step());
  }
  // a stops renewing (frozen). By its own clock it stops leading after three
  // quarters of the lease, before b may take it over.
  clock_.Advance(2250ms);
  EXPECT_FALSE(a.IsLeader());
  EXPECT_FALSE(b.Step());
  clock_.Advance(750ms);
  EXPECT_TRUE(b.Step());
  EXPECT_EQ(b.token(), 2);
  // a wakes up: it follows b.
  EXPECT_FALSE(a.Step());
  EXPECT_EQ(a.leader(), "agg-1");
  std::string metrics;
  a.AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_leader{replica=\"agg-0\"} 0\n"));
  EXPECT_THAT(metrics, HasSubstr("prescale_leader_changes_total{replica=\"agg-0\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("prescale_leader_fencing_token{replica=\"agg-0\"} 2\n"));
  metrics.clear();
  b.AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_leader{replica=\"agg-1\"} 1\n"));
}

TEST_P(LeaderElectionTest, ARestartedReplicaTakesANewTokenAndReleaseHandsOver) {
  if (a_ == nullptr) return;
  {
    LeaderElection a(a_.get(), clock_, {.replica = "agg-0", .lease = kLease});
    ASSERT_TRUE(a.Step());
  }                                                                               // killed without releasing
  LeaderElection again(b_.get(), clock_, {.replica = "agg-0", .lease = kLease});  // same name, new process
  EXPECT_FALSE(again.Step());                                                     // the old lease runs on
  clock_.Advance(kLease);
  ASSERT_TRUE(again.Step());
  EXPECT_EQ(again.token(), 2);
  auto c_store = Open();
  LeaderElection c(c_store.get(), clock_, {.replica = "agg-2", .lease = kLease});
  EXPECT_FALSE(c.Step());
  again.Release();
  EXPECT_FALSE(again.IsLeader());
  EXPECT_TRUE(c.Step());
  EXPECT_EQ(c.token(), 3);
}

}  // namespace
}  // namespace prescale::aggregator
