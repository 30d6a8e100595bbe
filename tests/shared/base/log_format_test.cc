// The log lines of both formats, read back by parsers that know nothing of
// how they were written: a strict logfmt reader (the grammar of go-logfmt,
// which Loki's `| logfmt` and Prometheus's tooling share) and RapidJSON.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "prescale/base/log.h"
#include "tests/support/logfmt.h"

namespace prescale {
namespace {

using ::prescale::testing::ParseLogfmt;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::string WithoutNewline(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  return line.substr(0, line.size() - 1);
}

constexpr int64_t kT = 1796793386123;  // 2026-12-09T05:16:26.123Z

TEST(LogFormat, EveryLevelIsLogfmtThatParses) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    const std::string line = FormatLogLine(LogFormat::kLogfmt, kT, level, "wiring.cc:42", "the tick took 3 s",
                                           {{"component", "decisions"}, {"services", 12}, {"ok", true}});
    auto pairs = ParseLogfmt(WithoutNewline(line));
    ASSERT_TRUE(pairs.has_value()) << line;
    EXPECT_THAT(*pairs,
                ElementsAre(Pair("ts", "2026-12-09T05:16:26.123Z"), Pair("level", std::string(LogLevelName(level))),
                            Pair("caller", "wiring.cc:42"), Pair("msg", "the tick took 3 s"),
                            Pair("component", "decisions"), Pair("services", "12"), Pair("ok", "true")));
  }
  EXPECT_EQ(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kWarning, "", "x", {}),
            "ts=2026-12-09T05:16:26.123Z level=warn msg=x\n");
}

TEST(LogFormat, LogfmtQuotesAndEscapesWhatNeedsIt) {
  const std::vector<std::string> values = {"",
                                           "plain",
                                           "two words",
                                           "a=b",
                                           "say \"hi\"",
                                           R"(C:\path\)",
                                           "line one\nline two",
                                           "tab\there\rreturn",
                                           std::string("nul\0byte", 8),
                                           "bell\x07 and del\x7f",
                                           "na\xC3\xAFve \xE2\x82\xAC",
                                           "null",
                                           "-1.5e+10"};
  for (const std::string& v : values) {
    const std::string line = FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "x.cc:1", v, {{"value", v}});
    auto pairs = ParseLogfmt(WithoutNewline(line));
    ASSERT_TRUE(pairs.has_value()) << line;
    ASSERT_EQ(pairs->size(), 5u) << line;
    EXPECT_EQ((*pairs)[3].second, v) << line;
    EXPECT_EQ((*pairs)[4].second, v) << line;
  }
  // Bare exactly when nothing calls for quotes, as go-kit/log writes them.
  EXPECT_THAT(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "", "m", {{"k", "plain"}}), HasSubstr(" k=plain"));
  EXPECT_THAT(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "", "m", {{"k", ""}}), HasSubstr(" k=\"\"\n"));
  EXPECT_THAT(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "", "m", {{"k", "a b"}}), HasSubstr(" k=\"a b\""));
  EXPECT_THAT(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "", "m", {{"k", "x\ny"}}),
              HasSubstr(R"( k="x\ny")"));
  EXPECT_THAT(FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kInfo, "", "m", {{"k", "\x01"}}),
              HasSubstr(R"( k="\u0001")"));
}

TEST(LogFormat, LogfmtReplacesInvalidUtf8AndBadKeys) {
  const std::string line =
      FormatLogLine(LogFormat::kLogfmt, kT, LogLevel::kError, "", "cut \xE2\x82 short \xFF", {{"bad key=\"", 1}});
  auto pairs = ParseLogfmt(WithoutNewline(line));
  ASSERT_TRUE(pairs.has_value()) << line;
  ASSERT_EQ(pairs->size(), 4u);
  EXPECT_EQ((*pairs)[2].second, "cut \xEF\xBF\xBD\xEF\xBF\xBD short \xEF\xBF\xBD");
  EXPECT_EQ((*pairs)[3].first, "bad_key__");
}

TEST(LogFormat, EveryLevelIsJsonThatParses) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    const std::string line = FormatLogLine(LogFormat::kJson, kT, level, "wiring.cc:42", "say \"hi\"\n\ttwice \xFF",
                                           {{"component", "decisions"},
                                            {"services", 12},
                                            {"ratio", 0.25},
                                            {"ok", false},
                                            {"nan", 0.0 / 0.0},
                                            {"text_true", "true"}});
    rapidjson::Document d;
    const std::string body = WithoutNewline(line);
    d.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    ASSERT_FALSE(d.HasParseError()) << rapidjson::GetParseError_En(d.GetParseError()) << ": " << line;
    ASSERT_TRUE(d.IsObject());
    std::vector<std::string> keys;
    for (rapidjson::SizeType i = 0; i < d.MemberCount(); ++i)
      keys.emplace_back((d.MemberBegin() + i)->name.GetString());
    EXPECT_THAT(
        keys, ElementsAre("ts", "level", "caller", "msg", "component", "services", "ratio", "ok", "nan", "text_true"));
    EXPECT_STREQ(d["ts"].GetString(), "2026-12-09T05:16:26.123Z");
    EXPECT_EQ(d["level"].GetString(), LogLevelName(level));
    EXPECT_STREQ(d["caller"].GetString(), "wiring.cc:42");
    EXPECT_EQ(std::string(d["msg"].GetString()), "say \"hi\"\n\ttwice \xEF\xBF\xBD");
    EXPECT_STREQ(d["component"].GetString(), "decisions");
    ASSERT_TRUE(d["services"].IsInt());
    EXPECT_EQ(d["services"].GetInt(), 12);
    ASSERT_TRUE(d["ratio"].IsDouble());
    EXPECT_DOUBLE_EQ(d["ratio"].GetDouble(), 0.25);
    ASSERT_TRUE(d["ok"].IsBool());
    EXPECT_FALSE(d["ok"].GetBool());
    ASSERT_TRUE(d["nan"].IsString());
    EXPECT_STREQ(d["nan"].GetString(), "NaN");
    ASSERT_TRUE(d["text_true"].IsString()) << "a string stays a string";
  }
}

TEST(LogFormat, LevelsAreNamedAsPrometheusNamesThem) {
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warn");
  LogLevel level = LogLevel::kInfo;
  for (auto [text, want] : {std::pair{"debug", LogLevel::kDebug},
                            {"info", LogLevel::kInfo},
                            {"warn", LogLevel::kWarning},
                            {"warning", LogLevel::kWarning},
                            {"error", LogLevel::kError}}) {
    EXPECT_TRUE(ParseLogLevel(text, &level)) << text;
    EXPECT_EQ(level, want) << text;
  }
  EXPECT_FALSE(ParseLogLevel("WARN", &level));
  LogFormat format = LogFormat::kLogfmt;
  EXPECT_TRUE(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("logfmt", &format));
  EXPECT_EQ(format, LogFormat::kLogfmt);
  EXPECT_FALSE(ParseLogFormat("text", &format));
}

// Log() itself: the threshold, the format switch, and the caller's file and line.
class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetLogSink({});
    SetLogLevel(LogLevel::kInfo);
    SetLogFormat(LogFormat::kLogfmt);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogSinkTest, WritesWhatPassesTheThresholdInTheChosenFormat) {
  SetLogLevel(LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  Log(LogLevel::kInfo, "not written");
  const int line = __LINE__ + 1;
  Log(LogLevel::kWarning, "written", {{"component", "test"}});
  ASSERT_EQ(lines_.size(), 1u);
  auto pairs = ParseLogfmt(WithoutNewline(lines_[0]));
  ASSERT_TRUE(pairs.has_value()) << lines_[0];
  EXPECT_THAT((*pairs)[1], Pair("level", "warn"));
  EXPECT_EQ((*pairs)[2].second, "log_format_test.cc:" + std::to_string(line));
  EXPECT_THAT((*pairs)[3], Pair("msg", "written"));
  EXPECT_TRUE(std::regex_match((*pairs)[0].second, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

  SetLogFormat(LogFormat::kJson);
  SetLogLevel(LogLevel::kDebug);
  Log(LogLevel::kDebug, "as json", {{"n", uint64_t{18446744073709551615ULL}}});
  ASSERT_EQ(lines_.size(), 2u);
  rapidjson::Document d;
  d.Parse(lines_[1].c_str());
  ASSERT_FALSE(d.HasParseError()) << lines_[1];
  EXPECT_STREQ(d["level"].GetString(), "debug");
  EXPECT_STREQ(d["msg"].GetString(), "as json");
  ASSERT_TRUE(d["n"].IsUint64());
  EXPECT_EQ(d["n"].GetUint64(), 18446744073709551615ULL);
}

// Threads logging at once to stderr: every line comes out whole.
TEST(LogStderr, LinesFromManyThreadsStayWhole) {
  constexpr int kThreads = 8;
  constexpr int kLines = 200;
  ::testing::internal::CaptureStderr();
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      const std::string filler(300, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) Log(LogLevel::kInfo, filler, {{"thread", t}, {"i", i}});
    });
  }
  for (std::thread& t : threads) t.join();
  const std::string out = ::testing::internal::GetCapturedStderr();
  size_t count = 0;
  size_t start = 0;
  while (start < out.size()) {
    const size_t end = out.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    auto pairs = ParseLogfmt(line);
    ASSERT_TRUE(pairs.has_value()) << line;
    ASSERT_EQ(pairs->size(), 6u) << line;
    const int t = std::stoi((*pairs)[4].second);
    EXPECT_EQ((*pairs)[3].second, std::string(300, static_cast<char>('a' + t)));
    ++count;
  }
  EXPECT_EQ(count, static_cast<size_t>(kThreads * kLines));
}

}  // namespace
}  // namespace prescale
