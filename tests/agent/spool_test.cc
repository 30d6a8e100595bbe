#include "prescale/agent/spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;
using ::prescale::testing::FakeClock;
using ::prescale::testing::TempDir;

Batch MakeBatch(int i, int64_t timestamp_ms, size_t body_bytes = 100) {
  Batch b;
  b.body = "batch-" + std::to_string(i) + ":";
  b.body.resize(body_bytes, static_cast<char>('a' + i % 26));
  b.samples = static_cast<uint32_t>(10 + i);
  b.timestamp_ms = timestamp_ms;
  return b;
}

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> Open(uint64_t max_bytes = 1 << 20, uint64_t segment_bytes = 1024) {
    SpoolOptions o;
    o.dir = dir_.path() + "/spool";
    o.max_bytes = max_bytes;
    o.segment_bytes = segment_bytes;
    o.max_age = 1h;
    auto s = Spool::Open(o, clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  int64_t Now() const { return ToUnixMillis(clock_.Now()); }
  // Reads and pops everything, returning the bodies' prefixes ("batch-N").
  static std::vector<std::string> Drain(Spool* spool) {
    std::vector<std::string> out;
    Batch b;
    while (true) {
      auto r = spool->Front(&b);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || !*r) break;
      out.push_back(b.body.substr(0, b.body.find(':')));
      EXPECT_TRUE(spool->PopFront().ok());
    }
    return out;
  }

  TempDir dir_{"prescale-spool"};
  FakeClock clock_;
};

TEST(SpoolRecord, RoundTripsAndDetectsEveryKindOfDamage) {
  std::string bytes;
  AppendSpoolRecord(42, 1'700'000'000'123, "payload", &bytes);
  SpoolRecordView r = ParseSpoolRecord(bytes);
  ASSERT_EQ(r.outcome, SpoolRecordOutcome::kOk);
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(r.samples, 42u);
  EXPECT_EQ(r.timestamp_ms, 1'700'000'000'123);
  EXPECT_EQ(r.body, "payload");

  EXPECT_EQ(ParseSpoolRecord(std::string_view(bytes).substr(0, 5)).outcome, SpoolRecordOutcome::kTruncated);
  EXPECT_EQ(ParseSpoolRecord(std::string_view(bytes).substr(0, bytes.size() - 1)).outcome,
            SpoolRecordOutcome::kTruncated);
  std::string flipped = bytes;
  flipped.back() ^= 0x01;
  EXPECT_EQ(ParseSpoolRecord(flipped).outcome, SpoolRecordOutcome::kBadChecksum);
  EXPECT_EQ(ParseSpoolRecord(flipped).consumed, bytes.size());
  std::string huge = bytes;
  huge[3] = '\x7f';  // length ~2 GiB
  EXPECT_EQ(ParseSpoolRecord(huge).outcome, SpoolRecordOutcome::kBadLength);
  EXPECT_EQ(ParseSpoolRecord("").outcome, SpoolRecordOutcome::kTruncated);
}

TEST_F(SpoolTest, ReplaysInAppendOrderAcrossSegments) {
  auto spool = Open();
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(spool->empty());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  EXPECT_GT(Segments(dir_.path() + "/spool").size(), 2u);
  EXPECT_FALSE(spool->empty());
  std::vector<std::string> expected;
  for (int i = 0; i < 30; ++i) expected.push_back("batch-" + std::to_string(i));
  EXPECT_EQ(Drain(spool.get()), expected);
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(spool->bytes(), 0u);
  EXPECT_TRUE(Segments(dir_.path() + "/spool").empty()) << "fully sent segments are deleted";
}

TEST_F(SpoolTest, FrontWithoutPopReturnsTheSameBatch) {
  auto spool = Open();
  ASSERT_TRUE(spool->Append(MakeBatch(1, Now())).ok());
  ASSERT_TRUE(spool->Append(MakeBatch(2, Now())).ok());
  Batch a, b;
  ASSERT_TRUE(*spool->Front(&a));
  ASSERT_TRUE(*spool->Front(&b));
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.samples, 11u);
  EXPECT_EQ(a.timestamp_ms, Now());
}

TEST_F(SpoolTest, RestartResumesAfterTheLastPoppedBatchWithoutDuplicates) {
  {
    auto spool = Open();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
    Batch b;
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(*spool->Front(&b));
      ASSERT_TRUE(spool->PopFront().ok());
    }
    ASSERT_TRUE(*spool->Front(&b));  // read but not acknowledged: must come again
  }
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  ASSERT_TRUE(reopened->Append(MakeBatch(20, Now())).ok());  // a new run appends behind the old batches
  std::vector<std::string> expected;
  for (int i = 7; i <= 20; ++i) expected.push_back("batch-" + std::to_string(i));
  EXPECT_EQ(Drain(reopened.get()), expected);
}

TEST_F(SpoolTest, OverTheSizeBoundTheOldestSegmentIsDroppedAndCounted) {
  // 8 KiB at most, 1 KiB segments, ~130-byte records: the oldest go first.
  auto spool = Open(8 << 10, 1 << 10);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  EXPECT_LE(spool->bytes(), (8u << 10) + 200);
  const SpoolDrops drops = spool->TakeDrops();
  EXPECT_GT(drops.full_samples, 0u);
  const std::vector<std::string> left = Drain(spool.get());
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.back(), "batch-199") << "the newest batches are kept";
  EXPECT_NE(left.front(), "batch-0");
  // Kept and dropped samples add up to what was appended.
  uint64_t kept = 0;
  for (const std::string& name : left) kept += 10 + std::stoul(name.substr(6));
  uint64_t all = 0;
  for (int i = 0; i < 200; ++i) all += 10 + i;
  EXPECT_EQ(kept + drops.full_samples, all);
  for (size_t i = 1; i < left.size(); ++i) {
    EXPECT_EQ(std::stoi(left[i].substr(6)), std::stoi(left[i - 1].substr(6)) + 1) << "a gap inside the kept range";
  }
}

TEST_F(SpoolTest, BatchesOlderThanTheAgeBoundAreDroppedAndCounted) {
  auto spool = Open();
  ASSERT_TRUE(spool->Append(MakeBatch(1, Now())).ok());
  clock_.Advance(50min);
  ASSERT_TRUE(spool->Append(MakeBatch(2, Now())).ok());
  clock_.Advance(20min);  // batch 1 is 70 min old, batch 2 is 20 min old; the bound is 1h
  EXPECT_EQ(Drain(spool.get()), std::vector<std::string>{"batch-2"});
  EXPECT_EQ(spool->TakeDrops().age_samples, 11u);
}

// The reader (the pusher) holds the batch Front() handed out while it retries it, and still sends it: when
// the spool drops that batch's segment for space, only the rest of the segment is dropped.
TEST_F(SpoolTest, DroppingTheFrontSegmentForSpaceDoesNotCountTheBatchHandedOut) {
  // 1 KiB at most, 256-byte segments, 120-byte records: three records a segment.
  auto spool = Open(1 << 10, 256);
  ASSERT_NE(spool, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  const std::string first_segment = Segments(dir_.path() + "/spool").at(0);
  Batch held;
  ASSERT_TRUE(*spool->Front(&held));
  ASSERT_EQ(held.samples, 10u);  // batch-0, not popped: the reader is retrying it
  for (int i = 3; i < 9; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  ASSERT_FALSE(std::filesystem::exists(first_segment)) << "the spool should have dropped its oldest segment";

  EXPECT_EQ(spool->TakeDrops().full_samples, 11u + 12u) << "only batch-1 and batch-2 are lost; batch-0 is held";
  ASSERT_TRUE(spool->PopFront().ok());  // the held batch was sent: nothing left to remove
  EXPECT_EQ(Drain(spool.get()),
            (std::vector<std::string>{"batch-3", "batch-4", "batch-5", "batch-6", "batch-7", "batch-8"}));
}

// The same when the segment goes for age: the held batch is not counted as an age drop.
TEST_F(SpoolTest, ExpiringTheFrontSegmentDoesNotCountTheBatchHandedOut) {
  auto spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(MakeBatch(0, Now())).ok());
  ASSERT_TRUE(spool->Append(MakeBatch(1, Now())).ok());
  Batch held;
  ASSERT_TRUE(*spool->Front(&held));
  ASSERT_EQ(held.samples, 10u);
  clock_.Advance(61min);                                 // both are past the 1h bound
  ASSERT_TRUE(spool->Append(MakeBatch(2, Now())).ok());  // expires the front segment

  EXPECT_EQ(spool->TakeDrops().age_samples, 11u) << "only batch-1 is lost; batch-0 is held";
  ASSERT_TRUE(spool->PopFront().ok());
  EXPECT_EQ(Drain(spool.get()), std::vector<std::string>{"batch-2"});
}

// A held batch that grew too old while its segment stays (a newer record keeps the segment young) is
// skipped by the next Front(), as Pusher::Stop() calls it, and written back with Prepend() (Stop() keeps
// what the spool no longer holds). It is counted as an age drop once: when it is read back and skipped,
// not also when Front() stepped over it while it was held.
TEST_F(SpoolTest, AHeldBatchThatExpiresIsCountedAsAnAgeDropOnlyOnce) {
  auto spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(MakeBatch(0, Now())).ok());
  clock_.Advance(50min);
  ASSERT_TRUE(spool->Append(MakeBatch(1, Now())).ok());  // same segment, 50 min newer
  Batch held;
  ASSERT_TRUE(*spool->Front(&held));
  ASSERT_EQ(held.samples, 10u);
  clock_.Advance(20min);  // batch-0 is 70 min old, batch-1 20 min

  Batch front;
  ASSERT_TRUE(*spool->Front(&front));
  EXPECT_EQ(front.samples, 11u);
  EXPECT_EQ(spool->TakeDrops().age_samples, 0u) << "batch-0 is held by the reader, not dropped by the spool";
  ASSERT_TRUE(spool->Prepend({held}).ok());
  EXPECT_EQ(Drain(spool.get()), std::vector<std::string>{"batch-1"});
  EXPECT_EQ(spool->TakeDrops().age_samples, 10u) << "batch-0, when it is read back too old";
}

TEST_F(SpoolTest, CorruptAndTruncatedRecordsAreSkippedAndCounted) {
  {
    auto spool = Open(1 << 20, 1 << 20);  // one segment
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  }
  const std::vector<std::string> segments = Segments(dir_.path() + "/spool");
  ASSERT_EQ(segments.size(), 1u);
  std::string bytes = ::prescale::testing::ReadFileOrEmpty(segments[0]);
  const size_t record = bytes.size() / 5;
  bytes[record + 40] ^= 0x55;               // damage the body of record 1: its CRC fails
  bytes.resize(bytes.size() - record / 2);  // a crash in the middle of writing record 4
  std::ofstream(segments[0], std::ios::binary | std::ios::trunc) << bytes;

  auto spool = Open(1 << 20, 1 << 20);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(Drain(spool.get()), (std::vector<std::string>{"batch-0", "batch-2", "batch-3"}));
  EXPECT_EQ(spool->TakeDrops().corrupt_records, 2u);
  ASSERT_TRUE(spool->Append(MakeBatch(9, Now())).ok());
  EXPECT_EQ(Drain(spool.get()), std::vector<std::string>{"batch-9"});
}

TEST_F(SpoolTest, GarbageFilesAndAnUnreadableCursorDoNotStopTheSpool) {
  TempDir& d = dir_;
  d.Write("spool/00000000000000000007.seg", std::string(1000, '\xff'));
  d.Write("spool/cursor", "not a cursor");
  d.Write("spool/notes.txt", "ignored");
  auto spool = Open();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(MakeBatch(3, Now())).ok());
  EXPECT_EQ(Drain(spool.get()), std::vector<std::string>{"batch-3"});
  EXPECT_EQ(spool->TakeDrops().corrupt_records, 1u);
}

TEST_F(SpoolTest, ASegmentRemovedBehindItsBackIsSkipped) {
  auto spool = Open(1 << 20, 512);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  const std::vector<std::string> segments = Segments(dir_.path() + "/spool");
  ASSERT_GT(segments.size(), 2u);
  std::filesystem::remove(segments[0]);
  const std::vector<std::string> left = Drain(spool.get());
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left.back(), "batch-11");
  EXPECT_NE(left.front(), "batch-0");
  EXPECT_EQ(spool->TakeDrops().corrupt_records, 1u);
}

TEST_F(SpoolTest, PrependPutsBatchesBeforeEverythingSpooled) {
  auto spool = Open();
  for (int i = 10; i < 14; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, Now())).ok());
  Batch b;
  ASSERT_TRUE(*spool->Front(&b));
  ASSERT_TRUE(spool->PopFront().ok());  // batch-10 sent: the front segment is partly read
  ASSERT_TRUE(spool->Prepend({MakeBatch(1, Now()), MakeBatch(2, Now())}).ok());
  spool.reset();
  auto reopened = Open();
  EXPECT_EQ(Drain(reopened.get()),
            (std::vector<std::string>{"batch-1", "batch-2", "batch-11", "batch-12", "batch-13"}));
}

TEST_F(SpoolTest, AnUncreatableDirectoryIsAnErrorNamingIt) {
  dir_.Write("file", "x");
  SpoolOptions o;
  o.dir = dir_.path() + "/file/spool";
  auto s = Spool::Open(o, clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(o.dir), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace prescale::agent
