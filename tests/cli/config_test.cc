#include "prescale/cli/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_env.h"

namespace prescale::cli {
namespace {

using testing::TempDir;

constexpr const char* kTwoContexts = R"(current_context: prod
contexts:
  - name: prod
    url: https://prescale.example.com:9570/
    token_file: ~/.config/prescale/prod.token
    ca_file: ca.pem
  - name: dev
    url: http://127.0.0.1:9570
    token_file: /run/dev.token
    insecure_skip_verify: true
)";

TEST(ConfigPath, FlagThenEnvironmentThenHome) {
  EXPECT_EQ(ConfigPath("/a.yaml", "/b.yaml", "/home/u"), "/a.yaml");
  EXPECT_EQ(ConfigPath("", "/b.yaml", "/home/u"), "/b.yaml");
  EXPECT_EQ(ConfigPath("", "", "/home/u"), "/home/u/.config/prescale/prescalectl.yaml");
}

TEST(ParseCliConfig, ReadsContexts) {
  auto c = ParseCliConfig(kTwoContexts, "ctl.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->current_context, "prod");
  ASSERT_EQ(c->contexts.size(), 2u);
  EXPECT_EQ(c->contexts[0].url, "https://prescale.example.com:9570/");
  EXPECT_EQ(c->contexts[0].ca_file, "ca.pem");
  EXPECT_FALSE(c->contexts[0].insecure_skip_verify);
  EXPECT_TRUE(c->contexts[1].insecure_skip_verify);
  ASSERT_NE(c->Find("dev"), nullptr);
  EXPECT_EQ(c->Find("dev")->token_file, "/run/dev.token");
  EXPECT_EQ(c->Find("nope"), nullptr);
  // An empty file is an empty config.
  auto empty = ParseCliConfig("", "ctl.yaml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->contexts.empty());
}

TEST(ParseCliConfig, ErrorsNameTheFileLineAndKey) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"contexts:\n  - name: a\n    urll: http://x\n", "ctl.yaml:3: contexts[0].urll: unknown key"},
      {"contexts:\n  - name: a\n    url: ftp://x\n",
       "ctl.yaml:3: contexts[0].url: must start with http:// or https://"},
      {"contexts:\n  - url: http://x\n", "ctl.yaml:2: contexts[0].name: is required"},
      {"contexts:\n  - name: a\n  - name: a\n", "ctl.yaml:3: contexts[1].name: context a is listed twice"},
      {"current_context: b\ncontexts:\n  - name: a\n", "ctl.yaml:1: current_context: names no context of the file"},
      {"contexts:\n  - name: a\n    insecure_skip_verify: maybe\n", "ctl.yaml:3: contexts[0].insecure_skip_verify"},
      {"contexts: {name: a}\n", "ctl.yaml:1: contexts"},
      {"contexts: [\n", "ctl.yaml"},
  };
  for (const Case& c : cases) {
    auto r = ParseCliConfig(c.text, "ctl.yaml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
  }
}

TEST(CliConfig, SavedFileReadsBackTheSameAndIsPrivate) {
  TempDir dir("prescalectl-config");
  auto c = ParseCliConfig(kTwoContexts, "ctl.yaml");
  ASSERT_TRUE(c.ok());
  c->contexts.push_back(Context{"odd: name", "http://[::1]:9570", "#token", "", false});
  const std::string path = dir.path() + "/new/dir/prescalectl.yaml";
  ASSERT_TRUE(SaveCliConfig(*c, path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() + "/new/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto back = LoadCliConfig(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(RenderCliConfig(*back), RenderCliConfig(*c));
  ASSERT_EQ(back->contexts.size(), 3u);
  EXPECT_EQ(back->contexts[2].name, "odd: name");
  EXPECT_EQ(back->contexts[2].token_file, "#token");
  EXPECT_TRUE(back->contexts[1].insecure_skip_verify);
  // A file that is not there is an empty config, not an error.
  auto missing = LoadCliConfig(dir.path() + "/none.yaml");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->contexts.empty());
}

TEST(ResolveConnection, FlagsOverTheContextAndTheTokenFromFlagEnvironmentOrContext) {
  TempDir dir("prescalectl-config");
  dir.Write(".config/prescale/prod.token", "prod-secret\n");
  const std::string flag_token = dir.Write("flag.token", "flag-secret");
  auto c = ParseCliConfig(kTwoContexts, "ctl.yaml");
  ASSERT_TRUE(c.ok());
  const std::string config_path = dir.path() + "/ctl.yaml";
  auto conn = ResolveConnection(*c, {}, "", config_path, dir.path());
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  EXPECT_EQ(conn->context, "prod");
  EXPECT_EQ(conn->url, "https://prescale.example.com:9570");  // the trailing '/' dropped
  EXPECT_EQ(conn->token, "prod-secret");
  EXPECT_EQ(conn->ca_file, dir.path() + "/ca.pem");  // relative to the config file
  EXPECT_NE(conn->token_source.find("context prod's token_file"), std::string::npos) << conn->token_source;
  conn = ResolveConnection(*c, {}, "env-secret\n", config_path, dir.path());
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->token, "env-secret");
  EXPECT_EQ(conn->token_source, "$PRESCALE_TOKEN");
  ConnectionFlags flags;
  flags.url = "http://127.0.0.1:1";
  flags.token_file = flag_token;
  flags.ca_file = "/etc/ca.pem";
  conn = ResolveConnection(*c, flags, "env-secret", config_path, dir.path());
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->url, "http://127.0.0.1:1");
  EXPECT_EQ(conn->token, "flag-secret");
  EXPECT_EQ(conn->ca_file, "/etc/ca.pem");
  flags = {};
  flags.context = "dev";
  conn = ResolveConnection(*c, flags, "", config_path, dir.path());
  ASSERT_FALSE(conn.ok());  // /run/dev.token is not there
  EXPECT_NE(conn.status().message().find("/run/dev.token"), std::string::npos) << conn.status().message();
}

TEST(ResolveConnection, NamesWhatIsMissing) {
  CliConfig empty;
  auto conn = ResolveConnection(empty, {}, "", "/x/ctl.yaml", "/home/u");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().field(), "--url");
  ConnectionFlags flags;
  flags.context = "prod";
  conn = ResolveConnection(empty, flags, "", "/x/ctl.yaml", "/home/u");
  ASSERT_FALSE(conn.ok());
  EXPECT_NE(conn.status().message().find("no context prod in /x/ctl.yaml"), std::string::npos);
  flags = {};
  flags.url = "127.0.0.1:9570";
  conn = ResolveConnection(empty, flags, "", "/x/ctl.yaml", "/home/u");
  ASSERT_FALSE(conn.ok());
  EXPECT_NE(conn.status().message().find("http://"), std::string::npos);
  flags.url = "http://127.0.0.1:9570";
  conn = ResolveConnection(empty, flags, "", "/x/ctl.yaml", "/home/u");
  ASSERT_TRUE(conn.ok());
  EXPECT_EQ(conn->token, "");
  EXPECT_EQ(conn->context, "");
}

TEST(ResolvePath, HomeAbsoluteAndRelativeToTheConfigFile) {
  EXPECT_EQ(ResolvePath("~/t", "/etc/p/ctl.yaml", "/home/u"), "/home/u/t");
  EXPECT_EQ(ResolvePath("/abs", "/etc/p/ctl.yaml", "/home/u"), "/abs");
  EXPECT_EQ(ResolvePath("rel/t", "/etc/p/ctl.yaml", "/home/u"), "/etc/p/rel/t");
  EXPECT_EQ(ResolvePath("t", "ctl.yaml", "/home/u"), "./t");
  EXPECT_EQ(ResolvePath("", "ctl.yaml", "/home/u"), "");
}

}  // namespace
}  // namespace prescale::cli
