// SqliteStore's API tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {
namespace {

constexpr const char* kTokenColumns = "id, name, role, tenant, sha256, created_ms, expires_ms, revoked_ms";

}  // namespace

Result<std::optional<TokenRecord>> SqliteStore::LoadToken(const char* column, const std::string& value) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                            Prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE " + column + " = ?"));
  stmt.Bind(value);
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read a token"));
  if (!row) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(TokenRecord{stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4),
                                                stmt.Int(5), stmt.Int(6), stmt.Int(7)});
}

Status SqliteStore::CreateToken(const TokenRecord& token, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Status {
    PRESCALE_ASSIGN_OR_RETURN(auto same_id, LoadToken("id", token.id));
    if (same_id) return Status::AlreadyExists("token " + token.id + " already exists");
    PRESCALE_ASSIGN_OR_RETURN(auto same_hash, LoadToken("sha256", token.sha256_hex));
    if (same_hash) return Status::AlreadyExists("token " + same_hash->id + " already has this secret's hash");
    {
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("INSERT INTO tokens (") + kTokenColumns +
                                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      stmt.Bind(token.id).Bind(token.name).Bind(token.role).Bind(token.tenant).Bind(token.sha256_hex);
      stmt.Bind(token.created_ms).Bind(token.expires_ms).Bind(token.revoked_ms);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "create token " + token.id));
    }
    return Append(std::move(audit)).status();
  });
}

Result<TokenRecord> SqliteStore::GetToken(const std::string& id) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
  if (!token) return Status::NotFound("token " + id + " not found");
  return std::move(*token);
}

Result<TokenRecord> SqliteStore::FindTokenByHash(const std::string& sha256_hex) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("sha256", sha256_hex));
  if (!token) return Status::NotFound("no token has this hash");
  return std::move(*token);
}

Result<Page<TokenRecord>> SqliteStore::ListTokens(const std::string& page_token, size_t limit) {
  std::optional<std::string> after;
  if (!page_token.empty()) {
    after = HexDecode(page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  limit = ClampLimit(limit);
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id > ? ORDER BY id LIMIT ?"));
  stmt.Bind(after.value_or("")).Bind(static_cast<int64_t>(limit + 1));
  Page<TokenRecord> page;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list tokens"));
    if (!row) break;
    page.items.push_back(
        {stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4), stmt.Int(5), stmt.Int(6), stmt.Int(7)});
  }
  if (page.items.size() > limit) {
    page.items.pop_back();
    page.next_page_token = HexEncode(page.items.back().id);
  }
  return page;
}

Result<TokenRecord> SqliteStore::RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<TokenRecord> {
    PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
    if (!token) return Status::NotFound("token " + id + " not found");
    if (token->revoked_ms == 0) {
      token->revoked_ms = now_ms;
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("UPDATE tokens SET revoked_ms = ? WHERE id = ?"));
      stmt.Bind(now_ms).Bind(id);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "revoke token " + id));
    }
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*token);
  });
}

}  // namespace prescale::aggregator::sqlite_internal
