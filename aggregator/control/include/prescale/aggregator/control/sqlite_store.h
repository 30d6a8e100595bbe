// SqliteStore: the ControlStore kept in one SQLite database file (WAL
// journal, foreign keys on, versioned schema migrations tracked in
// PRAGMA user_version). Every write and its audit record commit in one
// BEGIN IMMEDIATE transaction. Thread-safe: one connection behind a mutex, so
// any thread may call any method; other processes may open the same file
// (SQLite serialises their writers, waiting up to busy_timeout).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

struct SqliteStoreOptions {
  // PRAGMA synchronous=FULL (a commit survives a power cut) or NORMAL (it may
  // be lost, but the database stays consistent).
  bool synchronous_full = true;
  // How long a write waits for another process's lock before kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (creating if needed) the database at `path`, checks it (PRAGMA
// quick_check) and migrates its schema. Fails with kIoError naming the path
// when it cannot be opened, and with kFailedPrecondition when it is not a
// database or is damaged (the file is left untouched, its write-ahead log
// too) or its schema is newer than this build knows.
Result<std::unique_ptr<ControlStore>> OpenSqliteStore(const std::string& path, const SqliteStoreOptions& options);

}  // namespace prescale::aggregator
