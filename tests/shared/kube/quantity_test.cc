#include "prescale/kube/quantity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace prescale::kube {
namespace {

struct Valid {
  std::string_view text;
  double value;  // exact: the parser rounds the exact value to a double once, as the literal does
};

struct Invalid {
  std::string_view text;
  std::string_view says;  // a piece of the message that names what is wrong
};

void ExpectValid(Result<double> (*parse)(std::string_view), const Valid& c) {
  SCOPED_TRACE(std::string(c.text));
  const auto got = parse(c.text);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, c.value);
  EXPECT_FALSE(std::signbit(*got) && *got == 0) << "zero comes back as +0";
}

void ExpectInvalid(Result<double> (*parse)(std::string_view), const Invalid& c) {
  SCOPED_TRACE(std::string(c.text));
  const auto got = parse(c.text);
  ASSERT_FALSE(got.ok()) << "parsed as " << *got;
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = got.status().message();
  EXPECT_NE(message.find(c.says), std::string::npos) << message;
  const bool plain = std::all_of(c.text.begin(), c.text.end(),
                                 [](char ch) { return ch >= ' ' && ch < 0x7f && ch != '"' && ch != '\\'; });
  if (plain) {
    EXPECT_NE(message.find("\"" + std::string(c.text) + "\""), std::string::npos) << "input not quoted: " << message;
  }
}

// The valid quantities of upstream's TestQuantityParse (apimachinery
// pkg/api/resource/quantity_test.go) and the examples of the grammar.
constexpr Valid kValidQuantities[] = {
    // zero, with every suffix
    {"0", 0},
    {"0n", 0},
    {"0u", 0},
    {"0m", 0},
    {"0Ki", 0},
    {"0k", 0},
    {"0Mi", 0},
    {"0M", 0},
    {"0Gi", 0},
    {"0G", 0},
    {"0Ti", 0},
    {"0T", 0},
    {"-0", 0},
    {"+0", 0},
    {"0.0", 0},
    {"00", 0},
    {"0e9", 0},
    // binary suffixes
    {"1", 1},
    {"1Ki", 1024},
    {"8Ki", 8 * 1024},
    {"7Mi", 7 * 1048576.0},
    {"6Gi", 6 * 1073741824.0},
    {"5Ti", 5 * 1099511627776.0},
    {"4Pi", 4 * 1125899906842624.0},
    {"3Ei", 3 * 1152921504606846976.0},
    {"10Ti", 10 * 1099511627776.0},
    {"100Ti", 100 * 1099511627776.0},
    // decimal suffixes
    {"5n", 5e-9},
    {"4u", 4e-6},
    {"3m", 3e-3},
    {"9", 9},
    {"8k", 8e3},
    {"50k", 50e3},
    {"7M", 7e6},
    {"6G", 6e9},
    {"5T", 5e12},
    {"40T", 40e12},
    {"300T", 300e12},
    {"2P", 2e15},
    {"1E", 1e18},
    {"12E", 12e18},
    // decimal exponents
    {"1E-3", 1e-3},
    {"1e3", 1e3},
    {"1E6", 1e6},
    {"1e9", 1e9},
    {"1E12", 1e12},
    {"1e15", 1e15},
    {"1E18", 1e18},
    {"1e14", 1e14},
    {"1e13", 1e13},
    {"1.5e3", 1500},
    {"12E6", 12e6},
    {"1.3E+6", 1.3e6},
    {"1.2e3", 1.2e3},
    {"1.40e9", 1.4e9},
    {"1.53E12", 1.53e12},
    {"1.6e15", 1.6e15},
    {"1.7E18", 1.7e18},
    {"0.5e0", 0.5},
    {"0.5e-1", 0.05},
    {"0.5e-2", 0.005},
    {"1e-0", 1},
    {"1e+0", 1},
    {"1e0003", 1e3},
    // fractions
    {"100.035k", 100035},
    {"0.001", 0.001},
    {"0.0005k", 0.5},
    {"0.005", 0.005},
    {"0.05", 0.05},
    {"0.5", 0.5},
    {"0.00050k", 0.5},
    {"0.00500", 0.005},
    {"0.05000", 0.05},
    {"0.50000", 0.5},
    {"10.035M", 10035000},
    {"9.01", 9.01},
    {"8.1k", 8100},
    {"7.123456M", 7123456},
    {"6.987654321G", 6987654321},
    {"5.444T", 5.444e12},
    {"40.1T", 40.1e12},
    {"300.2T", 300.2e12},
    {"2.5P", 2.5e15},
    {"1.01E", 1.01e18},
    {"100m", 0.1},
    {"250m", 0.25},
    // fractional binary quantities
    {"100.035Ki", 102435.84},
    {"0.5Mi", 524288},
    {"0.05Gi", 53687091.2},
    {"0.025Ti", 27487790694.4},
    {"1.5Gi", 1610612736},
    // what is finer than a nano rounds up to the next nano, away from zero
    {"3.001n", 4e-9},
    {"1.1E-9", 2e-9},
    {"0.0000000001", 1e-9},
    {"0.0000000005", 1e-9},
    {"0.00000000050", 1e-9},
    {"0.5e-9", 1e-9},
    {"0.9n", 1e-9},
    {"0.00000012345", 124e-9},
    {"0.00000012354", 124e-9},
    {"0.000000000001Ki", 2e-9},
    {"1e-2147483647", 1e-9},
    {"-0.9n", -1e-9},
    {"0.999999999999", 1},
    // written by trolls, still in the grammar
    {".001", 0.001},
    {".0001k", 0.1},
    {"1.", 1},
    {"1.G", 1e9},
    {"1.e3", 1e3},
    {"-.5", -0.5},
    {"007", 7},
    // signs
    {"-1", -1},
    {"+1", 1},
    {"-1.025Ti", -1126999418470.4},
    {"-250m", -0.25},
    {"+1Gi", 1073741824},
    // no cap at 2^63 - 1 here (upstream caps binarySI silently); the request parsers reject it
    {"9Ei", 9 * 1152921504606846976.0},
    {"1e308", 1e308},
};

TEST(ParseQuantity, AcceptsTheGrammar) {
  for (const auto& c : kValidQuantities) ExpectValid(ParseQuantity, c);
}

constexpr Invalid kInvalidQuantities[] = {
    // upstream's invalid cases
    {"1.1.M", "more than one '.'"},
    {"1+1.0M", "unknown suffix \"+1.0M\""},
    {"0.1mi", "did you mean \"Mi\""},
    {"0.1am", "unknown suffix \"am\""},
    {"aoeu", "does not start with a number"},
    {".5i", "unknown suffix \"i\""},
    {"1i", "unknown suffix \"i\""},
    {"-3.01i", "unknown suffix"},
    {"-3.01e-", "the exponent \"e-\" has no digits"},
    {"1e4294967297", "exponent is out of range"},
    {" 1", "whitespace"},
    {"1 ", "whitespace"},
    {"", "is empty"},
    // an exponent and a suffix never combine
    {"1.5e3m", "an exponent (e3) cannot be combined with a suffix (\"m\")"},
    {"1e3Ki", "cannot be combined"},
    {"2E6M", "cannot be combined"},
    {"1e3x", "unexpected \"x\" after the exponent e3"},
    {"1e1.5", "whole number"},
    {"1e.5", "whole number"},
    {"1e", "the exponent \"e\" has no digits"},
    {"1e+", "has no digits"},
    {"1e2147483648", "out of range"},
    {"1e-2147483648", "out of range"},
    // a bare suffix, a sign or a point alone: no digits (upstream reads "." and "-" as 0)
    {"Mi", "no number before its suffix (write e.g. 1Mi)"},
    {"m", "no number before its suffix"},
    {"E", "no number before its suffix"},
    {"e3", "no number before its suffix (write e.g. 1e3)"},
    {"e-3", "write e.g. 1e-3"},
    {"each", "does not start with a number"},
    {"gi", "write e.g. 1Gi"},
    {"-Ki", "no number before its suffix"},
    {".", "has no digits"},
    {"-", "has no digits"},
    {"+", "has no digits"},
    {"-.", "has no digits"},
    {"+-1", "does not start with a number"},
    {"--1", "does not start with a number"},
    // not numbers of the grammar
    {"NaN", "does not start with a number"},
    {"nan", "does not start with a number"},
    {"inf", "does not start with a number"},
    {"+Inf", "does not start with a number"},
    {"-Infinity", "does not start with a number"},
    {"0x10", "unknown suffix \"x10\""},
    {"1,5", "unknown suffix \",5\""},
    {"1_000", "unknown suffix"},
    {"..5", "does not start with a number"},
    {"1..", "more than one '.'"},
    // case matters
    {"1KI", "did you mean \"Ki\""},
    {"1ki", "did you mean \"Ki\""},
    {"1K", "did you mean \"k\""},
    {"1gi", "did you mean \"Gi\""},
    {"1g", "did you mean \"G\""},
    // trailing garbage and whitespace anywhere
    {"1Mix", "unknown suffix \"Mix\""},
    {"1Ki5", "unknown suffix \"Ki5\""},
    {"1 Gi", "whitespace"},
    {"1\t", "whitespace"},
    {"1\n", "whitespace"},
    {"1Gi\r", "whitespace"},
    {std::string_view("1\0", 2), "unknown suffix \"\\x00\""},
    {"1\xef\xbc\x90", "unknown suffix \"\\xef\\xbc\\x90\""},
    // past what a double holds
    {"1e309", "too large for a double"},
    {"2e308", "too large for a double"},
    {"1e2147483647", "too large for a double"},
    {"-1e400", "too large for a double"},
};

TEST(ParseQuantity, RejectsWhatIsNotInTheGrammarSayingWhy) {
  for (const auto& c : kInvalidQuantities) ExpectInvalid(ParseQuantity, c);
}

TEST(ParseQuantity, QuotesALongInputShortenedAndEscaped) {
  const std::string text = std::string(100, '1') + "\"x";
  const auto got = ParseQuantity(text);
  ASSERT_FALSE(got.ok());
  const std::string& m = got.status().message();
  EXPECT_NE(m.find("\"" + std::string(64, '1') + "...\" (102 bytes)"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown suffix \"\\\"x\""), std::string::npos) << m;
}

TEST(ParseQuantity, KeepsThePrecisionOfLongDigitStrings) {
  // 2^53 + 1 is not a double: the nearest-even rounding of the whole string, not of a prefix.
  EXPECT_EQ(*ParseQuantity("9007199254740993"), 9007199254740992.0);
  EXPECT_EQ(*ParseQuantity("9007199254740993.0000000000000000000001"), 9007199254740994.0);
  EXPECT_EQ(*ParseQuantity("0." + std::string(400, '0') + "1"), 1e-9);
  EXPECT_EQ(*ParseQuantity("1" + std::string(300, '0')), 1e300);
  EXPECT_EQ(*ParseQuantity(std::string(1000, '0') + "1Ki"), 1024);
}

constexpr Valid kValidCpu[] = {
    {"250m", 0.25},
    {"2", 2},
    {"0", 0},
    {"-0", 0},
    {"0.5", 0.5},
    {"100m", 0.1},
    {"1.5", 1.5},
    {"1e-3", 1e-3},
    {"1k", 1000},
    {"1n", 1e-9},
    {"0.1n", 1e-9},
    {"+3", 3},
    {"64", 64},
    {"7.5e1", 75},
    {"1Ki", 1024},
    {"500u", 5e-4},
    {"9223372036854775807", 9223372036854774784.0},  // 2^63 - 1: kept below 2^63 so it converts to int64
    {"9223372036854775296", 9223372036854774784.0},  // 2^63 - 512: rounds up to 2^63 as a double
    {"9223372036854775295", 9223372036854774784.0},  // rounds down, to the same double
    {"9223372036854774784", 9223372036854774784.0},
};

constexpr Invalid kInvalidCpu[] = {
    {"-1", "negative"},
    {"-250m", "negative"},
    {"-1n", "negative"},
    {"-0.0000000001", "negative"},  // rounds to -1n, not to zero
    {"9223372036854775808", "past 2^63 - 1 cores"},
    {"9223372036854775807.5", "past 2^63 - 1"},
    {"8Ei", "past 2^63 - 1"},
    {"1e19", "past 2^63 - 1"},
    {"1e400", "past 2^63 - 1"},
    {"1.5e3m", "cannot be combined"},
    {"", "is empty"},
    {"NaN", "does not start with a number"},
    {"inf", "does not start with a number"},
    {"m", "no number before its suffix"},
    {"250m ", "whitespace"},
    {"2cores", "unknown suffix"},
};

TEST(ParseCpuQuantity, ReadsCores) {
  for (const auto& c : kValidCpu) ExpectValid(ParseCpuQuantity, c);
}

TEST(ParseCpuQuantity, RejectsNegativeOverflowingAndMalformedValues) {
  for (const auto& c : kInvalidCpu) ExpectInvalid(ParseCpuQuantity, c);
  EXPECT_NE(ParseCpuQuantity("-1").status().message().find("CPU quantity \"-1\""), std::string::npos);
}

constexpr Valid kValidMemory[] = {
    {"1Gi", 1073741824},
    {"128974848", 128974848},
    {"129e6", 129000000},
    {"129M", 129000000},
    {"123Mi", 128974848},
    {"0", 0},
    {"1m", 1},  // a fraction of a byte rounds up, as Quantity.Value() does
    {"0.5", 1},
    {"1.1", 2},
    {"1.5Ki", 1536},
    {"0.1Ki", 103},  // 102.4 bytes
    {"7Ei", 7 * 1152921504606846976.0},
    {"9223372036854775806.5", 9223372036854774784.0},  // rounds up to 2^63 - 1
    {"1e18", 1e18},
};

constexpr Invalid kInvalidMemory[] = {
    {"-1", "negative"},
    {"-1Gi", "negative"},
    {"8Ei", "past 2^63 - 1 bytes"},  // upstream silently caps binarySI values here
    {"9Ei", "past 2^63 - 1"},
    {"9223372036854775808", "past 2^63 - 1"},
    {"9223372036854775807.1", "past 2^63 - 1"},  // rounds up to 2^63
    {"10E", "past 2^63 - 1"},
    {"1e100", "past 2^63 - 1"},
    {"1Gb", "unknown suffix \"Gb\""},
    {"1GB", "unknown suffix \"GB\""},
    {"1gi", "did you mean \"Gi\""},
    {"Gi", "no number before its suffix"},
    {"1Gi ", "whitespace"},
    {"", "is empty"},
    {"1.5e3Mi", "cannot be combined"},
};

TEST(ParseMemoryQuantity, ReadsBytes) {
  for (const auto& c : kValidMemory) ExpectValid(ParseMemoryQuantity, c);
}

TEST(ParseMemoryQuantity, RejectsNegativeOverflowingAndMalformedValues) {
  for (const auto& c : kInvalidMemory) ExpectInvalid(ParseMemoryQuantity, c);
  EXPECT_NE(ParseMemoryQuantity("1e100").status().message().find("memory quantity \"1e100\""), std::string::npos);
}

}  // namespace
}  // namespace prescale::kube
