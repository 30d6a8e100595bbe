#include "prescale/base/numbers.h"

#include <gtest/gtest.h>

#include <cmath>

namespace prescale {
namespace {

TEST(ParseU64, ParsesWholeStringsOnly) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseU64("18446744073709551615", &v));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(ParseU64("18446744073709551616", &v));
  EXPECT_FALSE(ParseU64("12a", &v));
  EXPECT_FALSE(ParseU64("", &v));
  EXPECT_FALSE(ParseU64("-1", &v));
}

TEST(ParseDouble, AcceptsPrometheusSpecialValues) {
  double v = 0;
  EXPECT_TRUE(ParseDouble("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(ParseDouble("+Inf", &v));
  EXPECT_TRUE(std::isinf(v) && v > 0);
  EXPECT_TRUE(ParseDouble("-Inf", &v));
  EXPECT_TRUE(std::isinf(v) && v < 0);
  EXPECT_TRUE(ParseDouble("1.5e3", &v));
  EXPECT_DOUBLE_EQ(v, 1500);
  EXPECT_TRUE(ParseDouble("-0.25", &v));
  EXPECT_DOUBLE_EQ(v, -0.25);
  EXPECT_TRUE(ParseDouble(".5", &v));
  EXPECT_DOUBLE_EQ(v, 0.5);
}

TEST(ParseDouble, RejectsMalformedNumbers) {
  double v = 0;
  for (const char* bad : {"", "+", "-NaN", "1.2.3", "0x10", "1e", "inf1", " 1", "1 "}) {
    EXPECT_FALSE(ParseDouble(bad, &v)) << bad;
  }
}

TEST(NextToken, SplitsOnSpacesAndTabs) {
  std::string_view rest = "  a\tbb  c";
  EXPECT_EQ(NextToken(&rest), "a");
  EXPECT_EQ(NextToken(&rest), "bb");
  EXPECT_EQ(NextToken(&rest), "c");
  EXPECT_EQ(NextToken(&rest), "");
}

TEST(NextLine, YieldsLinesWithAndWithoutFinalNewline) {
  std::string_view rest = "one\ntwo\nthree";
  std::string_view line;
  std::vector<std::string_view> lines;
  while (NextLine(&rest, &line)) lines.push_back(line);
  EXPECT_EQ(lines, (std::vector<std::string_view>{"one", "two", "three"}));
}

}  // namespace
}  // namespace prescale
