// Prometheus remote write 1.0: the WriteRequest model, and its wire form
// (protobuf, snappy block-compressed). Used by the agent's pusher (Encode)
// and the aggregator's receiver (Decode). protobuf and snappy stay out of
// this header. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::remote_write {

inline constexpr std::string_view kContentType = "application/x-protobuf";
inline constexpr std::string_view kContentEncoding = "snappy";
inline constexpr std::string_view kVersionHeader = "X-Prometheus-Remote-Write-Version";
inline constexpr std::string_view kVersion = "0.1.0";
// Prometheus's stale marker: a NaN with this bit pattern.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};

struct Sample {
  double value = 0;
  int64_t timestamp_ms = 0;
};

struct TimeSeries {
  std::vector<Label> labels;    // sorted by name, __name__ included
  std::vector<Sample> samples;  // in time order
};

struct WriteRequest {
  std::vector<TimeSeries> timeseries;
};

struct DecodeLimits {
  size_t max_compressed_bytes = 32 << 20;
  size_t max_decompressed_bytes = 128 << 20;
  size_t max_labels_per_series = 64;
  size_t max_label_bytes = 4096;  // name or value
};

// Serialises and snappy-compresses a request: the body of a remote-write POST.
std::string Encode(const WriteRequest& request);

// Encode for a sender that encodes every cycle: keeps the protobuf message
// and buffers between calls, so a steady stream of similar requests encodes
// without allocating. One per thread.
class Encoder {
 public:
  Encoder();
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  // Replaces *body with the encoded request (the same bytes as Encode).
  void Encode(const WriteRequest& request, std::string* body);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Decompresses, parses and validates a remote-write body. Errors are
// InvalidArgument (a 400 for the sender: undecodable snappy or protobuf,
// labels unsorted, duplicate, empty or with invalid names, a series without
// __name__) or ResourceExhausted (a 413: over the size limits), with a reason
// that names the series.
Result<WriteRequest> Decode(std::string_view body, const DecodeLimits& limits = {});

// Decode for a receiver that decodes request after request: keeps the
// protobuf message, the decompression buffer and the output's strings between
// calls, so a steady stream decodes with few allocations. One per thread.
class Decoder {
 public:
  Decoder();
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  // Fills *out (reusing its storage) as Decode would return it; the same errors.
  Status Decode(std::string_view body, const DecodeLimits& limits, WriteRequest* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Checks a request as Decode does (labels sorted, unique, non-empty, valid names).
Status Validate(const WriteRequest& request, const DecodeLimits& limits = {});

}  // namespace prescale::remote_write
