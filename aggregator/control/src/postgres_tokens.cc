// PostgresStore's API tokens.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {
namespace {

// FindTokenByHash's cache holds at most this many tokens (it starts over when full).
constexpr size_t kMaxCachedTokens = 4096;

constexpr const char* kTokenColumns = "id, name, role, tenant, sha256, created_ms, expires_ms, revoked_ms";

TokenRecord ReadToken(const Rows& rows, int row) {
  return {rows.Text(row, 0), rows.Text(row, 1), rows.Text(row, 2), rows.Text(row, 3),
          rows.Text(row, 4), rows.Int(row, 5),  rows.Int(row, 6),  rows.Int(row, 7)};
}

}  // namespace

Result<std::optional<TokenRecord>> PostgresStore::LoadToken(const char* column, const std::string& value) {
  PRESCALE_ASSIGN_OR_RETURN(auto rows,
                            Query(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE " + column + " = $1",
                                  Params().Add(value), "read a token"));
  if (rows.size() == 0) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(ReadToken(rows, 0));
}

Status PostgresStore::CreateToken(const TokenRecord& token, AuditRecord audit) {
  return Call(Mode::kWrite, [&]() -> Status {
    PRESCALE_ASSIGN_OR_RETURN(auto same_id, LoadToken("id", token.id));
    if (same_id) return Status::AlreadyExists("token " + token.id + " already exists");
    PRESCALE_ASSIGN_OR_RETURN(auto same_hash, LoadToken("sha256", token.sha256_hex));
    if (same_hash) return Status::AlreadyExists("token " + same_hash->id + " already has this secret's hash");
    Params params;
    params.Add(token.id).Add(token.name).Add(token.role).Add(token.tenant).Add(token.sha256_hex);
    params.Add(token.created_ms).Add(token.expires_ms).Add(token.revoked_ms);
    PRESCALE_RETURN_IF_ERROR(
        Query(std::string("INSERT INTO tokens (") + kTokenColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", params,
              "create token " + token.id)
            .status());
    return Append(std::move(audit)).status();
  });
}

Result<TokenRecord> PostgresStore::GetToken(const std::string& id) {
  return Call(Mode::kStatement, [&]() -> Result<TokenRecord> {
    PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
    if (!token) return Status::NotFound("token " + id + " not found");
    return std::move(*token);
  });
}

Result<TokenRecord> PostgresStore::FindTokenByHash(const std::string& sha256_hex) {
  const bool caching = options_.token_cache_ttl.count() > 0;
  uint64_t revocations = 0;
  if (caching) {
    const std::lock_guard lock(tokens_mu_);
    const auto it = token_cache_.find(sha256_hex);
    if (it != token_cache_.end() && std::chrono::steady_clock::now() < it->second.expires) return it->second.token;
    revocations = token_revocations_;
  }
  Result<TokenRecord> found = Call(Mode::kStatement, [&]() -> Result<TokenRecord> {
    PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("sha256", sha256_hex));
    if (!token) return Status::NotFound("no token has this hash");
    return std::move(*token);
  });
  // Only tokens that exist: unknown hashes (anyone can send them) take no memory.
  if (caching && found.ok()) {
    const std::lock_guard lock(tokens_mu_);
    if (revocations == token_revocations_) {
      if (token_cache_.size() >= kMaxCachedTokens) token_cache_.clear();
      token_cache_[sha256_hex] = {*found, std::chrono::steady_clock::now() + options_.token_cache_ttl};
    }
  }
  return found;
}

Result<Page<TokenRecord>> PostgresStore::ListTokens(const std::string& page_token, size_t limit) {
  std::optional<std::string> after;
  if (!page_token.empty()) {
    after = HexDecode(page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  limit = ClampLimit(limit);
  return Call(Mode::kRead, [&]() -> Result<Page<TokenRecord>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows, Query(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id > $1 ORDER BY id LIMIT $2",
                         Params().Add(after.value_or("")).Add(static_cast<int64_t>(limit + 1)), "list tokens"));
    Page<TokenRecord> page;
    for (int i = 0; i < rows.size(); ++i) page.items.push_back(ReadToken(rows, i));
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_page_token = HexEncode(page.items.back().id);
    }
    return page;
  });
}

Result<TokenRecord> PostgresStore::RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) {
  Result<TokenRecord> revoked = Call(Mode::kWrite, [&]() -> Result<TokenRecord> {
    PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
    if (!token) return Status::NotFound("token " + id + " not found");
    if (token->revoked_ms == 0) {
      token->revoked_ms = now_ms;
      PRESCALE_RETURN_IF_ERROR(
          Query("UPDATE tokens SET revoked_ms = $1 WHERE id = $2", Params().Add(now_ms).Add(id), "revoke token " + id)
              .status());
    }
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*token);
  });
  // After the commit (or a failure that may have committed): no answer from
  // before it is used again, nor cached by a lookup that read before it.
  const std::lock_guard lock(tokens_mu_);
  ++token_revocations_;
  token_cache_.clear();
  return revoked;
}

}  // namespace prescale::aggregator::postgres_internal
