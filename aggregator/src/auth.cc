#include "prescale/aggregator/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cstring>

namespace prescale::aggregator {
namespace {

bool Sha256(std::string_view data, unsigned char out[32]) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == 32;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAgent: return "agent";
    case Role::kAnonymous: return "anonymous";
  }
  return "unknown";
}

std::string Sha256Hex(std::string_view data) {
  unsigned char hash[32];
  if (!Sha256(data, hash)) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : hash) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

http::HttpResponse AuthResult::ToResponse() const {
  http::HttpResponse r;
  if (outcome == Outcome::kMissing) {
    r.status = 401;
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  } else {
    r.status = 403;
  }
  r.body = reason + "\n";
  return r;
}

http::HttpResponse AuthResult::ToJsonResponse() const {
  const bool missing = outcome == Outcome::kMissing;
  http::HttpResponse r =
      http::HttpResponse::JsonError(missing ? 401 : 403, missing ? "unauthorized" : "forbidden", reason);
  if (missing) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Authenticator::Authenticator(const std::vector<TokenConfig>& tokens) {
  for (const TokenConfig& t : tokens) {
    Entry e{t.name, {}, Role::kAgent};
    // The config parser guarantees 64 hex digits.
    PRESCALE_CHECK(t.sha256_hex.size() == 64);
    for (size_t i = 0; i < 32; ++i) {
      const int hi = HexValue(t.sha256_hex[2 * i]);
      const int lo = HexValue(t.sha256_hex[2 * i + 1]);
      PRESCALE_CHECK(hi >= 0 && lo >= 0);
      e.hash[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    tokens_.push_back(std::move(e));
  }
}

AuthResult Authenticator::Authenticate(std::string_view header) const {
  AuthResult result;
  if (open()) {
    result.outcome = AuthResult::Outcome::kOk;
    result.principal = {"anonymous", Role::kAnonymous};
    return result;
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (header.empty()) {
    result.reason = "missing Authorization header (expected \"Authorization: Bearer <token>\")";
    return result;
  }
  if (header.size() <= kScheme.size() || strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0) {
    result.reason = "the Authorization header is not \"Bearer <token>\"";
    return result;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) {
    result.reason = "empty bearer token";
    return result;
  }
  unsigned char hash[32];
  if (!Sha256(token, hash)) {
    result.outcome = AuthResult::Outcome::kUnknown;
    result.reason = "cannot hash the token";
    return result;
  }
  // Every entry is compared, so the time taken does not tell which one matched.
  const Entry* match = nullptr;
  for (const Entry& e : tokens_) {
    if (CRYPTO_memcmp(e.hash, hash, sizeof hash) == 0) match = &e;
  }
  if (match == nullptr) {
    result.outcome = AuthResult::Outcome::kUnknown;
    result.reason = "unknown token";
    return result;
  }
  result.outcome = AuthResult::Outcome::kOk;
  result.principal = {match->name, match->role};
  return result;
}

AuthResult Authenticator::Authenticate(const http::HttpRequest& request) const {
  return Authenticate(request.Header("Authorization"));
}

}  // namespace prescale::aggregator
