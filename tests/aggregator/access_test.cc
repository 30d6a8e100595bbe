// The abuse table: every route of a fully wired aggregator, taken from the
// front's own table (so a route added later is walked too), served over real
// HTTP on 127.0.0.1:0 and called as an attacker would: without a token, with a
// malformed header, with an unknown, a revoked and an expired token, and with
// a token bound to another tenant; once as configured by default, once with
// allow_anonymous_push and once with allow_anonymous_metrics. Tokens come from both sources, the config and the
// control store, each control store (Stores/AccessTest.*/sqlite, /postgres).
// Every refusal is the one JSON envelope.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <set>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/objects.h"
#include "prescale/http/http_server.h"
#include "prescale/remote_write/remote_write.h"
#include "tests/support/control_stores.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMinuteMs = 60'000;

// Routes that need no token at all, as docs/aggregator.md says (/metrics only with allow_anonymous_metrics).
const std::set<std::string> kPublicPaths = {"/healthz", "/readyz"};
// The receivers: the only routes an anonymous caller may use, and only with allow_anonymous_push.
const std::set<std::string> kPushPaths = {"/api/v1/write", "/api/v1/ingest"};
// The data plane's reads (tenant scoped by query) and the query each needs to be valid.
const std::map<std::string, std::string> kDataReads = {{"/api/v1/raw", "match=container_cpu_usage_seconds_total"},
                                                       {"/api/v1/series", "resource=cpu"},
                                                       {"/api/v1/forecasts", "resource=cpu"},
                                                       {"/api/v1/decisions", ""},
                                                       {"/api/v1/directives", "node=n1"}};
// GET routes without {tenant} in the path that take a tenant filter in the query.
const std::set<std::string> kTenantQueryPaths = {"/api/v1/raw",       "/api/v1/series",     "/api/v1/forecasts",
                                                 "/api/v1/decisions", "/api/v1/directives", "/api/v1/audit",
                                                 "/api/v1/policies"};

struct Reply {
  int status = 0;
  std::string body;
  std::string headers;
  std::string error;  // the envelope's "error"; empty when the body is not the envelope
  std::string field;  // the envelope's "field"
};

Reply Parse(const testing::CurlReply& r) {
  Reply out{r.status, r.body, r.headers, "", ""};
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.IsObject() && d.HasMember("error") && d["error"].IsString() && d.HasMember("message") &&
      d["message"].IsString() && d["message"].GetStringLength() > 0) {
    out.error = d["error"].GetString();
    if (d.HasMember("field") && d["field"].IsString()) out.field = d["field"].GetString();
  }
  return out;
}

std::string Describe(const RouteSpec& spec) { return spec.method + " " + spec.path; }

class AccessTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    location_ = stores_.NewLocation();  // "" after a skip, or a failure saying why
  }

  // An aggregator with tokens in the config (an agent, other's viewer) and in the
  // store (admin, operators and viewers of both tenants, a revoked and an expired
  // one), two tenants with a squeezed service each, and three minutes of pushes
  // after 40 minutes of demand history, so that every read route has data of both.
  void Start(bool allow_anonymous_push, bool allow_anonymous_metrics = false) {
    AggregatorConfig config;
    config.listen = "127.0.0.1:0";
    config.allow_anonymous_push = allow_anonymous_push;
    config.allow_anonymous_metrics = allow_anonymous_metrics;
    config.api_requests_per_second = 0;
    config.decisions.cluster_cpu_cores = 4;
    config.decisions.capacity_reserve = 0;
    config.tokens = {{"agent", Sha256Hex("agent-secret"), "agent", ""},
                     {"other-viewer", Sha256Hex("other-viewer-secret"), "viewer", "other"}};
    tokens_["agent"] = "agent-secret";
    tokens_["other-viewer"] = "other-viewer-secret";
    const int64_t now = ToUnixMillis(clock_.Now());
    clock_.Advance(std::chrono::milliseconds((kMinuteMs - now % kMinuteMs) % kMinuteMs));
    aggregator_ = std::make_unique<Aggregator>(config, clock_,
                                               [](const AggregatorConfig&, const Clock&) { return ExecutorMap{}; });
    auto store = stores_.Open(location_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    aggregator_->UseControlStore(std::move(store).value());
    SeedObjects();
    IssueTokens();
    SeedData();
    auto server = http::HttpServer::Start(aggregator_->ServerOptions(), aggregator_->Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  using ExecutorMap = std::map<std::string, std::unique_ptr<Executor>>;

  ControlStore* store() { return aggregator_->control_store(); }

  AuditRecord Admin() const {
    AuditRecord a;
    a.time_ms = ToUnixMillis(clock_.Now());
    a.actor = "test";
    a.actor_role = "admin";
    return a;
  }

  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    ASSERT_TRUE(store()->Put(built->object, WriteMode::kUpsert, std::nullopt, Admin()).ok());
  }

  void SeedObjects() {
    Seed(ObjectKind::kTenant, R"({"name":"acme"})");
    Seed(ObjectKind::kTenant, R"({"name":"other"})");
    Seed(ObjectKind::kPolicy, R"({"name":"standard"})");
    Seed(ObjectKind::kPolicy, R"({"name":"acme-fast","tenant":"acme"})");
    for (const auto& [tenant, service] : {std::pair{"acme", "web"}, {"other", "db"}}) {
      Seed(ObjectKind::kService,
           std::string(R"({"name":")") + service +
               R"(","priority":"low","replicas":{"current":4,"min":1,"max":40},)"
               R"("requests":{"cpu_cores":1},"target_utilization":{"cpu":1.0}})",
           tenant);
    }
  }

  std::string Issue(const std::string& role, const std::string& tenant, int64_t expires_in_ms = 0,
                    std::string* id = nullptr) {
    auto issued =
        IssueToken(store(), {role + "-" + tenant, role, tenant, expires_in_ms}, ToUnixMillis(clock_.Now()), Admin());
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return "";
    if (id != nullptr) *id = issued->record.id;
    return issued->secret;
  }

  void IssueTokens() {
    tokens_["admin"] = Issue("admin", "", 0, &admin_id_);
    tokens_["acme-operator"] = Issue("operator", "acme");
    tokens_["acme-viewer"] = Issue("viewer", "acme");
    tokens_["other-operator"] = Issue("operator", "other");
    std::string revoked_id;
    tokens_["revoked"] = Issue("viewer", "acme", 0, &revoked_id);
    ASSERT_TRUE(store()->RevokeToken(revoked_id, ToUnixMillis(clock_.Now()), Admin()).ok());
    tokens_["expired"] = Issue("agent", "", 1000);  // expires while SeedData advances the clock
    tokens_["monitor"] = Issue("monitor", "");
  }

  // 40 minutes of demand history (so forecasts exist), then 3 minutes of pushes from
  // node n1 using 6 cores per service: 12 wanted of 4, so both services get a cap.
  void SeedData() {
    const int64_t now = ToUnixMillis(clock_.Now());
    for (const auto& [tenant, service] : {std::pair{"acme", "web"}, {"other", "db"}}) {
      for (int64_t m = 40; m >= 1; --m) {
        aggregator_->demand().Backfill({tenant, service, "cpu"}, false,
                                       {now - m * kMinuteMs, 5.0 + static_cast<double>(m % 3), 7.0});
      }
    }
    double used = 0;
    for (int64_t t = now + 10'000; t <= now + 3 * kMinuteMs; t += 10'000) {
      clock_.Advance(std::chrono::milliseconds(t - ToUnixMillis(clock_.Now())));
      used += 60;
      std::vector<remote_write::TimeSeries> push;
      for (const auto& [tenant, service] : {std::pair{"acme", "web"}, {"other", "db"}}) {
        push.push_back({{{"__name__", "container_cpu_usage_seconds_total"},
                         {"node", "n1"},
                         {"service", service},
                         {"tenant", tenant}},
                        {{used, t}}});
      }
      AppendStats stats;
      ASSERT_TRUE(aggregator_->store().Append(push, &stats).ok());
      aggregator_->Tick();
    }
  }

  // The request for a route: path parameters filled with acme's objects, the query it
  // needs to be valid plus `extra_query`, a body each kind of route accepts (`body`
  // when given, for the routes that take JSON).
  Reply Call(const RouteSpec& spec, const std::vector<std::string>& auth_headers, const std::string& extra_query = "",
             const std::string& json_body = "") {
    std::string path = spec.path;
    for (const auto& [param, value] : std::vector<std::pair<std::string, std::string>>{
             {"tenant", "acme"}, {"service", "web"}, {"policy", "acme-fast"}, {"token", admin_id_}}) {
      if (const size_t at = path.find("{" + param + "}"); at != std::string::npos) {
        path.replace(at, param.size() + 2, value);
      }
    }
    std::string query;
    if (auto q = kDataReads.find(spec.path); q != kDataReads.end()) query = q->second;
    if (!extra_query.empty()) query += (query.empty() ? "" : "&") + extra_query;
    if (!query.empty()) path += "?" + query;
    std::vector<std::string> headers = auth_headers;
    std::string body;
    if (spec.path == "/api/v1/write") {
      remote_write::WriteRequest w;
      w.timeseries.push_back({{{"__name__", "probe"}, {"tenant", "acme"}}, {{1, ToUnixMillis(clock_.Now()) + ++n_}}});
      body = remote_write::Encode(w);
      headers.insert(headers.end(), {"Content-Type: application/x-protobuf", "Content-Encoding: snappy"});
    } else if (spec.path == "/api/v1/ingest") {
      body = R"({"series":[{"labels":{"__name__":"probe","tenant":"acme"},"samples":[[)" +
             std::to_string(ToUnixMillis(clock_.Now()) + ++n_) + ",1]]}]}";
      headers.emplace_back("Content-Type: application/json");
    } else if (spec.method != "GET") {
      body = json_body.empty() ? "{}" : json_body;
      headers.emplace_back("Content-Type: application/json");
    }
    return Parse(testing::Curl(spec.method, Url(path), body, headers));
  }
  std::string Url(const std::string& path_and_query) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path_and_query;
  }
  Reply As(const RouteSpec& spec, const std::string& who, const std::string& extra_query = "",
           const std::string& json_body = "") {
    return Call(spec, {"Authorization: Bearer " + tokens_.at(who)}, extra_query, json_body);
  }
  const RouteSpec& Route(const std::string& method, const std::string& path) const {
    for (const RouteSpec& spec : aggregator_->front().table()) {
      if (spec.method == method && spec.path == path) return spec;
    }
    ADD_FAILURE() << method << " " << path << " is not served";
    return aggregator_->front().table().front();
  }

  // Missing, malformed, unknown, revoked and expired credentials on every route.
  void ExpectEveryRouteRefusesWithoutAValidToken(bool allow_anonymous_push) {
    const auto& table = aggregator_->front().table();
    ASSERT_GE(table.size(), 35u) << "ingest, demand, scaling, control and the public routes";
    std::set<std::string> walked;
    for (const RouteSpec& spec : table) {
      SCOPED_TRACE(Describe(spec));
      walked.insert(spec.path);
      if (spec.access.roles.empty()) {
        EXPECT_TRUE(kPublicPaths.contains(spec.path)) << "a public route that docs/aggregator.md does not list";
        EXPECT_EQ(Call(spec, {}).status, 200);
        continue;
      }
      EXPECT_FALSE(kPublicPaths.contains(spec.path));
      const Reply none = Call(spec, {});
      if (allow_anonymous_push && kPushPaths.contains(spec.path)) {
        EXPECT_TRUE(none.status == 200 || none.status == 204) << none.status << " " << none.body;
      } else {
        EXPECT_EQ(none.status, 401) << none.body;
        EXPECT_EQ(none.error, "unauthorized") << none.body;
        EXPECT_THAT(none.body, HasSubstr("missing Authorization header"));
        EXPECT_THAT(none.headers, HasSubstr("WWW-Authenticate: Bearer"));
      }
      // Anonymous means no credentials: anything presented must be valid, on the receivers too.
      for (const char* header : {"Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer "}) {
        const Reply malformed = Call(spec, {header});
        EXPECT_EQ(malformed.status, 401) << header << ": " << malformed.body;
        EXPECT_EQ(malformed.error, "unauthorized") << header;
      }
      const Reply unknown = Call(spec, {"Authorization: Bearer not-a-token"});
      EXPECT_EQ(unknown.status, 403) << unknown.body;
      EXPECT_EQ(unknown.error, "forbidden");
      EXPECT_THAT(unknown.body, HasSubstr("unknown token"));
      for (const char* who : {"revoked", "expired"}) {
        const Reply r = As(spec, who);
        EXPECT_EQ(r.status, 403) << who << ": " << r.body;
        EXPECT_EQ(r.error, "forbidden") << who;
        EXPECT_THAT(r.body, HasSubstr(who)) << "the reason says the token was " << who;
      }
    }
    for (const auto& path : kPublicPaths) EXPECT_TRUE(walked.contains(path)) << path;
    for (const auto& [path, query] : kDataReads) EXPECT_TRUE(walked.contains(path)) << path;
  }

  testing::FakeClock clock_;
  testing::TestControlStores stores_{GetParam()};
  std::string location_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<http::HttpServer> server_;
  std::map<std::string, std::string> tokens_;
  std::string admin_id_;
  int64_t n_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Stores, AccessTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(AccessTest, ByDefaultEveryRouteButThePublicOnesNeedsAValidToken) {
  Start(false);
  EXPECT_FALSE(aggregator_->front().allow_anonymous_push());
  ExpectEveryRouteRefusesWithoutAValidToken(false);
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr("\nprescale_aggregator_anonymous_push_allowed 0\n"));
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr("\nprescale_aggregator_anonymous_metrics_allowed 0\n"));
  EXPECT_EQ(aggregator_->AccessWarning(), "") << "tokens exist and nothing is open";
}

// /metrics holds every tenant's usage, forecasts and decisions: admins and
// scrapers read it; tenant-bound tokens and agents do not.
TEST_P(AccessTest, OnlyAdminAndMonitorTokensScrapeMetricsByDefault) {
  Start(false);
  const RouteSpec& metrics = Route("GET", "/metrics");
  for (const char* who : {"admin", "monitor"}) {
    const Reply r = As(metrics, who);
    EXPECT_EQ(r.status, 200) << who << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("prescale_service_usage{")) << who << " sees the tenants' usage";
  }
  for (const char* who : {"agent", "acme-operator", "acme-viewer", "other-viewer"}) {
    const Reply r = As(metrics, who);
    EXPECT_EQ(r.status, 403) << who << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("(allowed: admin, monitor)")) << who;
    EXPECT_THAT(r.body, Not(HasSubstr("prescale_service_usage"))) << who;
  }
}

// A monitor token is a scraper's: it reads /metrics and nothing else.
TEST_P(AccessTest, AMonitorTokenReadsMetricsAndNothingElse) {
  Start(false);
  int refused = 0;
  for (const RouteSpec& spec : aggregator_->front().table()) {
    if (spec.access.roles.empty() || spec.path == "/metrics") continue;
    SCOPED_TRACE(Describe(spec));
    const Reply r = As(spec, "monitor");
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.error, "forbidden");
    EXPECT_THAT(r.body, HasSubstr("monitor tokens may not"));
    ++refused;
  }
  EXPECT_GE(refused, 30);
}

TEST_P(AccessTest, AllowAnonymousMetricsOpensMetricsAndNothingElse) {
  Start(false, true);
  const Reply open = Call(Route("GET", "/metrics"), {});
  EXPECT_EQ(open.status, 200) << open.body;
  EXPECT_THAT(open.body, HasSubstr("\nprescale_aggregator_anonymous_metrics_allowed 1\n"));
  for (const RouteSpec& spec : aggregator_->front().table()) {
    if (spec.access.roles.empty()) continue;
    SCOPED_TRACE(Describe(spec));
    EXPECT_EQ(Call(spec, {}).status, 401);
  }
  EXPECT_THAT(aggregator_->AccessWarning(), HasSubstr("allow_anonymous_metrics is on"));
  EXPECT_THAT(aggregator_->AccessWarning(), Not(HasSubstr("unauthenticated pushes")));
}

TEST_P(AccessTest, AllowAnonymousPushOpensTheReceiversAndNothingElse) {
  Start(true);
  EXPECT_TRUE(aggregator_->front().allow_anonymous_push());
  ExpectEveryRouteRefusesWithoutAValidToken(true);
  // What was pushed anonymously is stored, and still read only with a token.
  const Reply raw =
      Parse(testing::Curl("GET", Url("/api/v1/raw?match=probe"), "", {"Authorization: Bearer " + tokens_.at("admin")}));
  EXPECT_EQ(raw.status, 200);
  EXPECT_THAT(raw.body, HasSubstr(R"("__name__":"probe")"));
  for (const char* path : {"/api/v1/raw", "/api/v1/series", "/api/v1/forecasts", "/api/v1/decisions",
                           "/api/v1/directives", "/api/v1/tenants"}) {
    EXPECT_EQ(Call(Route("GET", path), {}, "tenant=acme").status, 401) << path;
  }
  EXPECT_THAT(aggregator_->MetricsText(), HasSubstr("\nprescale_aggregator_anonymous_push_allowed 1\n"));
  EXPECT_THAT(aggregator_->AccessWarning(), HasSubstr("accepts unauthenticated pushes"));
}

// Bodies naming acme, for the changes that name their tenant in the body rather than the path
// (by "METHOD path").
const std::map<std::string, std::string> kBodiesNamingAcme = {
    {"POST /api/v1/policies", R"({"name":"probe","tenant":"acme"})"},
    {"POST /api/v1/alerts/alertmanager",
     R"({"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X","tenant":"acme","service":"web"},)"
     R"("startsAt":"2026-11-28T10:00:00Z"}]})"}};

TEST_P(AccessTest, ATokenBoundToAnotherTenantIsRefusedOrFilteredOnEveryTenantScopedRoute) {
  Start(false);
  int probed = 0;
  for (const RouteSpec& spec : aggregator_->front().table()) {
    if (spec.access.roles.empty()) continue;
    SCOPED_TRACE(Describe(spec));
    // Every route that operators or viewers may call must say that a tenant binding applies.
    if (spec.access.Allows(Role::kOperator) || spec.access.Allows(Role::kViewer)) {
      EXPECT_TRUE(spec.access.tenant_bound) << "open to tenant-bound tokens but not tenant bound";
    }
    if (!spec.access.tenant_bound) continue;
    ++probed;
    // other's operator may do whatever an operator or viewer may; everything it gets is about other.
    const bool role_allowed = spec.access.Allows(Role::kOperator);
    const auto body = kBodiesNamingAcme.find(Describe(spec));
    const Reply r = As(spec, "other-operator", "", body == kBodiesNamingAcme.end() ? "" : body->second);
    if (spec.path.find("{tenant}") != std::string::npos || body != kBodiesNamingAcme.end()) {
      // The path or the body names acme.
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(r.error, "forbidden");
      if (role_allowed) {
        EXPECT_EQ(r.field, "tenant") << r.body;
      }
    } else if (r.status < 300) {
      EXPECT_EQ(spec.method, "GET") << "a change that names no tenant went through: " << r.body;
      EXPECT_THAT(r.body, Not(HasSubstr("acme"))) << "filtered to the token's tenant";
    } else {
      // Refused by role (admin only), or acme's policy, which for other "does not exist".
      EXPECT_TRUE(r.status == 403 || r.status == 404) << r.status << " " << r.body;
      EXPECT_FALSE(r.error.empty()) << r.body;
      if (role_allowed) {
        EXPECT_EQ(r.status, 404) << "an allowed role refused without naming a tenant: " << r.body;
      }
    }
    if (spec.method == "GET" && kTenantQueryPaths.contains(spec.path)) {
      const Reply named = As(spec, "other-operator", "tenant=acme");
      if (named.status < 300) {
        EXPECT_THAT(named.body, Not(HasSubstr("acme"))) << "a filter cannot widen the token's tenant";
      } else {
        EXPECT_EQ(named.status, 403) << named.body;
        EXPECT_EQ(named.field, "tenant") << named.body;
        EXPECT_THAT(named.body, HasSubstr("bound to tenant other"));
      }
    }
  }
  EXPECT_GE(probed, 30);
}

TEST_P(AccessTest, DataReadsShowATenantBoundTokenOnlyItsTenantAndAnotherTenantIs403) {
  Start(false);
  for (const auto& [path, query] : kDataReads) {
    SCOPED_TRACE(path);
    const RouteSpec& spec = Route("GET", path);
    // Unbound tokens see both tenants (the data is there, so the filtering below means something).
    for (const char* who : {"admin", "agent"}) {
      if (!spec.access.Allows(*ParseRole(who))) continue;
      const Reply all = As(spec, who);
      ASSERT_EQ(all.status, 200) << who << ": " << all.body;
      EXPECT_THAT(all.body, HasSubstr(R"("tenant":"acme")")) << who;
      EXPECT_THAT(all.body, HasSubstr(R"("tenant":"other")")) << who;
    }
    // Config and store tokens alike, operators and viewers: their tenant, given or not.
    for (const auto& [who, own, foreign] : {std::tuple{"acme-viewer", "acme", "other"},
                                            {"acme-operator", "acme", "other"},
                                            {"other-viewer", "other", "acme"},
                                            {"other-operator", "other", "acme"}}) {
      SCOPED_TRACE(who);
      for (const std::string& extra : {std::string(), "tenant=" + std::string(own)}) {
        const Reply r = As(spec, who, extra);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_THAT(r.body, HasSubstr(std::string(R"("tenant":")") + own + "\""));
        EXPECT_THAT(r.body, Not(HasSubstr(std::string(R"("tenant":")") + foreign + "\"")));
      }
      const Reply r = As(spec, who, "tenant=" + std::string(foreign));
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(r.error, "forbidden");
      EXPECT_EQ(r.field, "tenant");
      EXPECT_THAT(r.body, HasSubstr(std::string("this token is bound to tenant ") + own));
    }
  }
}

}  // namespace
}  // namespace prescale::aggregator
