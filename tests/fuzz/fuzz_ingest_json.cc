// Fuzzes the aggregator's JSON ingest decoder (POST /api/v1/ingest): any body
// is either a valid WriteRequest (which the remote-write validator accepts) or
// an InvalidArgument; never a crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/aggregator/api/ingest_json.h"
#include "prescale/aggregator/api/raw_json.h"
#include "prescale/remote_write/remote_write.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto decoded =
      prescale::aggregator::DecodeIngestJson(body, 1'700'000'000'000, {.max_series = 1000, .max_samples = 10000});
  if (!decoded.ok()) {
    if (decoded.status().code() != prescale::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  // What the decoder accepts, the store may take: it must pass remote write's own validation.
  if (!prescale::remote_write::Validate(*decoded).ok()) std::abort();
  for (const auto& ts : decoded->timeseries) {
    if (ts.samples.empty()) std::abort();
    for (const auto& s : ts.samples) (void)prescale::aggregator::FormatSampleValue(s.value);
  }
  // And the raw query parser sees outside input too.
  (void)prescale::aggregator::ParseRawQuery(body);
  return 0;
}
