// PostgresStore: the ControlStore kept in a PostgreSQL database (libpq), so
// that several aggregator processes can share one control plane. The same
// schema as SqliteStore's (translated), versioned migrations tracked in a
// schema_version table and applied under an advisory lock, every write and
// its audit record in one transaction, audit appends serialised by a table
// lock so seq has no gaps. Thread-safe: each call takes a connection of a
// small pool (PostgresStoreOptions::connections) for its transaction, so
// reads run side by side. When the database goes away, methods fail with
// kUnavailable naming it and the reason; the next call reconnects.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

struct PostgresStoreOptions {
  // How long a (re)connect may take before kUnavailable (libpq's
  // connect_timeout, whole seconds; a URL's own connect_timeout wins).
  std::chrono::seconds connect_timeout{5};
  // How long a write waits for another writer's lock before kUnavailable
  // (PostgreSQL's lock_timeout), as SqliteStore's busy_timeout.
  std::chrono::milliseconds lock_timeout{5000};
  // How long a statement may take, answer included, before kUnavailable and
  // a new connection: a server that hangs (frozen, cut off by the network)
  // never holds a thread longer. The server is told the same
  // (statement_timeout), and ends a transaction left idle that long
  // (idle_in_transaction_session_timeout).
  std::chrono::milliseconds query_timeout{10000};
  // Connections kept open: as many calls run at once (more wait for one).
  size_t connections = 8;
  // How long a token found by its hash is answered from memory (every API
  // request looks its token up; 0: never). A revocation through this store
  // takes effect at once; one through another process sharing the database
  // (another replica) within this time, as Kubernetes' API server caches
  // token reviews.
  std::chrono::milliseconds token_cache_ttl{1000};
};

// True for the URLs that select PostgresStore: postgres://... and postgresql://...
bool IsPostgresUrl(std::string_view url);

// Checks a postgres:// URL without connecting: kInvalidArgument saying what is
// wrong (the password is never part of a message).
Status CheckPostgresUrl(const std::string& url);

// Connects to `url` (postgres://user:password@host:port/dbname?params),
// checks its schema and migrates it. kUnavailable naming the database (never
// the password) when it cannot be reached; kFailedPrecondition when its
// schema is newer than this build knows; kInvalidArgument for a bad URL.
Result<std::unique_ptr<ControlStore>> OpenPostgresStore(const std::string& url, const PostgresStoreOptions& options);

}  // namespace prescale::aggregator
