// WriteAheadLog: every push the aggregator acknowledges, written to disk before
// it is stored, so that a restart after kill -9 gets back what the last
// snapshot does not hold. A record is a remote-write 1.0 body (snappy
// protobuf): /api/v1/write's as received, /api/v1/ingest's encoded from the
// decoded JSON. Records go to numbered segment files in one directory
// (data_dir/wal/00000001, 00000002, ...), each framed as
//   [u32 payload length][u32 CRC-32 of the payload][u32 CRC-32 of the first 8 bytes][payload]
// little-endian, so that a record cut short at the end of a segment (a torn
// tail: the process died mid-write) is told apart from damage in the middle,
// which is skipped, counted and reported with its file and offset.
//
// A push is acknowledged once its record was passed to write(2): the page
// cache keeps it through kill -9. fdatasync runs when a segment is closed and
// every sync_interval in a thread of the log's own, so power loss costs at most
// that much. A segment is closed past segment_bytes and at every snapshot
// (Cut); the segments a successful snapshot covers are removed.
//
// Thread-safety: Log (and WalPending's release) from any thread, one write(2)
// at a time under a mutex; Cut and RemoveBefore from one thread at a time (the
// snapshot's); Replay once, before the first Log; Sync and the metrics from
// any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "prescale/aggregator/history/series_store.h"
#include "prescale/base/clock.h"
#include "prescale/base/scheduler.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// The log's directory in a data directory.
std::string WalDir(const std::string& data_dir);

inline constexpr size_t kWalHeaderBytes = 12;

// Appends one framed record holding `payload` to *out.
void AppendWalRecord(std::string_view payload, std::string* out);

// What a segment's bytes hold, as ScanWalSegment reports it.
struct WalSegmentVisitor {
  // An intact record: its payload and the offset of its header.
  std::function<void(uint64_t offset, std::string_view payload)> record;
  // A damaged stretch skipped: where it starts, how long it is, and why.
  std::function<void(uint64_t offset, uint64_t bytes, const std::string& why)> corruption;
};

// Walks a segment's bytes: every intact record in order; a record whose
// payload fails its checksum is skipped (its length is trusted: the header has
// its own checksum); a damaged header is skipped up to the next intact record.
// Returns the size of the torn tail at the end (0: none): a record cut short,
// or zeros only. Pure; any input is safe and takes linear time but for
// damaged headers, which cost a checksum of 8 bytes per byte skipped.
uint64_t ScanWalSegment(std::string_view bytes, const WalSegmentVisitor& visitor);

struct WalOptions {
  std::string dir;  // created when missing
  // A segment is closed once it holds this much (a record is never split).
  uint64_t segment_bytes = 64ULL << 20;
  // How often the open segment is fdatasynced when written since; 0: only
  // when it is closed (as Prometheus's TSDB does).
  std::chrono::milliseconds sync_interval{1000};
};

struct WalReplayStats {
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  uint64_t samples = 0;               // appended to the store
  uint64_t samples_out_of_order = 0;  // already held (the snapshot's), dropped by the store
  uint64_t series_rejected = 0;       // records refused whole for max_series
  uint64_t corruptions = 0;           // damaged stretches and records that do not decode
  uint64_t torn_tails = 0;            // segments ending in a record cut short
};

struct WalReplayObserver {
  // One message per damaged stretch or undecodable record, naming the file and the offset.
  std::function<void(const std::string& message)> corruption;
  // After each segment: the totals so far, and the bytes and segments to replay in all.
  std::function<void(const WalReplayStats& done, uint64_t total_bytes, uint64_t total_segments)> progress;
};

class WriteAheadLog;

// A logged record whose samples are not in the store yet. Cut waits until
// every record logged before it is released (Release or the destructor), so
// a snapshot taken after Cut holds them all. Move-only.
class WalPending {
 public:
  WalPending() = default;
  ~WalPending() { Release(); }
  WalPending(const WalPending&) = delete;
  WalPending& operator=(const WalPending&) = delete;
  void Release();

 private:
  friend class WriteAheadLog;
  WriteAheadLog* wal_ = nullptr;
  size_t epoch_slot_ = 0;
};

class WriteAheadLog {
 public:
  // Creates the directory when missing and lists the segments in it (replayed
  // by Replay; new records go to new segments after them). IoError naming the
  // directory when it cannot be created or listed.
  static Result<std::unique_ptr<WriteAheadLog>> Open(WalOptions options, const Clock& clock);
  ~WriteAheadLog();
  WriteAheadLog(const WriteAheadLog&) = delete;
  WriteAheadLog& operator=(const WriteAheadLog&) = delete;

  // Appends every record of the segments found by Open, in order, to `store`
  // (SeriesStore::Append: samples it already holds are dropped as out of
  // order). Damage is counted, reported and skipped; a torn tail is ignored.
  // IoError naming the file when a segment cannot be read: starting anyway
  // would let the next snapshot remove what it holds.
  Result<WalReplayStats> Replay(SeriesStore* store, const WalReplayObserver& observer = {});

  // Writes one record with one write(2) (the segment is opened, or a full one
  // closed first, as needed). On success *pending holds it until the caller
  // has stored its samples. On failure nothing of it stays in the segment and
  // the error names the file: ResourceExhausted when the disk or a quota is
  // full, IoError otherwise; the next call tries again.
  Status Log(std::string_view payload, WalPending* pending);

  // Closes the open segment (when it holds a record) and waits until every
  // record logged before is released; returns the first segment id that a
  // snapshot started now does not cover. The closed segment is fdatasynced.
  uint64_t Cut();
  // Removes the segments before `first_kept` (after a snapshot that holds
  // them was written). IoError naming a file that could not be removed.
  Status RemoveBefore(uint64_t first_kept);
  // fdatasyncs the open segment when written since the last time (and the
  // directory when a segment was created). IoError naming the file.
  Status Sync();

  // prescale_aggregator_wal_* counters and gauges.
  void AppendMetrics(std::string* out) const;
  // True while the last write failed for lack of space (until one succeeds).
  bool out_of_space() const { return out_of_space_.load(std::memory_order_relaxed); }
  uint64_t segments() const;
  const std::string& dir() const { return options_.dir; }

 private:
  friend class WalPending;
  WriteAheadLog(WalOptions options, const Clock& clock);
  std::string SegmentPath(uint64_t id) const;
  Status OpenSegmentLocked();
  Status WriteLocked(const char* header, std::string_view payload);
  // Closes the open segment and returns its descriptor, to be synced and closed unlocked.
  int CloseSegmentLocked();
  void SyncAndClose(int fd, uint64_t id);
  // fsyncs the directory when a segment was created since the last time.
  Status SyncDirectory();
  void Release(size_t epoch_slot);
  Status ReplaySegment(uint64_t id, SeriesStore* store, const WalReplayObserver& observer, WalReplayStats* stats);

  WalOptions options_;
  std::unique_ptr<Scheduler> syncer_;  // null without a sync_interval

  std::mutex cut_mu_;  // one Cut at a time
  mutable std::mutex mu_;
  std::condition_variable drained_;  // a slot of in_flight_ reached 0
  std::set<uint64_t> on_disk_;       // segment ids with a file
  uint64_t replay_below_ = 1;        // segments found by Open: ids below it
  uint64_t segment_id_ = 1;          // where the next record goes
  int fd_ = -1;                      // segment_id_'s file, opened by the first record
  uint64_t segment_size_ = 0;
  uint64_t segment_records_ = 0;
  bool dirty_ = false;      // written since the last fdatasync
  bool dir_dirty_ = false;  // a segment created since the directory's last fsync
  // Records logged and not yet released, by the parity of the epoch (Cuts so
  // far) they were logged in: Cut waits for the closing epoch's slot only.
  uint64_t epoch_ = 0;
  std::array<uint64_t, 2> in_flight_{};

  std::atomic<bool> out_of_space_{false};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> write_failures_{0};
  std::atomic<uint64_t> sync_failures_{0};
  WalReplayStats replayed_;  // written by Replay before any reader
};

}  // namespace prescale::aggregator
