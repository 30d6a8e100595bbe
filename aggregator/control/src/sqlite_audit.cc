// SqliteStore's audit log: the hash chain's append, listing and verification.

#include <cstdint>
#include <string>
#include <utility>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {
namespace {

constexpr const char* kAuditColumns =
    "seq, time_ms, request_id, actor, actor_role, actor_tenant, action, kind, tenant, name, before_json, "
    "after_json, status, message, prev_hash, hash";

AuditRecord ReadAudit(const Stmt& stmt) {
  AuditRecord r;
  r.seq = stmt.Int(0);
  r.time_ms = stmt.Int(1);
  r.request_id = stmt.Text(2);
  r.actor = stmt.Text(3);
  r.actor_role = stmt.Text(4);
  r.actor_tenant = stmt.Text(5);
  r.action = stmt.Text(6);
  r.kind = stmt.Text(7);
  r.tenant = stmt.Text(8);
  r.name = stmt.Text(9);
  r.before_json = stmt.Text(10);
  r.after_json = stmt.Text(11);
  r.status = static_cast<int>(stmt.Int(12));
  r.message = stmt.Text(13);
  r.prev_hash = stmt.Text(14);
  r.hash = stmt.Text(15);
  return r;
}

}  // namespace

// Within a write transaction: chains the record to the last one and inserts it.
Result<AuditRecord> SqliteStore::Append(AuditRecord audit) {
  store_keys::MakeValidText(&audit);
  {
    PRESCALE_ASSIGN_OR_RETURN(auto last, Prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(last, "read the last audit record"));
    audit.seq = row ? last.Int(0) + 1 : 1;
    audit.prev_hash = row ? last.Text(1) : std::string();
  }
  audit.hash = AuditHash(audit);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("INSERT INTO audit (") + kAuditColumns +
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(audit.seq).Bind(audit.time_ms).Bind(audit.request_id).Bind(audit.actor).Bind(audit.actor_role);
  stmt.Bind(audit.actor_tenant).Bind(audit.action).Bind(audit.kind).Bind(audit.tenant).Bind(audit.name);
  stmt.Bind(audit.before_json).Bind(audit.after_json).Bind(static_cast<int64_t>(audit.status)).Bind(audit.message);
  stmt.Bind(audit.prev_hash).Bind(audit.hash);
  PRESCALE_RETURN_IF_ERROR(Run(stmt, "append audit record " + std::to_string(audit.seq)));
  return audit;
}

Result<AuditRecord> SqliteStore::AppendAudit(AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() { return Append(std::move(audit)); });
}

Result<Page<AuditRecord>> SqliteStore::ListAudit(const AuditQuery& query) {
  const size_t limit = ClampLimit(query.limit);
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit WHERE seq > ?";
  if (query.tenant) sql += " AND tenant = ?";
  if (query.kind) sql += " AND kind = ?";
  sql += " ORDER BY seq LIMIT ?";
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
  stmt.Bind(query.after_seq);
  if (query.tenant) stmt.Bind(*query.tenant);
  if (query.kind) stmt.Bind(*query.kind);
  stmt.Bind(static_cast<int64_t>(limit + 1));
  Page<AuditRecord> page;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list audit records"));
    if (!row) break;
    page.items.push_back(ReadAudit(stmt));
  }
  if (page.items.size() > limit) {
    page.items.pop_back();
    page.next_page_token = std::to_string(page.items.back().seq);
  }
  return page;
}

Result<AuditVerification> SqliteStore::VerifyAudit() {
  std::lock_guard lock(mu_);
  // One statement reads one snapshot, even while other processes append.
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY seq"));
  AuditChainVerifier verifier;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the audit log"));
    if (!row || !verifier.Feed(ReadAudit(stmt))) break;
  }
  return verifier.result();
}

}  // namespace prescale::aggregator::sqlite_internal
