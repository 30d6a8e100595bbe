// Every route of a fully wired aggregator, walked from the front's one table:
// without a token, with an unknown one, with a role the table does not allow,
// and with a malformed body. Each answer must have the code the table and
// HttpStatusOf say and the one error envelope {"error","message"[,"field"]}.
// With each control store (Stores/FrontTest.*/sqlite, /postgres).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/objects.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

struct Reply {
  int status = 0;
  std::string error;  // the envelope's code
  bool envelope = false;
  bool field_ok = false;  // "field" absent, or a non-empty string
};

Reply Parse(const http::HttpResponse& r) {
  Reply out;
  out.status = r.status;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  out.envelope = r.content_type == "application/json" && d.IsObject() && d.HasMember("error") &&
                 d["error"].IsString() && d.HasMember("message") && d["message"].IsString() &&
                 d["message"].GetStringLength() > 0;
  if (out.envelope) out.error = d["error"].GetString();
  out.field_ok = !d.IsObject() || !d.HasMember("field") || (d["field"].IsString() && d["field"].GetStringLength() > 0);
  return out;
}

class FrontTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    AggregatorConfig config;
    for (const auto& [role, tenant] : std::vector<std::pair<std::string, std::string>>{
             {"admin", ""}, {"operator", "acme"}, {"viewer", "acme"}, {"agent", ""}}) {
      config.tokens.push_back({role + "-token", Sha256Hex(role + "-secret"), role, tenant});
    }
    config.api_requests_per_second = 0;
    aggregator_ = std::make_unique<Aggregator>(config, clock_, [](const AggregatorConfig&, const Clock&) {
      return std::map<std::string, std::unique_ptr<Executor>>{};
    });
    std::unique_ptr<ControlStore> store = stores_.OpenNew();
    if (store == nullptr) return;  // skipped, or failed saying why
    aggregator_->UseControlStore(std::move(store));
    // The objects the paths name, so that a PATCH reaches its body.
    AuditRecord audit;
    audit.actor = "test";
    audit.actor_role = "admin";
    for (const auto& [kind, body] :
         std::vector<std::pair<ObjectKind, std::string>>{{ObjectKind::kTenant, R"({"name":"acme"})"},
                                                         {ObjectKind::kPolicy, R"({"name":"p"})"},
                                                         {ObjectKind::kService, R"({"name":"web"})"}}) {
      auto built = BuildObject(kind, body, {kind, kind == ObjectKind::kService ? "acme" : "", ""});
      ASSERT_TRUE(built.ok()) << built.status().ToString();
      ASSERT_TRUE(aggregator_->control_store()->Put(built->object, WriteMode::kUpsert, std::nullopt, audit).ok());
    }
  }

  // The request for a spec, its path parameters filled as the server would.
  static http::HttpRequest Request(const RouteSpec& spec, const std::string& token, std::string body) {
    http::HttpRequest r;
    r.method = spec.method;
    r.path = spec.path;
    for (const auto& [param, value] : std::vector<std::pair<std::string, std::string>>{
             {"tenant", "acme"}, {"service", "web"}, {"policy", "p"}, {"token", "tok_0123456789abcdef"}}) {
      const std::string braced = "{" + param + "}";
      if (const size_t at = r.path.find(braced); at != std::string::npos) {
        r.path.replace(at, braced.size(), value);
        r.path_params.emplace_back(param, value);
      }
    }
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    r.body = std::move(body);
    return r;
  }

  Reply Call(const RouteSpec& spec, const std::string& token, std::string body = "") {
    return Parse(aggregator_->front().Serve(spec, Request(spec, token, std::move(body))));
  }

  testing::FakeClock clock_;
  testing::TestControlStores stores_{GetParam()};
  std::unique_ptr<Aggregator> aggregator_;
};

INSTANTIATE_TEST_SUITE_P(Stores, FrontTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(FrontTest, EveryRouteAnswersAuthErrorsWithTheOneEnvelope) {
  const auto& table = aggregator_->front().table();
  ASSERT_GE(table.size(), 30u) << "ingest, demand, scaling, control and the public routes";
  std::set<std::string> names;
  for (const RouteSpec& spec : table) {
    SCOPED_TRACE(spec.method + " " + spec.path);
    names.insert(spec.name);
    if (spec.access.roles.empty()) {
      EXPECT_LT(Call(spec, "").status, 400) << "a public route needs no token";
      continue;
    }
    const Reply missing = Call(spec, "");
    EXPECT_EQ(missing.status, HttpStatusOf(StatusCode::kUnauthenticated));
    EXPECT_TRUE(missing.envelope);
    EXPECT_EQ(missing.error, "unauthorized");
    EXPECT_TRUE(missing.field_ok);
    const Reply unknown = Call(spec, "not-a-token");
    EXPECT_EQ(unknown.status, HttpStatusOf(StatusCode::kPermissionDenied));
    EXPECT_TRUE(unknown.envelope);
    EXPECT_EQ(unknown.error, "forbidden");
  }
  EXPECT_EQ(names.count("write") + names.count("ingest") + names.count("series") + names.count("decisions") +
                names.count("/api/v1/tenants"),
            5u);
}

TEST_P(FrontTest, EveryRoleTheTableRefusesGets403AndEveryRoleItAllowsGetsPast) {
  int refused = 0;
  for (const RouteSpec& spec : aggregator_->front().table()) {
    if (spec.access.roles.empty()) continue;
    SCOPED_TRACE(spec.method + " " + spec.path);
    for (const char* role : {"admin", "operator", "viewer", "agent"}) {
      const Role r = *ParseRole(role);
      const Reply reply = Call(spec, std::string(role) + "-secret");
      if (!spec.access.Allows(r)) {
        ++refused;
        EXPECT_EQ(reply.status, 403) << role;
        EXPECT_TRUE(reply.envelope) << role;
        EXPECT_EQ(reply.error, "forbidden") << role;
      } else {
        EXPECT_NE(reply.status, 401) << role;
        EXPECT_TRUE(reply.status < 400 || reply.envelope) << role << " " << reply.status;
        EXPECT_TRUE(reply.field_ok) << role;
      }
    }
  }
  EXPECT_GT(refused, 20) << "the table refuses agents the control API, viewers every change, ...";
}

TEST_P(FrontTest, MalformedBodiesAre400Or422WithTheEnvelope) {
  int bodies = 0;
  for (const RouteSpec& spec : aggregator_->front().table()) {
    if (spec.method != "POST" && spec.method != "PUT" && spec.method != "PATCH") continue;
    SCOPED_TRACE(spec.method + " " + spec.path);
    ++bodies;
    const Reply reply = Call(spec, "admin-secret", "{\"not\": json");
    EXPECT_TRUE(reply.status == 400 || reply.status == 422) << reply.status;
    EXPECT_TRUE(reply.envelope);
    EXPECT_EQ(reply.error, reply.status == 400 ? "bad_request" : "invalid");
    EXPECT_TRUE(reply.field_ok);
  }
  EXPECT_GE(bodies, 10);
}

TEST(HttpStatusOf, MapsEveryCodeOnce) {
  EXPECT_EQ(HttpStatusOf(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusOf(StatusCode::kUnprocessable), 422);
  EXPECT_EQ(HttpStatusOf(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(StatusCode::kConflict), 409);
  EXPECT_EQ(HttpStatusOf(StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusOf(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusOf(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(StatusCode::kInternal), 500);
  const http::HttpResponse r = ErrorResponse(Status::Unprocessable("bad").WithField("replicas.min"));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body, R"({"error":"invalid","message":"bad","field":"replicas.min"})"
                    "\n");
  EXPECT_EQ(ErrorResponse(Status::NotFound("gone")).body, R"({"error":"not_found","message":"gone"})"
                                                          "\n");
}

}  // namespace
}  // namespace prescale::aggregator
