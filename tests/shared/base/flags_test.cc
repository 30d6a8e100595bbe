#include "prescale/base/flags.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace prescale {
namespace {

constexpr std::string_view kSwitches[] = {"once", "help"};
constexpr std::string_view kValues[] = {"config", "listen", "interval"};

Result<ParsedFlags> Parse(const std::vector<const char*>& args) {
  std::vector<const char*> argv(args.size() + 1, "prog");
  std::copy(args.begin(), args.end(), argv.begin() + 1);
  return ParseFlags(static_cast<int>(argv.size()), argv.data(), kSwitches, kValues);
}

TEST(ParseFlags, TakesBothValueFormsSwitchesAndConfig) {
  auto f = Parse({"--config", "a.yaml", "--listen=127.0.0.1:0", "--once", "--interval", "2s"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->config_path, "a.yaml");
  EXPECT_TRUE(f->Has("once"));
  EXPECT_FALSE(f->Has("help"));
  const std::vector<std::pair<std::string, std::string>> expected = {{"listen", "127.0.0.1:0"}, {"interval", "2s"}};
  EXPECT_EQ(f->values, expected);
}

TEST(ParseFlags, RejectsWithTheFlagNamed) {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  } cases[] = {
      {{"--bogus"}, "unknown flag --bogus"},         {{"positional"}, "unexpected argument 'positional'"},
      {{"--listen"}, "--listen needs a value"},      {{"--once=yes"}, "--once takes no value"},
      {{"--config="}, "--config needs a file name"},
  };
  for (const Case& c : cases) {
    auto f = Parse(c.args);
    ASSERT_FALSE(f.ok()) << c.message;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.message), std::string::npos) << f.status().message();
  }
}

}  // namespace
}  // namespace prescale
