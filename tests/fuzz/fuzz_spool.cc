// libFuzzer target: the spool's record reader over arbitrary bytes (a segment
// file after a crash or a bad disk). It must never crash, always make
// progress, and re-encode every record it accepts to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/agent/spool.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using prescale::agent::SpoolRecordOutcome;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  while (!bytes.empty()) {
    const prescale::agent::SpoolRecordView r = prescale::agent::ParseSpoolRecord(bytes);
    if (r.consumed == 0 || r.consumed > bytes.size()) std::abort();  // no progress or overrun
    if (r.outcome == SpoolRecordOutcome::kOk) {
      std::string again;
      prescale::agent::AppendSpoolRecord(r.samples, r.timestamp_ms, r.body, &again);
      if (again != bytes.substr(0, r.consumed)) std::abort();
    }
    if (r.outcome == SpoolRecordOutcome::kTruncated || r.outcome == SpoolRecordOutcome::kBadLength) break;
    bytes.remove_prefix(r.consumed);
  }
  return 0;
}
