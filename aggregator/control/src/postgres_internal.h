// Private to the PostgreSQL control store: the result and parameter wrappers,
// the helpers its files share, and the PostgresStore class, whose methods are
// defined one group of tables a file as SqliteStore's are: postgres_store.cc
// (the connection, errors, transactions, opening), postgres_migrations.cc
// (the schema), postgres_objects.cc, postgres_tokens.cc, postgres_audit.cc
// (the hash chain) and postgres_outbox.cc (the outbox and the services' status).
#pragma once

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/control/postgres_store.h"
#include "prescale/base/status.h"
#include "store_keys.h"

namespace prescale::aggregator::postgres_internal {

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

// Statement parameters in text form, numbered $1, $2, ... in the order added.
class Params {
 public:
  Params& Add(std::string_view value) {
    values_.emplace_back(value);
    return *this;
  }
  Params& Add(int64_t value) {
    values_.emplace_back(std::to_string(value));
    return *this;
  }
  Params& Add(double value);  // shortest text that reads back as the same double
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  size_t size() const { return values_.size(); }
  bool HasNul() const {
    return std::any_of(values_.begin(), values_.end(),
                       [](const auto& v) { return v && v->find('\0') != std::string::npos; });
  }
  // Pointers for PQexecParams, valid while this object lives unchanged.
  std::vector<const char*> Pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A query's rows (text format).
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  int64_t affected() const;  // rows an INSERT, UPDATE or DELETE changed
  std::string Text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column), static_cast<size_t>(PQgetlength(result_.get(), row, column))};
  }
  int64_t Int(int row, int column) const;
  double Double(int row, int column) const;
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// The ControlStore over a pool of connections (postgres_store.h): every
// public method runs in Call(), which takes a connection of its own for the
// call (opening one while fewer than options_.connections are open, else
// waiting for one), (re)connects it when needed and gives it back after.
class PostgresStore final : public ControlStore {
 public:
  PostgresStore(std::string url, std::string name, PostgresStoreOptions options)
      : url_(std::move(url)), name_(std::move(name)), options_(options) {}

  // Connects and migrates; the error as OpenPostgresStore's.
  Status Init();

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
  void AppendMetrics(std::string* out) const override { errors_.AppendMetrics(out, "postgresql"); }

 private:
  // How a call's transaction begins. kRead: one snapshot for all its
  // statements (REPEATABLE READ, READ ONLY). kStatement: a read of one
  // statement, which is its own transaction (no BEGIN and COMMIT: one round
  // trip). kWrite (audited writes) takes the audit table's lock first: such
  // writers run one at a time (as SQLite's BEGIN IMMEDIATE), so each record's
  // seq follows the last committed one and no check-then-write races another
  // process. kUpdate: an unaudited single-statement write (READ COMMITTED, no lock).
  enum class Mode { kRead, kStatement, kWrite, kUpdate };

  // Runs body in one transaction on a live connection of the pool. The
  // transaction's BEGIN (a kStatement's statement) is retried once on a
  // fresh connection when the old one turns out to be dead (nothing of the
  // call ran yet, or it only read), so a database that came back is used at
  // once; any later loss is kUnavailable.
  template <typename Body>
  auto Call(Mode mode, Body&& body) -> decltype(body()) {
    auto result = CallOnce(mode, std::forward<Body>(body));
    if (!result.ok()) errors_.Count(StatusOf(result));
    return result;
  }
  static const Status& StatusOf(const Status& s) { return s; }
  template <typename T>
  static const Status& StatusOf(const Result<T>& r) {
    return r.status();
  }
  template <typename Body>
  auto CallOnce(Mode mode, Body&& body) -> decltype(body()) {
    // Audited writers run one at a time anyway (the audit lock): they queue
    // here, not holding connections that reads could use meanwhile.
    std::unique_lock<std::mutex> writer(writer_mu_, std::defer_lock);
    if (mode == Mode::kWrite) writer.lock();
    const Checkout session(this);
    if (mode == Mode::kStatement) {
      const bool had_connection = Conn() != nullptr;
      PRESCALE_RETURN_IF_ERROR(Connect());
      auto result = body();
      if (result.ok() || !had_connection || (Conn() != nullptr && PQstatus(Conn()) == CONNECTION_OK)) return result;
      PRESCALE_RETURN_IF_ERROR(Connect());
      return body();
    }
    PRESCALE_RETURN_IF_ERROR(Begin(mode));
    auto result = body();
    if (result.ok()) {
      Status committed = Exec("COMMIT", "commit");
      if (committed.ok()) return result;
      result = std::move(committed);
    }
    Rollback();
    return result;
  }

  Status Connect();
  Status Begin(Mode mode);
  void Rollback();
  // Every failure: kUnavailable when the connection is lost or the server
  // cannot serve now (shutting down, out of disk, lock timeout, serialisation
  // failure: retryable), kIoError otherwise; the message names the database.
  Status Error(const PGresult* result, std::string_view doing) const;
  Status Exec(const std::string& sql, std::string_view doing);
  Result<Rows> Query(const std::string& sql, const Params& params, std::string_view doing);
  // The name `sql` is prepared under on this session's connection (prepared
  // now when new); nullopt past the most a connection prepares.
  Result<std::optional<std::string>> Prepared(const std::string& sql, std::string_view doing);
  // Waits for the answer of what was sent, within query_timeout.
  Result<Rows> Await(std::string_view doing);

  Status Migrate();
  Result<std::optional<StoredObject>> LoadObject(const ObjectKey& key);
  Result<bool> Exists(const ObjectKey& key);
  Result<std::optional<ObjectKey>> FindReferrer(const ObjectKey& key);
  // The object's row, and its references' when they differ from before's.
  Status WriteObject(const StoredObject& object, const std::optional<StoredObject>& before);
  Result<std::optional<TokenRecord>> LoadToken(const char* column, const std::string& value);
  Result<AuditRecord> Append(AuditRecord audit);
  // RecordAndQueue's writes, in the caller's transaction (fence checked).
  Result<std::optional<AuditRecord>> QueueLocked(std::optional<AuditRecord> audit,
                                                 const std::vector<OutboxEntry>& entries,
                                                 std::optional<int64_t> target);
  // The lease row, if any (in the caller's transaction).
  Result<std::optional<Lease>> LoadLease();
  // AcquireLease's takeover (the lease is not the holder's): with the audit lock, audited.
  Result<Lease> TakeLease(const std::string& holder, int64_t now_ms, int64_t duration_ms);
  // Within an action write's transaction: store_keys::CheckFence when fence_ is set.
  Status CheckFenceLocked();

  const std::string url_;
  const std::string name_;  // "postgres database HOST:PORT/DB", for messages (no password)
  const PostgresStoreOptions options_;
  // One connection of the pool; PQfinish on destruction.
  struct Session {
    Session() = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() { PQfinish(conn); }
    PGconn* conn = nullptr;  // null until connected, and after it was dropped
    // In a kWrite transaction: the last audit record's seq and hash, read by
    // its BEGIN's round trip and moved on by each Append.
    std::optional<std::pair<int64_t, std::string>> audit_head;
    // Statements prepared on conn, by their SQL: parsed and planned once per
    // connection, not on every call. Emptied with a new connection.
    std::unordered_map<std::string, std::string> prepared;
  };
  // The session a call took, for as long as it lasts: current_session on this thread.
  class Checkout {
   public:
    explicit Checkout(PostgresStore* store);
    ~Checkout();
    Checkout(const Checkout&) = delete;
    Checkout& operator=(const Checkout&) = delete;

   private:
    PostgresStore* store_;
    std::unique_ptr<Session> session_;
    Session* outer_;  // the thread's session before (none but in tests)
  };
  // The connection of the calling thread's session (a call is under way).
  PGconn*& Conn() { return current_session->conn; }
  PGconn* Conn() const { return current_session->conn; }
  static thread_local Session* current_session;

  store_keys::ErrorCounter errors_;
  std::mutex writer_mu_;  // held by a kWrite call for all its length
  std::mutex pool_mu_;    // guards what follows
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Session>> idle_;
  size_t sessions_ = 0;  // idle and checked out

  // FindTokenByHash's answers by hash (options_.token_cache_ttl).
  struct CachedToken {
    TokenRecord token;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex tokens_mu_;  // guards what follows
  std::unordered_map<std::string, CachedToken> token_cache_;
  uint64_t token_revocations_ = 0;  // a lookup that began before one is not cached

  std::mutex mu_;               // guards fence_
  std::optional<Fence> fence_;  // set by the first AcquireLease: action writes are fenced from then on
};

}  // namespace prescale::aggregator::postgres_internal
