// ControlStore: the control plane's repository: tenants, services and
// policies (versioned JSON specs), API tokens (SHA-256 hashes only) and the
// hash-chained audit log. Every write runs in one transaction together with
// its audit record, so a change and its record exist together or not at all.
// SqliteStore (sqlite_store.h) is the embedded implementation; no SQL type
// appears here, so a PostgreSQL one can follow. Implementations are
// thread-safe: any thread may call any method.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::aggregator {

enum class ObjectKind { kTenant, kService, kPolicy };
std::string_view ObjectKindName(ObjectKind kind);  // "tenant", "service", "policy"

// Services are named within their tenant; tenants and policies globally.
struct ObjectKey {
  ObjectKind kind = ObjectKind::kTenant;
  std::string tenant;  // services: their tenant; empty for tenants and policies
  std::string name;
  bool operator==(const ObjectKey&) const = default;
};

struct StoredObject {
  ObjectKey key;
  // The tenant the object belongs to, for access checks: a tenant itself, a
  // service's tenant, a policy's owning tenant ("" for a global policy).
  std::string owner;
  int64_t version = 0;    // set by the store: 1 when created, +1 on every change
  std::string spec_json;  // the object as the API shows it, canonical compact JSON
  // Objects this one needs (a service: its tenant and its policy). Put fails
  // with kFailedPrecondition when one is missing; Delete of an object that
  // something references fails the same way.
  std::vector<ObjectKey> references;
  int64_t created_ms = 0;  // set by the store (audit time of the create)
  int64_t updated_ms = 0;  // set by the store
};

// A top-level member of the spec (or "labels.KEY") equal to a string value.
struct FieldFilter {
  std::string field;
  std::string value;
};

struct ListQuery {
  ObjectKind kind = ObjectKind::kTenant;
  std::optional<std::string> tenant;               // services: only this tenant's
  std::optional<std::vector<std::string>> owners;  // only objects owned by one of these
  std::vector<FieldFilter> filters;                // all must hold
  std::string page_token;                          // from a previous Page::next_page_token
  size_t limit = 100;                              // 1..1000
  bool references = true;                          // false: StoredObject::references left empty (faster)
};

template <typename T>
struct Page {
  std::vector<T> items;         // in key order
  std::string next_page_token;  // empty on the last page
};

// One audit record. The store assigns seq, prev_hash and hash; the rest is the caller's.
struct AuditRecord {
  int64_t seq = 0;  // 1, 2, 3, ... without gaps
  int64_t time_ms = 0;
  std::string request_id;
  std::string actor;         // a token id, or "config", "bootstrap", "cli"
  std::string actor_role;    // "admin", "operator", "viewer", "agent", ""
  std::string actor_tenant;  // "" when the actor is not bound to a tenant
  std::string action;        // "create", "replace", "patch", "delete", "token.create", "token.revoke", ...
  std::string kind;          // "tenant", "service", "policy", "token", ...
  std::string tenant;        // the tenant the object belongs to ("" for global ones)
  std::string name;
  std::string before_json = "null";  // the object before (Put/Delete fill it in)
  std::string after_json = "null";   // after (Put fills it in)
  int status = 0;                    // the HTTP status the request got; 0 for actions without one
  std::string message;
  std::string prev_hash;  // hex SHA-256 of the previous record ("" for the first)
  std::string hash;       // hex SHA-256 over prev_hash and AuditCanonicalForm
};

// What a record's hash covers: every field but `hash`, in a fixed order, as
// compact JSON. Store-independent, so every implementation chains the same way.
std::string AuditCanonicalForm(const AuditRecord& record);
// `bytes` random bytes (OpenSSL's RAND_bytes) as lowercase hex; "" if the generator fails.
std::string RandomHex(size_t bytes);

// Hex SHA-256 of the canonical form (which includes prev_hash).
std::string AuditHash(const AuditRecord& record);

struct AuditQuery {
  std::optional<std::string> tenant;  // only records about this tenant's objects
  std::optional<std::string> kind;
  int64_t after_seq = 0;  // records with seq > after_seq
  size_t limit = 100;     // 1..1000
};

struct AuditVerification {
  bool ok = true;
  int64_t records = 0;        // records checked
  int64_t first_bad_seq = 0;  // the first record that does not verify (0 when ok)
  std::string reason;         // why it does not ("hash mismatch", "sequence gap: ...", ...)
  std::string head_hash;      // the last good record's hash: anchor it elsewhere to detect a cut tail
};

// Checks records fed in seq order: each seq follows the previous one, each
// prev_hash is the previous hash, each hash is AuditHash of its record.
class AuditChainVerifier {
 public:
  // False (and stops checking) at the first bad record.
  bool Feed(const AuditRecord& record);
  const AuditVerification& result() const { return result_; }

 private:
  AuditVerification result_;
  int64_t last_seq_ = 0;
  std::string last_hash_;
};

struct TokenRecord {
  std::string id;  // public ("tok_" + 16 hex digits); the secret is never stored
  std::string name;
  std::string role;    // "admin", "operator", "viewer", "agent"
  std::string tenant;  // operators and viewers: their tenant; empty for the others
  std::string sha256_hex;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // 0: never
  int64_t revoked_ms = 0;  // 0: not revoked
};

enum class WriteMode { kCreate, kReplace, kUpsert };

// A scaling action waiting for its executor: the durable outbox, so no action
// is lost across a restart. Delivered at least once, oldest first.
struct OutboxEntry {
  std::string action_id;  // unique
  std::string tenant, service;
  std::string executor;      // "webhook", "kubernetes"
  std::string payload_json;  // the action as the webhook body carries it
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;
  int64_t attempts = 0;
  std::string last_error;
};

// What is known of a service's replicas besides its spec: the target the
// engine last set, and the replicas its executor, a report or the Kubernetes
// scale subresource last said run. Observed state: not audited as a change of
// the spec (the actions and reports that set it are).
struct ServiceStatus {
  std::string tenant, service;
  int64_t target = 0;              // the last action's to_replicas, or the last report (0: none yet)
  std::optional<int64_t> current;  // the replicas last reported to run
  std::string current_source;      // "webhook", "kubernetes", "report"
  int64_t updated_ms = 0;
};

// Leadership among replicas sharing one store (issue 17): one lease, held by
// one replica at a time until it expires, with a fencing token that grows by
// one each time the lease changes hands. Times are the callers' Unix ms.
struct Lease {
  std::string holder;      // "" when nobody ever took it
  int64_t token = 0;       // the fencing token
  int64_t expires_ms = 0;  // by the clock of the holder that last renewed it
};

// A throttled service's CPU cap, as the leader last published it for the
// other replicas' /api/v1/directives.
struct PublishedCap {
  std::string tenant, service;
  double cpu_cores = 0;
  bool operator==(const PublishedCap&) const = default;
};

// An approval of a recommend-only service's recommendation (POST
// /api/v1/tenants/{t}/services/{s}/approve): the leader's next decision acts
// on it once, through the service's executor, when the recommendation is
// still the one approved. One per service: a later approval replaces it.
struct Approval {
  std::string tenant, service;
  int64_t replicas = 0;  // the recommendation approved
  int64_t seq = 0;       // its "approve" audit record's seq (set by the store)
  std::string actor;     // who approved (the token's name)
  int64_t created_ms = 0;
};

class ControlStore {
 public:
  ControlStore() = default;
  ControlStore(const ControlStore&) = delete;
  ControlStore& operator=(const ControlStore&) = delete;
  virtual ~ControlStore() = default;

  // One object; kNotFound when absent.
  virtual Result<StoredObject> Get(const ObjectKey& key) = 0;
  // A page of objects in key order; a bad page token is kInvalidArgument.
  virtual Result<Page<StoredObject>> List(const ListQuery& query) = 0;
  // Creates or replaces `object` and appends `audit` (with before, after and
  // times filled in; for kUpsert, status 201 when it creates the object and
  // 200 when it replaces it) in one transaction; returns the object as stored.
  // kAlreadyExists: create of an existing key. kNotFound: replace of a
  // missing one. kConflict: expected_version set and not the stored version.
  // kFailedPrecondition: a reference is missing.
  virtual Result<StoredObject> Put(StoredObject object, WriteMode mode, std::optional<int64_t> expected_version,
                                   AuditRecord audit) = 0;
  // Deletes and audits in one transaction; returns the deleted object.
  // kNotFound, kConflict as Put; kFailedPrecondition while something references it.
  virtual Result<StoredObject> Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                                      AuditRecord audit) = 0;

  // Changes whenever a tenant, service or policy may have changed (here or,
  // for a shared database, in another process): readers cache until it does.
  virtual Result<std::string> ObjectsGeneration() = 0;

  // Tokens. Create fails with kAlreadyExists on a reused id or hash.
  virtual Status CreateToken(const TokenRecord& token, AuditRecord audit) = 0;
  virtual Result<TokenRecord> GetToken(const std::string& id) = 0;
  // The token whose secret hashes to sha256_hex (revoked and expired ones too: the caller decides).
  virtual Result<TokenRecord> FindTokenByHash(const std::string& sha256_hex) = 0;
  virtual Result<Page<TokenRecord>> ListTokens(const std::string& page_token, size_t limit) = 0;
  // Sets revoked_ms (kept once set) and audits; returns the token as stored.
  virtual Result<TokenRecord> RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) = 0;

  // Appends a record on its own (refused requests, scaling actions); returns it as stored.
  virtual Result<AuditRecord> AppendAudit(AuditRecord audit) = 0;
  virtual Result<Page<AuditRecord>> ListAudit(const AuditQuery& query) = 0;
  // Walks the whole chain with AuditChainVerifier.
  virtual Result<AuditVerification> VerifyAudit() = 0;

  // Scaling actions. Appends `audit` (a "scale" record with the decision's
  // inputs), queues `entry` when there is one, and sets the service's target
  // to `target`, in one transaction. kAlreadyExists on a reused action id.
  virtual Result<AuditRecord> RecordAction(AuditRecord audit, const std::optional<OutboxEntry>& entry,
                                           int64_t target) = 0;
  // The oldest `limit` queued entries, due or not, in the order they were queued.
  virtual Result<std::vector<OutboxEntry>> QueuedActions(size_t limit) = 0;
  // Every queued entry's count and the oldest's created_ms (0 when empty).
  virtual Result<std::pair<int64_t, int64_t>> OutboxBacklog() = 0;
  // The attempt failed for now: counts it and sets when to try again.
  virtual Status RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) = 0;
  // The action is finished (delivered, or failed for good): removes it and
  // appends `audit` (the delivery result) in one transaction. kNotFound when
  // it is not queued.
  virtual Result<AuditRecord> FinishAction(const std::string& action_id, AuditRecord audit) = 0;
  // Scaling events (docs/events.md): queues `entries` in order (an action's
  // executor entry and its events' entries, a recommendation's or a
  // trigger's events), appends `audit` when there is one and sets the
  // service's target when `target` is given, all in one transaction; fenced
  // as RecordAction. Returns the audit record as stored (nullopt without
  // one). kAlreadyExists on a reused id.
  virtual Result<std::optional<AuditRecord>> RecordAndQueue(std::optional<AuditRecord> audit,
                                                            const std::vector<OutboxEntry>& entries,
                                                            std::optional<int64_t> target) = 0;
  // The oldest `limit` queued entries whose executor is one of `executors`
  // (only = true) or none of them (only = false), due or not, in queue order:
  // the dispatcher reads actions and each sink's events apart, so that a
  // backlog of one never hides the other.
  virtual Result<std::vector<OutboxEntry>> QueuedFor(const std::vector<std::string>& executors, bool only,
                                                     size_t limit) = 0;
  // Takes a delivered entry out of the outbox without an audit record (a
  // published event; fenced as FinishAction). kNotFound when it is not queued.
  virtual Status DropQueued(const std::string& action_id) = 0;
  // Approvals. Records `approval` (replacing the service's pending one) and
  // appends `audit` (its "approve" record, whose seq becomes the approval's)
  // in one transaction; returns the approval as stored. Changes ObjectsGeneration.
  virtual Result<Approval> Approve(Approval approval, AuditRecord audit) = 0;
  // The approvals not used yet, oldest first.
  virtual Result<std::vector<Approval>> PendingApprovals() = 0;
  // Uses approval `seq` once: takes it out and, in the same transaction, does
  // what RecordAndQueue does with `audit`, `entries` and `target` (the action
  // it brought, or only the record of why it brought none); fenced as
  // RecordAction. kNotFound when it is not pending (used already, or
  // replaced by a later approval): then nothing is written.
  virtual Result<AuditRecord> UseApproval(int64_t seq, AuditRecord audit, const std::vector<OutboxEntry>& entries,
                                          std::optional<int64_t> target) = 0;
  // Every service's status, by (tenant, service).
  virtual Result<std::vector<ServiceStatus>> ServiceStatuses() = 0;
  // Records the replicas a service runs (feedback, reports, the Kubernetes
  // scale subresource); they become its target too: the next decision starts from them.
  virtual Status SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                                    const std::string& source, int64_t now_ms) = 0;

  // Leadership. Renews the lease until now_ms + duration_ms when `holder`
  // holds it (expired or not: nobody took it since); takes it when it is free
  // or expired (the token grows by one; audited as "leader.acquire"); else
  // leaves it. Returns the lease as it stands after the call.
  //
  // Fencing: from the first call on, this store object's action writes
  // (RecordAction, RetryAction, FinishAction, UseApproval, PublishCaps) check in their own
  // transaction that the lease still carries the token this object last took
  // for `holder`, and fail with kFailedPrecondition otherwise ("not the
  // leader"): a replica that paused past its lease, and lost it, writes
  // nothing. A store object that never called it is not fenced (one process
  // on its own database: the embedded SQLite store, the command line).
  virtual Result<Lease> AcquireLease(const std::string& holder, int64_t now_ms, int64_t duration_ms) = 0;
  // Ends the lease now when `holder` holds it (a replica that stops hands
  // over at once); nothing otherwise.
  virtual Status ReleaseLease(const std::string& holder) = 0;
  virtual Result<Lease> ReadLease() = 0;
  // Replaces the published caps (fenced, as the action writes).
  virtual Status PublishCaps(const std::vector<PublishedCap>& caps) = 0;
  // The caps the leader last published, by (tenant, service).
  virtual Result<std::vector<PublishedCap>> PublishedCaps() = 0;

  // prescale_control_store_errors_total{store, reason}: the database's
  // failures (unavailable: retryable, such as a lost connection, a lock
  // timeout or a full disk; io: the rest), not the callers' (a conflict, a
  // missing object, a bad value).
  virtual void AppendMetrics(std::string* out) const = 0;
};

}  // namespace prescale::aggregator
