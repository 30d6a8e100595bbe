// Base-128 varints (protobuf's encoding) for the aggregator's own binary
// formats: packed label sets and snapshot chunks. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace prescale::aggregator {

inline void PutVarint(uint64_t n, std::string* out) {
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
}

// Reads one varint from the front of *in and advances it; false when truncated or over 64 bits.
inline bool GetVarint(std::string_view* in, uint64_t* n) {
  *n = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace prescale::aggregator
