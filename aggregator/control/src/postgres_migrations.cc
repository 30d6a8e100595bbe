// PostgresStore's schema: SqliteStore's migrations translated (TEXT keys
// compare bytewise, COLLATE "C", so pages come in the same order as
// SQLite's; INTEGER becomes BIGINT; rowid order becomes an identity column),
// and the step that applies them.

#include <cstdint>
#include <iterator>
#include <string>

#include "postgres_internal.h"

namespace prescale::aggregator::postgres_internal {
namespace {

// Step i brings schema_version from i to i + 1, in its own transaction.
// Append only; a released step is never edited. Numbered as SqliteStore's.
constexpr const char* kMigrations[] = {
    // 1: objects with their references, API tokens, the audit chain.
    R"sql(
CREATE TABLE objects (
  kind TEXT COLLATE "C" NOT NULL,
  tenant TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  owner TEXT NOT NULL,
  version BIGINT NOT NULL,
  spec TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (kind, tenant, name)
);
CREATE TABLE refs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  from_kind TEXT COLLATE "C" NOT NULL,
  from_tenant TEXT COLLATE "C" NOT NULL,
  from_name TEXT COLLATE "C" NOT NULL,
  to_kind TEXT COLLATE "C" NOT NULL,
  to_tenant TEXT COLLATE "C" NOT NULL,
  to_name TEXT COLLATE "C" NOT NULL,
  UNIQUE (from_kind, from_tenant, from_name, to_kind, to_tenant, to_name),
  FOREIGN KEY (from_kind, from_tenant, from_name) REFERENCES objects (kind, tenant, name) ON DELETE CASCADE,
  FOREIGN KEY (to_kind, to_tenant, to_name) REFERENCES objects (kind, tenant, name)
);
CREATE INDEX refs_to ON refs (to_kind, to_tenant, to_name);
CREATE TABLE tokens (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  revoked_ms BIGINT NOT NULL
);
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY,
  time_ms BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  actor_tenant TEXT NOT NULL,
  action TEXT NOT NULL,
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  before_json TEXT NOT NULL,
  after_json TEXT NOT NULL,
  status INTEGER NOT NULL,
  message TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant, seq);
CREATE INDEX audit_kind ON audit (kind, seq);
)sql",
    // 2: the scaling actions' outbox and the services' observed replicas.
    R"sql(
CREATE TABLE outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action_id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  service TEXT NOT NULL,
  executor TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  attempts BIGINT NOT NULL,
  last_error TEXT NOT NULL
);
CREATE TABLE service_status (
  tenant TEXT COLLATE "C" NOT NULL,
  service TEXT COLLATE "C" NOT NULL,
  target BIGINT NOT NULL,
  current BIGINT,
  current_source TEXT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
    // 3: the leadership lease with its fencing token, and the caps the leader published.
    R"sql(
CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  holder TEXT NOT NULL,
  token BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL
);
CREATE TABLE published_caps (
  tenant TEXT COLLATE "C" NOT NULL,
  service TEXT COLLATE "C" NOT NULL,
  cpu_cores DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
    // 4: the audit's tenant and kind indexed by digest: a btree row holds at most 2704 bytes,
    // and the audit record of a refused request keeps whatever tenant the request named.
    R"sql(
DROP INDEX audit_tenant;
DROP INDEX audit_kind;
CREATE INDEX audit_tenant ON audit (md5(tenant), seq);
CREATE INDEX audit_kind ON audit (md5(kind), seq);
)sql",
    // 5: approvals of recommendations, each used once by the leader's next decision.
    R"sql(
CREATE TABLE approvals (
  tenant TEXT COLLATE "C" NOT NULL,
  service TEXT COLLATE "C" NOT NULL,
  replicas BIGINT NOT NULL,
  seq BIGINT NOT NULL UNIQUE,
  actor TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

// Serialises the migrations of processes opening one database together (an
// arbitrary constant: "prescale" in ASCII).
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(8319395793566789221)";

}  // namespace

Status PostgresStore::Migrate() {
  // One step per transaction, re-reading the version under the advisory lock,
  // as SqliteStore re-reads user_version under its write lock.
  while (true) {
    PRESCALE_RETURN_IF_ERROR(Exec("BEGIN", "begin a migration"));
    Result<int64_t> version = [&]() -> Result<int64_t> {
      PRESCALE_RETURN_IF_ERROR(Exec(kMigrationLock, "lock the schema"));
      PRESCALE_RETURN_IF_ERROR(
          Exec("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL); "
               "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
               "create the schema_version table"));
      PRESCALE_ASSIGN_OR_RETURN(auto rows, Query("SELECT version FROM schema_version", Params(), "read the version"));
      const int64_t current = rows.size() > 0 ? rows.Int(0, 0) : 0;
      if (current > kSchemaVersion) {
        return Status::FailedPrecondition(name_ + ": schema version " + std::to_string(current) +
                                          " is newer than this prescale knows (" + std::to_string(kSchemaVersion) +
                                          "); run a newer prescale or restore an older database");
      }
      if (current == kSchemaVersion) return current;
      const std::string step = "apply schema migration " + std::to_string(current + 1);
      PRESCALE_RETURN_IF_ERROR(Exec(kMigrations[current], step));
      PRESCALE_RETURN_IF_ERROR(Exec("UPDATE schema_version SET version = " + std::to_string(current + 1), step));
      return current + 1;
    }();
    if (version.ok()) {
      PRESCALE_RETURN_IF_ERROR(Exec("COMMIT", "commit a migration"));
      if (*version == kSchemaVersion) return Status::Ok();
    } else {
      Rollback();
      return version.status();
    }
  }
}

}  // namespace prescale::aggregator::postgres_internal
