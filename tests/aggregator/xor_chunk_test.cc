// XorChunk round trips every sample bit for bit, whatever the timestamps
// (steady, jittered, huge jumps, negative) and values (NaN payloads, stale
// markers, -0, infinities, random doubles), and compresses a steady series.
#include "aggregator/history/src/xor_chunk.h"

#include <gtest/gtest.h>

#include <bit>
#include <limits>
#include <random>

namespace prescale::aggregator {
namespace {

using remote_write::Sample;

std::vector<Sample> RoundTrip(const std::vector<Sample>& in, XorChunk* chunk) {
  for (const Sample& s : in) chunk->Append(s);
  std::vector<Sample> out;
  chunk->ForEach([&](const Sample& s) { out.push_back(s); });
  return out;
}

void ExpectSameBits(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].timestamp_ms, b[i].timestamp_ms) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(a[i].value), std::bit_cast<uint64_t>(b[i].value)) << i;
  }
}

TEST(XorChunk, SteadySeriesTakesAFewBytesPerSample) {
  std::vector<Sample> in;
  double counter = 1e6;
  for (int i = 0; i < 240; ++i) {
    counter += 0.25 * (i % 7);
    in.push_back({counter, 1'800'000'000'000 + i * 10'000});
  }
  XorChunk chunk;
  ExpectSameBits(in, RoundTrip(in, &chunk));
  chunk.Seal();
  EXPECT_LT(chunk.bytes(), in.size() * 6) << "a steady counter at a steady interval compresses";
  XorChunk constant;
  std::vector<Sample> flat;
  for (int i = 0; i < 240; ++i) flat.push_back({42, 1'800'000'000'000 + i * 10'000});
  ExpectSameBits(flat, RoundTrip(flat, &constant));
  constant.Seal();
  // 24 bytes for the first sample and the first interval, then two bits a sample.
  EXPECT_LE(constant.bytes(), 24u + (238 * 2 + 7) / 8);
}

TEST(XorChunk, KeepsEveryBitOfOddValuesAndTimestamps) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Sample> in = {
      {0, std::numeric_limits<int64_t>::min() + 1},
      {-0.0, -5},
      {std::bit_cast<double>(remote_write::kStaleNaNBits), 0},
      {nan, 1},
      {inf, 2},
      {-inf, 8194},
      {std::numeric_limits<double>::denorm_min(), 16388},  // dod 8192: the 14-bit class's edge
      {std::numeric_limits<double>::max(), 16389},
      {1.0, 16389 + 65537},
      {2.0, 16389 + 65537 + 600'000},
      {3.0, std::numeric_limits<int64_t>::max()},
  };
  XorChunk chunk;
  ExpectSameBits(in, RoundTrip(in, &chunk));
}

TEST(XorChunk, RandomSeriesRoundTrip) {
  std::mt19937_64 rng(20261128);
  for (int round = 0; round < 200; ++round) {
    std::vector<Sample> in;
    int64_t t = static_cast<int64_t>(rng() % 2'000'000'000'000);
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      // Jitter around a step, with an occasional gap of any size.
      const uint64_t kind = rng() % 10;
      t +=
          kind == 0 ? static_cast<int64_t>(rng() % (1ULL << 40)) + 1 : 10'000 + static_cast<int64_t>(rng() % 200) - 100;
      double v = 0;
      switch (rng() % 4) {
        case 0: v = std::bit_cast<double>(rng()); break;
        case 1: v = in.empty() ? 1.0 : in.back().value; break;
        case 2: v = static_cast<double>(rng() % 1000) / 8.0; break;
        default: v = in.empty() ? 0.0 : in.back().value + 1.5; break;
      }
      in.push_back({v, t});
    }
    XorChunk chunk;
    ExpectSameBits(in, RoundTrip(in, &chunk));
    EXPECT_EQ(chunk.count(), in.size());
    EXPECT_EQ(chunk.first_timestamp_ms(), in.front().timestamp_ms);
    EXPECT_EQ(chunk.last_timestamp_ms(), in.back().timestamp_ms);
  }
}

}  // namespace
}  // namespace prescale::aggregator
