// Reloading the configuration (POST /-/reload, and what SIGHUP calls): a
// running aggregator served over real HTTP on 127.0.0.1:0 reads its file
// again. A good file applies at once (a new token pushes, a removed one is
// refused, trigger rules and bootstrap objects change); a bad one changes
// nothing, names the file, line and key, and shows in
// prescale_config_last_reload_successful.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/control_bootstrap.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/base/log.h"
#include "prescale/http/http_server.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr char kOnePush[] = R"({"series":[{"labels":{"__name__":"q","tenant":"acme"},"samples":[[1700000000000,4]]}]})";

std::string TokenEntry(const std::string& name, const std::string& role, const std::string& secret) {
  return "  - {name: " + name + ", role: " + role + ", sha256: \"sha256:" + Sha256Hex(secret) + "\"}\n";
}

// The file as it starts: an admin, an agent ("old"), tenant acme, no trigger rules.
std::string FirstFile() {
  return "listen: 127.0.0.1:0\n"
         "tokens:\n" +
         TokenEntry("admin", "admin", "admin-secret") + TokenEntry("old-agent", "agent", "old-secret") +
         "tenants:\n"
         "  - name: acme\n";
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    path_ = dir_.Write("agg.yaml", FirstFile());
    auto config = LoadAggregatorConfig(path_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    aggregator_ = std::make_unique<Aggregator>(*config, clock_);
    auto store = OpenSqliteStore(dir_.path() + "/control.db", SqliteStoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = store->get();
    aggregator_->UseControlStore(std::move(store).value());
    // The objects of the file, as prescale-aggregator applies them at start.
    AuditRecord actor;
    actor.actor = "bootstrap";
    actor.actor_role = "admin";
    ASSERT_TRUE(ApplyObjects(store_, config->bootstrap_yaml, path_, actor, false).ok());
    aggregator_->ReloadFrom([path = path_] { return LoadAggregatorConfig(path); });
    auto server = http::HttpServer::Start(aggregator_->ServerOptions(), aggregator_->Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    SetLogSink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      log_.emplace_back(line);
    });
  }
  void TearDown() override {
    SetLogSink({});
    SetLogLevel(LogLevel::kInfo);
    SetLogFormat(LogFormat::kLogfmt);
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  testing::CurlReply As(const std::string& secret, const std::string& method, const std::string& path,
                        const std::string& body = "") const {
    std::vector<std::string> headers;
    if (!secret.empty()) headers.push_back("Authorization: Bearer " + secret);
    return testing::Curl(method, Url(path), body, headers);
  }
  int Push(const std::string& secret) const { return As(secret, "POST", "/api/v1/ingest", kOnePush).status; }
  testing::CurlReply Reload() const { return As("admin-secret", "POST", "/-/reload"); }
  std::string Log() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const std::string& line : log_) all += line;
    return all;
  }
  static std::vector<std::string> Strings(const rapidjson::Value& list) {
    std::vector<std::string> out;
    for (const auto& v : list.GetArray()) out.emplace_back(v.GetString());
    return out;
  }

  testing::TempDir dir_{"prescale-reload"};
  testing::FakeClock clock_;
  std::string path_;
  std::unique_ptr<Aggregator> aggregator_;
  ControlStore* store_ = nullptr;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(ReloadTest, AGoodFileAppliesAtOnceAndSaysWhatNeedsARestart) {
  ASSERT_EQ(Push("old-secret"), 200);
  EXPECT_EQ(Push("new-secret"), 403);
  EXPECT_EQ(store_->Get({ObjectKind::kTenant, "", "beta"}).status().code(), StatusCode::kNotFound);
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr("\nprescale_config_last_reload_successful 1\n"));
  clock_.Advance(90s);
  // old-agent goes, new-agent comes; a trigger rule, a tenant and a log level are added; listen changes.
  dir_.Write("agg.yaml",
             "listen: 127.0.0.1:1\n"
             "log_level: debug\n"
             "log_format: json\n"
             "tokens:\n" +
                 TokenEntry("admin", "admin", "admin-secret") + TokenEntry("new-agent", "agent", "new-secret") +
                 "tenants:\n"
                 "  - name: acme\n"
                 "  - name: beta\n"
                 "triggers:\n"
                 "  - {name: hot, metric: q, op: '>', value: 1, tenant: acme, service: web}\n");
  const testing::CurlReply r = Reload();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_STREQ(d["status"].GetString(), "ok");
  EXPECT_THAT(Strings(d["applied"]), ElementsAre("log_format", "log_level", "tenants", "tokens", "triggers"));
  EXPECT_THAT(Strings(d["restart_required"]), ElementsAre("listen"));
  EXPECT_EQ(d["objects"]["created"].GetInt(), 1);
  EXPECT_EQ(d["objects"]["unchanged"].GetInt(), 1);
  // At once: the new token pushes, the removed one is refused like any unknown token.
  EXPECT_EQ(Push("new-secret"), 200);
  const testing::CurlReply old = As("old-secret", "POST", "/api/v1/ingest", kOnePush);
  EXPECT_EQ(old.status, 403) << old.body;
  EXPECT_THAT(old.body, HasSubstr("unknown token"));
  EXPECT_TRUE(store_->Get({ObjectKind::kTenant, "", "beta"}).ok());
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug);
  EXPECT_EQ(GetLogFormat(), LogFormat::kJson);
  aggregator_->Tick();  // the new rule evaluates: q is 4 > 1
  const std::string metrics = aggregator_->MetricsText();
  EXPECT_THAT(metrics, HasSubstr("prescale_trigger_rule_firing{rule=\"hot\""));
  EXPECT_THAT(metrics, HasSubstr("\nprescale_config_last_reload_successful 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nprescale_config_last_reload_success_timestamp_seconds " +
                                 std::to_string(ToUnixMillis(clock_.Now()) / 1000) + "\n"));
  const std::string log = Log();
  EXPECT_THAT(log, HasSubstr(R"("msg":"configuration reloaded")"));
  EXPECT_THAT(log, HasSubstr(R"("restart_required":"listen")"));
  // The restart is still owed at the next reload: it is said again.
  const testing::CurlReply again = Reload();
  ASSERT_EQ(again.status, 200) << again.body;
  d.Parse(again.body.c_str());
  EXPECT_THAT(Strings(d["applied"]), ::testing::IsEmpty());
  EXPECT_THAT(Strings(d["restart_required"]), ElementsAre("listen"));
}

TEST_F(ReloadTest, ABadFileChangesNothingAndNamesTheKeyAndLine) {
  clock_.Advance(90s);
  const std::string before = aggregator_->MetricsText();
  // A new token on line 5, and a wrong role on line 6.
  dir_.Write("agg.yaml",
             "listen: 127.0.0.1:0\n"
             "tokens:\n" +
                 TokenEntry("admin", "admin", "admin-secret") + TokenEntry("old-agent", "agent", "old-secret") +
                 TokenEntry("new-agent", "agent", "new-secret") +
                 "  - {name: bad, role: wizard, sha256: \"sha256:" + Sha256Hex("x") + "\"}\n");
  const testing::CurlReply r = Reload();
  EXPECT_EQ(r.status, 500) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_STREQ(d["error"].GetString(), "reload_failed");
  EXPECT_THAT(d["message"].GetString(), HasSubstr(path_ + ":6: tokens[3].role: must be one of admin"));
  // Nothing changed: the old token pushes, the new one is unknown; the metric says it failed.
  EXPECT_EQ(Push("old-secret"), 200);
  EXPECT_EQ(Push("new-secret"), 403);
  const std::string metrics = aggregator_->MetricsText();
  EXPECT_THAT(metrics, HasSubstr("\nprescale_config_last_reload_successful 0\n"));
  const std::string stamp = "\nprescale_config_last_reload_success_timestamp_seconds ";
  const auto line_of = [&stamp](const std::string& text) {
    const size_t at = text.find(stamp);
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at + 1) - at);
  };
  EXPECT_FALSE(line_of(before).empty());
  EXPECT_EQ(line_of(metrics), line_of(before)) << "the last success is still the start";
  EXPECT_THAT(Log(), HasSubstr("level=error"));
  EXPECT_THAT(Log(), HasSubstr(":6: tokens[3].role: must be one of"));

  // A bad object in the same file as a good token: neither applies.
  dir_.Write("agg.yaml", "tokens:\n" + TokenEntry("admin", "admin", "admin-secret") +
                             TokenEntry("new-agent", "agent", "new-secret") +
                             "tenants:\n"
                             "  - name: acme\n"
                             "services:\n"
                             "  - {tenant: acme, name: web, priority: urgent}\n");
  const testing::CurlReply objects = Reload();
  EXPECT_EQ(objects.status, 500) << objects.body;
  EXPECT_THAT(objects.body, HasSubstr(path_ + ":7: services[0].priority")) << objects.body;
  EXPECT_EQ(Push("new-secret"), 403);
  EXPECT_EQ(Push("old-secret"), 200);

  // Fixed: it applies, and the metric says so.
  dir_.Write("agg.yaml", "tokens:\n" + TokenEntry("admin", "admin", "admin-secret") +
                             TokenEntry("new-agent", "agent", "new-secret"));
  ASSERT_EQ(Reload().status, 200);
  EXPECT_EQ(Push("new-secret"), 200);
  EXPECT_EQ(Push("old-secret"), 403);
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr("\nprescale_config_last_reload_successful 1\n"));
}

TEST_F(ReloadTest, OnlyAdminsMayReloadAndOnlyWithPost) {
  dir_.Write("agg.yaml", "tokens:\n" + TokenEntry("admin", "admin", "admin-secret") +
                             TokenEntry("old-agent", "agent", "old-secret") +
                             TokenEntry("new-agent", "agent", "new-secret"));
  EXPECT_EQ(As("", "POST", "/-/reload").status, 401);
  EXPECT_EQ(As("old-secret", "POST", "/-/reload").status, 403);
  EXPECT_EQ(As("wrong-secret", "POST", "/-/reload").status, 403);
  const testing::CurlReply get = As("admin-secret", "GET", "/-/reload");
  EXPECT_EQ(get.status, 405) << get.body;
  const testing::CurlReply with_body = As("admin-secret", "POST", "/-/reload", "{}");
  EXPECT_EQ(with_body.status, 400) << with_body.body;
  EXPECT_THAT(with_body.body, HasSubstr("takes no body"));
  EXPECT_EQ(Push("new-secret"), 403) << "nothing was reloaded";
  EXPECT_EQ(Reload().status, 200);
  EXPECT_EQ(Push("new-secret"), 200);
}

TEST(ReloadWithoutASource, FailsSayingSo) {
  testing::FakeClock clock;
  Aggregator aggregator(AggregatorConfig{}, clock);
  SetLogSink([](std::string_view) {});
  const ReloadResult r = aggregator.Reload("test");
  SetLogSink({});
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.error, HasSubstr("no configuration source"));
  EXPECT_THAT(aggregator.MetricsText(), HasSubstr("\nprescale_config_last_reload_successful 0\n"));
}

TEST(ConfigSections, ChangedKeysIgnoreCommentsLayoutAndOrder) {
  auto a = ParseAggregatorConfig("# c\nlisten: 127.0.0.1:1\ntokens: []\ndemand: {tenant_label: t, service_label: s}\n",
                                 "a.yaml");
  auto b =
      ParseAggregatorConfig("demand:\n  service_label: s\n  tenant_label: t\nlisten: 127.0.0.1:1  # same\n", "b.yaml");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_THAT(ChangedSections(*a, *b), ElementsAre("tokens"));
  auto c = ParseAggregatorConfig("listen: '127.0.0.1:1'\ndemand: {tenant_label: t, service_label: x}\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_THAT(ChangedSections(*b, *c), ElementsAre("demand", "listen"));
  EXPECT_TRUE(ReloadsLive("tokens"));
  EXPECT_TRUE(ReloadsLive("triggers"));
  EXPECT_FALSE(ReloadsLive("listen"));
  EXPECT_FALSE(ReloadsLive("data_dir"));
}

}  // namespace
}  // namespace prescale::aggregator
