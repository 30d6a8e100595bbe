// The JSON push format of POST /api/v1/ingest (docs/ingest.md), for scripts and
// services without a Prometheus client:
//   {"series":[{"labels":{"__name__":"queue_depth","tenant":"a"},
//               "samples":[[1700000000000, 12.5], 7]}]}
// A sample is [timestamp_ms, value] or a bare value (timestamped now); a value
// is a number or one of the strings "NaN", "+Inf", "-Inf". Pure functions;
// thread-safe; RapidJSON stays behind this header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "prescale/base/status.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {

struct IngestJsonLimits {
  size_t max_series = 100'000;
  size_t max_samples = 1'000'000;
};

// Decodes and validates a body into the same WriteRequest the remote-write
// path produces (labels sorted). Errors are InvalidArgument with
// the offending field in Status::field(), e.g. "series[0].labels".
Result<remote_write::WriteRequest> DecodeIngestJson(std::string_view body, int64_t now_ms,
                                                    const IngestJsonLimits& limits = {});

}  // namespace prescale::aggregator
