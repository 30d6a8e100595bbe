// FakeControlStore: the ControlStore interface in memory, for tests and
// benchmarks of what reads and writes the store (DecisionLoop,
// ActionDispatcher) without SQLite. Thread-safe (one mutex).
//
// Implemented as SqliteStore does: objects (Get, List with kind, tenant and
// owners, pages in key order; Put with its modes, expected versions and
// references; Delete), ObjectsGeneration (changes on every Put and Delete),
// the audit log (AppendAudit, ListAudit; seq assigned in order, prev_hash
// chained), the outbox (RecordAction, RecordAndQueue, QueuedActions, OutboxBacklog,
// RetryAction, FinishAction, DropQueued), the approvals (Approve,
// PendingApprovals, UseApproval) and the services' status (ServiceStatuses,
// SetCurrentReplicas, the target RecordAction sets), the lease (taken,
// renewed and handed over as the stores do; no fencing: one process) and the
// published caps.
//
// Not like SqliteStore: audit records are not hashed (hash stays "": hashing
// would link OpenSSL into the benchmark); nothing is durable.
//
// Not supported (they return Status::Internal("not supported by
// FakeControlStore")): List with field filters, VerifyAudit, and the tokens
// (CreateToken, GetToken, FindTokenByHash, ListTokens, RevokeToken).
//
// For tests: PutJson stores an object from its JSON as the API would (the
// canonical spec, owner and references, as BuildObject makes them), and the
// call counters tell what a reader asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/control_store.h"

namespace prescale::testing {

class FakeControlStore final : public aggregator::ControlStore {
 public:
  using ObjectKind = aggregator::ObjectKind;
  using ObjectKey = aggregator::ObjectKey;
  using StoredObject = aggregator::StoredObject;
  using AuditRecord = aggregator::AuditRecord;
  using OutboxEntry = aggregator::OutboxEntry;
  using ServiceStatus = aggregator::ServiceStatus;
  using Lease = aggregator::Lease;
  using PublishedCap = aggregator::PublishedCap;

  // Builds the object from `json` (a service's tenant from `tenant`): parsed,
  // rendered canonical, with owner and references; then Put (upsert) with an
  // audit record by `actor`. kInvalidArgument ("field: message") when it does not parse.
  Result<StoredObject> PutJson(ObjectKind kind, std::string_view json, const std::string& tenant = "",
                               const std::string& actor = "test");

  // Calls so far: List (pages), ObjectsGeneration, ServiceStatuses.
  size_t list_calls() const;
  size_t generation_calls() const;
  size_t status_calls() const;
  // Every audit record, in order.
  std::vector<AuditRecord> audit() const;
  // Audit records with this action ("scale", "recommend", "scale.delivered", ...).
  std::vector<AuditRecord> audit(const std::string& action) const;
  // The status of one service, if it has one.
  std::optional<ServiceStatus> status(const std::string& tenant, const std::string& service) const;

  // ControlStore.
  Result<StoredObject> Get(const ObjectKey& key) override;
  Result<aggregator::Page<StoredObject>> List(const aggregator::ListQuery& query) override;
  Result<StoredObject> Put(StoredObject object, aggregator::WriteMode mode, std::optional<int64_t> expected_version,
                           AuditRecord audit) override;
  Result<StoredObject> Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                              AuditRecord audit) override;
  Result<std::string> ObjectsGeneration() override;
  Status CreateToken(const aggregator::TokenRecord& token, AuditRecord audit) override;
  Result<aggregator::TokenRecord> GetToken(const std::string& id) override;
  Result<aggregator::TokenRecord> FindTokenByHash(const std::string& sha256_hex) override;
  Result<aggregator::Page<aggregator::TokenRecord>> ListTokens(const std::string& page_token, size_t limit) override;
  Result<aggregator::TokenRecord> RevokeToken(const std::string& id, int64_t now_ms, AuditRecord audit) override;
  Result<AuditRecord> AppendAudit(AuditRecord audit) override;
  Result<aggregator::Page<AuditRecord>> ListAudit(const aggregator::AuditQuery& query) override;
  Result<aggregator::AuditVerification> VerifyAudit() override;
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
  Result<aggregator::Approval> Approve(aggregator::Approval approval, AuditRecord audit) override;
  Result<std::vector<aggregator::Approval>> PendingApprovals() override;
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
  // The fake has no database to fail: no errors to export.
  void AppendMetrics(std::string* /*out*/) const override {}

 private:
  // (kind, tenant, name): the key order of List.
  using Key = std::tuple<ObjectKind, std::string, std::string>;
  static Key KeyOf(const ObjectKey& key) { return {key.kind, key.tenant, key.name}; }
  AuditRecord AppendLocked(AuditRecord audit);
  std::optional<ObjectKey> ReferrerLocked(const ObjectKey& key) const;

  mutable std::mutex mu_;
  std::map<Key, StoredObject> objects_;
  int64_t generation_ = 0;
  std::vector<AuditRecord> audit_;
  std::vector<OutboxEntry> outbox_;  // in queue order
  std::map<std::pair<std::string, std::string>, ServiceStatus> status_;
  Lease lease_;
  std::vector<PublishedCap> caps_;
  std::vector<aggregator::Approval> approvals_;  // pending, oldest first
  size_t list_calls_ = 0, generation_calls_ = 0, status_calls_ = 0;
};

}  // namespace prescale::testing
