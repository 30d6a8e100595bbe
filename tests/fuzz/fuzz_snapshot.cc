// Snapshot files read back at start: the framing (LoadSnapshot on a file) and,
// past the checksums, a shard's series and XOR chunks (RestoreSerialized).
// Whatever the bytes, no crash, and what is restored reads back.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "prescale/aggregator/history/snapshot.h"
#include "prescale/base/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale;
  using namespace prescale::aggregator;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  DemandRollups demand(DemandOptions{}, SystemClock::Instance());
  SeriesStore store(SeriesStoreOptions{}, SystemClock::Instance(), &demand);
  if (data[0] % 2 == 0) {
    uint64_t series = 0, samples = 0;
    if (store.RestoreSerialized(input, &series, &samples).ok()) {
      std::string again;
      uint64_t written = 0;
      for (size_t shard = 0; shard < SeriesStore::shard_count(); ++shard) store.SerializeShard(shard, &again, &written);
      if (written != samples) std::abort();
      if (store.Query("anything", {}).size() > series) std::abort();
    }
  } else {
    static const std::string dir = [] {
      char tmpl[] = "/tmp/prescale-fuzz-snapshot.XXXXXX";
      return std::string(::mkdtemp(tmpl));
    }();
    std::ofstream(SnapshotPath(dir), std::ios::binary | std::ios::trunc) << input;
    (void)LoadSnapshot(&store, &demand, dir);
    ::unlink((SnapshotPath(dir) + ".corrupt").c_str());
  }
  return 0;
}
