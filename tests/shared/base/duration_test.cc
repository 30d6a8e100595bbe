#include "prescale/base/duration.h"

#include <gtest/gtest.h>

namespace prescale {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsPrometheusStyleUnits) {
  EXPECT_EQ(ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseDuration("5s").value(), milliseconds(5000));
  EXPECT_EQ(ParseDuration("1m30s").value(), milliseconds(90'000));
  EXPECT_EQ(ParseDuration("2h").value(), milliseconds(7'200'000));
  EXPECT_EQ(ParseDuration("1d").value(), milliseconds(86'400'000));
  EXPECT_EQ(ParseDuration("1w").value(), milliseconds(604'800'000));
}

TEST(ParseDuration, RejectsMissingUnitsGarbageAndOverflow) {
  for (const char* bad : {"", "5", "s", "5x", "-5s", "1.5s", "5s ", "99999999999999999999s"}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_NE(d.status().message().find("duration"), std::string::npos) << d.status().message();
    }
  }
}

TEST(ParseByteSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(ParseByteSize("4096").value(), 4096u);
  EXPECT_EQ(ParseByteSize("64KiB").value(), 65536u);
  EXPECT_EQ(ParseByteSize("4MiB").value(), 4u << 20);
  EXPECT_EQ(ParseByteSize("1GB").value(), 1'000'000'000u);
  EXPECT_FALSE(ParseByteSize("4XB").ok());
  EXPECT_FALSE(ParseByteSize("MiB").ok());
  EXPECT_FALSE(ParseByteSize("99999999999GiB").ok());
}

TEST(FormatDuration, RoundTripsWholeSecondsAndMilliseconds) {
  EXPECT_EQ(FormatDuration(milliseconds(5000)), "5s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(milliseconds(300'000)), "5m");
  EXPECT_EQ(FormatDuration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(FormatDuration(milliseconds(86'400'000)), "1d");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  for (int64_t ms : {1, 999, 1500, 61'000, 3'600'001, 90'061'001}) {
    auto back = ParseDuration(FormatDuration(milliseconds(ms)));
    ASSERT_TRUE(back.ok()) << FormatDuration(milliseconds(ms));
    EXPECT_EQ(back->count(), ms);
  }
}

}  // namespace
}  // namespace prescale
