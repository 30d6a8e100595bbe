// Several aggregators (issue 17), the push side: the agent on the fixture tree
// pushes every batch to each of two real remote-write receivers on 127.0.0.1,
// each through its own pusher, queue and spool. One receiver down (503, then
// not listening) never delays the other; its batches wait in its own spool
// directory and all arrive, in order and once, when it is back, also across a
// restart of the agent. One URL keeps <data_dir>/spool and the unlabelled
// metrics of before; several label theirs with remote_name and url.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "prescale/agent/agent.h"
#include "prescale/agent/aggregator_urls.h"
#include "prescale/agent/pusher.h"
#include "prescale/agent/spool.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/remote_write_receiver.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::FakeClock;
using ::prescale::testing::PollUntil;
using ::prescale::testing::TempDir;
using testing::LabelOf;
using testing::ParsedExposition;
using Receiver = testing::RemoteWriteReceiver;

// The collection time of each batch a receiver accepted, in arrival order.
std::vector<int64_t> BatchTimes(Receiver& r) {
  std::vector<int64_t> out;
  for (const auto& a : r.accepted()) {
    EXPECT_FALSE(a.request.timeseries.empty());
    if (!a.request.timeseries.empty()) out.push_back(a.request.timeseries[0].samples.at(0).timestamp_ms);
  }
  return out;
}

double SamplesAccepted(Receiver& r) {
  double n = 0;
  for (const auto& a : r.accepted()) n += static_cast<double>(a.request.timeseries.size());
  return n;
}

// Bytes in the spool segments of `dir` (0 when there is no such directory).
uint64_t SegmentBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".seg") bytes += entry.file_size();
  }
  return bytes;
}

// The names in `dir` that start with "spool", sorted.
std::vector<std::string> SpoolDirs(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("spool")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A batch of one series, as an agent of before this change might have left it in its spool.
Batch OneSeriesBatch(int64_t timestamp_ms) {
  remote_write::WriteRequest req;
  remote_write::TimeSeries ts;
  ts.labels = {{"__name__", "left_in_the_spool"}};
  ts.samples = {{1.0, timestamp_ms}};
  req.timeseries.push_back(std::move(ts));
  Batch b;
  b.body = remote_write::Encode(req);
  b.samples = 1;
  b.timestamp_ms = timestamp_ms;
  return b;
}

class MultiPushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(up_.Start()) << up_.error();
    ASSERT_TRUE(down_.Start()) << down_.error();
  }

  // An agent on the fixture tree pushing to `urls` (one: aggregator_url, as a config of before).
  std::unique_ptr<Agent> MakeAgent(const std::vector<std::string>& urls) {
    AgentConfig c = testing::FixtureConfig(testing::Fixture("cgroup_v2"));
    if (urls.size() == 1) {
      c.aggregator_url = urls[0];
    } else {
      c.aggregator_urls = urls;
    }
    c.data_dir = dir_.path();
    PusherOptions tuning;
    tuning.queue_capacity = 2;
    tuning.backoff_base = 5ms;
    tuning.backoff_cap = 40ms;
    tuning.timeout = 2s;
    tuning.seed = 7;
    auto agent = Agent::Create(c, clock_, &tuning);
    EXPECT_TRUE(agent.ok()) << agent.status().ToString();
    return agent.ok() ? std::move(agent).value() : nullptr;
  }
  // One collection cycle (one batch to every pusher); returns its collection time.
  int64_t Cycle(Agent& agent) {
    clock_.Advance(1s);
    agent.CollectOnce();
    return ToUnixMillis(clock_.Now());
  }
  std::string SpoolOf(const Receiver& r) const { return dir_.path() + "/spool-" + PushTargetName(r.url()); }

  TempDir dir_{"prescale-multi-push"};
  FakeClock clock_;
  Receiver up_;
  Receiver down_;
};

TEST_F(MultiPushTest, TheLiveAggregatorGetsEveryBatchPromptlyAndTheDownOneAllOfThemWhenBack) {
  down_.GoDown();
  auto agent = MakeAgent({up_.url(), down_.url()});
  ASSERT_NE(agent, nullptr);
  ASSERT_EQ(agent->pushers().size(), 2u);
  for (const auto& p : agent->pushers()) p->Start();

  constexpr int kCycles = 12;
  std::vector<int64_t> produced;
  for (int i = 0; i < kCycles; ++i) {
    if (i == kCycles / 2) {  // from 503s to nothing listening, once a 503 was answered (no answer lost)
      ASSERT_TRUE(PollUntil([&] { return down_.down_answers() > 0; }, 10s));
      down_.Stop();
    }
    produced.push_back(Cycle(*agent));
    ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() == produced.size(); }, 10s))
        << "batch " << i << " did not reach the live aggregator: " << up_.accepted_count();
  }
  EXPECT_EQ(BatchTimes(up_), produced);

  // The down aggregator's batches wait in its own spool, behind its small queue.
  EXPECT_GT(SegmentBytes(SpoolOf(down_)), 0u);
  EXPECT_EQ(SegmentBytes(SpoolOf(up_)), 0u);
  std::vector<std::string> spools = {"spool-" + PushTargetName(down_.url()), "spool-" + PushTargetName(up_.url())};
  std::sort(spools.begin(), spools.end());
  EXPECT_EQ(SpoolDirs(dir_.path()), spools) << "no <data_dir>/spool with several URLs";
  ASSERT_TRUE(PollUntil(
      [&] {
        return ParsedExposition(agent->Exposition()).Value("prescale_agent_samples_sent_total", {{"url", up_.url()}}) ==
               SamplesAccepted(up_);
      },
      10s));
  {
    const ParsedExposition e(agent->Exposition());
    EXPECT_GT(e.Value("prescale_agent_spool_bytes", {{"url", down_.url()}}).value_or(0), 0);
    EXPECT_EQ(e.Value("prescale_agent_spool_bytes", {{"url", up_.url()}}).value_or(-1), 0);
    EXPECT_EQ(e.Value("prescale_agent_samples_sent_total",
                      {{"remote_name", PushTargetName(down_.url())}, {"url", down_.url()}})
                  .value_or(-1),
              0);
    EXPECT_GT(e.Value("prescale_agent_samples_retried_total", {{"url", down_.url()}}).value_or(0), 0);
    EXPECT_EQ(e.Value("prescale_agent_samples_retried_total", {{"url", up_.url()}}).value_or(-1), 0);
    for (const char* name :
         {"prescale_agent_push_queue_depth", "prescale_agent_spool_bytes", "prescale_agent_samples_sent_total",
          "prescale_agent_samples_retried_total", "prescale_agent_spool_corrupt_records_total",
          "prescale_agent_push_duration_seconds_count"}) {
      const auto samples = e.Find(name);
      EXPECT_EQ(samples.size(), 2u) << name << ": one series per URL";
      for (const auto& s : samples) {
        EXPECT_FALSE(LabelOf(s, "url").empty()) << name;
        EXPECT_EQ(LabelOf(s, "remote_name"), PushTargetName(LabelOf(s, "url"))) << name;
      }
    }
  }

  // Back: every batch in order and once, on both.
  ASSERT_TRUE(down_.Restart()) << down_.error();
  produced.push_back(Cycle(*agent));
  ASSERT_TRUE(PollUntil([&] { return down_.accepted_count() >= produced.size(); }, 20s))
      << down_.accepted_count() << " of " << produced.size();
  ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() >= produced.size(); }, 10s));
  EXPECT_EQ(BatchTimes(down_), produced);
  EXPECT_EQ(BatchTimes(up_), produced);
  EXPECT_TRUE(PollUntil(
      [&] {
        return ParsedExposition(agent->Exposition()).Value("prescale_agent_spool_bytes", {{"url", down_.url()}}) == 0;
      },
      10s));
}

TEST_F(MultiPushTest, ARestartedAgentDeliversWhatEachSpoolHeldAndNothingTwice) {
  down_.GoDown();
  std::vector<int64_t> produced;
  {
    auto agent = MakeAgent({up_.url(), down_.url()});
    ASSERT_NE(agent, nullptr);
    for (const auto& p : agent->pushers()) p->Start();
    for (int i = 0; i < 6; ++i) {
      produced.push_back(Cycle(*agent));
      ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() == produced.size(); }, 10s));
    }
    ASSERT_TRUE(PollUntil([&] { return down_.down_answers() > 0; }, 10s));
  }  // the agent stops: what each pusher holds in memory goes to the front of its own spool
  EXPECT_GT(SegmentBytes(SpoolOf(down_)), 0u);
  EXPECT_EQ(SegmentBytes(SpoolOf(up_)), 0u);

  down_.GoUp();
  auto agent = MakeAgent({up_.url(), down_.url()});
  ASSERT_NE(agent, nullptr);
  produced.push_back(Cycle(*agent));  // newer than the spool: waits behind it
  for (const auto& p : agent->pushers()) p->Start();
  produced.push_back(Cycle(*agent));
  ASSERT_TRUE(PollUntil([&] { return down_.accepted_count() >= produced.size(); }, 20s))
      << down_.accepted_count() << " of " << produced.size();
  ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() >= produced.size(); }, 10s));
  EXPECT_EQ(BatchTimes(down_), produced);
  EXPECT_EQ(BatchTimes(up_), produced);
}

TEST_F(MultiPushTest, OneUrlKeepsTheSpoolAndTheUnlabelledMetricsOfBefore) {
  const int64_t left_ms = ToUnixMillis(clock_.Now()) - 1000;
  {
    SpoolOptions so;
    so.dir = dir_.path() + "/spool";
    auto spool = Spool::Open(so, clock_);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    ASSERT_TRUE((*spool)->Append(OneSeriesBatch(left_ms)).ok());
  }
  auto agent = MakeAgent({up_.url()});
  ASSERT_NE(agent, nullptr);
  ASSERT_EQ(agent->pushers().size(), 1u);
  agent->pusher()->Start();
  const int64_t produced = Cycle(*agent);
  ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() >= 2; }, 10s)) << up_.accepted_count();
  EXPECT_EQ(BatchTimes(up_), (std::vector<int64_t>{left_ms, produced})) << "the spool of before goes first";
  EXPECT_EQ(SpoolDirs(dir_.path()), std::vector<std::string>{"spool"});
  ASSERT_TRUE(PollUntil(
      [&] {
        return ParsedExposition(agent->Exposition()).Value("prescale_agent_samples_sent_total") == SamplesAccepted(up_);
      },
      10s));
  const ParsedExposition e(agent->Exposition());
  for (const char* name : {"prescale_agent_push_queue_depth", "prescale_agent_spool_bytes",
                           "prescale_agent_samples_sent_total", "prescale_agent_push_duration_seconds_count"}) {
    const auto samples = e.Find(name);
    ASSERT_EQ(samples.size(), 1u) << name;
    EXPECT_TRUE(samples[0].labels.empty()) << name << " gained labels with a single URL";
  }
}

TEST_F(MultiPushTest, SeveralUrlsLeaveTheSingleUrlSpoolAlone) {
  const int64_t left_ms = ToUnixMillis(clock_.Now()) - 1000;
  {
    SpoolOptions so;
    so.dir = dir_.path() + "/spool";
    auto spool = Spool::Open(so, clock_);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    ASSERT_TRUE((*spool)->Append(OneSeriesBatch(left_ms)).ok());
  }
  auto agent = MakeAgent({up_.url(), down_.url()});
  ASSERT_NE(agent, nullptr);
  for (const auto& p : agent->pushers()) p->Start();
  const int64_t produced = Cycle(*agent);
  ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() >= 1 && down_.accepted_count() >= 1; }, 10s));
  EXPECT_EQ(BatchTimes(up_), std::vector<int64_t>{produced});
  EXPECT_EQ(BatchTimes(down_), std::vector<int64_t>{produced});
  agent.reset();

  SpoolOptions so;
  so.dir = dir_.path() + "/spool";
  auto spool = Spool::Open(so, clock_);
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  Batch front;
  auto found = (*spool)->Front(&front);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(*found) << "the single-URL spool was emptied";
  EXPECT_EQ(front.timestamp_ms, left_ms);
}

// The pusher side of sharing: one immutable batch handed to two pushers is sent by both, unchanged,
// and released once both are done with it.
TEST_F(MultiPushTest, TwoPushersShareOneBatchAndLabelTheirMetricsApart) {
  auto registry = std::make_shared<prometheus::Registry>();
  std::vector<std::unique_ptr<Pusher>> pushers;
  for (Receiver* r : {&up_, &down_}) {
    SpoolOptions so;
    so.dir = SpoolOf(*r);
    auto spool = Spool::Open(so, clock_);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    PusherOptions o;
    o.url = r->url();
    o.metric_labels = {{"remote_name", PushTargetName(r->url())}, {"url", r->url()}};
    auto p = Pusher::Create(o, http::NewBeastHttpClient(), std::move(spool).value(), clock_, registry.get());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pushers.push_back(std::move(p).value());
  }
  auto batch = std::make_shared<const Batch>(OneSeriesBatch(ToUnixMillis(clock_.Now())));
  const std::string body = batch->body;
  for (auto& p : pushers) p->Enqueue(batch);
  for (auto& p : pushers) p->Start();
  ASSERT_TRUE(PollUntil([&] { return up_.accepted_count() == 1 && down_.accepted_count() == 1; }, 10s));
  EXPECT_TRUE(PollUntil([&] { return batch.use_count() == 1; }, 10s)) << "a pusher still holds the sent batch";
  EXPECT_EQ(batch->body, body);
  for (auto& p : pushers) p->Stop();

  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, registry->Collect());
  const ParsedExposition e(text.str());
  for (Receiver* r : {&up_, &down_}) {
    EXPECT_EQ(e.Value("prescale_agent_samples_sent_total", {{"url", r->url()}}).value_or(-1), 1) << text.str();
  }
}

}  // namespace
}  // namespace prescale::agent
