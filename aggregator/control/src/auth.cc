#include "prescale/aggregator/control/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cstring>

#include "prescale/aggregator/control/control_store.h"

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

std::string ToHex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kOperator: return "operator";
    case Role::kViewer: return "viewer";
    case Role::kAgent: return "agent";
    case Role::kMonitor: return "monitor";
    case Role::kAnonymous: return "anonymous";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kViewer, Role::kAgent, Role::kMonitor}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char hash[32];
  if (!Sha256(data, hash)) return "";
  return ToHex(hash, sizeof hash);
}

Status AuthResult::ToStatus() const {
  if (outcome == Outcome::kMissing) return Status::Unauthenticated(reason);
  return Status::PermissionDenied(reason);
}

Authenticator::Authenticator(const std::vector<TokenConfig>& tokens)
    : tokens_(std::make_shared<const std::vector<Entry>>(EntriesOf(tokens))) {}

void Authenticator::SetTokens(const std::vector<TokenConfig>& tokens) {
  auto entries = std::make_shared<const std::vector<Entry>>(EntriesOf(tokens));
  std::lock_guard lock(mu_);
  tokens_ = std::move(entries);
}

std::shared_ptr<const std::vector<Authenticator::Entry>> Authenticator::Tokens() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

std::vector<Authenticator::Entry> Authenticator::EntriesOf(const std::vector<TokenConfig>& tokens) {
  std::vector<Entry> entries;
  for (const TokenConfig& t : tokens) {
    Entry e{t.name, {}, ParseRole(t.role).value_or(Role::kAgent), t.tenant};
    // The config parser guarantees 64 hex digits.
    PRESCALE_CHECK(t.sha256_hex.size() == 64);
    for (size_t i = 0; i < 32; ++i) {
      const int hi = HexValue(t.sha256_hex[2 * i]);
      const int lo = HexValue(t.sha256_hex[2 * i + 1]);
      PRESCALE_CHECK(hi >= 0 && lo >= 0);
      e.hash[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

AuthResult Authenticator::Authenticate(std::string_view header) const { return Identify(header); }

bool Authenticator::HasTokens() const {
  if (!Tokens()->empty()) return true;
  if (store_ == nullptr) return false;
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now().time_since_epoch()).count();
  std::string page_token;
  do {
    auto page = store_->ListTokens(page_token, 500);
    if (!page.ok()) return false;
    for (const TokenRecord& t : page->items) {
      if (t.revoked_ms == 0 && (t.expires_ms == 0 || now_ms < t.expires_ms)) return true;
    }
    page_token = page->next_page_token;
  } while (!page_token.empty());
  return false;
}

AuthResult Authenticator::Identify(std::string_view header) const {
  AuthResult result;
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
  const std::shared_ptr<const std::vector<Entry>> tokens = Tokens();
  for (const Entry& e : *tokens) {
    if (CRYPTO_memcmp(e.hash, hash, sizeof hash) == 0) match = &e;
  }
  if (match != nullptr) {
    result.outcome = AuthResult::Outcome::kOk;
    result.principal = {match->name, match->role, match->tenant};
    return result;
  }
  result.outcome = AuthResult::Outcome::kUnknown;
  result.reason = "unknown token";
  if (store_ == nullptr) return result;
  // Store tokens are found by their hash (an index lookup: the hash, not the
  // secret, is what the database sees).
  auto stored = store_->FindTokenByHash(ToHex(hash, sizeof hash));
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) {
      result.reason = "cannot check the token: " + stored.status().message();
    }
    return result;
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_->Now().time_since_epoch()).count();
  if (stored->revoked_ms != 0) {
    result.reason = "token " + stored->id + " was revoked";
  } else if (stored->expires_ms != 0 && now_ms >= stored->expires_ms) {
    result.reason = "token " + stored->id + " has expired";
  } else if (auto role = ParseRole(stored->role)) {
    result.outcome = AuthResult::Outcome::kOk;
    result.principal = {stored->id, *role, stored->tenant};
    result.reason.clear();
  }
  return result;
}

AuthResult Authenticator::Authenticate(const http::HttpRequest& request) const {
  return Authenticate(request.Header("Authorization"));
}

}  // namespace prescale::aggregator
