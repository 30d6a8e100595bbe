// Durable history: the series store and the demand rollups written to, and
// read back from, one file in the data directory: "prescale-snapshot-2\n",
// then one frame per store shard and one for the rollups, each a
// little-endian u64 length, a u32 CRC-32 of the payload, and the payload.
// A shard's payload is its series as held in memory (packed labels and the
// XOR-compressed chunks: no re-encoding, so a snapshot costs about a memcpy
// of the store); the rollups' payload is a remote-write body of series named
// DemandRollups::kSnapshotPrefix + avg_1m|max_1m|avg_15m|max_15m. The file is
// written to a temporary file, fsynced and renamed over the previous
// snapshot, so a crash at any moment leaves either the old or the new one
// whole. What came after the last snapshot is in the write-ahead log (wal.h). Not
// thread-safe against itself: one writer (the main loop); the store may be
// appended to meanwhile.
#pragma once

#include <cstdint>
#include <string>

#include "prescale/aggregator/history/series_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// The snapshot's path in `data_dir`.
std::string SnapshotPath(const std::string& data_dir);

struct SnapshotInfo {
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t bytes = 0;
};

// Writes the store's series; an error names the path: ResourceExhausted when
// the disk (or a quota) is full, IoError otherwise. A failed write leaves the
// previous snapshot as it was and no temporary file behind.
// `demand` may be null (no rollups frame).
Result<SnapshotInfo> WriteSnapshot(const SeriesStore& store, const DemandRollups* demand, const std::string& data_dir);

// Loads the snapshot into the store when one exists (an absent file is an
// empty result, not an error). A snapshot whose frames are truncated or fail
// their checksum is moved aside to <path>.corrupt (.corrupt.1, ... when that
// is taken: none is overwritten) and reported as ParseError before anything is
// loaded: the aggregator starts empty rather than not at all. Any other error
// (the file cannot be read, or cannot be moved aside) leaves it in place.
Result<SnapshotInfo> LoadSnapshot(SeriesStore* store, DemandRollups* demand, const std::string& data_dir);

}  // namespace prescale::aggregator
