#include "prescale/aggregator/control/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace prescale::aggregator {
namespace {

// SQLITE_TRANSIENT without its C-style cast: SQLite copies every bound value,
// so a temporary may be bound.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<intptr_t>(-1));  // NOLINT(performance-no-int-to-ptr)

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
};
constexpr int64_t kSchemaVersion = static_cast<int64_t>(std::size(kMigrations));

constexpr size_t kMaxLimit = 1000;
constexpr const char* kObjectColumns = "kind, tenant, name, owner, version, spec, created_ms, updated_ms";
constexpr const char* kTokenColumns = "id, name, role, tenant, sha256, created_ms, expires_ms, revoked_ms";
constexpr const char* kAuditColumns =
    "seq, time_ms, request_id, actor, actor_role, actor_tenant, action, kind, tenant, name, before_json, "
    "after_json, status, message, prev_hash, hash";

// A prepared statement for one use. Cached statements are reset and unbound
// when it goes out of scope, others finalized. Bind() numbers parameters in
// call order; a failed bind is reported by the next Step().
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, bool cached) : stmt_(stmt), cached_(cached) {}
  Stmt(Stmt&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)),
        cached_(other.cached_),
        next_(other.next_),
        bind_rc_(other.bind_rc_) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (stmt_ == nullptr) return;
    if (cached_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    } else {
      sqlite3_finalize(stmt_);
    }
  }

  Stmt& Bind(std::string_view value) {
    // An empty view may have a null data(), which SQLite would bind as NULL.
    const char* data = value.data() != nullptr ? value.data() : "";
    Note(sqlite3_bind_text64(stmt_, ++next_, data, value.size(), kTransient, SQLITE_UTF8));
    return *this;
  }
  Stmt& Bind(int64_t value) {
    Note(sqlite3_bind_int64(stmt_, ++next_, value));
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_); }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), size);
  }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  void Note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3_stmt* stmt_;
  bool cached_;
  int next_ = 0;
  int bind_rc_ = SQLITE_OK;
};

std::optional<ObjectKind> ParseKind(std::string_view name) {
  for (ObjectKind kind : {ObjectKind::kTenant, ObjectKind::kService, ObjectKind::kPolicy}) {
    if (ObjectKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

// "service a/web", "tenant a", "policy p": how errors name an object.
std::string KeyName(const ObjectKey& key) {
  std::string out(ObjectKindName(key.kind));
  out += ' ';
  if (!key.tenant.empty()) out += key.tenant + "/";
  return out + key.name;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

// Object page tokens: hex(tenant) "." hex(name) of the last key returned (the
// kind is the query's). Hex has no '.', so the split is unambiguous.
std::string EncodeObjectToken(const ObjectKey& key) { return HexEncode(key.tenant) + "." + HexEncode(key.name); }

std::optional<std::pair<std::string, std::string>> DecodeObjectToken(std::string_view token) {
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto tenant = HexDecode(token.substr(0, dot));
  auto name = HexDecode(token.substr(dot + 1));
  if (!tenant || !name) return std::nullopt;
  return std::make_pair(std::move(*tenant), std::move(*name));
}

// JSON paths cannot carry user text unchecked: a field is a member name of
// letters, digits, '_', '-', '.' and '/' (label keys such as
// app.kubernetes.io/name), quoted in the path so its dots stay in the name.
std::optional<std::string> FilterPath(const std::string& field) {
  if (field.empty()) return std::nullopt;
  for (char c : field) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                         c == '-' || c == '.' || c == '/';
    if (!allowed) return std::nullopt;
  }
  static constexpr std::string_view kLabels = "labels.";
  if (field.starts_with(kLabels)) {
    if (field.size() == kLabels.size()) return std::nullopt;
    return "$.labels.\"" + field.substr(kLabels.size()) + "\"";
  }
  return "$.\"" + field + "\"";
}

size_t ClampLimit(size_t limit) { return std::clamp<size_t>(limit, 1, kMaxLimit); }

class SqliteStore final : public ControlStore {
 public:
  SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  ~SqliteStore() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Status Init(const SqliteStoreOptions& options);

  Result<StoredObject> Get(const ObjectKey& key) override;
  Result<Page<StoredObject>> List(const ListQuery& query) override;
  Result<StoredObject> Put(StoredObject object, WriteMode mode, std::optional<int64_t> expected_version,
                           AuditRecord audit) override;
  Result<StoredObject> Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                              AuditRecord audit) override;
  Result<std::string> ObjectsGeneration() override;
  Status CreateToken(const TokenRecord& token, AuditRecord audit) override;
  Result<TokenRecord> GetToken(const std::string& id) override;
  Result<TokenRecord> FindTokenByHash(const std::string& sha256_hex) override;
  Result<Page<TokenRecord>> ListTokens(const std::string& page_token, size_t limit) override;
  Result<TokenRecord> RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) override;
  Result<AuditRecord> AppendAudit(AuditRecord audit) override;
  Result<Page<AuditRecord>> ListAudit(const AuditQuery& query) override;
  Result<AuditVerification> VerifyAudit() override;
  Result<AuditRecord> RecordAction(AuditRecord audit, const std::optional<OutboxEntry>& entry, int64_t target) override;
  Result<std::vector<OutboxEntry>> QueuedActions(size_t limit) override;
  Result<std::pair<int64_t, int64_t>> OutboxBacklog() override;
  Status RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) override;
  Result<AuditRecord> FinishAction(const std::string& action_id, AuditRecord audit) override;
  Result<std::vector<ServiceStatus>> ServiceStatuses() override;
  Status SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                            const std::string& source, int64_t now_ms) override;

 private:
  // Every SQLite failure: kUnavailable while another writer holds the lock
  // (retryable), kIoError otherwise; the message names the file.
  Status Error(int rc, std::string_view doing, const char* detail = nullptr) const {
    std::string message = "sqlite database " + path_ + ": " + std::string(doing) + ": ";
    if (detail != nullptr) {
      message += detail;
    } else if (sqlite3_extended_errcode(db_) == rc) {
      message += sqlite3_errmsg(db_);
    } else {
      message += sqlite3_errstr(rc);
    }
    const int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(std::move(message));
    return Status::IoError(std::move(message));
  }
  Status Exec(const std::string& sql, std::string_view doing) {
    char* detail = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &detail);
    Status status = rc == SQLITE_OK ? Status::Ok() : Error(rc, doing, detail);
    sqlite3_free(detail);
    return status;
  }
  // Statements with fixed text are prepared once and kept; List's vary with
  // the query (owners, filters), so they are prepared per call.
  Result<Stmt> Prepare(const std::string& sql, bool cache = true) {
    if (auto it = cache_.find(sql); it != cache_.end()) return Stmt(it->second, true);
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                      cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "prepare " + sql);
    if (cache) cache_.emplace(sql, stmt);
    return Stmt(stmt, cache);
  }
  // True on a row, false when done.
  Result<bool> Next(Stmt& stmt, std::string_view doing) const {
    const int rc = stmt.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(rc, doing);
  }
  Status Run(Stmt& stmt, std::string_view doing) const {
    const int rc = stmt.Step();
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::Ok() : Error(rc, doing);
  }

  // Runs body between `begin` and COMMIT; rolls back when it fails. A write
  // begins IMMEDIATE so it takes the write lock up front (waiting up to
  // busy_timeout) instead of failing on upgrade halfway through.
  template <typename Body>
  auto InTransaction(const char* begin, Body&& body) -> decltype(body()) {
    PRESCALE_RETURN_IF_ERROR(Exec(begin, "begin a transaction"));
    auto result = body();
    if (result.ok()) {
      Status committed = Exec("COMMIT", "commit");
      if (committed.ok()) return result;
      result = std::move(committed);
    }
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec("ROLLBACK", "roll back");
    return result;
  }

  Status Migrate();
  Result<StoredObject> ReadObject(const Stmt& stmt) const;
  Result<std::optional<StoredObject>> LoadObject(const ObjectKey& key);
  Status LoadReferences(StoredObject& object);
  Result<bool> Exists(const ObjectKey& key);
  Result<std::optional<ObjectKey>> FindReferrer(const ObjectKey& key);
  Status WriteObject(const StoredObject& object, bool existed);
  Result<std::optional<TokenRecord>> LoadToken(const char* column, const std::string& value);
  Result<AuditRecord> Append(AuditRecord audit);

  const std::string path_;
  sqlite3* const db_;
  std::mutex mu_;              // one connection: every method holds it
  int64_t object_writes_ = 0;  // Put and Delete calls on this connection
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

Status SqliteStore::Init(const SqliteStoreOptions& options) {
  sqlite3_extended_result_codes(db_, 1);
  const int64_t busy_ms = std::clamp<int64_t>(options.busy_timeout.count(), 0, INT32_MAX);
  PRESCALE_RETURN_IF_ERROR(Exec("PRAGMA busy_timeout = " + std::to_string(busy_ms), "set busy_timeout"));
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

Result<StoredObject> SqliteStore::ReadObject(const Stmt& stmt) const {
  StoredObject object;
  const std::string kind = stmt.Text(0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "'");
  object.key = {*parsed, stmt.Text(1), stmt.Text(2)};
  object.owner = stmt.Text(3);
  object.version = stmt.Int(4);
  object.spec_json = stmt.Text(5);
  object.created_ms = stmt.Int(6);
  object.updated_ms = stmt.Int(7);
  return object;
}

Result<std::optional<StoredObject>> SqliteStore::LoadObject(const ObjectKey& key) {
  std::optional<StoredObject> object;
  {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("SELECT ") + kObjectColumns +
                                                 " FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read " + KeyName(key)));
    if (!row) return object;
    PRESCALE_ASSIGN_OR_RETURN(auto loaded, ReadObject(stmt));
    object = std::move(loaded);
  }
  PRESCALE_RETURN_IF_ERROR(LoadReferences(*object));
  return object;
}

Status SqliteStore::LoadReferences(StoredObject& object) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT to_kind, to_tenant, to_name FROM refs WHERE from_kind = ? AND "
                                               "from_tenant = ? AND from_name = ? ORDER BY rowid"));
  stmt.Bind(ObjectKindName(object.key.kind)).Bind(object.key.tenant).Bind(object.key.name);
  object.references.clear();
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the references of " + KeyName(object.key)));
    if (!row) return Status::Ok();
    const std::string kind = stmt.Text(0);
    const std::optional<ObjectKind> parsed = ParseKind(kind);
    if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "' in refs");
    object.references.push_back({*parsed, stmt.Text(1), stmt.Text(2)});
  }
}

Result<bool> SqliteStore::Exists(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT 1 FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
  stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
  return Next(stmt, "read " + KeyName(key));
}

Result<std::optional<ObjectKey>> SqliteStore::FindReferrer(const ObjectKey& key) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT from_kind, from_tenant, from_name FROM refs WHERE to_kind = ? "
                                               "AND to_tenant = ? AND to_name = ? ORDER BY rowid LIMIT 1"));
  stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the references to " + KeyName(key)));
  if (!row) return std::optional<ObjectKey>();
  const std::string kind = stmt.Text(0);
  const std::optional<ObjectKind> parsed = ParseKind(kind);
  if (!parsed) return Status::IoError("sqlite database " + path_ + ": unknown object kind '" + kind + "' in refs");
  return std::optional<ObjectKey>(ObjectKey{*parsed, stmt.Text(1), stmt.Text(2)});
}

Status SqliteStore::WriteObject(const StoredObject& object, bool existed) {
  const std::string doing = "write " + KeyName(object.key);
  const ObjectKey& key = object.key;
  {
    PRESCALE_ASSIGN_OR_RETURN(
        auto stmt,
        Prepare(existed ? "UPDATE objects SET owner = ?, version = ?, spec = ?, created_ms = ?, updated_ms = ? "
                          "WHERE kind = ? AND tenant = ? AND name = ?"
                        : "INSERT INTO objects (owner, version, spec, created_ms, updated_ms, kind, tenant, "
                          "name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(object.owner).Bind(object.version).Bind(object.spec_json).Bind(object.created_ms);
    stmt.Bind(object.updated_ms).Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                              Prepare("DELETE FROM refs WHERE from_kind = ? AND from_tenant = ? AND from_name = ?"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  for (const ObjectKey& to : object.references) {
    PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("INSERT OR IGNORE INTO refs (from_kind, from_tenant, from_name, "
                                                 "to_kind, to_tenant, to_name) VALUES (?, ?, ?, ?, ?, ?)"));
    stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
    stmt.Bind(ObjectKindName(to.kind)).Bind(to.tenant).Bind(to.name);
    PRESCALE_RETURN_IF_ERROR(Run(stmt, doing));
  }
  return Status::Ok();
}

// Within a write transaction: chains the record to the last one and inserts it.
Result<AuditRecord> SqliteStore::Append(AuditRecord audit) {
  {
    PRESCALE_ASSIGN_OR_RETURN(auto last, Prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(last, "read the last audit record"));
    audit.seq = row ? last.Int(0) + 1 : 1;
    audit.prev_hash = row ? last.Text(1) : std::string();
  }
  audit.hash = AuditHash(audit);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("INSERT INTO audit (") + kAuditColumns +
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(audit.seq).Bind(audit.time_ms).Bind(audit.request_id).Bind(audit.actor).Bind(audit.actor_role);
  stmt.Bind(audit.actor_tenant).Bind(audit.action).Bind(audit.kind).Bind(audit.tenant).Bind(audit.name);
  stmt.Bind(audit.before_json).Bind(audit.after_json).Bind(static_cast<int64_t>(audit.status)).Bind(audit.message);
  stmt.Bind(audit.prev_hash).Bind(audit.hash);
  PRESCALE_RETURN_IF_ERROR(Run(stmt, "append audit record " + std::to_string(audit.seq)));
  return audit;
}

Status CheckVersion(const std::string& name, const std::optional<StoredObject>& stored,
                    std::optional<int64_t> expected) {
  if (!expected) return Status::Ok();
  if (!stored) {
    return Status::Conflict(name + " does not exist, but the request expected version " + std::to_string(*expected));
  }
  if (stored->version != *expected) {
    return Status::Conflict(name + " is at version " + std::to_string(stored->version) +
                            ", but the request expected version " + std::to_string(*expected));
  }
  return Status::Ok();
}

Result<StoredObject> SqliteStore::Get(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN", [&]() -> Result<StoredObject> {
    PRESCALE_ASSIGN_OR_RETURN(auto object, LoadObject(key));
    if (!object) return Status::NotFound(KeyName(key) + " not found");
    return std::move(*object);
  });
}

Result<Page<StoredObject>> SqliteStore::List(const ListQuery& query) {
  std::optional<std::pair<std::string, std::string>> after;
  if (!query.page_token.empty()) {
    after = DecodeObjectToken(query.page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  std::vector<std::string> paths;
  for (const FieldFilter& filter : query.filters) {
    std::optional<std::string> path = FilterPath(filter.field);
    if (!path) {
      return Status::InvalidArgument("filter field '" + filter.field +
                                     "': use a spec member or labels.KEY of letters, digits, '_', '-', '.', '/'");
    }
    paths.push_back(std::move(*path));
  }
  if (query.owners && query.owners->empty()) return Page<StoredObject>{};
  const size_t limit = ClampLimit(query.limit);

  std::string sql = std::string("SELECT ") + kObjectColumns + " FROM objects WHERE kind = ?";
  if (query.tenant) sql += " AND tenant = ?";
  if (query.owners) {
    sql += " AND owner IN (?";
    for (size_t i = 1; i < query.owners->size(); ++i) sql += ", ?";
    sql += ")";
  }
  for (size_t i = 0; i < paths.size(); ++i) sql += " AND json_extract(spec, ?) = ?";
  if (after) sql += " AND (tenant, name) > (?, ?)";
  sql += " ORDER BY tenant, name LIMIT ?";

  std::lock_guard lock(mu_);
  return InTransaction("BEGIN", [&]() -> Result<Page<StoredObject>> {
    Page<StoredObject> page;
    {
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(sql, false));
      stmt.Bind(ObjectKindName(query.kind));
      if (query.tenant) stmt.Bind(*query.tenant);
      if (query.owners) {
        for (const std::string& owner : *query.owners) stmt.Bind(owner);
      }
      for (size_t i = 0; i < paths.size(); ++i) stmt.Bind(paths[i]).Bind(query.filters[i].value);
      if (after) stmt.Bind(after->first).Bind(after->second);
      stmt.Bind(static_cast<int64_t>(limit + 1));
      while (true) {
        PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list objects"));
        if (!row) break;
        PRESCALE_ASSIGN_OR_RETURN(auto object, ReadObject(stmt));
        page.items.push_back(std::move(object));
      }
    }
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_page_token = EncodeObjectToken(page.items.back().key);
    }
    if (query.references) {
      for (StoredObject& object : page.items) PRESCALE_RETURN_IF_ERROR(LoadReferences(object));
    }
    return page;
  });
}

Result<StoredObject> SqliteStore::Put(StoredObject object, WriteMode mode, std::optional<int64_t> expected_version,
                                      AuditRecord audit) {
  std::lock_guard lock(mu_);
  ++object_writes_;
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<StoredObject> {
    const std::string name = KeyName(object.key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(object.key));
    if (mode == WriteMode::kCreate && before) return Status::AlreadyExists(name + " already exists");
    if (mode == WriteMode::kReplace && !before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    for (const ObjectKey& ref : object.references) {
      PRESCALE_ASSIGN_OR_RETURN(auto exists, Exists(ref));
      if (!exists) return Status::FailedPrecondition(name + " references " + KeyName(ref) + ", which does not exist");
    }
    object.version = before ? before->version + 1 : 1;
    object.created_ms = before ? before->created_ms : audit.time_ms;
    object.updated_ms = audit.time_ms;
    PRESCALE_RETURN_IF_ERROR(WriteObject(object, before.has_value()));
    audit.before_json = before ? before->spec_json : "null";
    audit.after_json = object.spec_json;
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(object);
  });
}

Result<StoredObject> SqliteStore::Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                                         AuditRecord audit) {
  std::lock_guard lock(mu_);
  ++object_writes_;
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<StoredObject> {
    const std::string name = KeyName(key);
    PRESCALE_ASSIGN_OR_RETURN(auto before, LoadObject(key));
    if (!before) return Status::NotFound(name + " not found");
    PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
    PRESCALE_ASSIGN_OR_RETURN(auto referrer, FindReferrer(key));
    if (referrer)
      return Status::FailedPrecondition("cannot delete " + name + ": " + KeyName(*referrer) + " references it");
    {
      // Its own references go with it (ON DELETE CASCADE).
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("DELETE FROM objects WHERE kind = ? AND tenant = ? AND name = ?"));
      stmt.Bind(ObjectKindName(key.kind)).Bind(key.tenant).Bind(key.name);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "delete " + name));
    }
    audit.before_json = before->spec_json;
    audit.after_json = "null";
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*before);
  });
}

Result<std::optional<TokenRecord>> SqliteStore::LoadToken(const char* column, const std::string& value) {
  PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                            Prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE " + column + " = ?"));
  stmt.Bind(value);
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read a token"));
  if (!row) return std::optional<TokenRecord>();
  return std::optional<TokenRecord>(TokenRecord{stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4),
                                                stmt.Int(5), stmt.Int(6), stmt.Int(7)});
}

Status SqliteStore::CreateToken(const TokenRecord& token, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Status {
    PRESCALE_ASSIGN_OR_RETURN(auto same_id, LoadToken("id", token.id));
    if (same_id) return Status::AlreadyExists("token " + token.id + " already exists");
    PRESCALE_ASSIGN_OR_RETURN(auto same_hash, LoadToken("sha256", token.sha256_hex));
    if (same_hash) return Status::AlreadyExists("token " + same_hash->id + " already has this secret's hash");
    {
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("INSERT INTO tokens (") + kTokenColumns +
                                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
      stmt.Bind(token.id).Bind(token.name).Bind(token.role).Bind(token.tenant).Bind(token.sha256_hex);
      stmt.Bind(token.created_ms).Bind(token.expires_ms).Bind(token.revoked_ms);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "create token " + token.id));
    }
    return Append(std::move(audit)).status();
  });
}

Result<TokenRecord> SqliteStore::GetToken(const std::string& id) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
  if (!token) return Status::NotFound("token " + id + " not found");
  return std::move(*token);
}

Result<TokenRecord> SqliteStore::FindTokenByHash(const std::string& sha256_hex) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("sha256", sha256_hex));
  if (!token) return Status::NotFound("no token has this hash");
  return std::move(*token);
}

Result<Page<TokenRecord>> SqliteStore::ListTokens(const std::string& page_token, size_t limit) {
  std::optional<std::string> after;
  if (!page_token.empty()) {
    after = HexDecode(page_token);
    if (!after) return Status::InvalidArgument("invalid page_token");
  }
  limit = ClampLimit(limit);
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare(std::string("SELECT ") + kTokenColumns + " FROM tokens WHERE id > ? ORDER BY id LIMIT ?"));
  stmt.Bind(after.value_or("")).Bind(static_cast<int64_t>(limit + 1));
  Page<TokenRecord> page;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list tokens"));
    if (!row) break;
    page.items.push_back(
        {stmt.Text(0), stmt.Text(1), stmt.Text(2), stmt.Text(3), stmt.Text(4), stmt.Int(5), stmt.Int(6), stmt.Int(7)});
  }
  if (page.items.size() > limit) {
    page.items.pop_back();
    page.next_page_token = HexEncode(page.items.back().id);
  }
  return page;
}

Result<TokenRecord> SqliteStore::RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<TokenRecord> {
    PRESCALE_ASSIGN_OR_RETURN(auto token, LoadToken("id", id));
    if (!token) return Status::NotFound("token " + id + " not found");
    if (token->revoked_ms == 0) {
      token->revoked_ms = now_ms;
      PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("UPDATE tokens SET revoked_ms = ? WHERE id = ?"));
      stmt.Bind(now_ms).Bind(id);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "revoke token " + id));
    }
    PRESCALE_RETURN_IF_ERROR(Append(std::move(audit)).status());
    return std::move(*token);
  });
}

Result<AuditRecord> SqliteStore::AppendAudit(AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() { return Append(std::move(audit)); });
}

AuditRecord ReadAudit(const Stmt& stmt) {
  AuditRecord r;
  r.seq = stmt.Int(0);
  r.time_ms = stmt.Int(1);
  r.request_id = stmt.Text(2);
  r.actor = stmt.Text(3);
  r.actor_role = stmt.Text(4);
  r.actor_tenant = stmt.Text(5);
  r.action = stmt.Text(6);
  r.kind = stmt.Text(7);
  r.tenant = stmt.Text(8);
  r.name = stmt.Text(9);
  r.before_json = stmt.Text(10);
  r.after_json = stmt.Text(11);
  r.status = static_cast<int>(stmt.Int(12));
  r.message = stmt.Text(13);
  r.prev_hash = stmt.Text(14);
  r.hash = stmt.Text(15);
  return r;
}

Result<Page<AuditRecord>> SqliteStore::ListAudit(const AuditQuery& query) {
  const size_t limit = ClampLimit(query.limit);
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit WHERE seq > ?";
  if (query.tenant) sql += " AND tenant = ?";
  if (query.kind) sql += " AND kind = ?";
  sql += " ORDER BY seq LIMIT ?";
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(sql));
  stmt.Bind(query.after_seq);
  if (query.tenant) stmt.Bind(*query.tenant);
  if (query.kind) stmt.Bind(*query.kind);
  stmt.Bind(static_cast<int64_t>(limit + 1));
  Page<AuditRecord> page;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "list audit records"));
    if (!row) break;
    page.items.push_back(ReadAudit(stmt));
  }
  if (page.items.size() > limit) {
    page.items.pop_back();
    page.next_page_token = std::to_string(page.items.back().seq);
  }
  return page;
}

Result<AuditVerification> SqliteStore::VerifyAudit() {
  std::lock_guard lock(mu_);
  // One statement reads one snapshot, even while other processes append.
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare(std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY seq"));
  AuditChainVerifier verifier;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the audit log"));
    if (!row || !verifier.Feed(ReadAudit(stmt))) break;
  }
  return verifier.result();
}

Result<std::string> SqliteStore::ObjectsGeneration() {
  std::lock_guard lock(mu_);
  // data_version changes when another connection commits; this one's writes are counted.
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("PRAGMA data_version"));
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read data_version"));
  return std::to_string(object_writes_) + ":" + (row ? std::to_string(stmt.Int(0)) : "0");
}

Result<AuditRecord> SqliteStore::RecordAction(AuditRecord audit, const std::optional<OutboxEntry>& entry,
                                              int64_t target) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<AuditRecord> {
    if (entry) {
      PRESCALE_ASSIGN_OR_RETURN(
          auto stmt, Prepare("INSERT INTO outbox (action_id, tenant, service, executor, payload, created_ms, "
                             "next_attempt_ms, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      stmt.Bind(entry->action_id).Bind(entry->tenant).Bind(entry->service).Bind(entry->executor);
      stmt.Bind(entry->payload_json).Bind(entry->created_ms).Bind(entry->next_attempt_ms).Bind(entry->attempts);
      stmt.Bind(entry->last_error);
      const int rc = stmt.Step();
      if ((rc & 0xff) == SQLITE_CONSTRAINT) return Status::AlreadyExists("action " + entry->action_id + " is queued");
      if (rc != SQLITE_DONE) return Error(rc, "queue action " + entry->action_id);
    }
    {
      PRESCALE_ASSIGN_OR_RETURN(
          auto stmt,
          Prepare("INSERT INTO service_status (tenant, service, target, current, current_source, updated_ms) "
                  "VALUES (?, ?, ?, NULL, '', ?) ON CONFLICT (tenant, service) DO UPDATE SET "
                  "target = excluded.target, updated_ms = excluded.updated_ms"));
      stmt.Bind(audit.tenant).Bind(audit.name).Bind(target).Bind(audit.time_ms);
      PRESCALE_RETURN_IF_ERROR(Run(stmt, "set the target of " + audit.tenant + "/" + audit.name));
    }
    return Append(std::move(audit));
  });
}

Result<std::vector<OutboxEntry>> SqliteStore::QueuedActions(size_t limit) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(
      auto stmt, Prepare("SELECT action_id, tenant, service, executor, payload, created_ms, next_attempt_ms, attempts, "
                         "last_error FROM outbox ORDER BY seq LIMIT ?"));
  stmt.Bind(static_cast<int64_t>(ClampLimit(limit)));
  std::vector<OutboxEntry> out;
  while (true) {
    PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "read the outbox"));
    if (!row) break;
    OutboxEntry& e = out.emplace_back();
    e.action_id = stmt.Text(0);
    e.tenant = stmt.Text(1);
    e.service = stmt.Text(2);
    e.executor = stmt.Text(3);
    e.payload_json = stmt.Text(4);
    e.created_ms = stmt.Int(5);
    e.next_attempt_ms = stmt.Int(6);
    e.attempts = stmt.Int(7);
    e.last_error = stmt.Text(8);
  }
  return out;
}

Result<std::pair<int64_t, int64_t>> SqliteStore::OutboxBacklog() {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt, Prepare("SELECT count(*), coalesce(min(created_ms), 0) FROM outbox"));
  PRESCALE_ASSIGN_OR_RETURN(auto row, Next(stmt, "count the outbox"));
  if (!row) return std::make_pair(int64_t{0}, int64_t{0});
  return std::make_pair(stmt.Int(0), stmt.Int(1));
}

Status SqliteStore::RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) {
  std::lock_guard lock(mu_);
  PRESCALE_ASSIGN_OR_RETURN(auto stmt,
                            Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? "
                                    "WHERE action_id = ?"));
  stmt.Bind(next_attempt_ms).Bind(error).Bind(action_id);
  PRESCALE_RETURN_IF_ERROR(Run(stmt, "reschedule action " + action_id));
  if (sqlite3_changes(db_) == 0) return Status::NotFound("action " + action_id + " is not queued");
  return Status::Ok();
}

Result<AuditRecord> SqliteStore::FinishAction(const std::string& action_id, AuditRecord audit) {
  std::lock_guard lock(mu_);
  return InTransaction("BEGIN IMMEDIATE", [&]() -> Result<AuditRecord> {
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

}  // namespace

Result<std::unique_ptr<ControlStore>> OpenSqliteStore(const std::string& path, const SqliteStoreOptions& options) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status status = Status::IoError("sqlite database " + path +
                                    ": cannot open: " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  auto store = std::make_unique<SqliteStore>(path, db);
  PRESCALE_RETURN_IF_ERROR(store->Init(options));
  return std::unique_ptr<ControlStore>(std::move(store));
}

}  // namespace prescale::aggregator
