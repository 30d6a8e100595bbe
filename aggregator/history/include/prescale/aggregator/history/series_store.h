// SeriesStore: the aggregator's in-memory history of raw samples. Series are
// identified by the hash of their sorted label set and spread over 64 shards,
// each with its own mutex, so concurrent ingest threads rarely meet. Each
// series keeps the samples within raw_retention of its newest one in
// XOR-compressed chunks (Gorilla-style, 1-5 bytes a sample for steady series;
// append is O(1)). Series that received nothing for
// raw_retention, or ended with a stale marker, are removed by ExpireIdle.
// max_series caps the number of series: a batch that would pass it is refused
// whole. All methods are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "prescale/aggregator/history/demand.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {

struct SeriesStoreOptions {
  uint64_t max_series = 1'000'000;
  std::chrono::milliseconds raw_retention{15 * 60 * 1000};
  // A hard cap per series whatever the sample rate (1 sample per ~55 ms over 15 min).
  size_t max_samples_per_series = 16384;
};

struct AppendStats {
  uint64_t samples_appended = 0;
  uint64_t samples_out_of_order = 0;  // not newer than the series' last sample: dropped
  uint64_t series_created = 0;
  uint64_t series_rejected = 0;  // set with a ResourceExhausted status
};

struct SeriesData {
  std::vector<remote_write::Label> labels;
  std::vector<remote_write::Sample> samples;  // oldest first
};

// Hash of a sorted label set (stable within a process).
uint64_t HashLabels(const std::vector<remote_write::Label>& labels);
bool IsStaleMarker(double value);

class SeriesStore {
 public:
  // `demand` (optional, outliving the store) receives every pair of consecutive
  // samples of the series it binds.
  SeriesStore(SeriesStoreOptions options, const Clock& clock, DemandRollups* demand = nullptr);
  ~SeriesStore();
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  // Appends every sample of `series` (labels already validated and sorted).
  // When the series new to the store would take it past max_series nothing
  // is appended and the result is ResourceExhausted; *stats then holds
  // series_rejected. Out-of-order samples are dropped and counted, not errors.
  // `restoring` (loading a snapshot): the demand rollups are not fed, they are restored apart.
  // `before_append` (optional) runs once room for the new series is reserved
  // and before anything is appended; its error gives the room back and is
  // returned, and nothing is appended. The ingest's write-ahead log writes
  // there: a request refused for max_series is never logged, and one that
  // could not be logged is not stored.
  Status Append(const std::vector<remote_write::TimeSeries>& series, AppendStats* stats, bool restoring = false,
                const std::function<Status()>& before_append = {});

  // Series whose __name__ is `metric_name` and which carry every label in `equalities`.
  std::vector<SeriesData> Query(std::string_view metric_name, const std::vector<remote_write::Label>& equalities) const;

  static constexpr size_t shard_count() { return kShards; }
  // The series of one shard in the snapshot's binary form (labels and the
  // compressed chunks as they are held: no decoding). Appends to *out; adds
  // the samples held (the expired head of a series' oldest chunk included) to *samples.
  void SerializeShard(size_t shard, std::string* out, uint64_t* samples) const;
  // Adds the series SerializeShard wrote (series already held are kept as they
  // are); ParseError when the bytes do not decode, and then nothing is added.
  // max_series is not applied: a snapshot holds what was accepted.
  Status RestoreSerialized(std::string_view bytes, uint64_t* series, uint64_t* samples);

  // Removes series idle for raw_retention (by the clock's monotonic time) and
  // series whose last sample is a stale marker; returns how many went.
  size_t ExpireIdle();

  uint64_t active_series() const { return active_series_.load(std::memory_order_relaxed); }
  // Memory held by series and their samples (approximate: allocator overhead not counted).
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // The newest sample timestamp ever appended (ms since the epoch); 0 before any.
  int64_t newest_timestamp_ms() const { return newest_timestamp_ms_.load(std::memory_order_relaxed); }
  const SeriesStoreOptions& options() const { return options_; }

 private:
  struct Series;
  struct Shard {
    mutable std::mutex mu;
    // By label hash; the rare series whose hash another holds hang off that one (Series::collision).
    std::unordered_map<uint64_t, std::unique_ptr<Series>> series;
  };
  static constexpr size_t kShards = 64;

  Shard& ShardFor(uint64_t hash) { return shards_[hash >> 58]; }
  void NoteNewest(int64_t timestamp_ms);
  static Series* Find(Shard& shard, uint64_t hash, std::string_view packed_labels);
  static void Insert(Shard& shard, uint64_t hash, std::unique_ptr<Series> series);
  template <typename Fn>
  static void ForEachSeries(const Shard& shard, Fn&& fn);
  void AppendSamples(Series* s, const std::vector<remote_write::Sample>& samples, bool restoring, AppendStats* stats);

  SeriesStoreOptions options_;
  const Clock& clock_;
  DemandRollups* demand_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> active_series_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<int64_t> newest_timestamp_ms_{0};
};

}  // namespace prescale::aggregator
