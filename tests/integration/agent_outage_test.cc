// Outages between the real prescale-agent (1 s interval, the machine's /proc
// and /sys/fs/cgroup) and the real prescale-aggregator, which is stopped and
// started again on the same port with its --data-dir (SIGTERM writes a
// snapshot, the restart loads it), so the aggregator ends up holding every
// sample it ever accepted.
//
// What "every sample produced during the outage arrives exactly once and in
// order" is checked against:
// - the agent's own count of collection cycles
//   (prescale_agent_collection_duration_seconds_count): each cycle pushes one
//   batch holding one machine_cpu_cores sample, so the aggregator must hold
//   exactly that many timestamps for it, strictly increasing;
// - duplicates: the aggregator drops a sample not newer than its series' last
//   and counts it in prescale_aggregator_samples_out_of_order_total, which
//   must stay 0, and the samples the agent counts as sent must equal the
//   samples the aggregators stored (snapshot + the second process's
//   prescale_aggregator_samples_received_total);
// - with a full spool: the spool's records as the stopped agent left them on
//   disk (what a restart replays), and both agents' spool_full drop counters,
//   which must account for exactly the batches that are missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/spool.h"
#include "prescale/http/http_client.h"
#include "tests/integration/spool_reader.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::PollUntil;
using testing::ReadSpool;
using testing::SpoolRecord;
using testing::Subprocess;

constexpr int64_t kIntervalMs = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of the sample line `series value` in a text exposition; 0 when absent.
double Value(const std::string& text, const std::string& series) {
  const std::string key = series + " ";
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 1)) {
    if (pos == 0 || text[pos - 1] == '\n') return std::strtod(text.c_str() + pos + key.size(), nullptr);
  }
  return 0;
}

// The sum of every sample line of a labelled family, e.g. "name{".
double Sum(const std::string& text, const std::string& family_brace) {
  double sum = 0;
  for (size_t pos = text.find(family_brace); pos != std::string::npos; pos = text.find(family_brace, pos + 1)) {
    if (pos != 0 && text[pos - 1] != '\n') continue;
    const size_t space = text.find("} ", pos);
    if (space != std::string::npos) sum += std::strtod(text.c_str() + space + 2, nullptr);
  }
  return sum;
}

struct AgentMetrics {
  double cycles = 0;
  double sent = 0;
  double retried = 0;
  double spool_full = 0;
  double dropped_other = 0;  // any other drop reason: a receiver's 4xx, spool_age, spool_error
  double spool_bytes = 0;
  double queue_depth = 0;
  bool operator==(const AgentMetrics&) const = default;
};

struct AggregatorMetrics {
  double received = 0;
  double out_of_order = 0;
  bool operator==(const AggregatorMetrics&) const = default;
};

std::string Describe(const AgentMetrics& m) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "cycles=%.0f sent=%.0f retried=%.0f spool_full=%.0f dropped_other=%.0f spool_bytes=%.0f "
                "queue_depth=%.0f",
                m.cycles, m.sent, m.retried, m.spool_full, m.dropped_other, m.spool_bytes, m.queue_depth);
  return buf;
}

// Timestamps of consecutive samples further apart than this mean cycles are missing.
bool Contiguous(const std::vector<int64_t>& ts, int64_t* max_gap_ms) {
  *max_gap_ms = 0;
  for (size_t i = 1; i < ts.size(); ++i) *max_gap_ms = std::max(*max_gap_ms, ts[i] - ts[i - 1]);
  return *max_gap_ms <= 2 * kIntervalMs;
}

class AgentOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the agent reads /sys/fs/cgroup and /proc of every process: needs root";
    for (const char* bin : {"prescale-agent", "prescale-aggregator"}) {
      if (::access((BinDir() + "/" + bin).c_str(), X_OK) != 0) {
        GTEST_FAIL() << BinDir() << "/" << bin << " is missing: the build should have made it";
      }
    }
    options_.timeout = 5s;
    options_.max_body_bytes = 64 << 20;  // the agent's /metrics with hundreds of cgroups
  }

  // Starts the aggregator on 127.0.0.1:port; true once it serves (false when the port is taken).
  bool StartAggregatorOn(int port) {
    aggregator_ = std::make_unique<Subprocess>();
    // The agent's token (every push needs one), in the config by hash.
    const std::string config =
        dir_.Write("aggregator.yaml", std::string("tokens:\n  - {name: agents, sha256: \"") +
                                          testing::kTestTokenSha256 + "\"}\n" + testing::kTestMonitorTokenYaml);
    if (!aggregator_->Start({BinDir() + "/prescale-aggregator", "--config", config, "--listen",
                             "127.0.0.1:" + std::to_string(port), "--data-dir", dir_.path() + "/aggregator"})) {
      return false;
    }
    PollUntil(
        [&] { return aggregator_->Stderr().find("serving on port") != std::string::npos || !aggregator_->running(); },
        15s);
    if (aggregator_->running()) {
      aggregator_base_ = "http://127.0.0.1:" + std::to_string(port);
      return true;
    }
    std::fprintf(stderr, "aggregator on port %d did not start: %s\n", port, aggregator_->Stderr().c_str());
    return false;
  }

  // First start: a free port, remembered for the restart.
  bool StartAggregator() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = testing::FreeLoopbackPort();
      if (StartAggregatorOn(port_)) return true;
    }
    return false;
  }

  // The restart after the outage, on the same port the agent pushes to (retried
  // while the port is still being released).
  bool RestartAggregator() {
    return PollUntil([&] { return StartAggregatorOn(port_); }, 30s, 500ms);
  }

  // SIGTERM: the aggregator writes its snapshot and exits 0.
  void StopAggregator() {
    aggregator_->Signal(SIGTERM);
    const auto code = aggregator_->Wait(30s);
    ASSERT_EQ(code, std::optional<int>(0)) << aggregator_->Stderr();
  }

  // Starts an agent pushing to the aggregator's port; its /metrics base URL in *base.
  void StartAgent(Subprocess* agent, const std::string& node, const std::string& config, std::string* base) {
    std::vector<std::string> argv = {BinDir() + "/prescale-agent",
                                     "--interval",
                                     "1s",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--node",
                                     node,
                                     "--data-dir",
                                     dir_.path() + "/agent",
                                     "--aggregator",
                                     "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write",
                                     "--token-file",
                                     dir_.Write("agent.token", std::string(testing::kTestToken) + "\n")};
    if (!config.empty()) argv.insert(argv.end(), {"--config", config});
    ASSERT_TRUE(agent->Start(argv));
    static const std::regex kPortLine("serving /metrics on port ([0-9]+)");
    std::smatch m;
    std::string log;
    ASSERT_TRUE(PollUntil(
        [&] {
          log = agent->Stderr();
          return std::regex_search(log, m, kPortLine) || !agent->running();
        },
        20s));
    ASSERT_TRUE(agent->running()) << "the agent exited: " << log;
    *base = "http://127.0.0.1:" + m[1].str();
  }

  std::optional<AgentMetrics> ReadAgent(const std::string& base) {
    auto r = client_->Get(base + "/metrics", options_);
    if (!r.ok() || r->status != 200) return std::nullopt;
    const std::string& t = r->body;
    AgentMetrics m;
    m.cycles = Value(t, "prescale_agent_collection_duration_seconds_count");
    m.sent = Value(t, "prescale_agent_samples_sent_total");
    m.retried = Value(t, "prescale_agent_samples_retried_total");
    m.spool_full = Value(t, "prescale_agent_samples_dropped_total{reason=\"spool_full\"}");
    m.dropped_other = Sum(t, "prescale_agent_samples_dropped_total{") - m.spool_full;
    m.spool_bytes = Value(t, "prescale_agent_spool_bytes");
    m.queue_depth = Value(t, "prescale_agent_push_queue_depth");
    return m;
  }

  std::optional<AggregatorMetrics> ReadAggregator() {
    http::GetOptions scrape = options_;
    scrape.headers.emplace_back("Authorization", std::string("Bearer ") + testing::kTestMonitorToken);
    auto r = client_->Get(aggregator_base_ + "/metrics", scrape);
    if (!r.ok() || r->status != 200) return std::nullopt;
    return AggregatorMetrics{Value(r->body, "prescale_aggregator_samples_received_total"),
                             Value(r->body, "prescale_aggregator_samples_out_of_order_total")};
  }

  // The timestamps the aggregator holds for the one series `query` selects
  // ("machine_cpu_cores&node=n"); nullopt when the query fails or selects other than one series.
  std::optional<std::vector<int64_t>> Timestamps(const std::string& query) {
    http::GetOptions with_token = options_;
    with_token.headers.emplace_back("Authorization", std::string("Bearer ") + testing::kTestToken);
    auto r = client_->Get(aggregator_base_ + "/api/v1/raw?match=" + query, with_token);
    if (!r.ok() || r->status != 200) return std::nullopt;
    const std::string& body = r->body;
    size_t series = 0;
    for (size_t p = body.find("\"labels\""); p != std::string::npos; p = body.find("\"labels\"", p + 1)) ++series;
    if (series != 1) return std::nullopt;
    static const std::regex kSample(R"re(\[(-?[0-9]+),"[^"]*"\])re");
    std::vector<int64_t> ts;
    for (std::sregex_iterator it(body.begin(), body.end(), kSample), end; it != end; ++it) {
      ts.push_back(std::stoll((*it)[1].str()));
    }
    return ts;
  }

  // Samples the restarted aggregator loaded from the snapshot (from its log).
  double LoadedSamples() {
    static const std::regex kLoaded("loaded [0-9]+ series, ([0-9]+) samples");
    std::smatch m;
    const std::string log = aggregator_->Stderr();
    return std::regex_search(log, m, kLoaded) ? std::stod(m[1].str()) : 0;
  }

  // Polls until the agent has nothing left to send and everything it counts as
  // sent is stored: the same agent and aggregator figures on two polls 250 ms
  // apart (no batch in flight), the agent's queue and spool empty, and
  // sent == sent_before + received + out_of_order. Fills the last figures read.
  bool Settle(const std::string& agent_base, double sent_before, AgentMetrics* agent, AggregatorMetrics* aggregator) {
    std::optional<std::pair<AgentMetrics, AggregatorMetrics>> previous;
    return PollUntil(
        [&] {
          auto a = ReadAgent(agent_base);
          auto g = ReadAggregator();
          auto a2 = ReadAgent(agent_base);
          if (!a || !g || !a2 || !(*a == *a2)) return false;
          *agent = *a;
          *aggregator = *g;
          const bool idle =
              a->queue_depth == 0 && a->spool_bytes == 0 && a->sent == sent_before + g->received + g->out_of_order;
          const bool same = previous && previous->first == *a && previous->second == *g;
          previous = std::make_pair(*a, *g);
          return idle && same;
        },
        90s, 250ms);
  }

  // Polls until the agent's outage has lasted `outage` since `down_ms`, failing when the agent dies.
  void HoldOutage(Subprocess* agent, int64_t down_ms, std::chrono::milliseconds outage) {
    PollUntil([&] { return !agent->running() || NowMs() - down_ms >= outage.count(); }, outage + 10s, 200ms);
    ASSERT_TRUE(agent->running()) << "the agent died during the outage: " << agent->Stderr();
  }

  testing::TempDir dir_{"prescale-agent-outage"};  // first: removed after every process is gone
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
  http::GetOptions options_;
  std::unique_ptr<Subprocess> aggregator_;
  std::string aggregator_base_;
  int port_ = 0;
};

TEST_F(AgentOutageTest, EverySampleOfASixtySecondOutageArrivesOnceAndInOrder) {
  constexpr char kNode[] = "outage-test";
  ASSERT_TRUE(StartAggregator());
  Subprocess agent;
  std::string agent_base;
  ASSERT_NO_FATAL_FAILURE(StartAgent(&agent, kNode, "", &agent_base));
  const std::string cores = std::string("machine_cpu_cores&node=") + kNode;
  ASSERT_TRUE(PollUntil([&] { return Timestamps(cores).value_or(std::vector<int64_t>{}).size() >= 3; }, 30s))
      << "the agent's pushes did not arrive: " << agent.Stderr() << aggregator_->Stderr();
  const auto first = ReadAggregator();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->out_of_order, 0);

  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  const int64_t down_ms = NowMs();
  ASSERT_NO_FATAL_FAILURE(HoldOutage(&agent, down_ms, 60s));
  const auto during = ReadAgent(agent_base);
  ASSERT_TRUE(during);
  EXPECT_GT(during->retried, 0) << "the agent never noticed the outage: " << Describe(*during);
  EXPECT_GT(during->spool_bytes, 0) << "60 batches cannot all fit the 8-batch queue: " << Describe(*during);
  const int64_t up_ms = NowMs();
  ASSERT_TRUE(RestartAggregator());
  const double loaded = LoadedSamples();
  ASSERT_GT(loaded, 0) << "the snapshot did not load: " << aggregator_->Stderr();

  AgentMetrics a;
  AggregatorMetrics g;
  const bool settled = Settle(agent_base, loaded, &a, &g);
  const auto ts = Timestamps(cores);
  const auto idle = Timestamps(std::string("node_cpu_seconds_total&node=") + kNode + "&cpu=0&mode=idle");
  ASSERT_TRUE(ts && idle);
  EXPECT_TRUE(settled) << "the replay did not complete: agent " << Describe(a) << "; aggregator received " << g.received
                       << " (+" << loaded << " loaded), out of order " << g.out_of_order;

  // Exactly once: nothing re-sent (it would be counted out of order), nothing dropped,
  // and every sample the agent counts as sent is stored.
  EXPECT_EQ(g.out_of_order, 0);
  EXPECT_EQ(a.spool_full + a.dropped_other, 0) << Describe(a);
  EXPECT_EQ(a.sent, loaded + g.received) << Describe(a);
  // Every cycle arrived, in order: one timestamp per cycle, strictly increasing.
  EXPECT_EQ(static_cast<double>(ts->size()), a.cycles) << Describe(a);
  EXPECT_TRUE(std::adjacent_find(ts->begin(), ts->end(), std::greater_equal<>()) == ts->end());
  EXPECT_EQ(*idle, *ts) << "both series travel in the same batches";
  int64_t max_gap_ms = 0;
  EXPECT_TRUE(Contiguous(*ts, &max_gap_ms)) << "largest gap " << max_gap_ms << " ms";
  const auto outage = std::count_if(ts->begin(), ts->end(), [&](int64_t t) { return t > down_ms && t < up_ms; });
  EXPECT_GE(outage, (up_ms - down_ms) / kIntervalMs - 2) << "samples stamped during the outage";
  std::printf(
      "outage %lld ms: %ld samples of machine_cpu_cores stamped during it; %zu held over %.0f cycles; agent "
      "sent %.0f samples (%.0f to the restarted aggregator: the replay and the cycles since), retried %.0f, dropped "
      "%.0f; out of order %.0f; largest gap %lld ms\n",
      static_cast<long long>(up_ms - down_ms), static_cast<long>(outage), ts->size(), a.cycles, a.sent, g.received,
      a.retried, a.spool_full + a.dropped_other, g.out_of_order, static_cast<long long>(max_gap_ms));
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(20s), std::optional<int>(0)) << agent.Stderr();
}

// The agent is restarted while its spool is full and the aggregator is down. The
// spool's smallest bound (1 MiB) must overflow, so the agent reports ~9,000 series
// per cycle (400 empty cgroups of a sandbox, ~100 KB per batch): the spool is full
// about 20 s into the outage, which is why this outage is ~30 s rather than 60 s:
// the point here is the overflow and the restart, the 60 s replay is the test above.
TEST_F(AgentOutageTest, AnAgentRestartedWithAFullSpoolReplaysWhatItKeptOnceAndInOrder) {
  constexpr char kNode[] = "outage-restart-test";
  constexpr int kCgroups = 400;
  if (const std::string why = testing::CgroupSandbox::SkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto sandbox = testing::CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  for (int i = 0; i < kCgroups; ++i) {
    auto cg = (*sandbox)->MakeCgroup("outage/s" + std::to_string(i));
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  }
  std::string yaml =
      "spool_max_bytes: 1MiB\nmapping:\n  - match: 'PATTERN'\n    labels: {tenant: '$1', service: '$2'}\n";
  yaml.replace(yaml.find("PATTERN"), 7, (*sandbox)->MappingPattern());
  const std::string config = dir_.Write("agent.yaml", yaml);
  const std::string spool_dir = dir_.path() + "/agent/spool";

  ASSERT_TRUE(StartAggregator());
  auto first_agent = std::make_unique<Subprocess>();
  std::string base1;
  ASSERT_NO_FATAL_FAILURE(StartAgent(first_agent.get(), kNode, config, &base1));
  const std::string cores = std::string("machine_cpu_cores&node=") + kNode;
  ASSERT_TRUE(PollUntil([&] { return Timestamps(cores).value_or(std::vector<int64_t>{}).size() >= 3; }, 30s))
      << "the agent's pushes did not arrive: " << first_agent->Stderr() << aggregator_->Stderr();
  const auto first = ReadAggregator();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->out_of_order, 0);
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  const int64_t down_ms = NowMs();

  // The spool overflows: the oldest segments are dropped and counted. Three more
  // cycles after the first drop, then a SIGTERM right after a cycle (the next
  // is a second away), so the drop counter read is the agent's last.
  std::optional<AgentMetrics> m1;
  ASSERT_TRUE(PollUntil([&] { return (m1 = ReadAgent(base1)) && m1->spool_full > 0; }, 60s, 200ms))
      << "the spool never filled: " << (m1 ? Describe(*m1) : "no /metrics");
  const double full_at_cycle = m1->cycles;
  ASSERT_TRUE(PollUntil([&] { return (m1 = ReadAgent(base1)) && m1->cycles >= full_at_cycle + 3; }, 20s, 200ms));
  const double last_cycles = m1->cycles;
  ASSERT_TRUE(PollUntil([&] { return (m1 = ReadAgent(base1)) && m1->cycles > last_cycles; }, 10s, 20ms));
  first_agent->Signal(SIGTERM);
  ASSERT_EQ(first_agent->Wait(20s), std::optional<int>(0)) << first_agent->Stderr();
  const AgentMetrics agent1 = *m1;
  EXPECT_EQ(agent1.dropped_other, 0) << Describe(agent1);

  std::string error;
  const auto kept = ReadSpool(spool_dir, &error);
  ASSERT_TRUE(kept) << error;
  ASSERT_FALSE(kept->empty());
  ASSERT_TRUE(std::adjacent_find(kept->begin(), kept->end(),
                                 [](const SpoolRecord& a, const SpoolRecord& b) {
                                   return a.timestamp_ms >= b.timestamp_ms;
                                 }) == kept->end())
      << "the spool is not in collection order";
  const uint32_t per_batch = kept->front().samples;
  for (const SpoolRecord& r : *kept) ASSERT_EQ(r.samples, per_batch) << "series per cycle changed on this machine";

  // The second agent starts on the full spool with the aggregator still down: its
  // first batches push the oldest out (the in-memory batches the first agent
  // wrote to the front at shutdown go first).
  Subprocess second_agent;
  std::string base2;
  ASSERT_NO_FATAL_FAILURE(StartAgent(&second_agent, kNode, config, &base2));
  std::optional<AgentMetrics> m2;
  ASSERT_TRUE(PollUntil([&] { return (m2 = ReadAgent(base2)) && m2->cycles >= 3 && m2->spool_full > 0; }, 30s, 200ms))
      << "the restarted agent did not drop from its full spool: " << (m2 ? Describe(*m2) : "no /metrics");
  const int64_t up_ms = NowMs();
  ASSERT_TRUE(RestartAggregator());
  const double loaded = LoadedSamples();
  ASSERT_GT(loaded, 0) << aggregator_->Stderr();

  AgentMetrics agent2;
  AggregatorMetrics g;
  const bool settled = Settle(base2, 0, &agent2, &g);
  const auto ts = Timestamps(cores);
  const auto idle = Timestamps(std::string("node_cpu_seconds_total&node=") + kNode + "&cpu=0&mode=idle");
  ASSERT_TRUE(ts && idle);
  ASSERT_TRUE(settled) << "the replay did not complete: agent " << Describe(agent2) << "; aggregator received "
                       << g.received << ", out of order " << g.out_of_order;

  // Exactly once and in order.
  EXPECT_EQ(g.out_of_order, 0);
  EXPECT_EQ(agent2.sent, g.received);
  EXPECT_EQ(agent2.dropped_other, 0) << Describe(agent2);
  EXPECT_TRUE(std::adjacent_find(ts->begin(), ts->end(), std::greater_equal<>()) == ts->end());
  EXPECT_EQ(*idle, *ts) << "both series travel in the same batches";

  // Before the outage: what the first aggregator took. Then the spool the first
  // agent left, less one run of records the restarted agent dropped for room (the
  // oldest, except the one batch its pusher held in hand, being retried, which it
  // sends rather than drops), then every cycle of the restarted agent.
  const size_t before =
      static_cast<size_t>(std::lower_bound(ts->begin(), ts->end(), kept->front().timestamp_ms) - ts->begin());
  std::vector<bool> arrived;
  std::string listing = "spool left by the first agent (ms/samples, + arrived):";
  for (const SpoolRecord& r : *kept) {
    arrived.push_back(std::binary_search(ts->begin(), ts->end(), r.timestamp_ms));
    listing += " " + std::to_string(r.timestamp_ms) + "/" + std::to_string(r.samples) + (arrived.back() ? "+" : "");
  }
  listing += "\nheld from the first spooled timestamp on:";
  for (auto it = ts->begin() + static_cast<long>(before); it != ts->end(); ++it) listing += " " + std::to_string(*it);
  listing += "\nfirst agent " + Describe(agent1) + "\nsecond agent " + Describe(agent2);
  SCOPED_TRACE(listing);
  size_t gap_begin = 0;
  while (gap_begin < arrived.size() && arrived[gap_begin]) ++gap_begin;
  size_t gap_end = gap_begin;
  while (gap_end < arrived.size() && !arrived[gap_end]) ++gap_end;
  const size_t dropped = gap_end - gap_begin;
  const size_t replayed = arrived.size() - dropped;
  EXPECT_LE(gap_begin, 1u) << "only the batch in the pusher's hand may survive ahead of the dropped ones";
  EXPECT_GT(dropped, 0u) << "the restarted agent's full spool dropped nothing";
  EXPECT_TRUE(std::all_of(arrived.begin() + static_cast<long>(gap_end), arrived.end(), [](bool a) { return a; }))
      << "what the spool kept after the dropped run arrives whole";
  // The restarted agent's drops are the spooled records that did not arrive and,
  // when the aggregator took long enough to come back that it dropped them all
  // (on a loaded machine the restart's log replay can), its own oldest cycles
  // after them: oldest first, whoever wrote them.
  const double drops = agent2.spool_full / per_batch;
  ASSERT_EQ(drops, std::floor(drops)) << "whole batches are dropped: " << Describe(agent2);
  ASSERT_GE(drops, static_cast<double>(dropped)) << Describe(agent2);
  const double own_dropped = drops - static_cast<double>(dropped);
  if (own_dropped > 0) {
    EXPECT_EQ(gap_end, arrived.size()) << "the restarted agent dropped its own cycles while older records remained";
  }
  const auto own = std::count_if(ts->begin(), ts->end(), [&](int64_t t) { return t > kept->back().timestamp_ms; });
  EXPECT_EQ(static_cast<double>(own) + own_dropped, agent2.cycles) << "every cycle of the restarted agent";
  EXPECT_EQ(ts->size(), before + replayed + static_cast<size_t>(own)) << "nothing else arrived";
  // ... and the first agent's are its cycles neither delivered before the outage nor kept in the spool.
  const double lost_cycles = agent1.cycles - static_cast<double>(before) - static_cast<double>(kept->size());
  EXPECT_EQ(agent1.spool_full, lost_cycles * per_batch)
      << Describe(agent1) << "; before the outage " << before << ", spooled " << kept->size();
  // What the spool kept after the dropped run is contiguous: no cycle missing inside it.
  std::vector<int64_t> suffix;
  for (size_t i = gap_end; i < kept->size(); ++i) suffix.push_back((*kept)[i].timestamp_ms);
  int64_t max_gap_ms = 0;
  EXPECT_TRUE(Contiguous(suffix, &max_gap_ms)) << "largest gap " << max_gap_ms << " ms";
  std::printf(
      "outage %lld ms with an agent restart: %u samples per cycle; first agent %.0f cycles (%zu delivered "
      "before the outage, %.0f samples dropped as spool_full = %.0f cycles, %zu left in the spool); restarted agent "
      "dropped %zu of those (%.0f samples), replayed %zu, then %.0f cycles of its own; sent %.0f, aggregator "
      "received %.0f, out of order %.0f\n",
      static_cast<long long>(up_ms - down_ms), per_batch, agent1.cycles, before, agent1.spool_full, lost_cycles,
      kept->size(), dropped, agent2.spool_full, replayed, agent2.cycles, agent2.sent, g.received, g.out_of_order);
  second_agent.Signal(SIGTERM);
  EXPECT_EQ(second_agent.Wait(20s), std::optional<int>(0)) << second_agent.Stderr();
}

}  // namespace
}  // namespace prescale
