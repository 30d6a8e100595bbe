// SqliteStore's writes for scaling events (docs/events.md): several outbox
// entries queued with an optional audit record, and entries taken out
// without one; and the approvals of recommendations, used once by such a write.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {

Result<std::optional<AuditRecord>> SqliteStore::RecordAndQueue(std::optional<AuditRecord> audit,
                                                               const std::vector<OutboxEntry>& entries,
                                                               std::optional<int64_t> target) {
  if (target && !audit) return Status::InvalidArgument("a target is set by an audited action only");
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<std::optional<AuditRecord>> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    return QueueLocked(std::move(audit), entries, target);
  });
}

Result<std::optional<AuditRecord>> SqliteStore::QueueLocked(std::optional<AuditRecord> audit,
                                                            const std::vector<OutboxEntry>& entries,
                                                            std::optional<int64_t> target) {
  for (const OutboxEntry& e : entries) {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                              Prepare("INSERT INTO outbox (action_id, tenant, service, executor, payload, created_ms, "
                                      "next_attempt_ms, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(e.action_id).Bind(e.tenant).Bind(e.service).Bind(e.executor).Bind(e.payload_json);
    stmt.Bind(e.created_ms).Bind(e.next_attempt_ms).Bind(e.attempts).Bind(e.last_error);
    const int rc = stmt.Step();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return Status::AlreadyExists("action " + e.action_id + " is queued");
    if (rc != SQLITE_DONE) return Error(rc, "queue action " + e.action_id);
  }
  if (target) {
    PRESCALE_ASSIGN_OR_RETURN(
        auto stmt, Prepare("INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
                           "VALUES (?, ?, ?, NULL, '', ?) ON CONFLICT (tenant, service) DO UPDATE SET "
                           "target = excluded.target, updated_ms = excluded.updated_ms"));
    stmt.Bind(audit->tenant).Bind(audit->name).Bind(*target).Bind(audit->time_ms);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "set the target of " + audit->tenant + "/" + audit->name));
  }
  if (!audit) return std::optional<AuditRecord>();
  PRESCALE_ASSIGN_OR_RETURN(AuditRecord stored, Append(std::move(*audit)));
  return std::optional<AuditRecord>(std::move(stored));
}

Result<Approval> SqliteStore::Approve(Approval approval, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<Approval> {
    PRESCALE_ASSIGN_OR_RETURN(AuditRecord stored, Append(std::move(audit)));
    approval.seq = stored.seq;
    PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                              Prepare("INSERT INTO approvals (tenant, service, replicas, seq, actor, created_ms) "
                                      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, service) DO UPDATE SET "
                                      "replicas = excluded.replicas, seq = excluded.seq, actor = excluded.actor, "
                                      "created_ms = excluded.created_ms"));
    stmt.Bind(approval.tenant).Bind(approval.service).Bind(approval.replicas).Bind(approval.seq);
    stmt.Bind(approval.actor).Bind(approval.created_ms);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "record the approval of " + approval.tenant + "/" + approval.service));
    ++object_writes_;  // the decision loop reads approvals again when the generation changes
    return approval;
  });
}

Result<std::vector<Approval>> SqliteStore::PendingApprovals() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare("SELECT tenant, service, replicas, seq, actor, created_ms FROM approvals ORDER BY seq"));
  std::vector<Approval> out;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the approvals"));
    if (!row) break;
    Approval& a = out.emplace_back();
    a.tenant = stmt.Text(0);
    a.service = stmt.Text(1);
    a.replicas = stmt.Int(2);
    a.seq = stmt.Int(3);
    a.actor = stmt.Text(4);
    a.created_ms = stmt.Int(5);
  }
  return out;
}

Result<AuditRecord> SqliteStore::UseApproval(int64_t seq, AuditRecord audit, const std::vector<OutboxEntry>& entries,
                                             std::optional<int64_t> target) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<AuditRecord> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("DELETE FROM approvals WHERE seq = ?"));
    stmt.Bind(seq);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "use approval " + std::to_string(seq)));
    if (sqlite3_changes(db_) == 0) return Status::NotFound("approval " + std::to_string(seq) + " is not pending");
    PRESCALE_ASSIGN_OR_RETURN(std::optional<AuditRecord> stored, QueueLocked(std::move(audit), entries, target));
    return std::move(*stored);
  });
}

Result<std::vector<OutboxEntry>> SqliteStore::QueuedFor(const std::vector<std::string>& executors, bool only,
                                                        size_t limit) {
  // No executors named: every entry (only = false), or none.
  if (executors.empty() && only) return std::vector<OutboxEntry>();
  std::string where;
  for (size_t i = 0; i < executors.size(); ++i) where += i == 0 ? "?" : ", ?";
  if (!where.empty()) where = std::string(" WHERE executor ") + (only ? "IN (" : "NOT IN (") + where + ")";
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare("SELECT action_id, tenant, service, executor, payload, created_ms, next_attempt_ms, attempts, "
                         "last_error FROM outbox" +
                         where + " ORDER BY seq LIMIT ?"));
  for (const std::string& executor : executors) stmt.Bind(executor);
  stmt.Bind(static_cast<int64_t>(ClampLimit(limit)));
  std::vector<OutboxEntry> out;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the outbox"));
    if (!row) break;
    OutboxEntry& e = out.emplace_back();
    e.action_id = stmt.Text(0);
    e.tenant = stmt.Text(1);
    e.service = stmt.Text(2);
    e.executor = stmt.Text(3);
    e.payload_json = stmt.Text(4);
    e.created_ms = stmt.Int(5);
    e.next_attempt_ms = stmt.Int(6);
    e.attempts = stmt.Int(7);
    e.last_error = stmt.Text(8);
  }
  return out;
}

Status SqliteStore::DropQueued(const std::string& action_id) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("DELETE FROM outbox WHERE action_id = ?"));
    stmt.Bind(action_id);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "take " + action_id + " out of the outbox"));
    if (sqlite3_changes(db_) == 0) return Status::NotFound(action_id + " is not queued");
    return Status::Ok();
  });
}

}  // namespace prescale::aggregator::sqlite_internal
