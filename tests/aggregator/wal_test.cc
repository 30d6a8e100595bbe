// The ingest write-ahead log on real files: records come back in order after
// a reopen; a torn tail is ignored; damage in the middle is reported with the
// file and offset and the rest replayed; segments are cut by size and at each
// snapshot, and removed once a snapshot holds them (never after a failed
// one); a full disk answers 503 and stores nothing, and the next push after
// space returns passes; pushes racing snapshot cuts lose nothing acknowledged.
// Destroying an Aggregator without a snapshot leaves the files as kill -9
// would: what was passed to write(2) is there.
#include "prescale/aggregator/history/wal.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/history/snapshot.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using remote_write::Sample;
using remote_write::TimeSeries;
using remote_write::WriteRequest;

constexpr const char* kToken = "wal-test-agent-token";

WriteRequest Request(const std::string& tenant, std::vector<Sample> samples) {
  return WriteRequest{{TimeSeries{{{"__name__", "queue_depth"}, {"tenant", tenant}}, std::move(samples)}}};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::string bytes(static_cast<size_t>(std::max<std::streamoff>(0, in.tellg())), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The timestamps `store` holds for queue_depth{tenant=...}.
std::vector<int64_t> Held(const SeriesStore& store, const std::string& tenant) {
  std::vector<int64_t> out;
  for (const SeriesData& s : store.Query("queue_depth", {{"tenant", tenant}})) {
    for (const Sample& sample : s.samples) out.push_back(sample.timestamp_ms);
  }
  return out;
}

// A tmpfs of `size` at `dir`, unmounted when destroyed ("" from Mount when mounted, else why not).
class Tmpfs {
 public:
  ~Tmpfs() {
    if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  std::string Mount(const std::string& dir, const std::string& size) {
    std::filesystem::create_directories(dir);
    const std::string options = "size=" + size + ",mode=0750";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      return "mount -t tmpfs -o " + options + " tmpfs " + dir + ": " + std::strerror(errno);
    }
    dir_ = dir;
    return "";
  }

 private:
  std::string dir_;
};

class WalTest : public ::testing::Test {
 protected:
  std::unique_ptr<WriteAheadLog> Open(uint64_t segment_bytes = 64ULL << 20) {
    auto wal = WriteAheadLog::Open(
        WalOptions{.dir = wal_dir_, .segment_bytes = segment_bytes, .sync_interval = std::chrono::milliseconds(0)},
        clock_);
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    return wal.ok() ? std::move(wal).value() : nullptr;
  }
  // Logs one record of queue_depth{tenant} and releases it; its framed size.
  size_t Log(WriteAheadLog* wal, const std::string& tenant, std::vector<Sample> samples) {
    const std::string body = remote_write::Encode(Request(tenant, std::move(samples)));
    WalPending pending;
    EXPECT_TRUE(wal->Log(body, &pending).ok());
    return kWalHeaderBytes + body.size();
  }
  std::string SegmentPath(int id) const {
    char name[16];
    std::snprintf(name, sizeof name, "%08d", id);
    return wal_dir_ + "/" + name;
  }
  std::vector<std::string> SegmentFiles() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(wal_dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  // Replays the directory into *store as a restart would; the corruption messages into *messages.
  WalReplayStats Replay(SeriesStore* store, std::vector<std::string>* messages = nullptr) {
    auto wal = Open();
    WalReplayObserver observer;
    observer.corruption = [messages](const std::string& m) {
      if (messages != nullptr) messages->push_back(m);
    };
    auto replayed = wal->Replay(store, observer);
    EXPECT_TRUE(replayed.ok()) << replayed.status().ToString();
    return replayed.ok() ? *replayed : WalReplayStats{};
  }

  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-wal"};
  std::string wal_dir_ = WalDir(dir_.path());
  SeriesStore store_{SeriesStoreOptions{}, clock_};
};

TEST_F(WalTest, RecordsComeBackInOrderAfterReopenAndNewOnesGoToANewSegment) {
  {
    auto wal = Open();
    Log(wal.get(), "a", {{1, 1000}, {2, 2000}});
    Log(wal.get(), "b", {{3, 1000}});
    Log(wal.get(), "a", {{4, 3000}});
    EXPECT_EQ(wal->segments(), 1u);
    EXPECT_TRUE(wal->Sync().ok());
  }
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{"00000001"});
  auto wal = Open();
  const auto replayed = wal->Replay(&store_);
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_EQ(replayed->segments, 1u);
  EXPECT_EQ(replayed->records, 3u);
  EXPECT_EQ(replayed->samples, 4u);
  EXPECT_EQ(replayed->corruptions, 0u);
  EXPECT_EQ(replayed->torn_tails, 0u);
  EXPECT_EQ(Held(store_, "a"), (std::vector<int64_t>{1000, 2000, 3000}));
  EXPECT_EQ(Held(store_, "b"), std::vector<int64_t>{1000});
  // A new process never appends to a segment a crash may have torn.
  Log(wal.get(), "c", {{5, 1000}});
  EXPECT_EQ(SegmentFiles(), (std::vector<std::string>{"00000001", "00000002"}));
  std::string metrics;
  wal->AppendMetrics(&metrics);
  EXPECT_NE(metrics.find("prescale_aggregator_wal_records_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("prescale_aggregator_wal_replayed_samples 4\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("prescale_aggregator_wal_segments 2\n"), std::string::npos) << metrics;
}

TEST_F(WalTest, TornTailIsIgnoredAndNotCountedAsDamage) {
  {
    auto wal = Open();
    for (int i = 1; i <= 3; ++i) Log(wal.get(), "a", {{1.0 * i, int64_t{1000} * i}});
  }
  const std::string whole = ReadAll(SegmentPath(1));
  std::string fourth;
  AppendWalRecord(remote_write::Encode(Request("a", {{4, 4000}})), &fourth);
  // A record cut short in its payload, in its header, and zeros the file system allotted and no write filled.
  for (const std::string& tail : {fourth.substr(0, fourth.size() - 3), fourth.substr(0, 5), std::string(4096, '\0')}) {
    WriteAll(SegmentPath(1), whole + tail);
    SeriesStore store(SeriesStoreOptions{}, clock_);
    std::vector<std::string> messages;
    const WalReplayStats r = Replay(&store, &messages);
    EXPECT_EQ(r.records, 3u) << tail.size();
    EXPECT_EQ(r.torn_tails, 1u) << tail.size();
    EXPECT_EQ(r.corruptions, 0u) << tail.size();
    EXPECT_TRUE(messages.empty()) << messages.front();
    EXPECT_EQ(Held(store, "a"), (std::vector<int64_t>{1000, 2000, 3000}));
  }
}

TEST_F(WalTest, DamageInTheMiddleIsReportedWithFileAndOffsetAndTheRestReplayed) {
  std::vector<size_t> offsets;
  {
    auto wal = Open();
    size_t at = 0;
    for (int i = 1; i <= 5; ++i) {
      offsets.push_back(at);
      at += Log(wal.get(), "t" + std::to_string(i), {{1.0 * i, 1000}});
    }
  }
  const std::string clean = ReadAll(SegmentPath(1));
  struct Case {
    const char* what;
    size_t byte;  // flipped
    const char* why;
  };
  const Case cases[] = {
      {"payload", offsets[1] + kWalHeaderBytes + 4, "payload checksum mismatch"},
      {"length", offsets[1] + 1, "damaged record header"},
      {"header checksum", offsets[1] + 9, "damaged record header"},
  };
  for (const Case& c : cases) {
    std::string damaged = clean;
    damaged[c.byte] = static_cast<char>(damaged[c.byte] ^ 0x40);
    WriteAll(SegmentPath(1), damaged);
    SeriesStore store(SeriesStoreOptions{}, clock_);
    std::vector<std::string> messages;
    const WalReplayStats r = Replay(&store, &messages);
    EXPECT_EQ(r.corruptions, 1u) << c.what;
    EXPECT_EQ(r.records, 4u) << c.what;
    EXPECT_EQ(r.torn_tails, 0u) << c.what;
    ASSERT_EQ(messages.size(), 1u) << c.what;
    EXPECT_EQ(
        messages[0].rfind("write-ahead log " + SegmentPath(1) + ": offset " + std::to_string(offsets[1]) + ": ", 0), 0u)
        << messages[0];
    EXPECT_NE(messages[0].find(c.why), std::string::npos) << messages[0];
    EXPECT_TRUE(Held(store, "t2").empty()) << c.what;
    for (const char* kept : {"t1", "t3", "t4", "t5"}) EXPECT_EQ(Held(store, kept).size(), 1u) << c.what << kept;
  }
}

// A segment whose read fails (EIO: /proc/self/mem at offset 0 answers that to
// anyone, root included) stops the replay: the next snapshot would remove it.
TEST_F(WalTest, UnreadableSegmentStopsTheReplayNamingTheFile) {
  std::filesystem::create_directories(wal_dir_);
  std::filesystem::create_symlink("/proc/self/mem", SegmentPath(1));
  auto wal = Open();
  ASSERT_EQ(wal->segments(), 1u);
  auto replayed = wal->Replay(&store_);
  ASSERT_FALSE(replayed.ok());
  EXPECT_NE(replayed.status().message().find("cannot read the write-ahead log segment " + SegmentPath(1)),
            std::string::npos)
      << replayed.status().message();
}

TEST_F(WalTest, SegmentsAreCutPastTheirSizeAndEveryRecordComesBack) {
  {
    auto wal = Open(1024);
    for (int i = 1; i <= 40; ++i) Log(wal.get(), "a", {{1.0 * i, int64_t{1000} * i}});
    EXPECT_GE(wal->segments(), 3u);
  }
  EXPECT_GE(SegmentFiles().size(), 3u);
  const WalReplayStats r = Replay(&store_);
  EXPECT_EQ(r.records, 40u);
  EXPECT_EQ(r.segments, SegmentFiles().size());
  EXPECT_EQ(Held(store_, "a").size(), 40u);
}

TEST_F(WalTest, CutWaitsForRecordsLoggedBeforeItAndNotForLaterOnes) {
  auto wal = Open();
  const std::string body = remote_write::Encode(Request("a", {{1, 1000}}));
  WalPending before;
  ASSERT_TRUE(wal->Log(body, &before).ok());
  std::atomic<bool> cut{false};
  uint64_t first_kept = 0;
  std::thread snapshot([&] {
    first_kept = wal->Cut();
    cut = true;
  });
  // A push logged after the cut began is not waited for (it goes to the next segment).
  ASSERT_TRUE(testing::PollUntil(
      [&] {
        WalPending after;
        EXPECT_TRUE(wal->Log(body, &after).ok());
        return wal->segments() == 2;
      },
      std::chrono::seconds(10)));
  EXPECT_FALSE(cut.load()) << "the cut did not wait for the record logged before it";
  before.Release();
  snapshot.join();
  EXPECT_EQ(first_kept, 2u);
}

// An aggregator on a data directory, as main.cc wires it: snapshot loaded, then the log replayed.
class WalAggregatorTest : public WalTest {
 protected:
  std::unique_ptr<Aggregator> Start(uint64_t max_series = 1000) {
    AggregatorConfig config;
    config.data_dir = dir_.path();
    config.max_series = max_series;
    config.wal_sync_interval = std::chrono::milliseconds(0);
    config.tokens = {{"node-a", Sha256Hex(kToken), "agent", ""}};
    auto a = std::make_unique<Aggregator>(config, clock_);
    EXPECT_TRUE(LoadSnapshot(&a->store(), &a->demand(), dir_.path()).ok());
    auto replayed = a->OpenWal();
    EXPECT_TRUE(replayed.ok()) << replayed.status().ToString();
    if (replayed.ok()) last_replay_ = *replayed;
    return a;
  }
  http::HttpResponse Push(Aggregator* a, const WriteRequest& r) {
    http::HttpRequest request;
    request.method = "POST";
    request.path = "/api/v1/write";
    request.body = remote_write::Encode(r);
    request.headers = {{"Authorization", std::string("Bearer ") + kToken}, {"Content-Encoding", "snappy"}};
    return a->Handle("write", request);
  }
  double Metric(const Aggregator& a, const std::string& name) {
    const std::string text = a.MetricsText();
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::strtod(text.c_str() + at + name.size() + 2, nullptr);
  }

  WalReplayStats last_replay_;
};

TEST_F(WalAggregatorTest, SnapshotRemovesTheSegmentsItHoldsAndARestartReplaysTheRest) {
  auto a = Start();
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(Push(a.get(), Request("a", {{1.0 * i, int64_t{1000} * i}})).status, 204);
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{"00000001"});
  a->Snapshot();
  EXPECT_TRUE(SegmentFiles().empty()) << "the snapshot holds segment 1";
  EXPECT_EQ(Metric(*a, "prescale_aggregator_wal_segments"), 0);
  a->Snapshot();  // nothing logged since: no empty segment is made
  EXPECT_TRUE(SegmentFiles().empty());
  for (int i = 4; i <= 5; ++i) ASSERT_EQ(Push(a.get(), Request("a", {{1.0 * i, int64_t{1000} * i}})).status, 204);
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{"00000002"});
  EXPECT_EQ(Metric(*a, "prescale_aggregator_wal_records_total"), 5);
  a.reset();  // as kill -9 leaves it: no snapshot since the last two pushes

  a = Start();
  EXPECT_EQ(Held(a->store(), "a"), (std::vector<int64_t>{1000, 2000, 3000, 4000, 5000}));
  EXPECT_EQ(last_replay_.records, 2u);
  EXPECT_EQ(last_replay_.samples, 2u);
  EXPECT_EQ(Metric(*a, "prescale_aggregator_wal_replayed_samples"), 2);
}

TEST_F(WalAggregatorTest, FailedSnapshotRemovesNothing) {
  auto a = Start();
  ASSERT_EQ(Push(a.get(), Request("a", {{1, 1000}})).status, 204);
  // A directory where the snapshot's temporary file goes: the snapshot fails.
  std::filesystem::create_directory(SnapshotPath(dir_.path()) + ".tmp");
  a->Snapshot();
  ASSERT_FALSE(std::filesystem::exists(SnapshotPath(dir_.path())));
  EXPECT_EQ(SegmentFiles(), std::vector<std::string>{"00000001"});
  ASSERT_EQ(Push(a.get(), Request("a", {{2, 2000}})).status, 204);
  a.reset();
  std::filesystem::remove(SnapshotPath(dir_.path()) + ".tmp");
  a = Start();
  EXPECT_EQ(Held(a->store(), "a"), (std::vector<int64_t>{1000, 2000}));
  EXPECT_EQ(last_replay_.segments, 2u);
}

TEST_F(WalAggregatorTest, JsonPushesAreLoggedWithTheTimestampsTheClockFilledIn) {
  auto a = Start();
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  http::HttpRequest request;
  request.method = "POST";
  request.path = "/api/v1/ingest";
  request.body = R"({"series":[{"labels":{"__name__":"queue_depth","tenant":"j"},"samples":[7]}]})";
  request.headers = {{"Authorization", std::string("Bearer ") + kToken}};
  ASSERT_EQ(a->Handle("ingest", request).status, 200);
  a.reset();
  clock_.Advance(std::chrono::minutes(5));
  a = Start();
  EXPECT_EQ(Held(a->store(), "j"), std::vector<int64_t>{now_ms});
}

TEST_F(WalAggregatorTest, PushRefusedForMaxSeriesIsNotLogged) {
  auto a = Start(1);
  ASSERT_EQ(Push(a.get(), Request("a", {{1, 1000}})).status, 204);
  EXPECT_EQ(Push(a.get(), Request("b", {{1, 1000}})).status, 429);
  EXPECT_EQ(Metric(*a, "prescale_aggregator_wal_records_total"), 1);
  a.reset();
  a = Start(1000);
  EXPECT_TRUE(Held(a->store(), "b").empty());
  EXPECT_EQ(last_replay_.records, 1u);
}

// A 256 KiB tmpfs as the data directory, filled: a push whose record does not
// fit is refused with 503 (a JSON reason naming the segment), nothing of it is
// stored or left in the segment, and once space is freed the next push passes.
TEST_F(WalAggregatorTest, FullDiskAnswers503StoresNothingAndTheNextPushPassesOnceSpaceReturns) {
  Tmpfs tmpfs;
  if (const std::string why = tmpfs.Mount(dir_.path(), "256k"); !why.empty()) {
    GTEST_SKIP() << "needs a tmpfs (root): " << why;
  }
  auto a = Start();
  ASSERT_EQ(Push(a.get(), Request("a", {{1, 1000}})).status, 204);
  {
    std::ofstream filler(dir_.path() + "/filler", std::ios::binary);
    const std::string chunk(4096, 'f');
    while (filler.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) {
    }
  }
  // Series enough that the record needs pages the disk no longer has.
  WriteRequest big;
  for (int i = 0; i < 400; ++i) {
    big.timeseries.push_back(TimeSeries{
        {{"__name__", "queue_depth"}, {"pad", std::string(64, 'a' + i % 26)}, {"tenant", "big" + std::to_string(i)}},
        {{1, 2000}}});
  }
  const auto segment_bytes = std::filesystem::file_size(SegmentPath(1));
  const http::HttpResponse refused = Push(a.get(), big);
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find(R"("error":"unavailable")"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(SegmentPath(1)), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("No space left on device"), std::string::npos) << refused.body;
  EXPECT_TRUE(Held(a->store(), "big0").empty()) << "a push that was not logged was stored";
  EXPECT_EQ(std::filesystem::file_size(SegmentPath(1)), segment_bytes) << "the failed record left bytes behind";
  EXPECT_EQ(Metric(*a, "prescale_aggregator_data_dir_full"), 1);
  EXPECT_EQ(Metric(*a, "prescale_aggregator_wal_write_failures_total"), 1);

  std::filesystem::remove(dir_.path() + "/filler");
  ASSERT_EQ(Push(a.get(), big).status, 204);
  EXPECT_EQ(Metric(*a, "prescale_aggregator_data_dir_full"), 0);
  a.reset();
  a = Start();
  EXPECT_EQ(Held(a->store(), "a"), std::vector<int64_t>{1000});
  EXPECT_EQ(Held(a->store(), "big399"), std::vector<int64_t>{2000});
  EXPECT_EQ(last_replay_.records, 2u);
  EXPECT_EQ(last_replay_.corruptions, 0u) << "the failed record left bytes behind";
  EXPECT_EQ(last_replay_.torn_tails, 0u) << "the failed record left bytes behind";
}

// Writers push (each its own series, timestamps rising) while snapshots cut
// the log and remove what they hold; then the process "dies". Every push
// acknowledged is in the snapshot or in the segments left.
TEST_F(WalAggregatorTest, PushesRacingSnapshotCutsLoseNothingAcknowledged) {
  constexpr int kWriters = 4;
  constexpr int kPushes = 300;
  auto a = Start();
  std::atomic<int> running{kWriters};
  std::vector<std::vector<int64_t>> acknowledged(kWriters);
  std::vector<std::thread> writers;
  writers.reserve(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 1; i <= kPushes; ++i) {
        if (Push(a.get(), Request("w" + std::to_string(w), {{1.0 * i, i}})).status == 204) {
          acknowledged[w].push_back(i);
        }
      }
      --running;
    });
  }
  int snapshots = 0;
  while (running.load() > 0 || snapshots < 3) {
    a->Snapshot();
    ++snapshots;
  }
  for (auto& t : writers) t.join();
  a.reset();
  a = Start();
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(acknowledged[w].size(), static_cast<size_t>(kPushes)) << "writer " << w;
    EXPECT_EQ(Held(a->store(), "w" + std::to_string(w)), acknowledged[w]) << "writer " << w;
  }
  std::printf("[ figures  ] %d snapshots during %d pushes; %llu records replayed\n", snapshots, kWriters * kPushes,
              static_cast<unsigned long long>(last_replay_.records));
}

TEST(WalConfig, SyncIntervalIsReadAndDefaultsToOneSecond) {
  auto config = ParseAggregatorConfig("wal_sync_interval: 250ms\n", "aggregator.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->wal_sync_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(AggregatorConfig{}.wal_sync_interval, std::chrono::seconds(1));
  auto bad = ParseAggregatorConfig("wal_sync_interval: soon\n", "aggregator.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("aggregator.yaml:1: wal_sync_interval"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace prescale::aggregator
