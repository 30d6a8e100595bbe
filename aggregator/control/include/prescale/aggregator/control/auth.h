// Authenticator: the one place where the aggregator decides who a request is
// from. Requests carry "Authorization: Bearer <token>"; tokens are known only
// by their SHA-256: those of the config (compared in constant time) and those
// of the control store (looked up by hash; revoked and expired ones refused).
// The result is a Principal with a role and, for operators and viewers, a
// tenant. A request without a known token has no principal here: whether an
// anonymous push may pass is the front's decision (allow_anonymous_push).
// Thread-safe; the config tokens change only through SetTokens (a reload).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

// A token, stored only as the SHA-256 of the secret.
struct TokenConfig {
  std::string name;
  std::string sha256_hex;      // 64 lowercase hex digits (the config writes "sha256:<hex>")
  std::string role = "agent";  // "admin", "operator", "viewer", "agent", "monitor"
  std::string tenant;          // required for operator and viewer
};

enum class Role {
  kAdmin,      // everything
  kOperator,   // within its tenant: services and policies, scaling
  kViewer,     // within its tenant: read
  kAgent,      // pushes, directives and the data plane's reads (every tenant); no control API
  kMonitor,    // scrapes /metrics (every tenant's usage and decisions); nothing else
  kAnonymous,  // no token: only pushes, and only with allow_anonymous_push (never reads, never the control API)
};

std::string_view RoleName(Role role);
// "admin", "operator", "viewer", "agent", "monitor"; nullopt for anything else.
std::optional<Role> ParseRole(std::string_view name);

struct Principal {
  std::string name;  // the config token's name or the store token's id
  Role role = Role::kAnonymous;
  std::string tenant;  // operators and viewers: the only tenant they may touch
};

struct AuthResult {
  enum class Outcome { kOk, kMissing, kUnknown };
  Outcome outcome = Outcome::kMissing;
  Principal principal;  // set when kOk
  std::string reason;   // set otherwise

  bool ok() const { return outcome == Outcome::kOk; }
  // Unauthenticated (missing or malformed credentials: 401) or PermissionDenied
  // (an unknown token: 403) with the reason; only for !ok().
  Status ToStatus() const;
};

// Hex SHA-256 of `data` (lowercase), as the config stores it.
std::string Sha256Hex(std::string_view data);

class Authenticator {
 public:
  explicit Authenticator(const std::vector<TokenConfig>& tokens);
  // Replaces the config tokens (a reload): every request from now on is
  // checked against the new set; a token no longer in it is refused at once.
  void SetTokens(const std::vector<TokenConfig>& tokens);
  // Also accept the tokens of `store` (not owned; outlives this), expiring by `clock`.
  void UseStore(class ControlStore* store, const Clock* clock) {
    store_ = store;
    clock_ = clock;
  }

  // Whether any token could authenticate: one in the config, or an active
  // (neither revoked nor expired) one in the attached store.
  bool HasTokens() const;
  // Checks the Authorization header value of a request: kOk with the token's
  // principal, kMissing (no or malformed header) or kUnknown (unknown,
  // revoked or expired token), whether or not any token exists.
  AuthResult Authenticate(std::string_view authorization_header) const;
  AuthResult Authenticate(const http::HttpRequest& request) const;

 private:
  struct Entry {
    std::string name;
    unsigned char hash[32];
    Role role;
    std::string tenant;
  };
  AuthResult Identify(std::string_view authorization_header) const;
  static std::vector<Entry> EntriesOf(const std::vector<TokenConfig>& tokens);
  std::shared_ptr<const std::vector<Entry>> Tokens() const;

  mutable std::mutex mu_;                             // guards tokens_ (the pointer, not what it points to)
  std::shared_ptr<const std::vector<Entry>> tokens_;  // never null
  ControlStore* store_ = nullptr;
  const Clock* clock_ = nullptr;
};

}  // namespace prescale::aggregator
