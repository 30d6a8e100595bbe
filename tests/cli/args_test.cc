#include "prescale/cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace prescale::cli {
namespace {

Result<Args> Parse(std::vector<std::string> argv) { return ParseArgs(argv); }

TEST(ParseArgs, WordsAndFlagsInAnyOrderAsKubectlTakesThem) {
  auto a = Parse({"get", "-o", "json", "services", "--tenant=acme", "web", "-tbeta", "-ojson"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->words, (std::vector<std::string>{"get", "services", "web"}));
  EXPECT_EQ(a->Get("output"), "json");
  EXPECT_EQ(a->Get("tenant"), "beta");  // the last one wins
  EXPECT_TRUE(a->Has("tenant"));
  EXPECT_FALSE(a->Has("selector"));
  EXPECT_EQ(a->Get("selector", "none"), "none");
  EXPECT_EQ(a->Word(1), "services");
  EXPECT_EQ(a->Word(7), "");
}

TEST(ParseArgs, SwitchesDashForStdinAndDoubleDash) {
  auto a = Parse({"apply", "-f", "-", "--dry-run", "--", "--not-a-flag"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->Get("filename"), "-");
  EXPECT_TRUE(a->Has("dry-run"));
  EXPECT_EQ(a->words, (std::vector<std::string>{"apply", "--not-a-flag"}));
  a = Parse({"-o=yaml", "get", "tenants"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Get("output"), "yaml");
}

TEST(ParseArgs, RefusesUnknownFlagsMissingValuesAndValuesOfSwitches) {
  auto a = Parse({"get", "tenants", "--colour"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), "unknown flag --colour");
  a = Parse({"get", "-x"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "unknown flag -x");
  a = Parse({"get", "services", "-t"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "-t needs a value (TENANT)");
  a = Parse({"apply", "--dry-run=yes"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "--dry-run takes no value");
}

TEST(CheckFlags, AVerbRefusesTheFlagsItDoesNotTakeButNotTheGlobalOnes) {
  auto a = Parse({"get", "tenants", "--dry-run", "--context", "prod"});
  ASSERT_TRUE(a.ok());
  Status s = CheckFlags(*a, "get", {"tenant", "selector"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "get does not take --dry-run");
  a = Parse({"get", "tenants", "-o", "name", "--context", "prod", "--url", "http://x", "--insecure-skip-verify"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(CheckFlags(*a, "get", {}).ok());
}

TEST(Flags, EveryFlagHasHelpAndNoNameIsTakenTwice) {
  std::vector<std::string> names;
  std::vector<char> shorts;
  for (const FlagSpec& f : Flags()) {
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_EQ(f.takes_value, !f.value.empty()) << f.name;
    EXPECT_EQ(std::count(names.begin(), names.end(), std::string(f.name)), 0) << f.name;
    names.emplace_back(f.name);
    if (f.short_name != 0) {
      EXPECT_EQ(std::count(shorts.begin(), shorts.end(), f.short_name), 0) << f.short_name;
      shorts.push_back(f.short_name);
    }
  }
  EXPECT_TRUE(IsGlobalFlag("context"));
  EXPECT_TRUE(IsGlobalFlag("output"));
  EXPECT_FALSE(IsGlobalFlag("tenant"));
}

}  // namespace
}  // namespace prescale::cli
