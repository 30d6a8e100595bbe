// Durable history: the series store written to, and read back from, one file
// in the data directory. The file is "prescale-snapshot-1\n" then one chunk
// per store shard (and one for the demand rollups), each a little-endian u64 length and a remote-write body
// (snappy-compressed protobuf WriteRequest) of that shard's series, so no
// chunk nears protobuf's 2 GiB message limit. It is written to a temporary file,
// fsynced and renamed over the previous snapshot, so a crash at any moment
// leaves either the old or the new snapshot whole. After kill -9 at most one
// snapshot interval of history is lost. Not thread-safe against itself: one
// writer (the main loop); the store itself may be appended to meanwhile.
#pragma once

#include <cstdint>
#include <string>

#include "prescale/aggregator/series_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// The snapshot's path in `data_dir`.
std::string SnapshotPath(const std::string& data_dir);

struct SnapshotInfo {
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t bytes = 0;
};

// Writes the store's series; an IoError names the path.
// `demand` (may be null): its rollups go into one more chunk, as series named
// DemandRollups::kSnapshotPrefix + avg_1m|max_1m|avg_15m|max_15m.
Result<SnapshotInfo> WriteSnapshot(const SeriesStore& store, const DemandRollups* demand, const std::string& data_dir);

// Loads the snapshot into the store when one exists (an absent file is an
// empty result, not an error). A snapshot that does not decode is moved
// aside to <path>.corrupt and reported as ParseError: the aggregator starts
// empty rather than not at all.
Result<SnapshotInfo> LoadSnapshot(SeriesStore* store, DemandRollups* demand, const std::string& data_dir);

}  // namespace prescale::aggregator
