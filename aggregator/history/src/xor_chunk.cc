#include "xor_chunk.h"

#include "varint.h"

#include <algorithm>
#include <bit>

namespace prescale::aggregator {
namespace {

// Delta-of-delta classes: a prefix of 1s ended by a 0 (or four 1s), then the value's bits.
struct DodClass {
  uint64_t prefix;
  int prefix_bits;
  int value_bits;
};
constexpr DodClass kDodClasses[] = {{0b10, 2, 14}, {0b110, 3, 17}, {0b1110, 4, 20}};

bool FitsSigned(int64_t v, int bits) {
  const int64_t lo = -(int64_t{1} << (bits - 1)) + 1;
  const int64_t hi = int64_t{1} << (bits - 1);
  return v >= lo && v <= hi;
}

}  // namespace

void XorChunk::Resize(size_t capacity) {
  auto bits = std::make_unique<uint8_t[]>(capacity);  // zeroed: WriteBits ORs into it
  std::copy_n(bits_.get(), (bit_count_ + 7) / 8, bits.get());
  bits_ = std::move(bits);
  capacity_ = static_cast<uint32_t>(capacity);
}

void XorChunk::Reserve(size_t bytes) {
  if (bytes > capacity_) Resize(bytes);
}

void XorChunk::Seal() {
  const size_t used = (bit_count_ + 7) / 8;
  if (capacity_ - used > used / 8) Resize(used);
}

void XorChunk::WriteBits(uint64_t value, int n) {
  // A sample takes at most 2 + 64 + 4 + 64 bits: make room once, then a byte
  // at a time (the free bits of the last byte, then whole bytes).
  if ((static_cast<size_t>(bit_count_) + 64 + 7) / 8 > capacity_) Resize(std::max<size_t>(16, capacity_ * 3 / 2 + 16));
  while (n > 0) {
    const int free_bits = 8 - static_cast<int>(bit_count_ % 8);
    const int take = std::min(free_bits, n);
    const uint64_t part = (value >> (n - take)) & ((uint64_t{1} << take) - 1);
    bits_[bit_count_ / 8] |= static_cast<uint8_t>(part << (free_bits - take));
    bit_count_ += static_cast<uint32_t>(take);
    n -= take;
  }
}

void XorChunk::Append(const remote_write::Sample& sample) {
  const uint64_t value_bits = std::bit_cast<uint64_t>(sample.value);
  if (count_ == 0) {
    WriteBits(static_cast<uint64_t>(sample.timestamp_ms), 64);
    WriteBits(value_bits, 64);
    first_t_ = sample.timestamp_ms;
  } else {
    // Deltas in two's complement, wrapping (well defined as unsigned); the reader wraps back the same way.
    const auto delta =
        static_cast<int64_t>(static_cast<uint64_t>(sample.timestamp_ms) - static_cast<uint64_t>(last_t_));
    if (count_ == 1) {
      WriteBits(static_cast<uint64_t>(delta), 64);
    } else {
      const auto dod = static_cast<int64_t>(static_cast<uint64_t>(delta) - static_cast<uint64_t>(last_delta_));
      bool written = dod == 0;
      if (written) WriteBits(0, 1);
      for (const DodClass& c : kDodClasses) {
        if (written || !FitsSigned(dod, c.value_bits)) continue;
        WriteBits(c.prefix, c.prefix_bits);
        WriteBits(static_cast<uint64_t>(dod) & ((uint64_t{1} << c.value_bits) - 1), c.value_bits);
        written = true;
      }
      if (!written) {
        WriteBits(0b1111, 4);
        WriteBits(static_cast<uint64_t>(dod), 64);
      }
    }
    last_delta_ = delta;
    const uint64_t x = value_bits ^ last_value_bits_;
    if (x == 0) {
      WriteBits(0, 1);
    } else {
      const int leading = std::min(std::countl_zero(x), 31);
      const int trailing = std::countr_zero(x);
      if (leading_ >= 0 && leading >= leading_ && trailing >= trailing_) {
        // Fits the previous window: only its meaningful bits.
        WriteBits(0b10, 2);
        WriteBits(x >> trailing_, 64 - leading_ - trailing_);
      } else {
        const int significant = 64 - leading - trailing;
        WriteBits(0b11, 2);
        WriteBits(static_cast<uint64_t>(leading), 5);
        WriteBits(static_cast<uint64_t>(significant - 1), 6);  // 1..64 stored as 0..63
        WriteBits(x >> trailing, significant);
        leading_ = static_cast<int8_t>(leading);
        trailing_ = static_cast<int8_t>(trailing);
      }
    }
  }
  last_t_ = sample.timestamp_ms;
  last_value_bits_ = value_bits;
  ++count_;
}

uint64_t XorChunk::Reader::ReadBits(int n) {
  if (pos + static_cast<size_t>(n) > chunk->bit_count_) {
    overrun = true;
    pos = chunk->bit_count_;
    return 0;
  }
  uint64_t v = 0;
  while (n > 0) {
    const int avail = 8 - static_cast<int>(pos % 8);
    const int take = std::min(avail, n);
    const uint64_t byte = chunk->bits_[pos / 8];
    v = (v << take) | ((byte >> (avail - take)) & ((uint64_t{1} << take) - 1));
    pos += static_cast<size_t>(take);
    n -= take;
  }
  return v;
}

remote_write::Sample XorChunk::Reader::Next(size_t index) {
  if (index == 0) {
    t = static_cast<int64_t>(ReadBits(64));
    value_bits = ReadBits(64);
    return {std::bit_cast<double>(value_bits), t};
  }
  if (index == 1) {
    delta = static_cast<int64_t>(ReadBits(64));
  } else {
    int ones = 0;
    while (ones < 4 && ReadBits(1) == 1) ++ones;
    if (ones == 4) {
      delta = static_cast<int64_t>(static_cast<uint64_t>(delta) + ReadBits(64));
    } else if (ones > 0) {
      const int bits = kDodClasses[ones - 1].value_bits;
      auto v = static_cast<int64_t>(ReadBits(bits));
      // The field holds -(2^(bits-1) - 1) .. 2^(bits-1) in two's complement.
      if (v > (int64_t{1} << (bits - 1))) v -= int64_t{1} << bits;
      delta = static_cast<int64_t>(static_cast<uint64_t>(delta) + static_cast<uint64_t>(v));
    }
  }
  t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(delta));
  if (ReadBits(1) == 1) {
    if (ReadBits(1) == 1) {
      leading = static_cast<int>(ReadBits(5));
      const int significant = static_cast<int>(ReadBits(6)) + 1;
      trailing = 64 - leading - significant;
      if (trailing < 0) {  // only a corrupt chunk says so: read what fits and flag it
        overrun = true;
        leading = 64 - significant;
        trailing = 0;
      }
    }
    value_bits ^= ReadBits(64 - leading - trailing) << trailing;
  }
  return {std::bit_cast<double>(value_bits), t};
}

namespace {

void PutFixed(uint64_t n, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

bool GetFixed(std::string_view* in, uint64_t* n) {
  if (in->size() < 8) return false;
  *n = 0;
  for (int i = 7; i >= 0; --i) *n = (*n << 8) | static_cast<unsigned char>((*in)[static_cast<size_t>(i)]);
  in->remove_prefix(8);
  return true;
}

}  // namespace

void XorChunk::Serialize(std::string* out) const {
  PutVarint(count_, out);
  PutVarint(bit_count_, out);
  PutFixed(static_cast<uint64_t>(first_t_), out);
  PutFixed(static_cast<uint64_t>(last_t_), out);
  PutFixed(static_cast<uint64_t>(last_delta_), out);
  PutFixed(last_value_bits_, out);
  out->push_back(static_cast<char>(leading_ + 1));  // -1 (no window yet) .. 31
  out->push_back(static_cast<char>(trailing_));
  out->append(reinterpret_cast<const char*>(bits_.get()), (bit_count_ + 7) / 8);
}

bool XorChunk::Deserialize(std::string_view* in, XorChunk* out) {
  uint64_t count = 0, bit_count = 0, first = 0, last = 0, delta = 0, value_bits = 0;
  if (!GetVarint(in, &count) || !GetVarint(in, &bit_count) || !GetFixed(in, &first) || !GetFixed(in, &last) ||
      !GetFixed(in, &delta) || !GetFixed(in, &value_bits) || in->size() < 2 || count == 0 ||
      bit_count > (in->size() - 2) * 8 || count > bit_count) {
    return false;
  }
  const int leading = static_cast<unsigned char>((*in)[0]) - 1;
  const int trailing = static_cast<unsigned char>((*in)[1]);
  in->remove_prefix(2);
  if (leading < -1 || leading > 31 || trailing > 63 || bit_count > UINT32_MAX) return false;
  XorChunk c;
  c.leading_ = static_cast<int8_t>(leading);
  c.trailing_ = static_cast<int8_t>(trailing);
  const size_t n_bytes = static_cast<size_t>((bit_count + 7) / 8);
  c.Resize(n_bytes);
  std::copy_n(in->begin(), n_bytes, c.bits_.get());
  in->remove_prefix(n_bytes);
  c.bit_count_ = static_cast<uint32_t>(bit_count);
  c.count_ = static_cast<uint32_t>(count);
  c.first_t_ = static_cast<int64_t>(first);
  c.last_t_ = static_cast<int64_t>(last);
  c.last_delta_ = static_cast<int64_t>(delta);
  c.last_value_bits_ = value_bits;
  // The samples must decode within the bits, in order, ending where the state says.
  Reader r{&c};
  remote_write::Sample prev{};
  for (size_t i = 0; i < c.count_; ++i) {
    const remote_write::Sample s = r.Next(i);
    if (r.overrun || (i > 0 && s.timestamp_ms <= prev.timestamp_ms) || (i == 0 && s.timestamp_ms != c.first_t_)) {
      return false;
    }
    prev = s;
  }
  if (r.pos != c.bit_count_ || prev.timestamp_ms != c.last_t_ || std::bit_cast<uint64_t>(prev.value) != value_bits) {
    return false;
  }
  *out = std::move(c);
  return true;
}

}  // namespace prescale::aggregator
