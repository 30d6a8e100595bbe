// The real prescale-aggregator process: SIGHUP reads its configuration again
// (a token added to the file pushes at once, a removed one is refused, a bad
// file changes nothing and says where it is wrong), and everything it writes
// to stderr is logfmt a strict parser reads, or JSON lines with
// --log-format json, with the request id of every request it logs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "prescale/aggregator/control/auth.h"
#include "tests/support/curl.h"
#include "tests/support/logfmt.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kOnePush[] = R"({"series":[{"labels":{"__name__":"q","tenant":"t"},"samples":[[1700000000000,4]]}]})";

std::string Tokens(const std::vector<std::pair<std::string, std::string>>& name_secret) {
  std::string out = "tokens:\n";
  for (const auto& [name, secret] : name_secret) {
    out += "  - {name: " + name + ", role: " + (name == "admin" ? "admin" : "agent") +
           ", sha256: \"sha256:" + aggregator::Sha256Hex(secret) + "\"}\n";
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

class ReloadProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
  }

  // Starts the binary with the config file and `flags`; false when it does not serve.
  bool Start(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {testing::BinDir() + "/prescale-aggregator", "--config", path_, "--listen",
                                     "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    if (!process_.Start(argv)) return false;
    std::string log;
    port_ = testing::WaitForServingPort(process_, 20s, &log);
    return port_ != 0;
  }
  int Push(const std::string& secret, const std::string& request_id = "") {
    std::vector<std::string> headers = {"Authorization: Bearer " + secret};
    if (!request_id.empty()) headers.push_back("X-Request-Id: " + request_id);
    return testing::Curl("POST", "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/ingest", kOnePush, headers)
        .status;
  }
  // Sends SIGHUP and waits until the log says the reload `outcome` (a message) happened `times` times.
  bool Hangup(const std::string& outcome, int times) {
    process_.Signal(SIGHUP);
    return testing::PollUntil(
        [&] {
          const std::string err = process_.Stderr();
          int seen = 0;
          for (size_t at = err.find(outcome); at != std::string::npos; at = err.find(outcome, at + 1)) ++seen;
          return seen >= times;
        },
        20s);
  }

  testing::TempDir dir_{"prescale-reload-process"};
  std::string path_;
  testing::Subprocess process_;
  int port_ = 0;
};

TEST_F(ReloadProcessTest, SighupReloadsTokensAndABadFileChangesNothing) {
  path_ = dir_.Write("agg.yaml", Tokens({{"admin", "admin-secret"}, {"old", "old-secret"}}));
  ASSERT_TRUE(Start({"--log-level", "debug"})) << process_.Stderr();
  ASSERT_EQ(Push("old-secret", "push-1"), 200);
  EXPECT_EQ(Push("new-secret"), 403);

  dir_.Write("agg.yaml", Tokens({{"admin", "admin-secret"}, {"new", "new-secret"}}));
  ASSERT_TRUE(Hangup("msg=\"configuration reloaded\"", 1)) << process_.Stderr();
  EXPECT_EQ(Push("new-secret"), 200);
  EXPECT_EQ(Push("old-secret"), 403);

  // A bad file: the tokens that run stay; the log names the file, line and key.
  dir_.Write("agg.yaml",
             Tokens({{"admin", "admin-secret"}, {"new", "new-secret"}, {"old", "old-secret"}}) + "max_series: lots\n");
  ASSERT_TRUE(Hangup("msg=\"configuration reload failed; the running configuration stays\"", 1)) << process_.Stderr();
  EXPECT_THAT(process_.Stderr(), HasSubstr(path_ + ":5: max_series: expected a positive whole number"));
  EXPECT_EQ(Push("new-secret"), 200);
  EXPECT_EQ(Push("old-secret"), 403);
  const testing::CurlReply metrics = testing::Curl("GET", "http://127.0.0.1:" + std::to_string(port_) + "/metrics", "",
                                                   {"Authorization: Bearer admin-secret"});
  EXPECT_THAT(metrics.body, HasSubstr("\nprescale_config_last_reload_successful 0\n"));
  EXPECT_TRUE(process_.running()) << "SIGHUP does not stop it";

  process_.Signal(SIGTERM);
  EXPECT_EQ(process_.Wait(20s), 0) << process_.Stderr();
  // Every line it wrote is logfmt: ts, level, caller and msg first.
  const std::vector<std::string> lines = Lines(process_.Stderr());
  ASSERT_GE(lines.size(), 5u);
  bool request_logged = false;
  for (const std::string& line : lines) {
    auto pairs = testing::ParseLogfmt(line);
    ASSERT_TRUE(pairs.has_value()) << "not logfmt: " << line;
    ASSERT_GE(pairs->size(), 4u) << line;
    EXPECT_EQ((*pairs)[0].first, "ts");
    EXPECT_EQ((*pairs)[1].first, "level");
    EXPECT_EQ((*pairs)[2].first, "caller");
    EXPECT_EQ((*pairs)[3].first, "msg");
    if (line.find("request_id=push-1") != std::string::npos) {
      request_logged = true;
      EXPECT_THAT(line, HasSubstr("level=debug"));
      EXPECT_THAT(line, HasSubstr("method=POST path=/api/v1/ingest status=200"));
      EXPECT_THAT(line, ::testing::Not(HasSubstr("old-secret")));
    }
  }
  EXPECT_TRUE(request_logged) << process_.Stderr();
}

TEST_F(ReloadProcessTest, JsonLogsAreOneObjectALine) {
  path_ = dir_.Write("agg.yaml", Tokens({{"admin", "admin-secret"}}) + "log_format: json\n");
  ASSERT_TRUE(Start({})) << process_.Stderr();
  dir_.Write("agg.yaml", "max_series: lots\n");
  ASSERT_TRUE(Hangup(R"("msg":"configuration reload failed; the running configuration stays")", 1))
      << process_.Stderr();
  process_.Signal(SIGTERM);
  EXPECT_EQ(process_.Wait(20s), 0) << process_.Stderr();
  const std::vector<std::string> lines = Lines(process_.Stderr());
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << "not JSON: " << line;
    ASSERT_TRUE(d.IsObject()) << line;
    for (const char* key : {"ts", "level", "caller", "msg"}) {
      ASSERT_TRUE(d.HasMember(key) && d[key].IsString()) << key << " in " << line;
    }
  }
  EXPECT_THAT(process_.Stderr(), HasSubstr(R"("level":"error")"));
  EXPECT_THAT(process_.Stderr(), HasSubstr(":1: max_series: expected a positive whole number"));
}

}  // namespace
}  // namespace prescale
