#include "prescale/cli/objects.h"

#include <gtest/gtest.h>

#include "prescale/cli/client.h"

namespace prescale::cli {
namespace {

TEST(ParseObjectRef, NamesAndPaths) {
  auto r = ParseObjectRef("svc", "acme/web", "");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->Path(), "/api/v1/tenants/acme/services/web");
  EXPECT_EQ(r->CollectionPath(), "/api/v1/tenants/acme/services");
  EXPECT_EQ(r->Describe(), "service acme/web");
  r = ParseObjectRef("service", "web", "acme");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Path(), "/api/v1/tenants/acme/services/web");
  r = ParseObjectRef("tenants", "acme", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Path(), "/api/v1/tenants/acme");
  EXPECT_EQ(r->CollectionPath(), "/api/v1/tenants");
  r = ParseObjectRef("pol", "fast", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Path(), "/api/v1/policies/fast");
  EXPECT_EQ(r->Describe(), "policy fast");
}

TEST(ParseObjectRef, RefusesWhatNamesNothing) {
  for (auto [kind, name, tenant] : {std::tuple{"service", "web", ""},
                                    {"service", "acme/web", "beta"},
                                    {"tenant", "Acme", ""},
                                    {"tenant", "a/b", ""},
                                    {"widget", "x", ""},
                                    {"policy", "", ""},
                                    {"service", "acme/", ""},
                                    {"service", "UP/web", ""}}) {
    auto r = ParseObjectRef(kind, name, tenant);
    EXPECT_FALSE(r.ok()) << kind << " " << name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << kind << " " << name;
  }
}

TEST(Canonicalize, AsTheAggregatorStoresItWithTheVersionApart) {
  auto a = Canonicalize(ManifestKind::kService,
                        R"({"tenant":"acme","name":"web","replicas":{"max":20},"version":4,"created_at":"x"})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->ref.Describe(), "service acme/web");
  EXPECT_EQ(a->version, 4);
  EXPECT_EQ(a->spec_json.find("version"), std::string::npos);
  // The same object written differently is the same canonical text.
  auto b = Canonicalize(ManifestKind::kService,
                        R"({"replicas":{"max":20,"min":1},"name":"web","tenant":"acme","priority":"normal"})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->spec_json, b->spec_json);
  EXPECT_FALSE(b->version.has_value());
  auto bad = Canonicalize(ManifestKind::kTenant, R"({"name":"acme","weight":-1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnprocessable);
  EXPECT_EQ(bad.status().field(), "weight");
  EXPECT_EQ(ExitCodeOf(bad.status()), kExitInvalid);
  bad = Canonicalize(ManifestKind::kPolicy, "[1]");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnprocessable);
}

TEST(WithVersion, AddsTheVersionMember) {
  EXPECT_EQ(WithVersion(R"({"name":"a"})", 3), R"({"name":"a","version":3})");
  EXPECT_EQ(WithVersion("{}", 1), R"({"version":1})");
}

TEST(DiffJson, FieldByFieldInTheNewOrderThenTheRemovedOnes) {
  auto d = DiffJson(R"({"name":"web","replicas":{"min":2,"max":20},"labels":{"a":"1","b":"2"},"p":[1,2]})",
                    R"({"name":"web","replicas":{"min":2,"max":30},"labels":{"a":"1"},"p":[1],"new":{}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d,
            "  - replicas.max: 20\n"
            "  + replicas.max: 30\n"
            "  + new: {}\n"
            "  - labels.b: \"2\"\n"
            "  - p[1]: 2\n");
  d = DiffJson(R"({"a":{"b":[{"c":1}]}})", R"({"a":{"b":[{"c":1}]}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "");
  d = DiffJson("", R"({"name":"acme","q":{}})", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "+ name: \"acme\"\n+ q: {}\n");
  EXPECT_FALSE(DiffJson("{", "{}").ok());
}

TEST(ApiError, NamesTheFieldOnceTheStatusAndAHint) {
  Status s = ApiError(422, R"({"error":"invalid","message":"must be > 0","field":"weight"})", "PUT /api/v1/tenants/a",
                      "--token-file t");
  EXPECT_EQ(s.code(), StatusCode::kUnprocessable);
  EXPECT_EQ(s.field(), "weight");
  EXPECT_EQ(s.message(), "PUT /api/v1/tenants/a: 422 invalid: weight: must be > 0");
  EXPECT_EQ(ExitCodeOf(s), kExitInvalid);
  s = ApiError(422, R"({"error":"invalid","message":"weight: must be > 0","field":"weight"})", "PUT /x", "");
  EXPECT_EQ(s.message(), "PUT /x: 422 invalid: weight: must be > 0");
  s = ApiError(409, R"({"error":"conflict","message":"version 3 is stale","field":"version"})", "PUT /x", "");
  EXPECT_EQ(ExitCodeOf(s), kExitConflict);
  EXPECT_NE(s.message().find("changed by someone else since it was read"), std::string::npos);
  s = ApiError(401, R"({"error":"unauthorized","message":"no bearer token"})", "GET /x", "");
  EXPECT_EQ(ExitCodeOf(s), kExitDenied);
  EXPECT_NE(s.message().find("hint: no token was sent"), std::string::npos);
  s = ApiError(403, R"({"error":"forbidden","message":"viewer tokens may only read"})", "DELETE /x", "$PRESCALE_TOKEN");
  EXPECT_EQ(ExitCodeOf(s), kExitDenied);
  EXPECT_NE(s.message().find("the token from $PRESCALE_TOKEN may not do this"), std::string::npos) << s.message();
  s = ApiError(404, "not json", "GET /x", "");
  EXPECT_EQ(s.message(), "GET /x: 404 not found: not json");
  EXPECT_EQ(ExitCodeOf(s), kExitNotFound);
  s = ApiError(503, "", "GET /x", "");
  EXPECT_EQ(ExitCodeOf(s), kExitError);
  EXPECT_EQ(ExitCodeOf(Status::InvalidArgument("usage")), kExitUsage);
}

TEST(QueryEscape, KeepsUnreservedCharacters) {
  EXPECT_EQ(QueryEscape("tier=gold & more/é"), "tier%3Dgold%20%26%20more%2F%C3%A9");
  EXPECT_EQ(QueryEscape("a-b_c.d~"), "a-b_c.d~");
}

}  // namespace
}  // namespace prescale::cli
