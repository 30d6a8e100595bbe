// The aggregator's periodic work as Aggregator::Schedule lays it out, driven
// by a FakeClock through Scheduler::RunDue (no thread, no sleep): which job
// runs when, triggers evaluated as soon as one is published, actions
// delivered as soon as they are queued. With each control store
// (Stores/ScheduleTest.*/sqlite, /postgres).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/history/snapshot.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::map<std::string, std::unique_ptr<Executor>> NoExecutors(const AggregatorConfig&, const Clock&) { return {}; }

class ScheduleTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    AggregatorConfig config;
    config.data_dir = dir_.path();
    config.tick_interval = 10s;
    config.snapshot_interval = 120s;
    aggregator_ = std::make_unique<Aggregator>(config, clock_, NoExecutors);
    std::unique_ptr<ControlStore> store = stores_.OpenNew();
    if (store == nullptr) return;  // skipped, or failed saying why
    aggregator_->UseControlStore(std::move(store));
    ASSERT_TRUE(aggregator_->Schedule(&work_, &delivery_).ok());
  }

  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-schedule"};
  testing::TestControlStores stores_{GetParam()};
  std::unique_ptr<Aggregator> aggregator_;
  Scheduler work_{clock_};
  Scheduler delivery_{clock_};
};

INSTANTIATE_TEST_SUITE_P(Stores, ScheduleTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(ScheduleTest, TicksExpiryAndSnapshotsComeAtTheirPeriods) {
  EXPECT_THAT(work_.RunDue(), IsEmpty());
  clock_.Advance(10s);
  EXPECT_THAT(work_.RunDue(), ElementsAre("tick"));
  clock_.Advance(9s);
  EXPECT_THAT(work_.RunDue(), IsEmpty());
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(10s);
    (void)work_.RunDue();
  }
  clock_.Advance(11s);  // 70 s: the tick due at 60 s and the first expiry
  EXPECT_THAT(work_.RunDue(), ElementsAre("tick", "expire"));
  struct stat st {};
  EXPECT_NE(::stat(SnapshotPath(dir_.path()).c_str(), &st), 0) << "no snapshot before snapshot_interval";
  clock_.Advance(60s);  // 130 s: one tick for those missed since 70 s, expiry, the first snapshot
  EXPECT_THAT(work_.RunDue(), ElementsAre("tick", "expire", "snapshot"));
  EXPECT_EQ(::stat(SnapshotPath(dir_.path()).c_str(), &st), 0) << "the snapshot job wrote the history";
  std::map<std::string, int64_t> runs;
  for (const Scheduler::JobStats& s : work_.Stats()) runs[s.name] = s.runs;
  EXPECT_EQ(runs["tick"], 7) << "every 10 s, missed ones coalesced into one";
  EXPECT_EQ(runs["expire"], 2);
  EXPECT_EQ(runs["snapshot"], 1);
}

TEST_P(ScheduleTest, APublishedTriggerIsEvaluatedAtOnce) {
  EXPECT_THAT(work_.RunDue(), IsEmpty());
  TriggerEvent e;
  e.source = "threshold";
  e.name = "queue";
  e.tenant = "acme";
  e.service = "web";
  ASSERT_TRUE(aggregator_->triggers().Publish(e));
  EXPECT_THAT(work_.RunDue(), ElementsAre("triggers")) << "no clock advance needed";
  EXPECT_FALSE(aggregator_->triggers().pending()) << "the evaluation drained the bus";
  EXPECT_THAT(work_.RunDue(), IsEmpty());
}

TEST_P(ScheduleTest, DeliveriesRetryEveryHalfSecondAndReadBackEveryThirtySeconds) {
  EXPECT_THAT(delivery_.RunDue(), ElementsAre("read_back")) << "targets are read back at start";
  clock_.Advance(500ms);
  EXPECT_THAT(delivery_.RunDue(), ElementsAre("retry"));
  delivery_.Wake();  // what the decision loop does when it queues actions
  EXPECT_THAT(delivery_.RunDue(), ElementsAre("deliver"));
  clock_.Advance(29500ms);
  EXPECT_THAT(delivery_.RunDue(), ElementsAre("retry", "read_back"));
}

TEST(ScheduleWithoutControlStore, HasNoDeliveriesAndNoSnapshotsWithoutDataDir) {
  testing::FakeClock clock;
  Aggregator aggregator(AggregatorConfig{}, clock, NoExecutors);
  Scheduler work(clock), delivery(clock);
  ASSERT_TRUE(aggregator.Schedule(&work, &delivery).ok());
  std::vector<std::string> names;
  for (const Scheduler::JobStats& s : work.Stats()) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("tick", "triggers", "expire"));
  EXPECT_THAT(delivery.Stats(), IsEmpty());
}

}  // namespace
}  // namespace prescale::aggregator
