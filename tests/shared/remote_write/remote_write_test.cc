#include "prescale/remote_write/remote_write.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>

namespace prescale::remote_write {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

WriteRequest TwoSeries() {
  WriteRequest r;
  r.timeseries.push_back({{{"__name__", "container_cpu_usage_seconds_total"}, {"service", "web"}, {"tenant", "acme"}},
                          {{1.5, 1700000000000}, {2.5, 1700000001000}}});
  r.timeseries.push_back({{{"__name__", "up"}, {"job", "x"}},
                          {{std::bit_cast<double>(kStaleNaNBits), 1700000002000},
                           {std::numeric_limits<double>::infinity(), 1700000003000}}});
  return r;
}

TEST(RemoteWrite, EncodeDecodeRoundTripsLabelsValuesAndStaleMarkers) {
  const WriteRequest in = TwoSeries();
  auto out = Decode(Encode(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->timeseries.size(), 2u);
  EXPECT_EQ(out->timeseries[0].labels, in.timeseries[0].labels);
  ASSERT_EQ(out->timeseries[0].samples.size(), 2u);
  EXPECT_EQ(out->timeseries[0].samples[1].value, 2.5);
  EXPECT_EQ(out->timeseries[0].samples[1].timestamp_ms, 1700000001000);
  EXPECT_EQ(std::bit_cast<uint64_t>(out->timeseries[1].samples[0].value), kStaleNaNBits);
  EXPECT_TRUE(std::isinf(out->timeseries[1].samples[1].value));
}

TEST(RemoteWrite, DecodeRejectsBodiesThatAreNotSnappyOrProtobuf) {
  auto garbage = Decode("definitely not snappy");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  const std::string body = Encode(TwoSeries());
  auto truncated = Decode(std::string_view(body).substr(0, body.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
  std::string not_protobuf;
  const std::string junk = "\xff\xff\xff\xff\xff\xff";
  snappy::Compress(junk.data(), junk.size(), &not_protobuf);
  auto bad = Decode(not_protobuf);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("protobuf"));
}

// __name__ and n-1 more labels l0001, l0002, ... (sorted).
std::vector<Label> ManyLabels(int n) {
  std::vector<Label> labels = {{"__name__", "m"}};
  char name[16];
  for (int i = 1; i < n; ++i) {
    std::snprintf(name, sizeof name, "l%05d", i);
    labels.push_back({name, "v"});
  }
  return labels;
}

struct LabelCase {
  const char* name;
  std::vector<Label> labels;
  const char* reason;
};

class RemoteWriteLabels : public ::testing::TestWithParam<LabelCase> {};

TEST_P(RemoteWriteLabels, AreRejectedWithAReasonNamingTheSeries) {
  WriteRequest r;
  r.timeseries.push_back({GetParam().labels, {{1, 1}}});
  auto decoded = Decode(Encode(r));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("series 0"));
  EXPECT_THAT(decoded.status().message(), HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RemoteWriteLabels,
    ::testing::Values(LabelCase{"none", {}, "no labels"},
                      LabelCase{"unsorted", {{"__name__", "m"}, {"b", "1"}, {"a", "2"}}, "not sorted"},
                      LabelCase{"duplicate", {{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, "duplicate label a"},
                      LabelCase{"empty_value", {{"__name__", "m"}, {"a", ""}}, "empty value"},
                      LabelCase{"empty_name", {{"", "x"}, {"__name__", "m"}}, "empty name"},
                      LabelCase{"bad_name", {{"__name__", "m"}, {"a-b", "1"}}, "invalid label name"},
                      LabelCase{"bad_metric", {{"__name__", "1m"}}, "invalid metric name"},
                      LabelCase{"no_name", {{"a", "1"}}, "no __name__"},
                      LabelCase{"too_many", ManyLabels(65), "more than 64 labels"},
                      LabelCase{"long_value", {{"__name__", "m"}, {"a", std::string(4097, 'v')}}, "longer than 4096"},
                      LabelCase{"long_name", {{"__name__", "m"}, {std::string(4097, 'n'), "1"}}, "longer than 4096"}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(RemoteWrite, DecodeEnforcesSizeLimitsBeforeDecompressing) {
  const std::string body = Encode(TwoSeries());
  DecodeLimits small;
  small.max_compressed_bytes = 8;
  auto compressed = Decode(body, small);
  ASSERT_FALSE(compressed.ok());
  EXPECT_EQ(compressed.status().code(), StatusCode::kResourceExhausted);
  DecodeLimits tight;
  tight.max_decompressed_bytes = 16;
  auto decompressed = Decode(body, tight);
  ASSERT_FALSE(decompressed.ok());
  EXPECT_EQ(decompressed.status().code(), StatusCode::kResourceExhausted);
}

TEST(RemoteWrite, LabelLimitsAreInclusive) {
  WriteRequest r;
  r.timeseries.push_back({ManyLabels(64), {{1, 1}}});
  r.timeseries[0].labels[1].value = std::string(4096, 'v');
  auto decoded = Decode(Encode(r));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->timeseries[0].labels.size(), 64u);
}

// The snappy block's length header, as a varint.
std::string SnappyHeader(uint64_t length) {
  std::string out;
  while (length >= 0x80) {
    out += static_cast<char>((length & 0x7f) | 0x80);
    length >>= 7;
  }
  out += static_cast<char>(length);
  return out;
}

TEST(RemoteWrite, DecodeRefusesAClaimedLengthTheBodyCannotHoldBeforeAllocating) {
  // 100 MiB claimed (under the default 128 MiB limit) by a body of a few bytes:
  // corrupt, and refused before the buffer is sized to the claim.
  const std::string lie = SnappyHeader(100 << 20) + std::string("\x00x", 2);
  Decoder decoder;
  WriteRequest out;
  const Status s = decoder.Decode(lie, DecodeLimits{}, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("claims 104857600 bytes"));
  // Over the limit stays a 413's ResourceExhausted, whatever the body holds.
  auto gib = Decode(SnappyHeader(1ULL << 30) + std::string("\x00x", 2));
  ASSERT_FALSE(gib.ok());
  EXPECT_EQ(gib.status().code(), StatusCode::kResourceExhausted);
}

TEST(RemoteWrite, DecodeAcceptsTheMostCompressibleRealBodies) {
  // Series that differ in one label value and share long ones compress close to
  // snappy's best ratio; the expansion bound must not refuse them.
  WriteRequest r;
  for (int i = 0; i < 2000; ++i) {
    r.timeseries.push_back({{{"__name__", "m"}, {"a", std::string(4000, 'x')}, {"i", std::to_string(i)}}, {{0, 1}}});
  }
  const std::string body = Encode(r);
  size_t raw = 0;
  ASSERT_TRUE(snappy::GetUncompressedLength(body.data(), body.size(), &raw));
  EXPECT_GT(static_cast<double>(raw) / static_cast<double>(body.size()), 15.0);
  auto decoded = Decode(body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->timeseries.size(), 2000u);
  // And snappy's own worst case: a long run of one byte.
  const std::string zeros(1 << 20, '\0');
  std::string compressed;
  snappy::Compress(zeros.data(), zeros.size(), &compressed);
  auto z = Decode(compressed);
  ASSERT_FALSE(z.ok());
  EXPECT_THAT(z.status().message(), Not(HasSubstr("claims")));  // refused as protobuf, not as a lie
}

TEST(RemoteWrite, ReusedDecoderAndEncoderLeaveNothingOfEarlierRequests) {
  Decoder decoder;
  Encoder encoder;
  WriteRequest out;
  std::string body;
  encoder.Encode(TwoSeries(), &body);
  ASSERT_TRUE(decoder.Decode(body, {}, &out).ok());
  ASSERT_EQ(out.timeseries.size(), 2u);
  WriteRequest small;
  small.timeseries.push_back({{{"__name__", "m"}}, {{7, 7}}});
  encoder.Encode(small, &body);
  EXPECT_EQ(body, Encode(small));
  ASSERT_TRUE(decoder.Decode(body, {}, &out).ok());
  ASSERT_EQ(out.timeseries.size(), 1u);
  EXPECT_EQ(out.timeseries[0].labels, small.timeseries[0].labels);
  ASSERT_EQ(out.timeseries[0].samples.size(), 1u);
  EXPECT_EQ(out.timeseries[0].samples[0].timestamp_ms, 7);
  EXPECT_FALSE(decoder.Decode("garbage", {}, &out).ok());
  encoder.Encode(TwoSeries(), &body);
  ASSERT_TRUE(decoder.Decode(body, {}, &out).ok()) << "a failed decode does not spoil the next";
  EXPECT_EQ(out.timeseries[1].labels, TwoSeries().timeseries[1].labels);
}

TEST(RemoteWrite, EmptyRequestIsValid) {
  auto decoded = Decode(Encode(WriteRequest{}));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(decoded->timeseries.empty());
}

}  // namespace
}  // namespace prescale::remote_write
