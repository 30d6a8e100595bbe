// PostgresStore's writes for scaling events (docs/events.md): several outbox
// entries queued with an optional audit record, and entries taken out
// without one; and the approvals of recommendations, used once by such a write.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {

Result<std::optional<AuditRecord>> PostgresStore::RecordAndQueue(std::optional<AuditRecord> audit,
                                                                 const std::vector<OutboxEntry>& entries,
                                                                 std::optional<int64_t> target) {
  if (target && !audit) return Status::InvalidArgument("a target is set by an audited action only");
  // kWrite also without an audit record: writers of the outbox queue one at
  // a time, so its seq order is the order of their commits.
  return Call(Mode::kWrite, [&]() -> Result<std::optional<AuditRecord>> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    return QueueLocked(std::move(audit), entries, target);
  });
}

Result<std::optional<AuditRecord>> PostgresStore::QueueLocked(std::optional<AuditRecord> audit,
                                                              const std::vector<OutboxEntry>& entries,
                                                              std::optional<int64_t> target) {
  for (const OutboxEntry& e : entries) {
    Params params;
    params.Add(e.action_id).Add(e.tenant).Add(e.service).Add(e.executor).Add(e.payload_json);
    params.Add(e.created_ms).Add(e.next_attempt_ms).Add(e.attempts).Add(e.last_error);
    // ON CONFLICT DO NOTHING rather than a unique violation: the transaction
    // stays usable, and no row inserted means the id was taken.
    PRESCALE_ASSIGN_OR_RETURN(
        auto inserted, Query("INSERT INTO outbox (action_id, tenant, service, executor, payload, created_ms, "
                             "next_attempt_ms, attempts, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                             "ON CONFLICT (action_id) DO NOTHING",
                             params, "queue action " + e.action_id));
    if (inserted.affected() == 0) return Status::AlreadyExists("action " + e.action_id + " is queued");
  }
  if (target) {
    PRESCALE_RETURN_IF_ERROR(
        Query("INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
              "VALUES ($1, $2, $3, NULL, '', $4) ON CONFLICT (tenant, service) DO UPDATE SET "
              "target = excluded.target, updated_ms = excluded.updated_ms",
              Params().Add(audit->tenant).Add(audit->name).Add(*target).Add(audit->time_ms),
              "set the target of " + audit->tenant + "/" + audit->name)
            .status());
  }
  if (!audit) return std::optional<AuditRecord>();
  PRESCALE_ASSIGN_OR_RETURN(AuditRecord stored, Append(std::move(*audit)));
  return std::optional<AuditRecord>(std::move(stored));
}

Result<Approval> PostgresStore::Approve(Approval approval, AuditRecord audit) {
  return Call(Mode::kWrite, [&]() -> Result<Approval> {
    PRESCALE_ASSIGN_OR_RETURN(AuditRecord stored, Append(std::move(audit)));
    approval.seq = stored.seq;
    Params params;
    params.Add(approval.tenant).Add(approval.service).Add(approval.replicas).Add(approval.seq);
    params.Add(approval.actor).Add(approval.created_ms);
    PRESCALE_RETURN_IF_ERROR(Query("INSERT INTO approvals (tenant, service, replicas, seq, actor, created_ms) "
                                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, service) DO UPDATE SET "
                                   "replicas = excluded.replicas, seq = excluded.seq, actor = excluded.actor, "
                                   "created_ms = excluded.created_ms",
                                   params, "record the approval of " + approval.tenant + "/" + approval.service)
                                 .status());
    return approval;
  });
}

Result<std::vector<Approval>> PostgresStore::PendingApprovals() {
  return Call(Mode::kStatement, [&]() -> Result<std::vector<Approval>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows, Query("SELECT tenant, service, replicas, seq, actor, created_ms FROM approvals ORDER BY seq",
                         Params(), "read the approvals"));
    std::vector<Approval> out;
    for (int i = 0; i < rows.size(); ++i) {
      Approval& a = out.emplace_back();
      a.tenant = rows.Text(i, 0);
      a.service = rows.Text(i, 1);
      a.replicas = rows.Int(i, 2);
      a.seq = rows.Int(i, 3);
      a.actor = rows.Text(i, 4);
      a.created_ms = rows.Int(i, 5);
    }
    return out;
  });
}

Result<AuditRecord> PostgresStore::UseApproval(int64_t seq, AuditRecord audit, const std::vector<OutboxEntry>& entries,
                                               std::optional<int64_t> target) {
  return Call(Mode::kWrite, [&]() -> Result<AuditRecord> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto deleted, Query("DELETE FROM approvals WHERE seq = $1", Params().Add(seq),
                                                  "use approval " + std::to_string(seq)));
    if (deleted.affected() == 0) return Status::NotFound("approval " + std::to_string(seq) + " is not pending");
    PRESCALE_ASSIGN_OR_RETURN(std::optional<AuditRecord> stored, QueueLocked(std::move(audit), entries, target));
    return std::move(*stored);
  });
}

Result<std::vector<OutboxEntry>> PostgresStore::QueuedFor(const std::vector<std::string>& executors, bool only,
                                                          size_t limit) {
  // No executors named: every entry (only = false), or none.
  if (executors.empty() && only) return std::vector<OutboxEntry>();
  Params params;
  std::string where;
  for (const std::string& executor : executors) {
    params.Add(executor);
    where += (where.empty() ? "$" : ", $") + std::to_string(params.size());
  }
  if (!where.empty()) where = std::string(" WHERE executor ") + (only ? "IN (" : "NOT IN (") + where + ")";
  params.Add(static_cast<int64_t>(ClampLimit(limit)));
  const std::string sql =
      "SELECT action_id, tenant, service, executor, payload, created_ms, next_attempt_ms, attempts, last_error "
      "FROM outbox" +
      where + " ORDER BY seq LIMIT $" + std::to_string(params.size());
  return Call(Mode::kStatement, [&]() -> Result<std::vector<OutboxEntry>> {
    PRESCALE_ASSIGN_OR_RETURN(auto rows, Query(sql, params, "read the outbox"));
    std::vector<OutboxEntry> out;
    for (int i = 0; i < rows.size(); ++i) {
      OutboxEntry& e = out.emplace_back();
      e.action_id = rows.Text(i, 0);
      e.tenant = rows.Text(i, 1);
      e.service = rows.Text(i, 2);
      e.executor = rows.Text(i, 3);
      e.payload_json = rows.Text(i, 4);
      e.created_ms = rows.Int(i, 5);
      e.next_attempt_ms = rows.Int(i, 6);
      e.attempts = rows.Int(i, 7);
      e.last_error = rows.Text(i, 8);
    }
    return out;
  });
}

Status PostgresStore::DropQueued(const std::string& action_id) {
  return Call(Mode::kUpdate, [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto deleted, Query("DELETE FROM outbox WHERE action_id = $1", Params().Add(action_id),
                                                  "take " + action_id + " out of the outbox"));
    if (deleted.affected() == 0) return Status::NotFound(action_id + " is not queued");
    return Status::Ok();
  });
}

}  // namespace prescale::aggregator::postgres_internal
