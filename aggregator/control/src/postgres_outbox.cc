// PostgresStore's outbox of scaling actions and the services' status.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {

Result<AuditRecord> PostgresStore::RecordAction(AuditRecord audit, const std::optional<OutboxEntry>& entry,
                                                int64_t target) {
  std::vector<OutboxEntry> entries;
  if (entry) entries.push_back(*entry);
  PRESCALE_ASSIGN_OR_RETURN(std::optional<AuditRecord> stored, RecordAndQueue(std::move(audit), entries, target));
  return std::move(*stored);
}

Result<std::vector<OutboxEntry>> PostgresStore::QueuedActions(size_t limit) { return QueuedFor({}, false, limit); }

Result<std::pair<int64_t, int64_t>> PostgresStore::OutboxBacklog() {
  return Call(Mode::kStatement, [&]() -> Result<std::pair<int64_t, int64_t>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows, Query("SELECT count(*), coalesce(min(created_ms), 0) FROM outbox", Params(), "count the outbox"));
    if (rows.size() == 0) return std::make_pair(int64_t{0}, int64_t{0});
    return std::make_pair(rows.Int(0, 0), rows.Int(0, 1));
  });
}

Status PostgresStore::RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) {
  return Call(Mode::kUpdate, [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    // The error quotes a receiver's answer (cut at 200 bytes, maybe inside a
    // character): PostgreSQL refuses text that is not UTF-8.
    PRESCALE_ASSIGN_OR_RETURN(auto updated,
                              Query("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $1, last_error = $2 "
                                    "WHERE action_id = $3",
                                    Params().Add(next_attempt_ms).Add(store_keys::ValidText(error)).Add(action_id),
                                    "reschedule action " + action_id));
    if (updated.affected() == 0) return Status::NotFound("action " + action_id + " is not queued");
    return Status::Ok();
  });
}

Result<AuditRecord> PostgresStore::FinishAction(const std::string& action_id, AuditRecord audit) {
  return Call(Mode::kWrite, [&]() -> Result<AuditRecord> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_ASSIGN_OR_RETURN(auto deleted, Query("DELETE FROM outbox WHERE action_id = $1", Params().Add(action_id),
                                                  "finish action " + action_id));
    if (deleted.affected() == 0) return Status::NotFound("action " + action_id + " is not queued");
    return Append(std::move(audit));
  });
}

Result<std::vector<ServiceStatus>> PostgresStore::ServiceStatuses() {
  return Call(Mode::kStatement, [&]() -> Result<std::vector<ServiceStatus>> {
    PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT tenant, service, target, current, current_source, updated_ms "
                                               "FROM service_status ORDER BY tenant, service",
                                               Params(), "read the services' status"));
    std::vector<ServiceStatus> out;
    for (int i = 0; i < rows.size(); ++i) {
      ServiceStatus& s = out.emplace_back();
      s.tenant = rows.Text(i, 0);
      s.service = rows.Text(i, 1);
      s.target = rows.Int(i, 2);
      if (!rows.IsNull(i, 3)) s.current = rows.Int(i, 3);
      s.current_source = rows.Text(i, 4);
      s.updated_ms = rows.Int(i, 5);
    }
    return out;
  });
}

Status PostgresStore::SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                                         const std::string& source, int64_t now_ms) {
  return Call(Mode::kUpdate, [&]() -> Status {
    return Query(
               "INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
               "VALUES ($1, $2, $3, $3, $4, $5) ON CONFLICT (tenant, service) DO UPDATE SET "
               "target = excluded.target, current = excluded.current, current_source = excluded.current_source, "
               "updated_ms = excluded.updated_ms",
               Params().Add(tenant).Add(service).Add(current).Add(source).Add(now_ms),
               "record the replicas of " + tenant + "/" + service)
        .status();
  });
}

}  // namespace prescale::aggregator::postgres_internal
