// The pusher against a real receiver (remote_write_receiver.h): prescale's
// HttpServer on 127.0.0.1, decoding with remote_write::Decode, answering
// scripted statuses or stopped to make an outage.
#include "prescale/agent/pusher.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prescale/remote_write/remote_write.h"
#include "tests/agent/agent_fixture.h"
#include "tests/agent/remote_write_receiver.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::FakeClock;
using ::prescale::testing::FreeLoopbackPort;
using ::prescale::testing::PollUntil;
using ::prescale::testing::TempDir;
using Receiver = testing::RemoteWriteReceiver;

constexpr uint32_t kSeriesPerBatch = 3;

// Batch number n: kSeriesPerBatch series "m{series=...}" with value n at time base+n.
Batch MakeBatch(int n, int64_t base_ms) {
  remote_write::WriteRequest req;
  for (uint32_t s = 0; s < kSeriesPerBatch; ++s) {
    remote_write::TimeSeries ts;
    ts.labels = {{"__name__", "m"}, {"series", std::to_string(s)}};
    ts.samples = {{static_cast<double>(n), base_ms + n}};
    req.timeseries.push_back(std::move(ts));
  }
  Batch b;
  b.body = remote_write::Encode(req);
  b.samples = kSeriesPerBatch;
  b.timestamp_ms = base_ms + n;
  return b;
}

// The batch numbers the receiver accepted, in arrival order.
std::vector<int> AcceptedNumbers(Receiver& r) {
  std::vector<int> out;
  for (const auto& a : r.accepted()) {
    EXPECT_EQ(a.request.timeseries.size(), kSeriesPerBatch);
    if (!a.request.timeseries.empty()) out.push_back(static_cast<int>(a.request.timeseries[0].samples.at(0).value));
  }
  return out;
}

std::vector<int> Range(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

std::optional<double> MetricValue(prometheus::Registry& registry, const std::string& name,
                                  const std::map<std::string, std::string>& labels = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      size_t matched = 0;
      for (const auto& l : m.label) {
        auto it = labels.find(l.name);
        if (it != labels.end() && it->second == l.value) ++matched;
      }
      if (matched != labels.size()) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter: return m.counter.value;
        case prometheus::MetricType::Gauge: return m.gauge.value;
        case prometheus::MetricType::Histogram: return static_cast<double>(m.histogram.sample_count);
        default: return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

class PusherTest : public ::testing::Test {
 protected:
  // A pusher to url; the spool lives in dir_/spool (shared by every pusher of a test).
  std::unique_ptr<Pusher> Make(const std::string& url, PusherOptions o = {},
                               const std::shared_ptr<prometheus::Registry>& registry = nullptr) {
    return MakeOn(OpenSpool(), url, std::move(o), registry);
  }
  // The spool in dir_/spool, with these bounds.
  std::unique_ptr<Spool> OpenSpool(SpoolOptions so = {}) {
    so.dir = dir_.path() + "/spool";
    auto spool = Spool::Open(so, clock_);
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return spool.ok() ? std::move(spool).value() : nullptr;
  }
  // A pusher to url on the given spool.
  std::unique_ptr<Pusher> MakeOn(std::unique_ptr<Spool> spool, const std::string& url, PusherOptions o = {},
                                 const std::shared_ptr<prometheus::Registry>& registry = nullptr) {
    if (spool == nullptr) return nullptr;
    o.url = url;
    o.seed = 42;
    o.timeout = 2s;
    if (o.backoff_base == PusherOptions{}.backoff_base) {
      o.backoff_base = 5ms;
      o.backoff_cap = 40ms;
    }
    auto p = Pusher::Create(std::move(o), http::NewBeastHttpClient(), std::move(spool), clock_,
                            (registry ? registry : registry_).get());
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return MetricValue(*registry_, name, labels).value_or(-1);
  }
  int64_t Base() const { return ToUnixMillis(clock_.Now()); }
  // Records the requested backoff delays instead of waiting them out.
  PusherOptions RecordingSleeps() {
    PusherOptions o;
    o.sleep = [this](std::chrono::milliseconds d) {
      std::lock_guard<std::mutex> lock(mu_);
      sleeps_.push_back(d);
    };
    return o;
  }
  std::vector<std::chrono::milliseconds> sleeps() {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

  TempDir dir_{"prescale-pusher"};
  FakeClock clock_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::mutex mu_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(PusherTest, SendsRemoteWriteWithItsHeadersAndTheBearerToken) {
  Receiver receiver;
  ASSERT_TRUE(receiver.Start()) << receiver.error();
  PusherOptions o;
  o.token_file = dir_.Write("token", "  s3cret-token \n");
  auto pusher = Make(receiver.url(), o);
  ASSERT_NE(pusher, nullptr);
  pusher->Start();
  pusher->Enqueue(MakeBatch(7, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() == 1; }, 10s));
  const auto accepted = receiver.accepted();
  const auto& h = accepted[0].headers;
  EXPECT_EQ(h.at("content-encoding"), "snappy");
  EXPECT_EQ(h.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(h.at("x-prometheus-remote-write-version"), "0.1.0");
  EXPECT_EQ(h.at("authorization"), "Bearer s3cret-token");
  EXPECT_TRUE(h.at("user-agent").starts_with("prescale-agent/")) << h.at("user-agent");
  ASSERT_EQ(accepted[0].request.timeseries.size(), kSeriesPerBatch);
  EXPECT_EQ(accepted[0].request.timeseries[1].labels[1].value, "1");
  EXPECT_EQ(accepted[0].request.timeseries[1].samples[0].timestamp_ms, Base() + 7);
  ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_sent_total") == kSeriesPerBatch; }, 5s));
  EXPECT_EQ(Metric("prescale_agent_push_duration_seconds"), 1);
  EXPECT_EQ(Metric("prescale_agent_samples_retried_total"), 0);
}

TEST_F(PusherTest, RetriesServerErrorsAnd429WithCappedExponentialBackoff) {
  Receiver receiver;
  ASSERT_TRUE(receiver.Start()) << receiver.error();
  receiver.Script({500, 429, 503, 502});
  PusherOptions o = RecordingSleeps();
  o.backoff_base = 500ms;
  o.backoff_cap = 1500ms;
  auto pusher = Make(receiver.url(), o);
  pusher->Start();
  pusher->Enqueue(MakeBatch(1, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() == 1; }, 10s));
  EXPECT_EQ(receiver.attempts(), 5u);
  EXPECT_EQ(AcceptedNumbers(receiver), std::vector<int>{1});
  ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_sent_total") == kSeriesPerBatch; }, 5s));
  EXPECT_EQ(Metric("prescale_agent_samples_retried_total"), 4 * kSeriesPerBatch);
  const auto delays = sleeps();
  ASSERT_EQ(delays.size(), 4u);
  const std::chrono::milliseconds ceilings[] = {500ms, 1000ms, 1500ms, 1500ms};  // capped
  for (size_t i = 0; i < delays.size(); ++i) {
    EXPECT_GE(delays[i].count(), 0);
    EXPECT_LE(delays[i], ceilings[i]) << "retry " << i + 1;
  }
}

TEST_F(PusherTest, OtherClientErrorsAreNotRetriedButDroppedAndCountedByStatus) {
  Receiver receiver;
  ASSERT_TRUE(receiver.Start()) << receiver.error();
  receiver.Script({400, 413});
  PusherOptions o = RecordingSleeps();
  auto pusher = Make(receiver.url(), o);
  pusher->Start();
  pusher->Enqueue(MakeBatch(1, Base()));
  pusher->Enqueue(MakeBatch(2, Base()));
  pusher->Enqueue(MakeBatch(3, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() == 1; }, 10s));
  EXPECT_EQ(receiver.attempts(), 3u) << "each rejected batch is tried once";
  EXPECT_EQ(AcceptedNumbers(receiver), std::vector<int>{3});
  EXPECT_EQ(Metric("prescale_agent_samples_dropped_total", {{"reason", "400"}}), kSeriesPerBatch);
  EXPECT_EQ(Metric("prescale_agent_samples_dropped_total", {{"reason", "413"}}), kSeriesPerBatch);
  EXPECT_EQ(Metric("prescale_agent_samples_retried_total"), 0);
  EXPECT_TRUE(sleeps().empty());
}

TEST_F(PusherTest, SpoolsWhileTheReceiverIsDownThenReplaysInOrderWithoutDuplicates) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  PusherOptions o;
  o.queue_capacity = 2;
  auto pusher = Make("http://127.0.0.1:" + std::to_string(port) + "/api/v1/write", o);
  pusher->Start();
  for (int i = 0; i < 12; ++i) pusher->Enqueue(MakeBatch(i, Base()));
  // At most the batch in flight and the two in the queue are in memory.
  EXPECT_GT(Metric("prescale_agent_spool_bytes"), 0);
  EXPECT_LE(pusher->queue_depth(), 2u);
  ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_retried_total") > 0; }, 10s));

  Receiver receiver;
  ASSERT_TRUE(receiver.Start(port)) << receiver.error();
  for (int i = 12; i < 15; ++i) pusher->Enqueue(MakeBatch(i, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() >= 15; }, 15s)) << receiver.accepted_count();
  EXPECT_EQ(AcceptedNumbers(receiver), Range(0, 15));
  ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_spool_bytes") == 0; }, 5s));
  EXPECT_EQ(Metric("prescale_agent_samples_sent_total"), 15 * kSeriesPerBatch);
  // Back to the queue once the spool is drained.
  pusher->Enqueue(MakeBatch(15, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() == 16; }, 10s));
  EXPECT_EQ(Metric("prescale_agent_spool_bytes"), 0);
}

TEST_F(PusherTest, ARestartedAgentReplaysTheSpoolItFindsOnDiskFirst) {
  const int port = FreeLoopbackPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  {
    PusherOptions o;
    o.queue_capacity = 2;
    auto first = Make(url, o);
    first->Start();
    for (int i = 0; i < 6; ++i) first->Enqueue(MakeBatch(i, Base()));
    ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_retried_total") > 0; }, 10s));
    first->Stop();  // the batches in memory go to the front of the spool
  }
  Receiver receiver;
  ASSERT_TRUE(receiver.Start(port)) << receiver.error();
  auto registry = std::make_shared<prometheus::Registry>();
  auto second = Make(url, {}, registry);
  EXPECT_GT(MetricValue(*registry, "prescale_agent_spool_bytes").value_or(0), 0);
  second->Enqueue(MakeBatch(6, Base()));  // newer than the spool: must wait behind it
  second->Start();
  second->Enqueue(MakeBatch(7, Base()));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() >= 8; }, 15s)) << receiver.accepted_count();
  EXPECT_EQ(AcceptedNumbers(receiver), Range(0, 8));
}

TEST_F(PusherTest, AFullSpoolDropsTheOldestBatchesAndCountsThem) {
  SpoolOptions so;
  so.dir = dir_.path() + "/small";
  so.max_bytes = 4096;
  so.segment_bytes = 1024;
  auto spool = Spool::Open(so, clock_);
  ASSERT_TRUE(spool.ok());
  const int port = FreeLoopbackPort();
  PusherOptions o = RecordingSleeps();
  o.url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  o.queue_capacity = 1;
  auto pusher = Pusher::Create(o, http::NewBeastHttpClient(), std::move(spool).value(), clock_, registry_.get());
  ASSERT_TRUE(pusher.ok());
  for (int i = 0; i < 100; ++i) (*pusher)->Enqueue(MakeBatch(i, Base()));  // not started: nothing leaves
  EXPECT_GT(Metric("prescale_agent_samples_dropped_total", {{"reason", "spool_full"}}), 0);
  EXPECT_LE(Metric("prescale_agent_spool_bytes"), 4096 + 200);
  EXPECT_EQ(Metric("prescale_agent_push_queue_depth"), 1);
}

// The pusher retries the oldest spooled batch while the receiver is down and the spool fills up and drops
// the segment that batch was read from. Stop() keeps it (the spool no longer does), the spool did not count
// it as dropped, and the next run delivers it: every batch is delivered once or counted as dropped once.
TEST_F(PusherTest, StopKeepsTheBatchItRetriesWhenAFullSpoolDroppedItsSegment) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  SpoolOptions small;
  small.max_bytes = 4096;
  small.segment_bytes = 1024;
  constexpr int kBatches = 100;
  {
    auto spool = OpenSpool(small);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append(MakeBatch(0, Base())).ok());  // spooled by an earlier run: read first
    auto first = MakeOn(std::move(spool), url);
    ASSERT_NE(first, nullptr);
    first->Start();
    // Nothing listens: the pusher holds batch 0, read from the spool, and retries it.
    ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_retried_total") > 0; }, 10s));
    for (int i = 1; i < kBatches; ++i) first->Enqueue(MakeBatch(i, Base()));  // behind the spool, which overflows
    ASSERT_GT(Metric("prescale_agent_samples_dropped_total", {{"reason", "spool_full"}}), 0);
    first->Stop();
  }
  Receiver receiver;
  ASSERT_TRUE(receiver.Start(port)) << receiver.error();
  auto registry = std::make_shared<prometheus::Registry>();
  auto second = MakeOn(OpenSpool(small), url, {}, registry);
  ASSERT_NE(second, nullptr);
  second->Start();
  ASSERT_TRUE(PollUntil([&] { return MetricValue(*registry, "prescale_agent_spool_bytes") == 0; }, 15s));
  second->Stop();

  const std::vector<int> accepted = AcceptedNumbers(receiver);
  ASSERT_FALSE(accepted.empty());
  EXPECT_EQ(accepted.front(), 0) << "the batch the first pusher held was lost";
  EXPECT_EQ(accepted.back(), kBatches - 1);
  EXPECT_EQ(std::set<int>(accepted.begin(), accepted.end()).size(), accepted.size()) << "a batch arrived twice";
  const double dropped =
      Metric("prescale_agent_samples_dropped_total", {{"reason", "spool_full"}}) +
      MetricValue(*registry, "prescale_agent_samples_dropped_total", {{"reason", "spool_full"}}).value_or(0);
  EXPECT_EQ(accepted.size() * kSeriesPerBatch + dropped, kBatches * kSeriesPerBatch)
      << "delivered and dropped samples should add up to what was produced";
}

// As above, but the held batch outlives the spool's max_age while its segment stays (newer batches in it):
// Stop() finds the spool stepping over it and keeps it, and it is counted as an age drop once, when the
// next run reads it back, not also at Stop().
TEST_F(PusherTest, ABatchHeldPastMaxAgeAtStopIsCountedAsAnAgeDropOnce) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  SpoolOptions hour;
  hour.max_age = 1h;
  {
    auto spool = OpenSpool(hour);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append(MakeBatch(0, Base())).ok());
    clock_.Advance(50min);
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Base())).ok());  // the same segment
    auto first = MakeOn(std::move(spool), url);
    ASSERT_NE(first, nullptr);
    first->Start();
    ASSERT_TRUE(PollUntil([&] { return Metric("prescale_agent_samples_retried_total") > 0; }, 10s));
    clock_.Advance(20min);  // batch 0 is 70 min old, the others 20 min
    first->Stop();
  }
  const double age_at_stop = std::max(0.0, Metric("prescale_agent_samples_dropped_total", {{"reason", "spool_age"}}));
  Receiver receiver;
  ASSERT_TRUE(receiver.Start(port)) << receiver.error();
  auto registry = std::make_shared<prometheus::Registry>();
  auto second = MakeOn(OpenSpool(hour), url, {}, registry);
  ASSERT_NE(second, nullptr);
  second->Start();
  ASSERT_TRUE(PollUntil([&] { return MetricValue(*registry, "prescale_agent_spool_bytes") == 0; }, 15s));
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() >= 3; }, 10s));
  second->Stop();

  EXPECT_EQ(AcceptedNumbers(receiver), (std::vector<int>{1, 2, 3}));
  const double age_on_replay =
      MetricValue(*registry, "prescale_agent_samples_dropped_total", {{"reason", "spool_age"}}).value_or(0);
  EXPECT_EQ(age_at_stop + age_on_replay, kSeriesPerBatch)
      << "batch 0 counted as an age drop " << age_at_stop << " samples at Stop() and " << age_on_replay << " on replay";
}

TEST_F(PusherTest, AnUnreadableOrEmptyTokenFileIsAnErrorNamingIt) {
  for (const std::string& path : {dir_.path() + "/missing", dir_.Write("empty-token", " \n")}) {
    SpoolOptions so;
    so.dir = dir_.path() + "/spool";
    PusherOptions o;
    o.url = "http://127.0.0.1:1/api/v1/write";
    o.token_file = path;
    auto p = Pusher::Create(o, http::NewBeastHttpClient(), std::move(Spool::Open(so, clock_)).value(), clock_,
                            registry_.get());
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.status().message().find(path), std::string::npos) << p.status().message();
  }
}

TEST(PusherBackoff, DelaysAreFullJitterUnderACappedExponential) {
  std::mt19937_64 rng(7);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(30000, int64_t{500} << (attempt - 1));
    int64_t max_seen = 0;
    for (int i = 0; i < 300; ++i) {
      const auto d = BackoffDelay(attempt, 500ms, 30000ms, &rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      max_seen = std::max(max_seen, d);
    }
    EXPECT_GT(max_seen, ceiling * 9 / 10) << "jitter should span [0, ceiling] at attempt " << attempt;
  }
}

// The agent on the fixture tree pushes every 100ms; the receiver answers 503,
// is stopped for ~2s and started again. Every batch produced during the outage arrives
// exactly once, and each series' samples arrive in time order.
TEST(PusherOutage, EveryBatchOfAnOutageArrivesOnceAndInOrderPerSeries) {
  Receiver receiver;
  ASSERT_TRUE(receiver.Start()) << receiver.error();
  TempDir dir("prescale-outage");
  AgentConfig config = testing::FixtureConfig(testing::Fixture("cgroup_v2"));
  config.interval = 100ms;
  config.aggregator_url = receiver.url();
  config.data_dir = dir.path();
  PusherOptions tuning;
  tuning.queue_capacity = 2;
  tuning.backoff_base = 20ms;
  tuning.backoff_cap = 200ms;
  tuning.timeout = 2s;
  auto agent = Agent::Create(config, SystemClock::Instance(), &tuning);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  std::atomic<int> cycles{0};
  std::thread runner([&] { (*agent)->Run([&] { ++cycles; }); });

  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() >= 3; }, 10s));
  // The outage: 503s, then nothing listening. Stopping only after a 503 was
  // answered means no accepted request lost its answer: a lost answer makes
  // any remote-write sender send that batch again (at least once, by design).
  receiver.GoDown();
  ASSERT_TRUE(PollUntil([&] { return receiver.down_answers() > 0; }, 10s));
  receiver.Stop();
  const int outage_start = cycles.load();
  ASSERT_TRUE(PollUntil([&] { return cycles.load() >= outage_start + 20; }, 15s));
  const int port = receiver.port();
  ASSERT_TRUE(receiver.Start(port)) << receiver.error();
  const int produced = cycles.load();
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_count() >= static_cast<size_t>(produced); }, 15s))
      << receiver.accepted_count() << " of " << produced;
  (*agent)->Stop();
  runner.join();

  // One batch per cycle, each with one timestamp; per series, timestamps strictly increase.
  std::map<std::string, std::vector<int64_t>> per_series;
  std::set<int64_t> batch_times;
  for (const auto& a : receiver.accepted()) {
    ASSERT_FALSE(a.request.timeseries.empty());
    const int64_t t = a.request.timeseries[0].samples.at(0).timestamp_ms;
    EXPECT_TRUE(batch_times.insert(t).second) << "batch at " << t << " arrived twice";
    for (const auto& ts : a.request.timeseries) {
      std::string key;
      for (const auto& l : ts.labels) key += l.name + "=" + l.value + ",";
      for (const auto& s : ts.samples) per_series[key].push_back(s.timestamp_ms);
    }
  }
  EXPECT_GE(batch_times.size(), static_cast<size_t>(produced));
  ASSERT_FALSE(per_series.empty());
  for (const auto& [key, times] : per_series) {
    for (size_t i = 1; i < times.size(); ++i) ASSERT_LT(times[i - 1], times[i]) << key;
    EXPECT_EQ(times.size(), batch_times.size()) << key << " is missing from some batches";
  }
}

}  // namespace
}  // namespace prescale::agent
