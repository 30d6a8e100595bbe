// Faults through the real binaries, real files and real HTTP on 127.0.0.1:
//   (1) kill -9 of the aggregator in the middle of a decision tick (SIGSTOP
//       freezes it while the tick records its actions, so the kill provably
//       lands between two of them) and in the middle of a webhook delivery
//       (the receiver holds the request it applied): after a restart on the
//       same data directory every acknowledged control write and every
//       acknowledged push is there (in (1a) pushes go on up to the freeze,
//       racing the snapshots every second: those after the last one come back
//       from the write-ahead log; in (1b) no snapshot is ever taken); every
//       audited action reaches the receiver, which applies each action id
//       once (Idempotency-Key); the audit chain verifies (API and CLI);
//   (2) the aggregator's data directory on a small tmpfs, filled: pushes and
//       control writes answer 503 with a JSON reason (a push as soon as its
//       write-ahead log record or a snapshot does not fit), the failing
//       snapshot leaves the last good one intact, and after space is freed
//       writes succeed again without a restart, every acknowledged push kept;
//   (3) the agent's data directory (its spool) on a small tmpfs that fills
//       while the aggregator is unreachable: the oldest batches are dropped
//       and counted (spool_full), the newest kept, and the agent keeps going;
//   (4) a damaged control.db at start: the aggregator exits with an error
//       naming the file and every file of the data directory is left byte for
//       byte as it was; a corrupt snapshot is set aside under a name of its
//       own (an earlier one is never overwritten) and the start goes on, as
//       docs/aggregator.md ("Durability") has it.
// Mounting needs root (CAP_SYS_ADMIN): the tmpfs tests skip, saying so, without it.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prescale/aggregator/commands.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/base/clock.h"
#include "prescale/http/http_client.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/integration/fault_helpers.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::Applied;
using testing::BinDir;
using testing::Files;
using testing::FillDisk;
using testing::MetricValue;
using testing::NowMs;
using testing::PollUntil;
using testing::ReadFileOrEmpty;
using testing::ReadSpool;
using testing::Receiver;
using testing::RunCommand;
using testing::SameBytes;
using testing::Subprocess;
using testing::TempDir;
using testing::Tmpfs;

constexpr char kSecret[] = "fault-webhook-secret";

struct Reply {
  long status = 0;  // 0: no answer
  std::string body;
};

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"prescale-aggregator", "prescale-agent"}) {
      const std::string path = BinDir() + "/" + name;
      ASSERT_EQ(::access(path.c_str(), X_OK), 0) << path << " is missing: build the " << name << " target";
    }
    data_dir_ = dir_.path() + "/data";
    secret_file_ = dir_.Write("webhook-secret", std::string(kSecret) + "\n");
  }

  void TearDown() override {
    if (HasFailure() && aggregator_ != nullptr) {
      std::printf("--- aggregator log (tail):\n%s\n", testing::Tail(aggregator_->Stderr(), 4000).c_str());
    }
    watcher_.reset();
    testing::StopProcess(aggregator_.get(), "aggregator");
    receiver_.Stop();
  }

  // The aggregator's YAML: 127.0.0.1:0, the data directory, the admin token
  // (testing::kTestToken: pushes, control API, audit) and `extra`.
  std::string Config(const std::string& extra) {
    return dir_.Write("aggregator.yaml", "listen: 127.0.0.1:0\ndata_dir: \"" + data_dir_ +
                                             "\"\ntokens:\n  - {name: admin, role: admin, sha256: \"" +
                                             testing::kTestTokenSha256 + "\"}\n" + extra);
  }
  // Services of tenant acme with a webhook executor to the receiver, applied
  // to the store with `prescale-aggregator apply -f` (not from the config: a
  // restart must not put them back as the config has them).
  void ApplyObjects(const std::string& policies, const std::vector<std::string>& services) {
    std::string yaml = "tenants:\n  - name: acme\n" + policies + "services:\n";
    for (const std::string& s : services) {
      yaml += "  - {tenant: acme, " + s + ", executor: {type: webhook, url: \"" + receiver_.url() +
              "\", secret_file: \"" + secret_file_ + "\"}}\n";
    }
    std::error_code ec;
    std::filesystem::create_directories(data_dir_, ec);
    const auto r = RunCommand(
        {BinDir() + "/prescale-aggregator", "apply", "-f", dir_.Write("objects.yaml", yaml), "--data-dir", data_dir_},
        60s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void StartAggregator(const std::string& config) {
    aggregator_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(aggregator_->Start({BinDir() + "/prescale-aggregator", "--config", config}));
    std::string log;
    const int port = testing::WaitForServingPort(*aggregator_, 30s, &log);
    ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
    base_ = "http://127.0.0.1:" + std::to_string(port);
  }
  void KillAggregator() {
    aggregator_->Signal(SIGKILL);
    ASSERT_TRUE(aggregator_->Wait(20s).has_value());
  }
  // SIGTERM and a clean exit.
  void StopAggregator() {
    aggregator_->Signal(SIGTERM);
    const auto code = aggregator_->Wait(30s);
    ASSERT_EQ(code, std::optional<int>(0)) << aggregator_->Stderr();
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    Result<http::HttpClientResponse> r = Status::Internal("unset");
    const std::pair<std::string, std::string> auth{"Authorization", std::string("Bearer ") + testing::kTestToken};
    if (method == "GET") {
      http::GetOptions o;
      o.accept = "*/*";
      o.headers = {auth};
      r = client_->Get(base_ + path, o);
    } else {
      http::PostOptions o;
      o.headers = {auth, {"Content-Type", "application/json"}};
      r = client_->Send(method, base_ + path, body, o);
    }
    return r.ok() ? Reply{r->status, r->body} : Reply{0, r.status().ToString()};
  }
  // One remote-write request of queue_depth{tenant="acme"} samples.
  Reply Push(const std::vector<remote_write::Sample>& samples) {
    remote_write::WriteRequest w;
    w.timeseries.push_back({{{"__name__", "queue_depth"}, {"tenant", "acme"}}, samples});
    http::PostOptions o;
    o.headers = {{"Content-Encoding", "snappy"},
                 {"Content-Type", "application/x-protobuf"},
                 {"Authorization", std::string("Bearer ") + testing::kTestToken}};
    auto r = client_->Post(base_ + "/api/v1/write", remote_write::Encode(w), o);
    return r.ok() ? Reply{r->status, r->body} : Reply{0, r.status().ToString()};
  }
  // The timestamps of queue_depth{tenant="acme"} (every series) in the snapshot file now on disk.
  std::set<int64_t> InSnapshot() {
    aggregator::SeriesStore store(aggregator::SeriesStoreOptions{}, SystemClock::Instance());
    std::set<int64_t> out;
    if (!aggregator::LoadSnapshot(&store, nullptr, data_dir_).ok()) return out;
    for (const auto& series : store.Query("queue_depth", {{"tenant", "acme"}})) {
      for (const auto& sample : series.samples) out.insert(sample.timestamp_ms);
    }
    return out;
  }
  // The timestamps the aggregator holds for queue_depth{tenant="acme"} (every series).
  std::set<int64_t> Held() {
    std::set<int64_t> out;
    const Reply r = Call("GET", "/api/v1/raw?match=queue_depth&tenant=acme");
    static const std::regex kSample(R"re(\[([0-9]+),")re");
    for (std::sregex_iterator it(r.body.begin(), r.body.end(), kSample), end; it != end; ++it) {
      out.insert(std::stoll((*it)[1].str()));
    }
    return out;
  }
  // The samples in the snapshot file now on disk.
  uint64_t SamplesOnDisk() {
    aggregator::SeriesStore store(aggregator::SeriesStoreOptions{}, SystemClock::Instance());
    auto loaded = aggregator::LoadSnapshot(&store, nullptr, data_dir_);
    return loaded.ok() ? loaded->samples : 0;
  }
  std::optional<double> Metric(const std::string& series) {
    const Reply r = Call("GET", "/metrics");
    return MetricValue(r.body, series);
  }
  // "ok":true from GET /api/v1/audit/verify.
  void ExpectAuditVerifies() {
    const Reply r = Call("GET", "/api/v1/audit/verify");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("ok":true)"), std::string::npos) << r.body;
  }
  // The CLI's verdict on the stopped aggregator's store.
  void ExpectAuditVerifiesOffline() {
    const auto v = RunCommand({BinDir() + "/prescale-aggregator", "audit", "verify", "--data-dir", data_dir_}, 60s);
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find(R"("ok":true)"), std::string::npos) << v.out;
  }

  // A second connection to the running aggregator's control store (SQLite
  // serves both processes), to watch its audit log and outbox without HTTP.
  aggregator::ControlStore* Watcher() {
    if (watcher_ == nullptr) {
      auto store = aggregator::OpenSqliteStore(aggregator::ControlStorePath(data_dir_), {});
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      if (store.ok()) watcher_ = std::move(store).value();
    }
    return watcher_.get();
  }
  // The audit records of services with `action` ("scale", "scale.delivered"), by request id (the action id).
  std::vector<aggregator::AuditRecord> Audited(const std::string& action) {
    std::vector<aggregator::AuditRecord> out;
    aggregator::AuditQuery q;
    q.kind = "service";
    q.limit = 1000;
    while (Watcher() != nullptr) {
      auto page = Watcher()->ListAudit(q);
      if (!page.ok() || page->items.empty()) break;
      for (auto& r : page->items) {
        if (r.action == action) out.push_back(std::move(r));
      }
      if (page->next_page_token.empty()) break;
      q.after_seq = page->items.back().seq;
    }
    return out;
  }

  TempDir dir_{"prescale-fault"};  // first: removed after every process and mount is gone
  Tmpfs tmpfs_;                    // unmounted after the processes below are gone
  std::string data_dir_, secret_file_, base_;
  Receiver receiver_{kSecret};
  std::unique_ptr<Subprocess> aggregator_;
  std::unique_ptr<aggregator::ControlStore> watcher_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
};

// A policy named gate, off: its services are decided but not acted on until
// one control write turns it on, after which the next tick queues an action
// for every one of them at once.
constexpr char kGatePolicy[] = "policies:\n  - {name: gate, mode: \"off\"}\n";

// (1a) kServices services below their minimum wait behind the gate; one PATCH
// opens it, and the next tick records an action (audit record, outbox entry,
// target) for each, one transaction at a time. The aggregator is frozen with
// SIGSTOP as soon as the first is recorded, and killed if the tick has not
// recorded them all: a crash between two of a tick's transactions.
TEST_F(FaultTest, KillNineMidDecisionTickKeepsEveryAcknowledgedWriteAndDeliversEachActionOnce) {
  constexpr int kServices = 200;
  ASSERT_EQ(receiver_.Start(), "");
  std::vector<std::string> services;
  for (int i = 0; i < kServices; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%03d", i);
    services.push_back(std::string("name: ") + name + ", replicas: {current: 1, min: 2, max: 4}, policy: gate");
  }
  ASSERT_NO_FATAL_FAILURE(ApplyObjects(kGatePolicy, services));
  const std::string config = Config("tick_interval: 1s\nsnapshot_interval: 1s\nwebhook_timeout: 10s\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));

  // Acknowledged pushes and control writes.
  const int64_t t0 = NowMs();
  std::set<int64_t> pushed;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Push({{static_cast<double>(i), t0 + i}}).status, 204);
    pushed.insert(t0 + i);
  }
  for (int i = 0; i < 5; ++i) {
    const Reply r = Call("PUT", "/api/v1/tenants/acme/services/extra" + std::to_string(i),
                         R"({"priority":"low","replicas":{"current":2,"min":2,"max":2},"policy":"gate"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  ASSERT_TRUE(PollUntil([&] { return SamplesOnDisk() == pushed.size(); }, 20s)) << "no snapshot took the pushes";
  ASSERT_TRUE(Audited("scale").empty()) << "the gate is off: no action yet";
  // From now on pushes go on, one at a time, until the freeze: they race the
  // snapshots (every second, each cutting the write-ahead log and removing the
  // segments it holds) and the tick. Each one answered 204 is acknowledged.
  // They go to 64 series, so that none reaches the store's cap of samples.
  std::mutex pushed_mu;
  std::jthread pusher([&](std::stop_token stop) {  // stopped and joined also when an assertion returns early
    auto client = http::NewCurlHttpClient();
    for (int64_t ts = t0 + 1000; !stop.stop_requested(); ++ts) {
      remote_write::WriteRequest w;
      w.timeseries.push_back({{{"__name__", "queue_depth"}, {"shard", std::to_string(ts % 64)}, {"tenant", "acme"}},
                              {{static_cast<double>(ts - t0), ts}}});
      http::PostOptions o;
      o.headers = {{"Content-Encoding", "snappy"},
                   {"Content-Type", "application/x-protobuf"},
                   {"Authorization", std::string("Bearer ") + testing::kTestToken}};
      auto r = client->Post(base_ + "/api/v1/write", remote_write::Encode(w), o);
      if (!r.ok() || r->status != 204) continue;
      std::lock_guard lock(pushed_mu);
      pushed.insert(ts);
    }
  });
  ASSERT_TRUE(PollUntil(
      [&] {
        std::lock_guard lock(pushed_mu);
        return pushed.size() >= 50;
      },
      20s))
      << "pushes are not acknowledged";

  const Reply opened = Call("PATCH", "/api/v1/policies/gate", R"({"mode":"reactive"})");
  ASSERT_EQ(opened.status, 200) << opened.body;
  ASSERT_TRUE(PollUntil([&] { return !Audited("scale").empty(); }, 30s, 1ms)) << "the tick recorded no action";
  aggregator_->Signal(SIGSTOP);  // frozen: what is recorded now is what the kill leaves
  pusher.request_stop();         // a push in flight now gets no answer: it is not acknowledged
  const size_t recorded = Audited("scale").size();
  ASSERT_NO_FATAL_FAILURE(KillAggregator());
  pusher.join();
  const std::set<int64_t> in_snapshot = InSnapshot();
  const auto only_logged =
      std::count_if(pushed.begin(), pushed.end(), [&](int64_t ts) { return !in_snapshot.contains(ts); });
  std::printf("[ figures  ] (1a) %zu pushes acknowledged, %td of them after the last snapshot (in the log only)\n",
              pushed.size(), only_logged);
  std::printf("[ figures  ] (1a) kill -9 after %zu of the tick's %d actions were recorded; %zu applied by then\n",
              recorded, kServices, receiver_.applied().size());
  ASSERT_LT(recorded, static_cast<size_t>(kServices)) << "the tick had ended: the kill did not land in it";

  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  // The rest of the decisions are made again; every action is delivered and finished.
  std::vector<aggregator::AuditRecord> scale;
  ASSERT_TRUE(PollUntil(
      [&] {
        scale = Audited("scale");
        return scale.size() >= static_cast<size_t>(kServices) && receiver_.applied().size() >= scale.size() &&
               Metric("prescale_action_outbox_size") == 0.0;
      },
      90s, 200ms))
      << scale.size() << " actions audited, " << receiver_.applied().size() << " applied";

  // One action per service; each audited id applied exactly once, nothing else applied.
  std::map<std::string, std::string> service_of;  // action id -> service
  for (const auto& r : scale) EXPECT_TRUE(service_of.emplace(r.request_id, r.name).second) << r.request_id;
  std::set<std::string> services_acted;
  for (const auto& r : scale) EXPECT_TRUE(services_acted.insert(r.name).second) << r.name << " has two actions";
  EXPECT_EQ(scale.size(), static_cast<size_t>(kServices));
  std::set<std::string> applied_ids;
  for (const Applied& a : receiver_.applied()) {
    EXPECT_TRUE(applied_ids.insert(a.id).second) << a.id << " applied twice";
    EXPECT_TRUE(service_of.contains(a.id)) << a.id << " applied but not audited";
    EXPECT_EQ(a.to_replicas, 2) << a.service;
  }
  EXPECT_EQ(applied_ids.size(), service_of.size());
  // Each action finished once: one scale.delivered record per action id.
  std::map<std::string, int> delivered;
  for (const auto& r : Audited("scale.delivered")) ++delivered[r.request_id];
  for (const auto& [id, service] : service_of) EXPECT_EQ(delivered[id], 1) << id << " (" << service << ")";
  EXPECT_EQ(receiver_.refused(), 0u);

  // The acknowledged writes: every push (the snapshot's and the write-ahead log's), every control write.
  const std::set<int64_t> held = Held();
  std::vector<int64_t> lost;
  std::set_difference(pushed.begin(), pushed.end(), held.begin(), held.end(), std::back_inserter(lost));
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << pushed.size() << " acknowledged pushes lost, the first "
                            << (lost.empty() ? 0 : lost.front() - t0) << " ms after the first push";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Call("GET", "/api/v1/tenants/acme/services/extra" + std::to_string(i)).status, 200);
  }
  EXPECT_NE(Call("GET", "/api/v1/policies/gate").body.find(R"("mode":"reactive")"), std::string::npos);
  ExpectAuditVerifies();
  std::printf("[ figures  ] (1a) after the restart: %zu actions, %zu applied, %zu repeats acknowledged by id\n",
              scale.size(), applied_ids.size(), receiver_.repeats());
  watcher_.reset();
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  ExpectAuditVerifiesOffline();
}

// (1b) The receiver applies the action and holds its answer; the aggregator is
// killed while it waits. The outbox still holds the action, the restarted
// aggregator delivers it again, and the receiver acknowledges the repeat by
// its id without applying it twice.
TEST_F(FaultTest, KillNineMidDeliveryRedeliversAndTheReceiverAppliesOnce) {
  ASSERT_EQ(receiver_.Start(), "");
  ASSERT_NO_FATAL_FAILURE(ApplyObjects("", {"name: web, replicas: {current: 1, min: 2, max: 4}"}));
  const std::string config = Config("tick_interval: 1s\nwebhook_timeout: 30s\n");
  receiver_.HoldNext();
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  // Pushes acknowledged before the first snapshot (snapshot_interval is 1m):
  // after the kill only the write-ahead log holds them.
  const int64_t t0 = NowMs();
  std::set<int64_t> pushed;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Push({{static_cast<double>(i), t0 + i}}).status, 204);
    pushed.insert(t0 + i);
  }
  Applied held;
  ASSERT_TRUE(receiver_.WaitHeld(30s, &held)) << "no delivery arrived";
  ASSERT_NO_FATAL_FAILURE(KillAggregator());
  ASSERT_FALSE(std::filesystem::exists(aggregator::SnapshotPath(data_dir_))) << "a snapshot was taken";
  receiver_.Release();  // its answer goes to a closed connection
  ASSERT_NE(Watcher(), nullptr);
  auto queued = Watcher()->QueuedActions(100);
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->front().action_id, held.id) << "the killed delivery stays in the outbox";

  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  EXPECT_EQ(Held(), pushed) << "the pushes acknowledged before the kill come back from the write-ahead log";
  EXPECT_NE(aggregator_->Stderr().find("replayed 20 records, 20 samples"), std::string::npos)
      << testing::Tail(aggregator_->Stderr(), 2000);
  ASSERT_TRUE(PollUntil(
      [&] {
        return receiver_.requests()[held.id] >= 2 && Metric("prescale_action_outbox_size") == 0.0 &&
               Audited("scale.delivered").size() == 1;
      },
      60s, 100ms))
      << "not delivered again: " << receiver_.requests()[held.id] << " requests";
  const std::vector<Applied> applied = receiver_.applied();
  ASSERT_EQ(applied.size(), 1u) << "applied once, and no other action (the target was recorded with it)";
  EXPECT_EQ(applied[0].id, held.id);
  EXPECT_EQ(applied[0].service, "web");
  EXPECT_GE(receiver_.repeats(), 1u);
  const auto scale = Audited("scale");
  ASSERT_EQ(scale.size(), 1u);
  EXPECT_EQ(scale[0].request_id, held.id);
  EXPECT_EQ(Audited("scale.delivered")[0].request_id, held.id);
  EXPECT_EQ(receiver_.refused(), 0u);
  ExpectAuditVerifies();
  std::printf("[ figures  ] (1b) action %s: %d requests, applied once\n", held.id.c_str(),
              receiver_.requests()[held.id]);
  watcher_.reset();
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  ExpectAuditVerifiesOffline();
}

// (2) A 4 MiB tmpfs as the data directory, filled to the last page.
TEST_F(FaultTest, FullDataDirAnswers503WithAReasonKeepsTheLastSnapshotAndRecoversWithoutRestart) {
  if (const std::string why = tmpfs_.Mount(data_dir_, "4m"); !why.empty()) GTEST_SKIP() << "needs a tmpfs: " << why;
  const std::string config = Config("snapshot_interval: 1s\ntenants:\n  - name: acme\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  const int64_t t0 = NowMs();
  int64_t next_ts = t0;
  std::set<int64_t> acknowledged;
  for (int i = 0; i < 3; ++i, ++next_ts) {
    ASSERT_EQ(Push({{1.0, next_ts}}).status, 204);
    acknowledged.insert(next_ts);
  }
  ASSERT_TRUE(PollUntil([&] { return SamplesOnDisk() == 3; }, 20s)) << "no snapshot took the pushes";
  const std::string snapshot = aggregator::SnapshotPath(data_dir_);
  const std::string good = ReadFileOrEmpty(snapshot);

  const uint64_t filled = FillDisk(data_dir_ + "/filler");
  ASSERT_GT(filled, 0u);
  // Control writes: those that still fit (the write-ahead log reuses its pages) are kept;
  // the first that does not is a 503 with the envelope naming the file.
  std::vector<std::string> tenants;
  Reply refused;
  for (int i = 0; i < 2000 && refused.status == 0; ++i) {
    const std::string name = "t" + std::to_string(i);
    const Reply r = Call("POST", "/api/v1/tenants",
                         R"({"name":")" + name + R"(","labels":{"pad":")" + std::string(2000, 'p') + R"("}})");
    if (r.status == 201) {
      tenants.push_back(name);
    } else {
      refused = r;
    }
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  rapidjson::Document doc;
  doc.Parse(refused.body.c_str());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("error") && doc.HasMember("message")) << refused.body;
  EXPECT_STREQ(doc["error"].GetString(), "unavailable");
  EXPECT_NE(std::string(doc["message"].GetString()).find(data_dir_ + "/control.db"), std::string::npos) << refused.body;

  // Pushes: refused once their write-ahead log record no longer fits, or a snapshot has failed for lack of space.
  Reply push_refused;
  ASSERT_TRUE(PollUntil(
      [&] {
        const Reply r = Push({{2.0, next_ts}});
        if (r.status == 204) acknowledged.insert(next_ts);
        ++next_ts;
        push_refused = r;
        return r.status != 204;
      },
      20s, 100ms))
      << "pushes are still accepted on a full data directory";
  ASSERT_EQ(push_refused.status, 503) << push_refused.body;
  doc.Parse(push_refused.body.c_str());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("error") && doc.HasMember("message")) << push_refused.body;
  EXPECT_STREQ(doc["error"].GetString(), "unavailable");
  EXPECT_NE(std::string(doc["message"].GetString()).find(data_dir_), std::string::npos) << push_refused.body;
  EXPECT_EQ(Metric("prescale_aggregator_data_dir_full"), 1.0);

  // The failing snapshots left the last good one whole, and no temporary file.
  EXPECT_TRUE(SameBytes(snapshot, good)) << "the last good snapshot changed";
  EXPECT_NE(::access((snapshot + ".tmp").c_str(), F_OK), 0) << "a failed snapshot's temporary file was left";
  EXPECT_EQ(SamplesOnDisk(), 3u);
  ASSERT_TRUE(aggregator_->running()) << "a full disk stopped the aggregator";
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/tenants/acme").status, 200) << "reads still work";

  // Space back: writes pass again, with no restart.
  ASSERT_EQ(::unlink((data_dir_ + "/filler").c_str()), 0);
  const Reply created = Call("POST", "/api/v1/tenants", R"({"name":"after"})");
  EXPECT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(PollUntil(
      [&] {
        const Reply r = Push({{3.0, next_ts}});
        if (r.status == 204) acknowledged.insert(next_ts);
        ++next_ts;
        return r.status == 204;
      },
      20s, 100ms))
      << "pushes are still refused after space was freed";
  EXPECT_EQ(Metric("prescale_aggregator_data_dir_full"), 0.0);
  ASSERT_TRUE(PollUntil([&] { return SamplesOnDisk() == acknowledged.size(); }, 20s))
      << "the snapshot does not hold every acknowledged push: " << SamplesOnDisk() << " of " << acknowledged.size();
  const std::set<int64_t> held = Held();
  EXPECT_EQ(held, acknowledged);
  for (const std::string& name : tenants) EXPECT_EQ(Call("GET", "/api/v1/tenants/" + name).status, 200) << name;
  ExpectAuditVerifies();
  std::printf("[ figures  ] (2) filler %llu bytes; %zu control writes fitted before the first 503\n",
              static_cast<unsigned long long>(filled), tenants.size());
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
}

// (3) The agent (100 ms cycles) pushes to a port nobody listens on; its data
// directory is a 256 KiB tmpfs, below spool_max_bytes (1 MiB, 64 KiB segments),
// so the disk fills before the spool's own bound.
TEST_F(FaultTest, FullSpoolDiskDropsTheOldestBatchesCountsThemAndTheAgentGoesOn) {
  if (::geteuid() != 0) GTEST_SKIP() << "the agent reads /proc and /sys/fs/cgroup of every process: needs root";
  const std::string agent_dir = dir_.path() + "/agent";
  if (const std::string why = tmpfs_.Mount(agent_dir, "256k"); !why.empty()) GTEST_SKIP() << "needs a tmpfs: " << why;
  const int unreachable = testing::FreeLoopbackPort();
  const std::string config = dir_.Write("agent.yaml", "spool_max_bytes: 1MiB\n");
  Subprocess agent;
  ASSERT_TRUE(agent.Start({BinDir() + "/prescale-agent", "--config", config, "--interval", "100ms", "--listen",
                           "127.0.0.1:0", "--node", "fault", "--data-dir", agent_dir, "--aggregator",
                           "http://127.0.0.1:" + std::to_string(unreachable) + "/api/v1/write", "--token-file",
                           dir_.Write("agent.token", std::string(testing::kTestToken) + "\n")}));
  static const std::regex kPortLine("serving /metrics on port ([0-9]+)");
  std::smatch m;
  std::string log;
  ASSERT_TRUE(PollUntil(
      [&] {
        log = agent.Stderr();
        return std::regex_search(log, m, kPortLine) || !agent.running();
      },
      20s));
  ASSERT_TRUE(agent.running()) << "the agent exited: " << log;
  const std::string metrics_url = "http://127.0.0.1:" + m[1].str() + "/metrics";
  http::GetOptions get;
  get.max_body_bytes = 64 << 20;
  auto read = [&](const std::string& series) {
    auto r = client_->Get(metrics_url, get);
    return r.ok() ? MetricValue(r->body, series).value_or(0) : -1.0;
  };
  const std::string full = R"(prescale_agent_samples_dropped_total{reason="spool_full"})";
  const std::string error = R"(prescale_agent_samples_dropped_total{reason="spool_error"})";
  const std::string cycles = "prescale_agent_collection_duration_seconds_count";
  ASSERT_TRUE(PollUntil([&] { return read(full) > 0; }, 90s, 200ms))
      << "no batch dropped for room; spool_error " << read(error) << "; agent: " << testing::Tail(agent.Stderr(), 2000);
  const double cycles_at_drop = read(cycles);
  ASSERT_TRUE(PollUntil([&] { return read(cycles) >= cycles_at_drop + 20; }, 30s, 100ms))
      << "the agent stopped collecting on a full disk";
  ASSERT_TRUE(agent.running());
  EXPECT_EQ(read(error), 0) << "a batch was dropped for an error, not for room: "
                            << testing::Tail(agent.Stderr(), 2000);
  EXPECT_GT(read(full), 0);

  // On disk: a contiguous run of the newest batches, the oldest gone.
  agent.Signal(SIGSTOP);  // no append while the spool is read
  const int64_t read_ms = NowMs();
  std::string why;
  const auto kept = ReadSpool(agent_dir + "/spool", &why);
  agent.Signal(SIGCONT);
  const double dropped = read(full);
  ASSERT_TRUE(kept.has_value()) << why;
  ASSERT_FALSE(kept->empty());
  int64_t max_gap_ms = 0;
  for (size_t i = 1; i < kept->size(); ++i) {
    max_gap_ms = std::max(max_gap_ms, (*kept)[i].timestamp_ms - (*kept)[i - 1].timestamp_ms);
  }
  EXPECT_LE(max_gap_ms, 1000) << "a gap inside the spool: batches other than the oldest were dropped";
  EXPECT_GE(kept->back().timestamp_ms, read_ms - 3000) << "the newest batches are kept";
  const uint32_t per_batch = kept->front().samples;
  ASSERT_GT(per_batch, 0u);
  EXPECT_EQ(std::fmod(dropped, per_batch), 0.0) << "whole batches are dropped: " << dropped << " samples";
  std::printf("[ figures  ] (3) %zu batches of %u samples kept (%.1f s), %.0f samples dropped for room\n", kept->size(),
              per_batch, static_cast<double>(kept->back().timestamp_ms - kept->front().timestamp_ms) / 1e3, dropped);
  agent.Signal(SIGTERM);  // its in-memory batches may not fit: logged, not fatal
  EXPECT_EQ(agent.Wait(20s), std::optional<int>(0)) << testing::Tail(agent.Stderr(), 2000);
}

// (4a) A control.db that is not a database, one whose pages are damaged, one cut
// in half, and a damaged one beside the write-ahead log a kill -9 left.
TEST_F(FaultTest, CorruptControlDbStopsTheStartNamingTheFileAndNothingIsWritten) {
  ASSERT_EQ(receiver_.Start(), "");
  ASSERT_NO_FATAL_FAILURE(ApplyObjects("", {"name: web"}));
  const std::string config = Config("");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  ASSERT_EQ(Push({{1.0, NowMs()}}).status, 204);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Call("PUT", "/api/v1/tenants/acme/services/x" + std::to_string(i), "{}").status, 201);
  }
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  const std::string db = aggregator::ControlStorePath(data_dir_);
  const std::string clean = ReadFileOrEmpty(db);
  const size_t page = (static_cast<unsigned char>(clean[16]) << 8) | static_cast<unsigned char>(clean[17]);
  ASSERT_GE(page, 512u);
  ASSERT_GE(clean.size(), 4 * page);
  // Every page but the first: its b-tree header overwritten (an invalid page type).
  auto damage_pages = [page](std::string bytes) {
    for (size_t at = page; at + 16 <= bytes.size(); at += page) std::fill_n(bytes.begin() + at, 16, '\xee');
    return bytes;
  };
  const std::map<std::string, std::string> cases = {
      {"not a database", std::string(clean.size(), 'x')},
      {"damaged pages", damage_pages(clean)},
      {"cut in half", clean.substr(0, clean.size() / 2)},
  };
  auto start_refused = [&](const std::string& what) {
    const auto before = Files(data_dir_);
    const auto r = RunCommand({BinDir() + "/prescale-aggregator", "--config", config}, 30s);
    EXPECT_EQ(r.exit_code, 1) << what << ": " << r.err;
    EXPECT_EQ(r.err.find("serving on port"), std::string::npos) << what << ": it served";
    EXPECT_NE(r.err.find(db), std::string::npos) << what << ": the error does not name the file: " << r.err;
    const auto after = Files(data_dir_);
    for (const auto& [name, bytes] : before) {
      if (name.ends_with("-shm")) continue;  // the log's index, not data: every reader rebuilds it from the log
      auto it = after.find(name);
      EXPECT_TRUE(it != after.end() && it->second == bytes)
          << what << ": " << name << (it == after.end() ? " was removed" : " was changed");
    }
    std::printf("[ figures  ] (4a) %s: %s", what.c_str(), r.err.c_str());
  };
  for (const auto& [what, bytes] : cases) {
    ASSERT_TRUE(testing::WriteFile(db, bytes));
    start_refused(what);
  }

  // A kill -9 leaves committed writes in control.db-wal; the damaged file must not take them in.
  ASSERT_TRUE(testing::WriteFile(db, clean));
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Call("PUT", "/api/v1/tenants/acme/services/y" + std::to_string(i), "{}").status, 201);
  }
  ASSERT_NO_FATAL_FAILURE(KillAggregator());
  ASSERT_GT(ReadFileOrEmpty(db + "-wal").size(), 0u) << "no write-ahead log left behind";
  ASSERT_TRUE(testing::WriteFile(db, damage_pages(ReadFileOrEmpty(db))));
  start_refused("damaged pages and a write-ahead log");
}

// (4b) A corrupt snapshot is set aside under a name of its own and the start
// goes on without its history (docs/aggregator.md, "Durability"); a corrupt
// snapshot set aside earlier is left as it is.
TEST_F(FaultTest, CorruptSnapshotIsSetAsideWithoutOverwritingAnEarlierOne) {
  const std::string config = Config("snapshot_interval: 1s\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  ASSERT_EQ(Push({{1.0, NowMs()}}).status, 204);
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
  const std::string snapshot = aggregator::SnapshotPath(data_dir_);
  std::string bad = ReadFileOrEmpty(snapshot);
  ASSERT_GT(bad.size(), 40u);
  bad[bad.size() - 5] ^= 0x5a;  // a checksum mismatch in the last frame
  ASSERT_TRUE(testing::WriteFile(snapshot, bad));
  const std::string earlier = "an earlier incident's corrupt snapshot";
  ASSERT_TRUE(testing::WriteFile(snapshot + ".corrupt", earlier));

  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  const std::string log = aggregator_->Stderr();
  EXPECT_NE(log.find("snapshot " + snapshot + ": checksum mismatch"), std::string::npos) << log;
  EXPECT_NE(log.find("moved to " + snapshot + ".corrupt.1"), std::string::npos) << log;
  EXPECT_TRUE(SameBytes(snapshot + ".corrupt", earlier)) << "an earlier corrupt snapshot was overwritten";
  EXPECT_TRUE(SameBytes(snapshot + ".corrupt.1", bad));
  EXPECT_TRUE(Held().empty()) << "the history starts empty";
  // The next snapshot is a new file; the ones set aside stay as they were.
  ASSERT_EQ(Push({{2.0, NowMs()}}).status, 204);
  ASSERT_TRUE(PollUntil([&] { return SamplesOnDisk() == 1; }, 20s));
  EXPECT_TRUE(SameBytes(snapshot + ".corrupt", earlier));
  EXPECT_TRUE(SameBytes(snapshot + ".corrupt.1", bad));
  ASSERT_NO_FATAL_FAILURE(StopAggregator());
}

}  // namespace
}  // namespace prescale
