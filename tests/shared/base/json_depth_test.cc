#include "prescale/base/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace prescale {
namespace {

std::string Nested(size_t depth, char open, char close) { return std::string(depth, open) + std::string(depth, close); }

TEST(CheckJsonDepth, AcceptsNestingUpToTheLimit) {
  EXPECT_TRUE(CheckJsonDepth("{}").ok());
  EXPECT_TRUE(CheckJsonDepth("42").ok());
  EXPECT_TRUE(CheckJsonDepth(Nested(64, '[', ']')).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a":{"b":[1,{"c":[]}]}})", 5).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"a":{"b":[1,{"c":[]}]}})", 4).ok());
  // Siblings do not add up: depth is the deepest path, not the bracket count.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += "[],";
  wide += "[]]";
  EXPECT_TRUE(CheckJsonDepth(wide, 2).ok());
}

TEST(CheckJsonDepth, RefusesDeeperNestingNamingTheByte) {
  const Status s = CheckJsonDepth(Nested(65, '[', ']'));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "JSON nested more than 64 levels deep at byte 64");
  EXPECT_FALSE(CheckJsonDepth(R"({"a":{"b":{"c":1}}})", 2).ok());
  // 100,000 unclosed brackets: refused at the 65th, whatever follows.
  EXPECT_FALSE(CheckJsonDepth(std::string(100'000, '[')).ok());
  EXPECT_FALSE(CheckJsonDepth(std::string(100'000, '{')).ok());
}

TEST(CheckJsonDepth, IgnoresBracketsInsideStrings) {
  const std::string in_string = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  EXPECT_TRUE(CheckJsonDepth(in_string, 1).ok());
  // An escaped backslash ends the escape: the quote after it closes the string.
  EXPECT_FALSE(CheckJsonDepth(R"(["\\", [[]]])", 2).ok());
}

TEST(CheckJsonDepth, UnbalancedClosersDoNotHideDepth) {
  // Closers before any opener must not let later openers go unnoticed.
  EXPECT_FALSE(CheckJsonDepth("]]]]" + std::string(3, '['), 2).ok());
}

TEST(CheckJsonEscapes, RefusesALoneLowSurrogateNamingTheByte) {
  const Status s = CheckJsonEscapes(R"({"a":"web\udc00"})");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\\udc00 at byte 9"), std::string::npos) << s.message();
  // A low surrogate after anything but a high one's escape is lone too.
  EXPECT_FALSE(CheckJsonEscapes(R"(["\ud800x\udc00"])").ok());
  EXPECT_FALSE(CheckJsonEscapes(R"(["\ud800", "\udc00"])").ok());
  EXPECT_FALSE(CheckJsonEscapes(R"(["\uDFFF"])").ok());
}

TEST(CheckJsonEscapes, AcceptsPairsAndEverythingThatIsNotALoneLowSurrogate) {
  EXPECT_TRUE(CheckJsonEscapes(R"({"a":"\ud83d\ude00","b":"\u00e9\u0041"})").ok());
  // An escaped backslash: "uDC00" after it is plain text.
  EXPECT_TRUE(CheckJsonEscapes(R"(["\\udc00"])").ok());
  // Outside strings, or malformed: the parser's to report.
  EXPECT_TRUE(CheckJsonEscapes(R"(\udc00)").ok());
  EXPECT_TRUE(CheckJsonEscapes(R"(["\udc"])").ok());
  EXPECT_TRUE(CheckJsonEscapes(R"(["\u-dc0"])").ok());
  EXPECT_TRUE(CheckJsonEscapes("[\"\\").ok());
  // A lone high surrogate is RapidJSON's own error.
  EXPECT_TRUE(CheckJsonEscapes(R"(["\ud800"])").ok());
}

}  // namespace
}  // namespace prescale
