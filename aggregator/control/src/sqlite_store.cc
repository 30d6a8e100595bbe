#include "prescale/aggregator/control/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sqlite_internal.h"

namespace prescale::aggregator {
namespace sqlite_internal {
namespace {

// SQLITE_TRANSIENT without its C-style cast: SQLite copies every bound value,
// so a temporary may be bound.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<intptr_t>(-1));  // NOLINT(performance-no-int-to-ptr)

}  // namespace

Stmt& Stmt::Bind(std::string_view value) {
  // An empty view may have a null data(), which SQLite would bind as NULL.
  const char* data = value.data() != nullptr ? value.data() : "";
  Note(sqlite3_bind_text64(stmt_, ++next_, data, value.size(), kTransient, SQLITE_UTF8));
  return *this;
}

Status SqliteStore::Error(int rc, std::string_view doing, const char* detail) const {
  std::string message = "sqlite database " + path_ + ": " + std::string(doing) + ": ";
  if (detail != nullptr) {
    message += detail;
  } else if (sqlite3_extended_errcode(db_) == rc) {
    message += sqlite3_errmsg(db_);
  } else {
    message += sqlite3_errstr(rc);
  }
  const int primary = rc & 0xff;
  Status error = Status::IoError(message);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) error = Status::Unavailable(std::move(message));
  // A full disk is not the caller's fault and passes once space is freed: retryable
  // (503), and the transaction was rolled back, so nothing of the write is kept.
  if (primary == SQLITE_FULL) error = Status::Unavailable(std::move(message) + " (no space left for the write)");
  errors_.Count(error);
  return error;
}

Status SqliteStore::Exec(const std::string& sql, std::string_view doing) {
  char* detail = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &detail);
  Status status = rc == SQLITE_OK ? Status::Ok() : Error(rc, doing, detail);
  sqlite3_free(detail);
  return status;
}

Result<Stmt> SqliteStore::Prepare(const std::string& sql, bool cache) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Stmt(it->second, true);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare " + sql);
  if (cache) cache_.emplace(sql, stmt);
  return Stmt(stmt, cache);
}

Result<bool> SqliteStore::Next(Stmt& stmt, std::string_view doing) const {
  const int rc = stmt.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(rc, doing);
}

Status SqliteStore::Run(Stmt& stmt, std::string_view doing) const {
  const int rc = stmt.Step();
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::Ok() : Error(rc, doing);
}

// Before anything may write to the file (the WAL switch, migrations): SQLite
// would open a damaged file and fail (or write) later, in the middle of work.
Status SqliteStore::CheckIntegrity() {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA quick_check(1)", -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  std::string problem;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text == nullptr || std::string_view(reinterpret_cast<const char*>(text)) != "ok") {
      problem = text == nullptr ? "no answer" : reinterpret_cast<const char*>(text);
    }
  } else {
    problem = sqlite3_errmsg(db_);
  }
  sqlite3_finalize(stmt);
  if (problem.empty()) return Status::Ok();
  std::replace(problem.begin(), problem.end(), '\n', ' ');  // "*** in database main ***\nPage 15: ..."
  const int primary = rc & 0xff;
  if (rc != SQLITE_ROW && primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB) {
    return Error(rc, "check the database", problem.c_str());  // not the file's fault: permissions, locks
  }
  return Status::FailedPrecondition("sqlite database " + path_ + " is damaged (" + problem +
                                    "); it was left as it is: restore it from a backup, or move it away to start "
                                    "with an empty control store");
}

Status SqliteStore::Init(const SqliteStoreOptions& options) {
  sqlite3_extended_result_codes(db_, 1);
  const int64_t busy_ms = std::clamp<int64_t>(options.busy_timeout.count(), 0, INT32_MAX);
  PRESCALE_RETURN_IF_ERROR(Exec("PRAGMA busy_timeout = " + std::to_string(busy_ms), "set busy_timeout"));
  PRESCALE_RETURN_IF_ERROR(CheckIntegrity());
  PRESCALE_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys = ON", "enable foreign keys"));
  {
    PRESCALE_ASSIGN_OR_RETURN(auto wal, Prepare("PRAGMA journal_mode = WAL", false));
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(wal, "set journal_mode=WAL"));
    // An in-memory database (":memory:", no data directory) keeps its own "memory" journal.
    const bool in_memory = path_ == ":memory:" && row && wal.Text(0) == "memory";
    if (!in_memory && (!row || wal.Text(0) != "wal")) {
      return Status::IoError("sqlite database " + path_ + ": cannot use the WAL journal (journal_mode is " +
                             (row ? wal.Text(0) : std::string("unknown")) + ")");
    }
  }
  PRESCALE_RETURN_IF_ERROR(
      Exec(options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", "set synchronous"));
  return Migrate();
}

}  // namespace sqlite_internal

Result<std::unique_ptr<ControlStore>> OpenSqliteStore(const std::string& path, const SqliteStoreOptions& options) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status status = Status::IoError("sqlite database " + path +
                                    ": cannot open: " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  auto store = std::make_unique<sqlite_internal::SqliteStore>(path, db);
  if (Status s = store->Init(options); !s.ok()) {
    // Closing would checkpoint a write-ahead log left by a crash into the file: a
    // file refused here is left exactly as it was.
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    return s;
  }
  return std::unique_ptr<ControlStore>(std::move(store));
}

}  // namespace prescale::aggregator
