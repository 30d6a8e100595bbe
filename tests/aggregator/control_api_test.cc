// The control API through a real HttpServer on 127.0.0.1:0 and a real control
// store (SQLite and PostgreSQL: Stores/ControlApiTest.*/sqlite, /postgres), driven with the curl program: every route x
// every role x own or other tenant with the exact status, tenant isolation in lists, filters and pagination, bad input,
// rate limits, and the audit trail of it all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <random>
#include <set>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/api/control_api.h"
#include "prescale/http/http_server.h"
#include "tests/support/control_stores.h"
#include "tests/support/curl.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

using namespace std::chrono_literals;
using testing::CurlReply;
using ::testing::HasSubstr;

int64_t NowMs(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
}

class ControlApiTest : public ::testing::TestWithParam<testing::StoreBackend> {
 public:  // the matrix's prepare steps call Seed and Issue
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    Start(0);
  }

  void Start(double requests_per_second) {
    server_.reset();
    AggregatorConfig config;
    config.listen = "127.0.0.1:0";
    config.max_body_bytes = 64 << 10;
    config.api_requests_per_second = requests_per_second;
    aggregator_ = std::make_unique<Aggregator>(config, clock_);
    // The first start makes the store; a restart opens the same one again.
    if (location_.empty()) location_ = stores_.NewLocation();
    if (location_.empty()) return;  // skipped, or failed saying why
    auto store = stores_.Open(location_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = store->get();
    aggregator_->UseControlStore(std::move(store).value());
    auto server = http::HttpServer::Start(aggregator_->ServerOptions(), aggregator_->Routes());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  AuditRecord Admin() const {
    AuditRecord a;
    a.time_ms = NowMs(clock_);
    a.actor = "test";
    a.actor_role = "admin";
    return a;
  }

  // Creates (or replaces) an object straight in the store, as an admin would.
  void Seed(ObjectKind kind, const std::string& json, const std::string& tenant = "") {
    auto built = BuildObject(kind, json, {kind, tenant, ""});
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    auto put = store_->Put(built->object, WriteMode::kUpsert, std::nullopt, Admin());
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }

  std::string Issue(const std::string& role, const std::string& tenant, int64_t expires_in_ms = 0,
                    std::string* id = nullptr) {
    auto issued = IssueToken(store_, {role + "-token", role, tenant, expires_in_ms}, NowMs(clock_), Admin());
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return "";
    if (id != nullptr) *id = issued->record.id;
    return issued->secret;
  }

  // The standard world: tenants acme and other, a service each, a global
  // policy and one policy per tenant, and a token per role.
  void SeedWorld() {
    Seed(ObjectKind::kTenant, R"({"name":"acme","quotas":{"cpu_cores":64},"labels":{"tier":"gold"}})");
    Seed(ObjectKind::kTenant, R"({"name":"other","quotas":{"cpu_cores":8},"labels":{"tier":"bronze"}})");
    Seed(ObjectKind::kPolicy, R"({"name":"standard"})");
    Seed(ObjectKind::kPolicy, R"({"name":"acme-fast","tenant":"acme","horizon":"5m"})");
    Seed(ObjectKind::kPolicy, R"({"name":"other-slow","tenant":"other","mode":"reactive"})");
    Seed(ObjectKind::kService, R"({"name":"web","priority":"critical","policy":"acme-fast"})", "acme");
    Seed(ObjectKind::kService, R"({"name":"db","priority":"low","policy":"standard"})", "other");
    tokens_["admin"] = Issue("admin", "", 0, &admin_id_);
    tokens_["operator"] = Issue("operator", "acme");
    tokens_["viewer"] = Issue("viewer", "acme");
    tokens_["agent"] = Issue("agent", "");
  }

  CurlReply Call(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& token) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    return testing::Curl(method, "http://127.0.0.1:" + std::to_string(server_->port()) + path, body, headers);
  }
  CurlReply As(const std::string& role, const std::string& method, const std::string& path,
               const std::string& body = "") {
    return Call(method, path, body, tokens_[role]);
  }

 protected:
  testing::TestControlStores stores_{GetParam()};
  std::string location_;
  testing::FakeClock clock_;
  std::unique_ptr<Aggregator> aggregator_;
  ControlStore* store_ = nullptr;
  std::unique_ptr<http::HttpServer> server_;
  std::map<std::string, std::string> tokens_;
  std::string admin_id_;
};

// One route: the request for the caller's own tenant and for the other one,
// and the status each principal gets. "{n}" becomes a fresh number; prepare
// (when set) creates what the request needs, for that tenant and number.
struct Case {
  std::string method;
  std::string own_path, other_path;
  std::string own_body, other_body;
  int admin, operator_own, operator_other, viewer_own, viewer_other, agent, none;
  std::function<void(ControlApiTest*, const std::string& tenant, const std::string& n)> prepare;
};

INSTANTIATE_TEST_SUITE_P(Stores, ControlApiTest, testing::AllStoreBackends(), testing::StoreBackendName);

std::string Fill(std::string s, const std::string& n) {
  for (size_t at = s.find("{n}"); at != std::string::npos; at = s.find("{n}")) s.replace(at, 3, n);
  return s;
}

TEST_P(ControlApiTest, EveryRouteForEveryRoleAndTenantGetsItsExactStatus) {
  SeedWorld();
  auto service = [](ControlApiTest* t, const std::string& tenant, const std::string& n) {
    t->Seed(ObjectKind::kService, R"({"name":"s)" + n + R"("})", tenant);
  };
  auto policy = [](ControlApiTest* t, const std::string& tenant, const std::string& n) {
    t->Seed(ObjectKind::kPolicy, R"({"name":"p)" + n + R"(","tenant":")" + tenant + R"("})");
  };
  std::string revocable;
  auto token = [&revocable](ControlApiTest* t, const std::string&, const std::string&) {
    t->Issue("agent", "", 0, &revocable);
  };
  const std::vector<Case> cases = {
      {"GET", "/api/v1/tenants", "/api/v1/tenants", "", "", 200, 200, 200, 200, 200, 403, 401, nullptr},
      {"POST", "/api/v1/tenants", "/api/v1/tenants", R"({"name":"t{n}"})", R"({"name":"t{n}"})", 201, 403, 403, 403,
       403, 403, 401, nullptr},
      {"GET", "/api/v1/tenants/acme", "/api/v1/tenants/other", "", "", 200, 200, 403, 200, 403, 403, 401, nullptr},
      {"PUT", "/api/v1/tenants/acme", "/api/v1/tenants/other", R"({"weight":2})", R"({"weight":2})", 200, 403, 403, 403,
       403, 403, 401, nullptr},
      {"PATCH", "/api/v1/tenants/acme", "/api/v1/tenants/other", R"({"weight":3})", R"({"weight":3})", 200, 403, 403,
       403, 403, 403, 401, nullptr},
      // Both tenants still have services: even an admin gets 409.
      {"DELETE", "/api/v1/tenants/acme", "/api/v1/tenants/other", "", "", 409, 403, 403, 403, 403, 403, 401, nullptr},
      {"GET", "/api/v1/tenants/acme/services", "/api/v1/tenants/other/services", "", "", 200, 200, 403, 200, 403, 403,
       401, nullptr},
      {"POST", "/api/v1/tenants/acme/services", "/api/v1/tenants/other/services", R"({"name":"s{n}"})",
       R"({"name":"s{n}"})", 201, 201, 403, 403, 403, 403, 401, nullptr},
      {"GET", "/api/v1/tenants/acme/services/web", "/api/v1/tenants/other/services/db", "", "", 200, 200, 403, 200, 403,
       403, 401, nullptr},
      {"PUT", "/api/v1/tenants/acme/services/web", "/api/v1/tenants/other/services/db",
       R"({"priority":"high","policy":"acme-fast"})", R"({"priority":"low","policy":"standard"})", 200, 200, 403, 403,
       403, 403, 401, nullptr},
      {"PATCH", "/api/v1/tenants/acme/services/web", "/api/v1/tenants/other/services/db", R"({"replicas":{"max":12}})",
       R"({"replicas":{"max":12}})", 200, 200, 403, 403, 403, 403, 401, nullptr},
      {"DELETE", "/api/v1/tenants/acme/services/s{n}", "/api/v1/tenants/other/services/s{n}", "", "", 204, 204, 403,
       403, 403, 403, 401, service},
      // No decision was made yet: nothing to approve, even for those who may.
      {"POST", "/api/v1/tenants/acme/services/web/approve", "/api/v1/tenants/other/services/db/approve",
       R"({"replicas":3})", R"({"replicas":3})", 409, 409, 403, 403, 403, 403, 401, nullptr},
      {"GET", "/api/v1/policies", "/api/v1/policies", "", "", 200, 200, 200, 200, 200, 403, 401, nullptr},
      {"POST", "/api/v1/policies", "/api/v1/policies", R"({"name":"p{n}","tenant":"acme"})",
       R"({"name":"p{n}","tenant":"other"})", 201, 201, 403, 403, 403, 403, 401, nullptr},
      // Another tenant's policy is answered as if it did not exist.
      {"GET", "/api/v1/policies/acme-fast", "/api/v1/policies/other-slow", "", "", 200, 200, 404, 200, 404, 403, 401,
       nullptr},
      {"PUT", "/api/v1/policies/acme-fast", "/api/v1/policies/other-slow", R"({"tenant":"acme","mode":"reactive"})",
       R"({"tenant":"other","mode":"reactive"})", 200, 200, 404, 403, 403, 403, 401, nullptr},
      {"PATCH", "/api/v1/policies/acme-fast", "/api/v1/policies/other-slow", R"({"horizon":"30m"})",
       R"({"horizon":"30m"})", 200, 200, 404, 403, 403, 403, 401, nullptr},
      {"DELETE", "/api/v1/policies/p{n}", "/api/v1/policies/p{n}", "", "", 204, 204, 404, 403, 403, 403, 401, policy},
      {"GET", "/api/v1/tokens", "/api/v1/tokens", "", "", 200, 403, 403, 403, 403, 403, 401, nullptr},
      {"POST", "/api/v1/tokens", "/api/v1/tokens", R"({"role":"viewer","tenant":"acme"})",
       R"({"role":"viewer","tenant":"other"})", 201, 403, 403, 403, 403, 403, 401, nullptr},
      {"GET", "/api/v1/tokens/" + admin_id_, "/api/v1/tokens/" + admin_id_, "", "", 200, 403, 403, 403, 403, 403, 401,
       nullptr},
      {"DELETE", "/api/v1/tokens/{t}", "/api/v1/tokens/{t}", "", "", 204, 403, 403, 403, 403, 403, 401, token},
      {"GET", "/api/v1/audit?tenant=acme", "/api/v1/audit?tenant=other", "", "", 200, 200, 403, 200, 403, 403, 401,
       nullptr},
      {"GET", "/api/v1/audit/verify", "/api/v1/audit/verify", "", "", 200, 403, 403, 403, 403, 403, 401, nullptr},
  };
  int n = 0;
  for (const Case& c : cases) {
    struct Who {
      std::string role;
      bool own;
      int want;
    };
    for (const Who& who :
         {Who{"admin", true, c.admin}, Who{"admin", false, c.admin}, Who{"operator", true, c.operator_own},
          Who{"operator", false, c.operator_other}, Who{"viewer", true, c.viewer_own},
          Who{"viewer", false, c.viewer_other}, Who{"agent", true, c.agent}, Who{"none", true, c.none}}) {
      const std::string num = std::to_string(++n);
      const std::string tenant = who.own ? "acme" : "other";
      if (c.prepare) c.prepare(this, tenant, num);
      std::string path = Fill(who.own ? c.own_path : c.other_path, num);
      if (const size_t at = path.find("{t}"); at != std::string::npos) path.replace(at, 3, revocable);
      const std::string body = Fill(who.own ? c.own_body : c.other_body, num);
      const CurlReply r = Call(c.method, path, body, who.role == "none" ? "" : tokens_[who.role]);
      EXPECT_EQ(r.status, who.want) << c.method << " " << path << " as " << who.role << " ("
                                    << (who.own ? "own" : "other") << " tenant): " << r.body;
      if (r.status >= 400) {
        // Every error has the one shape ("field" only when the error names one).
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        EXPECT_TRUE(d.IsObject() && d.HasMember("error") && d.HasMember("message") &&
                    (!d.HasMember("field") || (d["field"].IsString() && d["field"].GetStringLength() > 0)))
            << c.method << " " << path << ": " << r.body;
      }
    }
  }
  // The table covers every route the API serves.
  for (const RouteSpec& route : ControlApi(store_, clock_).Routes()) {
    const bool listed = std::any_of(cases.begin(), cases.end(), [&](const Case& c) {
      std::string path = Fill(c.own_path.substr(0, c.own_path.find('?')), "1");
      if (const size_t at = path.find("{t}"); at != std::string::npos) path.replace(at, 3, "tok_1");
      std::vector<std::pair<std::string, std::string>> params;
      return c.method == route.method && http::MatchRoutePath(route.path, path, &params);
    });
    EXPECT_TRUE(listed) << route.method << " " << route.path << " is not in the matrix";
  }
}

TEST_P(ControlApiTest, ExpiredRevokedAndUnknownTokensAreRefused) {
  SeedWorld();
  std::string revoked_id;
  const std::string expiring = Issue("viewer", "acme", 60'000);
  const std::string revoked = Issue("viewer", "acme", 0, &revoked_id);
  EXPECT_EQ(Call("GET", "/api/v1/tenants/acme", "", expiring).status, 200);
  clock_.Advance(61s);
  CurlReply r = Call("GET", "/api/v1/tenants/acme", "", expiring);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("expired"));
  EXPECT_EQ(As("admin", "DELETE", "/api/v1/tokens/" + revoked_id).status, 204);
  r = Call("GET", "/api/v1/tenants/acme", "", revoked);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("revoked"));
  EXPECT_EQ(Call("GET", "/api/v1/tenants", "", "not-a-token").status, 403);
  r = Call("GET", "/api/v1/tenants", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer");
  // A token made through the API works at once and is shown only at creation.
  r = As("admin", "POST", "/api/v1/tokens", R"({"role":"operator","tenant":"acme","expires_in":"1h"})");
  ASSERT_EQ(r.status, 201) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  const std::string secret = d["token"].GetString();
  const std::string id = d["id"].GetString();
  EXPECT_EQ(Call("GET", "/api/v1/tenants/acme/services", "", secret).status, 200);
  r = As("admin", "GET", "/api/v1/tokens/" + id);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr(secret)));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("sha256")));
}

TEST_P(ControlApiTest, TenantBoundTokensSeeOnlyTheirTenantInListsFiltersAndPages) {
  SeedWorld();
  for (int i = 0; i < 25; ++i) {
    Seed(ObjectKind::kService,
         R"({"name":"a)" + std::to_string(i) + R"(","priority":")" + (i % 2 ? "low" : "high") + R"("})", "acme");
  }
  for (int i = 0; i < 5; ++i) Seed(ObjectKind::kService, R"({"name":"b)" + std::to_string(i) + R"("})", "other");
  auto names = [](const std::string& body, std::string* next) {
    rapidjson::Document d;
    d.Parse(body.c_str());
    std::vector<std::string> out;
    if (!d.IsObject()) return out;
    for (const auto& item : d["items"].GetArray()) out.emplace_back(item["name"].GetString());
    *next = d["next_page_token"].GetString();
    return out;
  };
  // Pages of 10 over acme's 26 services: each exactly once, in order, none of other's.
  std::vector<std::string> all;
  std::string next;
  int pages = 0;
  do {
    const CurlReply r =
        As("viewer", "GET", "/api/v1/tenants/acme/services?limit=10" + (next.empty() ? "" : "&page_token=" + next));
    ASSERT_EQ(r.status, 200) << r.body;
    for (const std::string& s : names(r.body, &next)) all.push_back(s);
    ASSERT_LT(++pages, 10);
  } while (!next.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(all.size(), 26u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 26u);
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [](const std::string& s) { return s.starts_with("b"); }), 0);
  // Filters within the tenant.
  CurlReply r = As("operator", "GET", "/api/v1/tenants/acme/services?priority=low&limit=100");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(names(r.body, &next).size(), 12u);  // a1, a3, ..., a23
  // Tenants: the viewer's list holds its tenant only, with or without a filter.
  r = As("viewer", "GET", "/api/v1/tenants");
  EXPECT_EQ(names(r.body, &next), std::vector<std::string>{"acme"});
  r = As("viewer", "GET", "/api/v1/tenants?label=tier%3Dbronze");
  EXPECT_TRUE(names(r.body, &next).empty()) << r.body;
  r = As("admin", "GET", "/api/v1/tenants?label=tier%3Dbronze");
  EXPECT_EQ(names(r.body, &next), std::vector<std::string>{"other"});
  // Policies: its own and the global ones, never another tenant's, even asked by name.
  r = As("operator", "GET", "/api/v1/policies");
  EXPECT_EQ(names(r.body, &next), (std::vector<std::string>{"acme-fast", "standard"}));
  r = As("operator", "GET", "/api/v1/policies?tenant=other");
  EXPECT_TRUE(names(r.body, &next).empty()) << r.body;
  r = As("admin", "GET", "/api/v1/policies?tenant=other");
  EXPECT_EQ(names(r.body, &next), std::vector<std::string>{"other-slow"});
  // A service cannot use another tenant's policy (it does not exist for it).
  r = As("operator", "PATCH", "/api/v1/tenants/acme/services/web", R"({"policy":"other-slow"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("field":"policy")"));
  // The audit log: the viewer reads acme's records only.
  r = As("viewer", "GET", "/api/v1/audit?limit=1000");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_GT(d["items"].Size(), 0u);
  for (const auto& a : d["items"].GetArray()) EXPECT_STREQ(a["tenant"].GetString(), "acme");
}

TEST_P(ControlApiTest, BadInputGetsTheRightStatusAndFieldAndChangesNothing) {
  SeedWorld();
  struct Bad {
    std::string method, path, body;
    int status;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {"POST", "/api/v1/tenants", "{not json", 400, ""},
      {"POST", "/api/v1/tenants", "[1,2]", 400, ""},
      {"POST", "/api/v1/tenants", R"({"name":"x"} trailing)", 400, ""},
      {"POST", "/api/v1/tenants", R"({"name":"Bad_Name"})", 422, "name"},
      {"POST", "/api/v1/tenants", R"({"name":"ok","colour":"red"})", 422, "colour"},
      {"POST", "/api/v1/tenants", R"({"name":"ok","weight":"heavy"})", 422, "weight"},
      {"POST", "/api/v1/tenants", R"({"name":"ok","quotas":{"cpu_cores":-1}})", 422, "quotas.cpu_cores"},
      {"POST", "/api/v1/tenants", R"({"name":"acme"})", 409, ""},
      {"PUT", "/api/v1/tenants/acme", R"({"name":"other"})", 422, "name"},
      {"PUT", "/api/v1/tenants/acme", R"({"weight":2,"version":99})", 409, "version"},
      {"POST", "/api/v1/tenants/acme/services", R"({"name":"x","replicas":{"min":5,"max":2}})", 422, "replicas.min"},
      {"POST", "/api/v1/tenants/acme/services", R"({"name":"x","priority":"urgent"})", 422, "priority"},
      {"POST", "/api/v1/tenants/acme/services", R"({"name":"x","target_utilization":{"cpu":1.5}})", 422,
       "target_utilization.cpu"},
      {"POST", "/api/v1/tenants/acme/services", R"({"name":"x","executor":{"type":"webhook"}})", 422, "executor.url"},
      {"POST", "/api/v1/tenants/acme/services", R"({"name":"x","policy":"nope"})", 422, "policy"},
      {"POST", "/api/v1/policies",
       R"({"name":"x","behavior":{"scaleUp":{"policies":[{"type":"Pods","value":0,"periodSeconds":15}]}}})", 422,
       "behavior.scaleUp.policies[0].value"},
      {"POST", "/api/v1/policies", R"({"name":"x","forecaster":"magic"})", 422, "forecaster"},
      {"POST", "/api/v1/policies", R"({"name":"x","horizon":"soon"})", 422, "horizon"},
      {"PATCH", "/api/v1/tenants/acme", "{", 400, ""},
      {"PATCH", "/api/v1/tenants/nope", R"({"weight":2})", 404, ""},
      {"DELETE", "/api/v1/policies/acme-fast", "", 409, ""},  // web uses it
      {"GET", "/api/v1/tenants?limit=0", "", 400, "limit"},
      {"GET", "/api/v1/tenants?page_token=%%%", "", 400, ""},
      {"GET", "/api/v1/tenants?page_token=garbage", "", 400, "page_token"},
      {"POST", "/api/v1/tokens", R"({"role":"root"})", 422, "role"},
      {"POST", "/api/v1/tokens", R"({"role":"viewer"})", 422, "tenant"},
  };
  auto verify_before = store_->VerifyAudit();
  ASSERT_TRUE(verify_before.ok());
  const std::string acme_before = As("admin", "GET", "/api/v1/tenants/acme").body;
  for (const Bad& b : bad) {
    const CurlReply r = As("admin", b.method, b.path, b.body);
    EXPECT_EQ(r.status, b.status) << b.method << " " << b.path << " " << b.body << ": " << r.body;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    ASSERT_TRUE(d.IsObject()) << r.body;
    if (!b.field.empty()) {
      EXPECT_STREQ(d["field"].GetString(), b.field.c_str()) << b.body << ": " << r.body;
    }
  }
  // An oversized body: 413 before any handler.
  const CurlReply big = As("admin", "POST", "/api/v1/tenants",
                           R"({"name":"big","display_name":")" + std::string(70 << 10, 'x') + R"("})");
  EXPECT_EQ(big.status, 413);
  // Nothing changed, and every refused write was audited with its status.
  EXPECT_EQ(As("admin", "GET", "/api/v1/tenants/acme").body, acme_before);
  auto verify_after = store_->VerifyAudit();
  ASSERT_TRUE(verify_after.ok());
  EXPECT_TRUE(verify_after->ok) << verify_after->reason;
  const int writes =
      static_cast<int>(std::count_if(bad.begin(), bad.end(), [](const Bad& b) { return b.method != "GET"; }));
  EXPECT_EQ(verify_after->records - verify_before->records, writes);
}

// RapidJSON's recursive parser, the merge patch and the writer recurse once per
// level: 100,000 '[' took a worker thread's stack and the process with it. Every
// route that reads a JSON body refuses nesting past 64 levels up front (the
// integration test tests/integration/abuse_test.cc sends the 100,000-level ones).
TEST_P(ControlApiTest, DeeplyNestedBodiesAreRefusedBeforeAnythingRecurses) {
  SeedWorld();
  std::string deep_object;
  for (int i = 0; i < 12'000; ++i) deep_object += R"({"a":)";
  const std::string deep_array(60'000, '[');
  struct Deep {
    std::string role, method, path, body;
  };
  const std::vector<Deep> cases = {
      {"admin", "POST", "/api/v1/tenants", deep_array},
      {"admin", "POST", "/api/v1/tenants", deep_object},
      {"admin", "PUT", "/api/v1/tenants/acme", deep_object},
      {"admin", "PATCH", "/api/v1/tenants/acme", deep_object},
      {"operator", "POST", "/api/v1/tenants/acme/services", deep_object},
      {"operator", "PATCH", "/api/v1/tenants/acme/services/web", deep_array},
      {"operator", "POST", "/api/v1/policies", deep_object},
      {"admin", "POST", "/api/v1/tokens", deep_array},
      {"agent", "POST", "/api/v1/tenants/acme/services/web/replicas", deep_object},
  };
  const std::string acme_before = As("admin", "GET", "/api/v1/tenants/acme").body;
  for (const Deep& c : cases) {
    const CurlReply r = As(c.role, c.method, c.path, c.body);
    EXPECT_EQ(r.status, 400) << c.method << " " << c.path << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr(R"("error":"bad_request")")) << c.method << " " << c.path;
    EXPECT_THAT(r.body, HasSubstr("nested more than 64 levels")) << c.method << " " << c.path << ": " << r.body;
  }
  EXPECT_EQ(As("admin", "GET", "/api/v1/tenants/acme").body, acme_before);
  // 64 levels pass the bound and meet the usual validation.
  std::string deep_ok = R"({"name":"deep","labels":)";
  for (int i = 0; i < 62; ++i) deep_ok += "[";
  deep_ok += std::string(62, ']') + "}";
  const CurlReply ok = As("admin", "POST", "/api/v1/tenants", deep_ok);
  EXPECT_EQ(ok.status, 422) << ok.body;
  EXPECT_THAT(ok.body, HasSubstr(R"("field":"labels")"));
}

TEST_P(ControlApiTest, WritesAreVersionedAndAuditedWithBeforeAndAfter) {
  SeedWorld();
  CurlReply r = As("operator", "PATCH", "/api/v1/tenants/acme/services/web", R"({"replicas":{"max":40}})");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  const int64_t version = d["version"].GetInt64();
  EXPECT_EQ(version, 2);
  EXPECT_EQ(d["replicas"]["max"].GetInt64(), 40);
  EXPECT_STREQ(d["priority"].GetString(), "critical");  // untouched by the patch
  const std::string request_id = r.Header("X-Request-Id");
  EXPECT_FALSE(request_id.empty());
  // A stale version is refused; the current one passes.
  r = As("operator", "PUT", "/api/v1/tenants/acme/services/web", R"({"priority":"high","version":1})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = As("operator", "PUT", "/api/v1/tenants/acme/services/web", R"({"priority":"high","version":2})");
  EXPECT_EQ(r.status, 200) << r.body;
  // The patch's record: who, what, before and after, result, request id.
  auto page = store_->ListAudit({.tenant = "acme", .kind = "service", .after_seq = 0, .limit = 1000});
  ASSERT_TRUE(page.ok());
  const AuditRecord* patch = nullptr;
  for (const AuditRecord& a : page->items) {
    if (a.request_id == request_id) patch = &a;
  }
  ASSERT_NE(patch, nullptr);
  EXPECT_EQ(patch->action, "patch");
  EXPECT_EQ(patch->actor_role, "operator");
  EXPECT_EQ(patch->actor_tenant, "acme");
  EXPECT_EQ(patch->name, "web");
  EXPECT_EQ(patch->status, 200);
  EXPECT_THAT(patch->before_json, HasSubstr(R"("max":10)"));
  EXPECT_THAT(patch->after_json, HasSubstr(R"("max":40)"));
  // The stale PUT was audited as refused.
  EXPECT_EQ(std::count_if(page->items.begin(), page->items.end(), [](const AuditRecord& a) { return a.status == 409; }),
            1);
  r = As("admin", "GET", "/api/v1/audit/verify");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("ok":true)"));
}

TEST_P(ControlApiTest, TenantBoundTokensReadOnlyTheirDemandAndPushNothing) {
  SeedWorld();
  EXPECT_EQ(As("viewer", "GET", "/api/v1/series?resource=cpu").status, 200);
  EXPECT_EQ(As("viewer", "GET", "/api/v1/series?tenant=acme&resource=cpu").status, 200);
  CurlReply r = As("viewer", "GET", "/api/v1/series?tenant=other&resource=cpu");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr(R"("field":"tenant")"));
  EXPECT_EQ(As("operator", "GET", "/api/v1/forecasts?tenant=other").status, 403);
  EXPECT_EQ(As("operator", "GET", "/api/v1/forecasts").status, 200);
  EXPECT_EQ(As("operator", "POST", "/api/v1/ingest", R"({"samples":[]})").status, 403);
  EXPECT_EQ(As("admin", "GET", "/api/v1/series?tenant=other&resource=cpu").status, 200);
  // Raw series: an agent pushes both tenants'; operators and viewers read only their own.
  ASSERT_EQ(As("agent", "POST", "/api/v1/ingest",
               R"({"series":[{"labels":{"__name__":"up","tenant":"acme"},"samples":[[1700000000000,1]]},)"
               R"({"labels":{"__name__":"up","tenant":"other"},"samples":[[1700000000000,2]]}]})")
                .status,
            200);
  for (const char* role : {"operator", "viewer"}) {
    SCOPED_TRACE(role);
    r = As(role, "GET", "/api/v1/raw?match=up");
    EXPECT_EQ(r.status, 200);
    EXPECT_THAT(r.body, HasSubstr(R"("tenant":"acme")"));
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr(R"("tenant":"other")")));
    EXPECT_EQ(As(role, "GET", "/api/v1/raw?match=up&tenant=acme").body, r.body);
    r = As(role, "GET", "/api/v1/raw?match=up&tenant=other");
    EXPECT_EQ(r.status, 403);
    EXPECT_THAT(r.body, HasSubstr(R"("field":"tenant")"));
    EXPECT_EQ(As(role, "GET", "/api/v1/raw?match=up&tenant=acme&tenant=other").status, 403);
  }
  for (const char* role : {"agent", "admin"}) {
    r = As(role, "GET", "/api/v1/raw?match=up");
    EXPECT_EQ(r.status, 200) << role;
    EXPECT_THAT(r.body, HasSubstr(R"("tenant":"other")")) << role << " reads every tenant's series";
  }
}

TEST_P(ControlApiTest, TenantsWithActiveTokensOrServicesCannotBeDeleted) {
  SeedWorld();
  Seed(ObjectKind::kTenant, R"({"name":"gone"})");
  std::string id;
  Issue("viewer", "gone", 0, &id);
  CurlReply r = As("admin", "DELETE", "/api/v1/tenants/gone");
  EXPECT_EQ(r.status, 409);
  EXPECT_THAT(r.body, HasSubstr(id));
  ASSERT_EQ(As("admin", "DELETE", "/api/v1/tokens/" + id).status, 204);
  EXPECT_EQ(As("admin", "DELETE", "/api/v1/tenants/gone?version=7").status, 409);  // stale version
  EXPECT_EQ(As("admin", "DELETE", "/api/v1/tenants/gone?version=1").status, 204);
  EXPECT_EQ(As("admin", "GET", "/api/v1/tenants/gone").status, 404);
  // Unknown list parameters are refused rather than ignored.
  r = As("admin", "GET", "/api/v1/tenants?mode=off");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"("field":"mode")"));
}

// Every refused write is audited, whatever its path names: here a tenant of
// 6,000 random letters, which no index of the audit may turn away.
TEST_P(ControlApiTest, ARefusedWriteNamingAVeryLongTenantIsAudited) {
  SeedWorld();
  std::mt19937 random(17);
  std::string tenant;
  for (int i = 0; i < 6000; ++i) tenant += static_cast<char>('a' + random() % 26);
  const auto before = store_->VerifyAudit();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const CurlReply r = As("admin", "PUT", "/api/v1/tenants/" + tenant, R"({"weight":2})");
  EXPECT_EQ(r.status, 404) << r.body.substr(0, 200);
  const auto after = store_->VerifyAudit();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->ok) << after->reason;
  ASSERT_EQ(after->records, before->records + 1) << "the refused PUT was not audited";
  const auto page =
      store_->ListAudit({.tenant = std::nullopt, .kind = "tenant", .after_seq = before->records, .limit = 10});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].action, "replace");
  EXPECT_EQ(page->items[0].status, 404);
}

// Text that is not UTF-8, or holds a NUL, is refused alike on both stores
// (PostgreSQL keeps text as UTF-8 C strings), and the refused requests are
// still audited, their bytes kept as U+FFFD.
TEST_P(ControlApiTest, TextThatIsNotUtf8IsRefusedAndItsRequestAudited) {
  SeedWorld();
  const auto before = store_->VerifyAudit();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  CurlReply r = As("admin", "POST", "/api/v1/tenants", "{\"name\":\"beta\",\"display_name\":\"caf\xe9\"}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("malformed JSON"));
  // An escaped lone surrogate, which RapidJSON would decode to bytes that are not UTF-8.
  r = As("admin", "POST", "/api/v1/tenants", R"({"name":"beta","display_name":"caf\udce9"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("lone surrogate"));
  r = As("admin", "POST", "/api/v1/tokens", R"({"name":"beta\udce9","role":"viewer","tenant":"acme"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("lone surrogate"));
  r = As("admin", "POST", "/api/v1/tokens", R"({"name":"a\u0000b","role":"viewer","tenant":"acme"})");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("field":"name")"));
  r = As("admin", "PUT", "/api/v1/tenants/caf%E9", R"({"weight":2})");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(As("admin", "GET", "/api/v1/tenants/acme").status, 200);  // nothing broke
  const auto after = store_->VerifyAudit();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->ok) << after->reason;
  const auto page =
      store_->ListAudit({.tenant = std::nullopt, .kind = std::nullopt, .after_seq = before->records, .limit = 10});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  bool renamed = false;
  for (const AuditRecord& a : page->items) renamed = renamed || a.name == "caf\xef\xbf\xbd";
  EXPECT_TRUE(renamed) << "the refused PUT's record keeps the name as caf U+FFFD";
}

TEST_P(ControlApiTest, EachTokenIsRateLimitedWithRetryAfter) {
  Start(2);  // 2 a second, bursts of 4
  SeedWorld();
  int limited = 0;
  CurlReply last;
  for (int i = 0; i < 6; ++i) {
    last = As("viewer", "GET", "/api/v1/tenants/acme");
    if (last.status == 429) ++limited;
  }
  EXPECT_EQ(limited, 2);
  EXPECT_EQ(last.status, 429);
  EXPECT_EQ(last.Header("Retry-After"), "1");
  // Another token has its own bucket; time refills the first.
  EXPECT_EQ(As("admin", "GET", "/api/v1/tenants/acme").status, 200);
  clock_.Advance(1s);
  EXPECT_EQ(As("viewer", "GET", "/api/v1/tenants/acme").status, 200);
}

}  // namespace
}  // namespace prescale::aggregator
