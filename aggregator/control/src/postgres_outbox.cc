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
  return Call(Mode::kWrite, [&]() -> Result<AuditRecord> {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    if (entry) {
      Params params;
      params.Add(entry->action_id).Add(entry->tenant).Add(entry->service).Add(entry->executor);
      params.Add(entry->payload_json).Add(entry->created_ms).Add(entry->next_attempt_ms).Add(entry->attempts);
      params.Add(entry->last_error);
      // ON CONFLICT DO NOTHING rather than a unique violation: the transaction
      // stays usable, and no row inserted means the id was taken.
      PRESCALE_ASSIGN_OR_RETURN(
          auto inserted, Query("INSERT INTO outbox (action_id, tenant, service, executor, payload, created_ms, "
                               "next_attempt_ms, attempts, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                               "ON CONFLICT (action_id) DO NOTHING",
                               params, "queue action " + entry->action_id));
      if (inserted.affected() == 0) return Status::AlreadyExists("action " + entry->action_id + " is queued");
    }
    PRESCALE_RETURN_IF_ERROR(
        Query("INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
              "VALUES ($1, $2, $3, NULL, '', $4) ON CONFLICT (tenant, service) DO UPDATE SET "
              "target = excluded.target, updated_ms = excluded.updated_ms",
              Params().Add(audit.tenant).Add(audit.name).Add(target).Add(audit.time_ms),
              "set the target of " + audit.tenant + "/" + audit.name)
            .status());
    return Append(std::move(audit));
  });
}

Result<std::vector<OutboxEntry>> PostgresStore::QueuedActions(size_t limit) {
  return Call(Mode::kStatement, [&]() -> Result<std::vector<OutboxEntry>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows, Query("SELECT action_id, tenant, service, executor, payload, created_ms, next_attempt_ms, attempts, "
                         "last_error FROM outbox ORDER BY seq LIMIT $1",
                         Params().Add(static_cast<int64_t>(ClampLimit(limit))), "read the outbox"));
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
    PRESCALE_ASSIGN_OR_RETURN(
        auto updated, Query("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $1, last_error = $2 "
                            "WHERE action_id = $3",
                            Params().Add(next_attempt_ms).Add(error).Add(action_id), "reschedule action " + action_id));
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
