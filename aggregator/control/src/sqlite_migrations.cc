// SqliteStore's schema: the migrations and the step that applies them.

#include <sqlite3.h>

#include <cstdint>
#include <iterator>
#include <string>

#include "sqlite_internal.h"

namespace prescale::aggregator::sqlite_internal {
namespace {

// Schema migrations: step i brings PRAGMA user_version from i to i + 1, in its
// own transaction. Append only; a released step is never edited.
constexpr const char* kMigrations[] = {
    // 1: objects with their references, API tokens, the audit chain.
    R"sql(
CREATE TABLE objects (
  kind TEXT NOT NULL,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (kind, tenant, name)
);
CREATE TABLE refs (
  from_kind TEXT NOT NULL,
  from_tenant TEXT NOT NULL,
  from_name TEXT NOT NULL,
  to_kind TEXT NOT NULL,
  to_tenant TEXT NOT NULL,
  to_name TEXT NOT NULL,
  UNIQUE (from_kind, from_tenant, from_name, to_kind, to_tenant, to_name),
  FOREIGN KEY (from_kind, from_tenant, from_name) REFERENCES objects (kind, tenant, name) ON DELETE CASCADE,
  FOREIGN KEY (to_kind, to_tenant, to_name) REFERENCES objects (kind, tenant, name)
);
CREATE INDEX refs_to ON refs (to_kind, to_tenant, to_name);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  tenant TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
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
  seq INTEGER PRIMARY KEY,
  action_id TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  service TEXT NOT NULL,
  executor TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL
);
CREATE TABLE service_status (
  tenant TEXT NOT NULL,
  service TEXT NOT NULL,
  target INTEGER NOT NULL,
  current INTEGER,
  current_source TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
    // 3: the leadership lease with its fencing token, and the caps the leader published.
    R"sql(
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  token INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE TABLE published_caps (
  tenant TEXT NOT NULL,
  service TEXT NOT NULL,
  cpu_cores REAL NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
    // 4: nothing (PostgreSQL's 4 re-indexes the audit by digest; SQLite's indexes take any
    // length). Kept so both stores count their schema alike.
    R"sql(
SELECT 1;
)sql",
    // 5: approvals of recommendations, each used once by the leader's next decision.
    R"sql(
CREATE TABLE approvals (
  tenant TEXT NOT NULL,
  service TEXT NOT NULL,
  replicas INTEGER NOT NULL,
  seq INTEGER NOT NULL UNIQUE,
  actor TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant, service)
);
)sql",
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

}  // namespace

Status SqliteStore::Migrate() {
  // One step per transaction, re-reading user_version under the write lock so
  // two processes opening a new file together apply each step once.
  while (true) {
    Result<int64_t> version = InTransaction("BEGIN IMMEDIATE", [&]() -> Result<int64_t> {
      PRESCALE_ASSIGN_OR_RETURN(auto query, Prepare("PRAGMA user_version", false));
      PRESCALE_ASSIGN_OR_RETURN(auto row, Next(query, "read user_version"));
      const int64_t current = row ? query.Int(0) : 0;
      if (current > kSchemaVersion) {
        return Status::FailedPrecondition("sqlite database " + path_ + ": schema version " + std::to_string(current) +
                                          " is newer than this prescale knows (" + std::to_string(kSchemaVersion) +
                                          "); run a newer prescale or restore an older file");
      }
      if (current == kSchemaVersion) return current;
      const std::string step = "apply schema migration " + std::to_string(current + 1);
      PRESCALE_RETURN_IF_ERROR(Exec(kMigrations[current], step));
      PRESCALE_RETURN_IF_ERROR(Exec("PRAGMA user_version = " + std::to_string(current + 1), step));
      return current + 1;
    });
    if (!version.ok()) return version.status();
    if (*version == kSchemaVersion) return Status::Ok();
  }
}

}  // namespace prescale::aggregator::sqlite_internal
