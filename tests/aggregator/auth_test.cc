#include "prescale/aggregator/control/auth.h"

#include <gtest/gtest.h>

#include "prescale/aggregator/control/objects.h"
#include "prescale/base/clock.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"

namespace prescale::aggregator {
namespace {

Authenticator TwoTokens() {
  return Authenticator(
      {{"node-a", Sha256Hex("secret-a"), "agent", ""}, {"node-b", Sha256Hex("secret-b"), "agent", ""}});
}

TEST(Sha256Hex, MatchesKnownDigest) {
  // printf %s abc | sha256sum
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Authenticator, KnownTokenYieldsItsPrincipal) {
  const Authenticator auth = TwoTokens();
  EXPECT_TRUE(auth.HasTokens());
  AuthResult r = auth.Authenticate("Bearer secret-b");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.principal.name, "node-b");
  EXPECT_EQ(r.principal.role, Role::kAgent);
  EXPECT_EQ(RoleName(r.principal.role), "agent");
  // The scheme is case-insensitive (RFC 7235); surrounding blanks are ignored.
  r = auth.Authenticate("bearer  secret-a ");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.principal.name, "node-a");
}

TEST(Authenticator, MissingOrMalformedHeaderIs401) {
  const Authenticator auth = TwoTokens();
  for (const char* header : {"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "secret-a"}) {
    const AuthResult r = auth.Authenticate(header);
    EXPECT_EQ(r.outcome, AuthResult::Outcome::kMissing) << header;
    const Status s = r.ToStatus();
    EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << header;
    EXPECT_FALSE(s.message().empty());
  }
}

TEST(Authenticator, UnknownTokenIs403) {
  const Authenticator auth = TwoTokens();
  for (const char* header : {"Bearer secret-c", "Bearer secret-a2", "Bearer SECRET-A"}) {
    const AuthResult r = auth.Authenticate(header);
    EXPECT_EQ(r.outcome, AuthResult::Outcome::kUnknown) << header;
    EXPECT_EQ(r.ToStatus().code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(r.reason, "unknown token");
  }
}

TEST(Authenticator, NoTokensAuthenticatesNobody) {
  // No config tokens is no longer "open": a missing header is 401 and any token unknown.
  const Authenticator auth({});
  EXPECT_FALSE(auth.HasTokens());
  AuthResult r = auth.Authenticate("");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.outcome, AuthResult::Outcome::kMissing);
  EXPECT_EQ(r.ToStatus().code(), StatusCode::kUnauthenticated);
  r = auth.Authenticate("Bearer anything");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.outcome, AuthResult::Outcome::kUnknown);
  EXPECT_EQ(r.ToStatus().code(), StatusCode::kPermissionDenied);
}

// Tokens kept in a control store, on both stores (Stores/AuthenticatorWithStore.*/sqlite, /postgres).
class AuthenticatorWithStore : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override { store_ = stores_.OpenNew(); }  // null after a skip, or a failure saying why

  testing::TestControlStores stores_{GetParam()};
  std::unique_ptr<ControlStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, AuthenticatorWithStore, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(AuthenticatorWithStore, StoreTokensCountAsTokensWhileActive) {
  testing::FakeClock clock;
  Authenticator auth({});
  auth.UseStore(store_.get(), &clock);
  EXPECT_FALSE(auth.HasTokens()) << "an empty store holds no token";
  AuditRecord actor;
  actor.actor = "test";
  actor.actor_role = "admin";
  const int64_t now_ms = ToUnixMillis(clock.Now());
  auto issued = IssueToken(store_.get(), {"n1", "agent", "", 60'000}, now_ms, actor);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_TRUE(auth.HasTokens());
  const AuthResult r = auth.Authenticate("Bearer " + issued->secret);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.principal.role, Role::kAgent);
  clock.Advance(std::chrono::seconds(61));
  EXPECT_FALSE(auth.HasTokens()) << "its only token expired";
  EXPECT_EQ(auth.Authenticate("Bearer " + issued->secret).outcome, AuthResult::Outcome::kUnknown);
}

TEST(Authenticator, ReadsTheHeaderFromARequest) {
  const Authenticator auth = TwoTokens();
  http::HttpRequest req;
  req.headers.emplace_back("authorization", "Bearer secret-a");
  EXPECT_TRUE(auth.Authenticate(req).ok());
}

}  // namespace
}  // namespace prescale::aggregator
