// SqliteStore's leadership lease, its fencing and the caps the leader
// publishes (ControlStore::AcquireLease). One process on its own file takes
// the lease at its first call and keeps it.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {

Result<std::optional<Lease>> SqliteStore::LoadLease() {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT holder, token, expires_ms FROM leases WHERE name = ?"));
  stmt.Bind(store_keys::kLeaseName);
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the lease"));
  if (!row) return std::optional<Lease>();
  return std::optional<Lease>(Lease{stmt.Text(0), stmt.Int(1), stmt.Int(2)});
}

Status SqliteStore::CheckFenceLocked() {
  if (!fence_) return Status::Ok();
  PRESCALE_ASSIGN_OR_RETURN(auto lease, LoadLease());
  return store_keys::CheckFence(*fence_, lease);
}

Result<Lease> SqliteStore::AcquireLease(const std::string& holder, int64_t now_ms, int64_t duration_ms) {
  std::lock_guard lock(mu_);
  auto after = InTransaction("BEGIN IMMEDIATE", [&]() -> Result<Lease> {
    PRESCALE_ASSIGN_OR_RETURN(std::optional<Lease> before, LoadLease());
    const bool mine = before && before->holder == holder;
    if (before && !mine && before->expires_ms > now_ms) return *before;  // another replica leads
    const Lease lease{holder, mine ? before->token : (before ? before->token : 0) + 1, now_ms + duration_ms};
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("INSERT INTO leases (name, holder, token, expires_ms) "
                                                 "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                                                 "holder = excluded.holder, token = excluded.token, "
                                                 "expires_ms = excluded.expires_ms"));
    stmt.Bind(store_keys::kLeaseName).Bind(lease.holder).Bind(lease.token).Bind(lease.expires_ms);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, "take the lease"));
    if (!mine) PRESCALE_RETURN_IF_ERROR(Append(store_keys::LeaseAudit(before, lease, now_ms)).status());
    return lease;
  });
  if (after.ok()) fence_ = store_keys::FenceAfter(holder, *after, fence_);
  return after;
}

Status SqliteStore::ReleaseLease(const std::string& holder) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("UPDATE leases SET expires_ms = 0 WHERE name = ? AND holder = ?"));
  stmt.Bind(store_keys::kLeaseName).Bind(holder);
  return Run(stmt, "release the lease");
}

Result<Lease> SqliteStore::ReadLease() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto lease, LoadLease());
  return lease.value_or(Lease{});
}

Status SqliteStore::PublishCaps(const std::vector<PublishedCap>& caps) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_RETURN_IF_ERROR(Exec("DELETE FROM published_caps", "clear the published caps"));
    for (const PublishedCap& cap : caps) {
      PRESCALE_ASSIGN_OR_RETURN(
          auto stmt, Prepare("INSERT OR REPLACE INTO published_caps (tenant, service, cpu_cores) VALUES (?, ?, ?)"));
      stmt.Bind(cap.tenant).Bind(cap.service).Bind(cap.cpu_cores);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "publish the cap of " + cap.tenant + "/" + cap.service));
    }
    return Status::Ok();
  });
}

Result<std::vector<PublishedCap>> SqliteStore::PublishedCaps() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                            Prepare("SELECT tenant, service, cpu_cores FROM published_caps ORDER BY tenant, service"));
  std::vector<PublishedCap> out;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the published caps"));
    if (!row) break;
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Double(2)});
  }
  return out;
}

}  // namespace prescale::aggregator::sqlite_internal
