// Private to the SQLite control store: the statement wrapper, the helpers its
// files share, and the SqliteStore class, whose methods are defined one group
// of tables a file: sqlite_store.cc (the connection, statements, opening),
// sqlite_migrations.cc (the schema), sqlite_objects.cc (objects and their
// references), sqlite_tokens.cc, sqlite_audit.cc (the hash chain) and
// sqlite_outbox.cc (the actions' outbox and the services' status).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/base/status.h"
#include "store_keys.h"

namespace prescale::aggregator::sqlite_internal {

using store_keys::CheckVersion;
using store_keys::ClampLimit;
using store_keys::DecodeObjectToken;
using store_keys::EncodeObjectToken;
using store_keys::Fence;
using store_keys::FilterMember;
using store_keys::HexDecode;
using store_keys::HexEncode;
using store_keys::KeyName;
using store_keys::kMaxLimit;
using store_keys::ParseFilterField;
using store_keys::ParseKind;

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

  Stmt& Bind(std::string_view value);
  Stmt& Bind(int64_t value) {
    Note(sqlite3_bind_int64(stmt_, ++next_, value));
    return *this;
  }
  Stmt& Bind(double value) {
    Note(sqlite3_bind_double(stmt_, ++next_, value));
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
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
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

// The ControlStore over one connection (sqlite_store.h); every public method
// holds mu_.
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
  Result<std::optional<AuditRecord>> RecordAndQueue(std::optional<AuditRecord> audit,
                                                    const std::vector<OutboxEntry>& entries,
                                                    std::optional<int64_t> target) override;
  Result<std::vector<OutboxEntry>> QueuedFor(const std::vector<std::string>& executors, bool only,
                                             size_t limit) override;
  Status DropQueued(const std::string& action_id) override;
  Result<Approval> Approve(Approval approval, AuditRecord audit) override;
  Result<std::vector<Approval>> PendingApprovals() override;
  Result<AuditRecord> UseApproval(int64_t seq, AuditRecord audit, const std::vector<OutboxEntry>& entries,
                                  std::optional<int64_t> target) override;
  Result<std::vector<ServiceStatus>> ServiceStatuses() override;
  Status SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                            const std::string& source, int64_t now_ms) override;
  Result<Lease> AcquireLease(const std::string& holder, int64_t now_ms, int64_t duration_ms) override;
  Status ReleaseLease(const std::string& holder) override;
  Result<Lease> ReadLease() override;
  Status PublishCaps(const std::vector<PublishedCap>& caps) override;
  Result<std::vector<PublishedCap>> PublishedCaps() override;
  void AppendMetrics(std::string* out) const override { errors_.AppendMetrics(out, "sqlite"); }

 private:
  // Every SQLite failure: kUnavailable while another writer holds the lock
  // (retryable), kIoError otherwise; the message names the file.
  Status Error(int rc, std::string_view doing, const char* detail = nullptr) const;
  Status Exec(const std::string& sql, std::string_view doing);
  // Statements with fixed text are prepared once and kept; List's vary with
  // the query (owners, filters), so they are prepared per call.
  Result<Stmt> Prepare(const std::string& sql, bool cache = true);
  // True on a row, false when done.
  Result<bool> Next(Stmt& stmt, std::string_view doing) const;
  Status Run(Stmt& stmt, std::string_view doing) const;

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

  // FailedPrecondition naming the file when it is not a database or is damaged.
  Status CheckIntegrity();
  Status Migrate();
  Result<StoredObject> ReadObject(const Stmt& stmt) const;
  Result<std::optional<StoredObject>> LoadObject(const ObjectKey& key);
  Status LoadReferences(StoredObject& object);
  Result<bool> Exists(const ObjectKey& key);
  Result<std::optional<ObjectKey>> FindReferrer(const ObjectKey& key);
  Status WriteObject(const StoredObject& object, bool existed);
  Result<std::optional<TokenRecord>> LoadToken(const char* column, const std::string& value);
  Result<AuditRecord> Append(AuditRecord audit);
  // RecordAndQueue's writes, in the caller's transaction (fence checked).
  Result<std::optional<AuditRecord>> QueueLocked(std::optional<AuditRecord> audit,
                                                 const std::vector<OutboxEntry>& entries,
                                                 std::optional<int64_t> target);
  // The lease row, if any (in the caller's transaction).
  Result<std::optional<Lease>> LoadLease();
  // Within an action write's transaction: store_keys::CheckFence when fence_ is set.
  Status CheckFenceLocked();

  const std::string path_;
  sqlite3* const db_;
  std::mutex mu_;               // one connection: every method holds it
  int64_t object_writes_ = 0;   // Put and Delete calls on this connection
  std::optional<Fence> fence_;  // set by the first AcquireLease: action writes are fenced from then on
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  mutable store_keys::ErrorCounter errors_;  // counted by Error()
};

}  // namespace prescale::aggregator::sqlite_internal
