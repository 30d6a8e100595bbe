// PostgresStore's audit log: the hash chain's append, listing and verification.

#include <cstdint>
#include <string>
#include <utility>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {
namespace {

constexpr const char* kAuditColumns =
    "seq, time_ms, request_id, actor, actor_role, actor_tenant, action, kind, tenant, name, before_json, "
    "after_json, status, message, prev_hash, hash";

// Records read a page at a time by VerifyAudit, so a long log is never held whole.
constexpr int64_t kVerifyPage = 1000;

AuditRecord ReadAudit(const Rows& rows, int i) {
  AuditRecord r;
  r.seq = rows.Int(i, 0);
  r.time_ms = rows.Int(i, 1);
  r.request_id = rows.Text(i, 2);
  r.actor = rows.Text(i, 3);
  r.actor_role = rows.Text(i, 4);
  r.actor_tenant = rows.Text(i, 5);
  r.action = rows.Text(i, 6);
  r.kind = rows.Text(i, 7);
  r.tenant = rows.Text(i, 8);
  r.name = rows.Text(i, 9);
  r.before_json = rows.Text(i, 10);
  r.after_json = rows.Text(i, 11);
  r.status = static_cast<int>(rows.Int(i, 12));
  r.message = rows.Text(i, 13);
  r.prev_hash = rows.Text(i, 14);
  r.hash = rows.Text(i, 15);
  return r;
}

}  // namespace

// Within a kWrite transaction (the audit table locked, so no other writer can
// take the same seq): chains the record to the last one and inserts it.
Result<AuditRecord> PostgresStore::Append(AuditRecord audit) {
  store_keys::MakeValidText(&audit);
  std::optional<std::pair<int64_t, std::string>>& head = current_session->audit_head;
  if (!head)
    return Status::Internal(name_ + ": an audit record outside an audited write");  // Begin(Mode::kWrite) reads it
  audit.seq = head->first + 1;
  audit.prev_hash = head->second;
  audit.hash = AuditHash(audit);
  Params params;
  params.Add(audit.seq).Add(audit.time_ms).Add(audit.request_id).Add(audit.actor).Add(audit.actor_role);
  params.Add(audit.actor_tenant).Add(audit.action).Add(audit.kind).Add(audit.tenant).Add(audit.name);
  params.Add(audit.before_json).Add(audit.after_json).Add(static_cast<int64_t>(audit.status)).Add(audit.message);
  params.Add(audit.prev_hash).Add(audit.hash);
  PRESCALE_RETURN_IF_ERROR(Query(std::string("INSERT INTO audit (") + kAuditColumns +
                                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                                 params, "append audit record " + std::to_string(audit.seq))
                               .status());
  head = std::make_pair(audit.seq, audit.hash);
  return audit;
}

Result<AuditRecord> PostgresStore::AppendAudit(AuditRecord audit) {
  return Call(Mode::kWrite, [&]() { return Append(std::move(audit)); });
}

Result<Page<AuditRecord>> PostgresStore::ListAudit(const AuditQuery& query) {
  const size_t limit = ClampLimit(query.limit);
  Params params;
  params.Add(query.after_seq);
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit WHERE seq > $1";
  // The indexes are on md5(tenant) and md5(kind) (migration 4: a btree row
  // holds at most 2704 bytes, and a refused request may name anything): the
  // digest finds the rows, the value itself decides.
  if (query.tenant) {
    params.Add(*query.tenant);
    const std::string n = std::to_string(params.size());
    sql += " AND md5(tenant) = md5($" + n + ") AND tenant = $" + n;
  }
  if (query.kind) {
    params.Add(*query.kind);
    const std::string n = std::to_string(params.size());
    sql += " AND md5(kind) = md5($" + n + ") AND kind = $" + n;
  }
  sql += " ORDER BY seq LIMIT " + std::to_string(limit + 1);
  return Call(Mode::kRead, [&]() -> Result<Page<AuditRecord>> {
    PRESCALE_ASSIGN_OR_RETURN(auto rows, Query(sql, params, "list audit records"));
    Page<AuditRecord> page;
    for (int i = 0; i < rows.size(); ++i) page.items.push_back(ReadAudit(rows, i));
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_page_token = std::to_string(page.items.back().seq);
    }
    return page;
  });
}

Result<AuditVerification> PostgresStore::VerifyAudit() {
  // One REPEATABLE READ transaction: every page comes from one snapshot, even
  // while other processes append.
  return Call(Mode::kRead, [&]() -> Result<AuditVerification> {
    AuditChainVerifier verifier;
    int64_t after = 0;
    while (true) {
      PRESCALE_ASSIGN_OR_RETURN(
          auto rows, Query(std::string("SELECT ") + kAuditColumns + " FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                           Params().Add(after).Add(kVerifyPage), "read the audit log"));
      for (int i = 0; i < rows.size(); ++i) {
        if (!verifier.Feed(ReadAudit(rows, i))) return verifier.result();
      }
      if (rows.size() < kVerifyPage) return verifier.result();
      after = rows.Int(rows.size() - 1, 0);
    }
  });
}

}  // namespace prescale::aggregator::postgres_internal
