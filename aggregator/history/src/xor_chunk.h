// XorChunk: raw samples of one series compressed as Gorilla (Facebook, VLDB
// 2015) and Prometheus's XOR chunks do: timestamps as delta-of-delta (a steady
// interval costs one bit), values as the XOR with the previous value (an
// unchanged value costs one bit, a slowly moving one a few bits). A steady
// 10 s series takes 1-5 bytes a sample instead of 16. Append is O(1); reading
// decodes from the start. Every bit pattern of a double is kept (NaN, stale
// markers, -0). Not thread-safe: the series store's shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {

class XorChunk {
 public:
  // Appends a sample; timestamps must increase (the store checks). At most
  // 2^32 bits: the store closes chunks after a few hundred samples.
  void Append(const remote_write::Sample& sample);

  size_t count() const { return count_; }
  int64_t first_timestamp_ms() const { return first_t_; }
  int64_t last_timestamp_ms() const { return last_t_; }
  size_t bytes() const { return capacity_; }
  // Room for this many bytes of bits at once, so a chunk that grows to about
  // its predecessor's size is allocated once (the store passes that size).
  void Reserve(size_t bytes);
  // Gives the excess capacity back once the chunk is full (when it is worth a copy).
  void Seal();

  // Appends the chunk (state and bits) to out, for snapshots.
  void Serialize(std::string* out) const;
  // Reads one chunk Serialize wrote from the front of *in and advances it;
  // false when the bytes are not a whole chunk whose samples decode in order.
  static bool Deserialize(std::string_view* in, XorChunk* out);

  // Calls fn(sample) for every sample, oldest first.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    Reader r{this};
    for (uint32_t i = 0; i < count_; ++i) fn(r.Next(i));
  }

 private:
  void WriteBits(uint64_t value, int n);
  void Resize(size_t capacity);

  struct Reader {
    const XorChunk* chunk;
    size_t pos = 0;  // bit position
    int64_t t = 0, delta = 0;
    uint64_t value_bits = 0;
    int leading = 0, trailing = 0;
    bool overrun = false;  // a read past the written bits (only a corrupt chunk does this)
    uint64_t ReadBits(int n);
    remote_write::Sample Next(size_t index);
  };

  // 56 bytes a chunk (a store holds millions): the bits in a bare array with a
  // 32-bit capacity, 32-bit counts (a chunk holds a few hundred samples), 8-bit zero counts.
  std::unique_ptr<uint8_t[]> bits_;
  uint32_t capacity_ = 0;
  uint32_t bit_count_ = 0;
  uint32_t count_ = 0;
  int64_t first_t_ = 0;
  int64_t last_t_ = 0;
  int64_t last_delta_ = 0;
  uint64_t last_value_bits_ = 0;
  int8_t leading_ = -1;  // the previous XOR's leading and trailing zero counts (-1: none yet)
  int8_t trailing_ = 0;
};

}  // namespace prescale::aggregator
