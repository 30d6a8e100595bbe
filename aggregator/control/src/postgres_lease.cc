// PostgresStore's leadership lease, its fencing and the caps the leader
// publishes (ControlStore::AcquireLease). A renewal touches the lease's row
// only; a takeover also appends its audit record, so it takes the audit lock
// as every audited write does. Action writes read the row FOR SHARE: a
// takeover waits until they commit, and they fail once it has.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {

Result<std::optional<Lease>> PostgresStore::LoadLease() {
  PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT holder, token, expires_ms FROM leases WHERE name = $1 FOR SHARE",
                                             Params().Add(store_keys::kLeaseName), "read the lease"));
  if (rows.size() == 0) return std::optional<Lease>();
  return std::optional<Lease>(Lease{rows.Text(0, 0), rows.Int(0, 1), rows.Int(0, 2)});
}

Status PostgresStore::CheckFenceLocked() {
  std::optional<Fence> fence;
  {
    std::lock_guard lock(mu_);
    fence = fence_;
  }
  if (!fence) return Status::Ok();
  PRESCALE_ASSIGN_OR_RETURN(auto lease, LoadLease());
  return store_keys::CheckFence(*fence, lease);
}

Result<Lease> PostgresStore::TakeLease(const std::string& holder, int64_t now_ms, int64_t duration_ms) {
  return Call(Mode::kWrite, [&]() -> Result<Lease> {
    PRESCALE_ASSIGN_OR_RETURN(std::optional<Lease> before, LoadLease());
    const bool mine = before && before->holder == holder;
    if (before && !mine && before->expires_ms > now_ms) return *before;  // another replica leads
    const Lease lease{holder, mine ? before->token : (before ? before->token : 0) + 1, now_ms + duration_ms};
    PRESCALE_RETURN_IF_ERROR(
        Query("INSERT INTO leases (name, holder, token, expires_ms) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, "
              "expires_ms = excluded.expires_ms",
              Params().Add(store_keys::kLeaseName).Add(lease.holder).Add(lease.token).Add(lease.expires_ms),
              "take the lease")
            .status());
    if (!mine) PRESCALE_RETURN_IF_ERROR(Append(store_keys::LeaseAudit(before, lease, now_ms)).status());
    return lease;
  });
}

Result<Lease> PostgresStore::AcquireLease(const std::string& holder, int64_t now_ms, int64_t duration_ms) {
  // The common case, a renewal by the holder, without the audit lock.
  auto renewed = Call(Mode::kUpdate, [&]() -> Result<std::optional<Lease>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows,
        Query("UPDATE leases SET expires_ms = $3 WHERE name = $1 AND holder = $2 RETURNING token",
              Params().Add(store_keys::kLeaseName).Add(holder).Add(now_ms + duration_ms), "renew the lease"));
    if (rows.size() == 0) return std::optional<Lease>();
    return std::optional<Lease>(Lease{holder, rows.Int(0, 0), now_ms + duration_ms});
  });
  if (!renewed.ok()) return renewed.status();
  Result<Lease> after = renewed->has_value() ? Result<Lease>(**renewed) : TakeLease(holder, now_ms, duration_ms);
  if (after.ok()) {
    std::lock_guard lock(mu_);
    fence_ = store_keys::FenceAfter(holder, *after, fence_);
  }
  return after;
}

Status PostgresStore::ReleaseLease(const std::string& holder) {
  return Call(Mode::kUpdate, [&]() -> Status {
    return Query("UPDATE leases SET expires_ms = 0 WHERE name = $1 AND holder = $2",
                 Params().Add(store_keys::kLeaseName).Add(holder), "release the lease")
        .status();
  });
}

Result<Lease> PostgresStore::ReadLease() {
  return Call(Mode::kStatement, [&]() -> Result<Lease> {
    PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT holder, token, expires_ms FROM leases WHERE name = $1",
                                               Params().Add(store_keys::kLeaseName), "read the lease"));
    if (rows.size() == 0) return Lease{};
    return Lease{rows.Text(0, 0), rows.Int(0, 1), rows.Int(0, 2)};
  });
}

Status PostgresStore::PublishCaps(const std::vector<PublishedCap>& caps) {
  return Call(Mode::kUpdate, [&]() -> Status {
    PRESCALE_RETURN_IF_ERROR(CheckFenceLocked());
    PRESCALE_RETURN_IF_ERROR(Exec("DELETE FROM published_caps", "clear the published caps"));
    for (const PublishedCap& cap : caps) {
      PRESCALE_RETURN_IF_ERROR(Query("INSERT INTO published_caps (tenant, service, cpu_cores) VALUES ($1, $2, $3) "
                                     "ON CONFLICT (tenant, service) DO UPDATE SET cpu_cores = excluded.cpu_cores",
                                     Params().Add(cap.tenant).Add(cap.service).Add(cap.cpu_cores),
                                     "publish the cap of " + cap.tenant + "/" + cap.service)
                                   .status());
    }
    return Status::Ok();
  });
}

Result<std::vector<PublishedCap>> PostgresStore::PublishedCaps() {
  return Call(Mode::kStatement, [&]() -> Result<std::vector<PublishedCap>> {
    PRESCALE_ASSIGN_OR_RETURN(
        auto rows, Query("SELECT tenant, service, cpu_cores FROM published_caps ORDER BY tenant, service", Params(),
                         "read the published caps"));
    std::vector<PublishedCap> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) out.push_back({rows.Text(i, 0), rows.Text(i, 1), rows.Double(i, 2)});
    return out;
  });
}

}  // namespace prescale::aggregator::postgres_internal
