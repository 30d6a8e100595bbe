// libFuzzer target: the write-ahead log's segment reader over arbitrary bytes
// (a segment file after a crash or a bad disk, read back at every start).
// ScanWalSegment must never crash and must account for every byte: the
// records and damaged stretches it reports come in order, each starting where
// the one before ended, and with the torn tail they cover the input; every
// record it accepts re-encodes to the same bytes. An input whose first byte
// is odd is also replayed from a file into a store, as a start does.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "prescale/aggregator/history/wal.h"
#include "prescale/base/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale;
  using namespace prescale::aggregator;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  uint64_t end = 0;  // where the next record or stretch must start
  WalSegmentVisitor visitor;
  visitor.record = [&](uint64_t offset, std::string_view payload) {
    if (offset != end || offset + kWalHeaderBytes + payload.size() > input.size()) std::abort();
    std::string again;
    AppendWalRecord(payload, &again);
    if (again != input.substr(offset, again.size())) std::abort();
    end = offset + again.size();
  };
  visitor.corruption = [&](uint64_t offset, uint64_t bytes, const std::string& why) {
    if (offset != end || bytes == 0 || offset + bytes > input.size() || why.empty()) std::abort();
    end = offset + bytes;
  };
  const uint64_t torn = ScanWalSegment(input, visitor);
  if (end + torn != input.size()) std::abort();

  if (data[0] % 2 == 1) {
    static const std::string kDir = [] {
      char tmpl[] = "/tmp/prescale-fuzz-wal.XXXXXX";
      return std::string(::mkdtemp(tmpl));
    }();
    std::filesystem::remove_all(kDir);
    std::filesystem::create_directories(kDir);
    std::ofstream(kDir + "/00000001", std::ios::binary | std::ios::trunc) << input;
    auto wal = WriteAheadLog::Open(WalOptions{.dir = kDir, .sync_interval = std::chrono::milliseconds(0)},
                                   SystemClock::Instance());
    if (!wal.ok()) std::abort();
    SeriesStore store(SeriesStoreOptions{}, SystemClock::Instance());
    auto replayed = (*wal)->Replay(&store);
    if (!replayed.ok() || replayed->segments != 1 || replayed->bytes != input.size()) std::abort();
    if ((replayed->torn_tails == 1) != (torn > 0)) std::abort();
  }
  return 0;
}
