// Authenticator: the one place where the aggregator decides who a request is
// from. Requests carry "Authorization: Bearer <token>"; tokens are known only
// by their SHA-256 and compared in constant time. The result is a Principal
// with a role, so a role-based scheme (admins, viewers) can extend this class
// without touching the handlers. Immutable after construction; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "prescale/aggregator/config.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

enum class Role {
  kAgent,      // may push samples (and read them back through /api/v1/raw)
  kAnonymous,  // no tokens configured: ingest is open
};

std::string_view RoleName(Role role);

struct Principal {
  std::string name;
  Role role = Role::kAnonymous;
};

struct AuthResult {
  enum class Outcome { kOk, kMissing, kUnknown };
  Outcome outcome = Outcome::kMissing;
  Principal principal;  // set when kOk
  std::string reason;   // set otherwise

  bool ok() const { return outcome == Outcome::kOk; }
  // 401 (missing or malformed credentials, with WWW-Authenticate) or 403 (unknown token),
  // as a plain-text reason; only for !ok().
  http::HttpResponse ToResponse() const;
  // The same as JSON: {"error":"unauthorized"|"forbidden","message":reason}.
  http::HttpResponse ToJsonResponse() const;
};

// Hex SHA-256 of `data` (lowercase), as the config stores it.
std::string Sha256Hex(std::string_view data);

class Authenticator {
 public:
  explicit Authenticator(const std::vector<TokenConfig>& tokens);

  // With no tokens configured every request is the anonymous principal.
  bool open() const { return tokens_.empty(); }
  // Checks the Authorization header value of a request.
  AuthResult Authenticate(std::string_view authorization_header) const;
  AuthResult Authenticate(const http::HttpRequest& request) const;

 private:
  struct Entry {
    std::string name;
    unsigned char hash[32];
    Role role;
  };
  std::vector<Entry> tokens_;
};

}  // namespace prescale::aggregator
