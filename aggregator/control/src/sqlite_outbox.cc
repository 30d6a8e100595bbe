// SqliteStore's outbox of scaling actions and the services' status.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {

Result<AuditRecord> SqliteStore::RecordAction(AuditRecord audit, const std::optional<OutboxEntry>& entry,
                                              int64_t target) {
  std::vector<OutboxEntry> entries;
  if (entry) entries.push_back(*entry);
  PRESCALE_ASSIGN_OR_RETURN(std::optional<AuditRecord> stored, RecordAndQueue(std::move(audit), entries, target));
  return std::move(*stored);
}

Result<std::vector<OutboxEntry>> SqliteStore::QueuedActions(size_t limit) { return QueuedFor({}, false, limit); }

Result<std::pair<int64_t, int64_t>> SqliteStore::OutboxBacklog() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT count(*), coalesce(min(created_ms), 0) FROM outbox"));
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "count the outbox"));
  if (!row) return std::make_pair(int64_t{0}, int64_t{0});
  return std::make_pair(stmt.Int(0), stmt.Int(1));
}

Status SqliteStore::RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                              Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? "
                                      "WHERE action_id = ?"));
    // The error quotes a receiver's answer (cut at 200 bytes, maybe inside a character): stored as UTF-8.
    stmt.Bind(next_attempt_ms).Bind(store_keys::ValidText(error)).Bind(action_id);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "reschedule action " + action_id));
    if (sqlite3_changes(db_) == 0) return Status::NotFound("action " + action_id + " is not queued");
    return Status::Ok();
  });
}

Result<AuditRecord> SqliteStore::FinishAction(const std::string& action_id, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<AuditRecord> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("DELETE FROM outbox WHERE action_id = ?"));
    stmt.Bind(action_id);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "finish action " + action_id));
    if (sqlite3_changes(db_) == 0) return Status::NotFound("action " + action_id + " is not queued");
    return Append(std::move(audit));
  });
}

Result<std::vector<ServiceStatus>> SqliteStore::ServiceStatuses() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare("SELECT tenant, service, target, current, current_source, updated_ms FROM service_status"));
  std::vector<ServiceStatus> out;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the services' status"));
    if (!row) break;
    ServiceStatus& s = out.emplace_back();
    s.tenant = stmt.Text(0);
    s.service = stmt.Text(1);
    s.target = stmt.Int(2);
    if (!stmt.IsNull(3)) s.current = stmt.Int(3);
    s.current_source = stmt.Text(4);
    s.updated_ms = stmt.Int(5);
  }
  return out;
}

Status SqliteStore::SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                                       const std::string& source, int64_t now_ms) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt,
      Prepare("INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
              "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, service) DO UPDATE SET "
              "target = excluded.target, current = excluded.current, current_source = excluded.current_source, "
              "updated_ms = excluded.updated_ms"));
  stmt.Bind(tenant).Bind(service).Bind(current).Bind(current).Bind(source).Bind(now_ms);
  return Run(stmt, "record the replicas of " + tenant + "/" + service);
}

}  // namespace prescale::aggregator::sqlite_internal
