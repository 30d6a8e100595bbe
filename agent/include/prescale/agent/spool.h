// Spool: the agent's on-disk queue of remote-write batches, for while the
// aggregator is unreachable. Append-only segment files in one directory; each
// record is [u32 length][u32 crc32][payload], payload = [u32 samples]
// [i64 timestamp_ms][body], little-endian. Bounded by total size (the oldest
// segment is dropped first, also when the disk fills before that size) and by
// age; a read cursor file makes replay resume
// after a restart without duplicates. A truncated or corrupt record (a crash
// mid-write, a bad disk) is counted and skipped, never fatal.
// Thread-safe: one thread may append while another reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/base/status.h"

namespace prescale::agent {

// One batch as it travels from the collector to the aggregator.
struct Batch {
  std::string body;  // an encoded remote-write request
  uint32_t samples = 0;
  int64_t timestamp_ms = 0;  // the cycle's collection time
};

inline constexpr size_t kSpoolHeaderBytes = 8;
inline constexpr size_t kSpoolPayloadHeaderBytes = 12;
inline constexpr uint32_t kSpoolMaxRecordBytes = 64u << 20;

enum class SpoolRecordOutcome {
  kOk,
  kTruncated,    // fewer bytes than the header or the length promise: the rest is unusable
  kBadLength,    // a length out of range: the rest of the segment cannot be resynchronised
  kBadChecksum,  // the length is plausible but the CRC does not match: skip this record
};

struct SpoolRecordView {
  SpoolRecordOutcome outcome = SpoolRecordOutcome::kTruncated;
  size_t consumed = 0;  // bytes to skip to the next record (kOk, kBadChecksum)
  uint32_t samples = 0;
  int64_t timestamp_ms = 0;
  std::string_view body;  // views the input
};

// Parses the record at the start of `bytes`. Pure; any input is safe.
SpoolRecordView ParseSpoolRecord(std::string_view bytes);
// Appends one record to *out.
void AppendSpoolRecord(uint32_t samples, int64_t timestamp_ms, std::string_view body, std::string* out);

struct SpoolOptions {
  std::string dir;
  uint64_t max_bytes = 256ull << 20;
  std::chrono::milliseconds max_age = std::chrono::hours(6);
  // A segment is closed and a new one started past this size; 0: max_bytes/16
  // within [64 KiB, 16 MiB].
  uint64_t segment_bytes = 0;
};

// What the spool dropped since the last TakeDrops().
struct SpoolDrops {
  uint64_t full_samples = 0;  // oldest segments dropped over max_bytes
  uint64_t age_samples = 0;   // records older than max_age
  uint64_t corrupt_records = 0;
};

class Spool {
 public:
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool();

  // Opens (creating) the directory and indexes the segments found there.
  // Fails naming the directory when it cannot be created or read.
  static Result<std::unique_ptr<Spool>> Open(SpoolOptions options, const Clock& clock);

  // Appends a batch at the tail. On a full disk (ENOSPC, EDQUOT) the oldest
  // segments are dropped until it fits (counted in full_samples); IoError names
  // the file when it cannot be written even so, or fails for another reason.
  Status Append(const Batch& batch);
  // Writes batches, oldest first, before everything already spooled (at
  // shutdown, for batches still in memory that are older than the spool).
  Status Prepend(const std::vector<Batch>& batches);
  // The oldest readable batch into *out: true, or false when the spool is
  // empty. Corrupt and expired records on the way are skipped and counted.
  Result<bool> Front(Batch* out);
  // Removes the batch Front() returned and persists the read cursor.
  Status PopFront();

  bool empty();
  uint64_t bytes();  // total size of the segment files
  SpoolDrops TakeDrops();

 private:
  struct Segment {
    uint64_t id = 0;
    uint64_t size = 0;
    uint64_t read_offset = 0;
    uint64_t samples = 0;  // unread
    int64_t newest_ms = 0;
  };
  Spool(SpoolOptions options, const Clock& clock);

  std::string SegmentPath(uint64_t id) const;
  Status Index();
  void DropFront(bool count_as_full);
  void ExpireLocked();
  void EnforceSizeLocked();
  // Drops the oldest segment to make room on a full disk; false when there is nothing to drop.
  bool DropOldestForRoomLocked();
  void CloseWriterLocked();
  Status OpenWriterLocked();
  void SaveCursorLocked();
  Status WriteSegmentFile(uint64_t id, const std::string& data);

  SpoolOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::deque<Segment> segments_;
  int write_fd_ = -1;  // appends go to segments_.back() while open
  int cursor_fd_ = -1;
  uint64_t bytes_ = 0;
  uint64_t next_id_ = 1ull << 32;  // leaves room below for Prepend
  bool front_cached_ = false;
  uint64_t front_consumed_ = 0;
  uint32_t front_samples_ = 0;
  SpoolDrops drops_;
  std::string buffer_;
};

}  // namespace prescale::agent
