#include "tests/support/aggregator/fake_control_store.h"

#include <algorithm>

#include "prescale/decide/control_model.h"

namespace prescale::testing {
namespace {

Status NotSupported() { return Status::Internal("not supported by FakeControlStore"); }

// As ObjectKindName (not called: it lives with OpenSSL code in aggregator_control).
std::string KindName(aggregator::ObjectKind kind) {
  switch (kind) {
    case aggregator::ObjectKind::kTenant: return "tenant";
    case aggregator::ObjectKind::kService: return "service";
    case aggregator::ObjectKind::kPolicy: return "policy";
  }
  return "unknown";
}

std::string KeyName(const aggregator::ObjectKey& key) {
  return KindName(key.kind) + " " + (key.tenant.empty() ? "" : key.tenant + "/") + key.name;
}

size_t ClampLimit(size_t limit) { return std::clamp<size_t>(limit, 1, 1000); }

Status CheckVersion(const std::string& name, const aggregator::StoredObject* stored, std::optional<int64_t> expected) {
  if (!expected) return Status::Ok();
  if (stored == nullptr) return Status::Conflict(name + " does not exist, but the request expected a version");
  if (stored->version != *expected) {
    return Status::Conflict(name + " is at version " + std::to_string(stored->version) +
                            ", but the request expected version " + std::to_string(*expected));
  }
  return Status::Ok();
}

// The object as BuildObject makes it: canonical spec, owner, references.
Result<aggregator::StoredObject> BuildFromJson(aggregator::ObjectKind kind, std::string_view json,
                                               const std::string& tenant) {
  using aggregator::ObjectKind;
  const std::string base = kind == ObjectKind::kService ? "{\"tenant\":\"" + tenant + "\"}" : "{}";
  PRESCALE_ASSIGN_OR_RETURN(const std::string merged, aggregator::MergePatch(base, json));
  aggregator::StoredObject o;
  o.key.kind = kind;
  switch (kind) {
    case ObjectKind::kTenant: {
      PRESCALE_ASSIGN_OR_RETURN(const aggregator::Tenant t, aggregator::ParseTenant(merged));
      o.key.name = o.owner = t.name;
      o.spec_json = aggregator::RenderTenant(t);
      break;
    }
    case ObjectKind::kService: {
      PRESCALE_ASSIGN_OR_RETURN(const aggregator::Service s, aggregator::ParseService(merged));
      o.key = {kind, s.tenant, s.name};
      o.owner = s.tenant;
      o.references.push_back({ObjectKind::kTenant, "", s.tenant});
      if (!s.policy.empty()) o.references.push_back({ObjectKind::kPolicy, "", s.policy});
      o.spec_json = aggregator::RenderService(s);
      break;
    }
    case ObjectKind::kPolicy: {
      PRESCALE_ASSIGN_OR_RETURN(const aggregator::Policy p, aggregator::ParsePolicy(merged));
      o.key.name = p.name;
      o.owner = p.tenant;
      if (!p.tenant.empty()) o.references.push_back({ObjectKind::kTenant, "", p.tenant});
      o.spec_json = aggregator::RenderPolicy(p);
      break;
    }
  }
  return o;
}

}  // namespace

Result<aggregator::StoredObject> FakeControlStore::PutJson(ObjectKind kind, std::string_view json,
                                                           const std::string& tenant, const std::string& actor) {
  PRESCALE_ASSIGN_OR_RETURN(StoredObject object, BuildFromJson(kind, json, tenant));
  AuditRecord audit;
  audit.actor = actor;
  audit.action = "apply";
  audit.kind = KindName(kind);
  audit.tenant = object.owner;
  audit.name = object.key.name;
  return Put(std::move(object), aggregator::WriteMode::kUpsert, std::nullopt, std::move(audit));
}

size_t FakeControlStore::list_calls() const {
  std::lock_guard lock(mu_);
  return list_calls_;
}

size_t FakeControlStore::generation_calls() const {
  std::lock_guard lock(mu_);
  return generation_calls_;
}

size_t FakeControlStore::status_calls() const {
  std::lock_guard lock(mu_);
  return status_calls_;
}

std::vector<aggregator::AuditRecord> FakeControlStore::audit() const {
  std::lock_guard lock(mu_);
  return audit_;
}

std::vector<aggregator::AuditRecord> FakeControlStore::audit(const std::string& action) const {
  std::lock_guard lock(mu_);
  std::vector<AuditRecord> out;
  for (const AuditRecord& r : audit_) {
    if (r.action == action) out.push_back(r);
  }
  return out;
}

std::optional<aggregator::ServiceStatus> FakeControlStore::status(const std::string& tenant,
                                                                  const std::string& service) const {
  std::lock_guard lock(mu_);
  auto it = status_.find({tenant, service});
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

Result<aggregator::StoredObject> FakeControlStore::Get(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(KeyOf(key));
  if (it == objects_.end()) return Status::NotFound(KeyName(key) + " not found");
  return it->second;
}

Result<aggregator::Page<aggregator::StoredObject>> FakeControlStore::List(const aggregator::ListQuery& query) {
  if (!query.filters.empty()) return NotSupported();
  std::lock_guard lock(mu_);
  ++list_calls_;
  aggregator::Page<StoredObject> page;
  if (query.owners && query.owners->empty()) return page;
  auto it = objects_.lower_bound({query.kind, "", ""});
  if (!query.page_token.empty()) {
    const size_t cut = query.page_token.find('\n');
    if (cut == std::string::npos) return Status::InvalidArgument("invalid page_token");
    it = objects_.upper_bound({query.kind, query.page_token.substr(0, cut), query.page_token.substr(cut + 1)});
  }
  const size_t limit = ClampLimit(query.limit);
  for (; it != objects_.end() && std::get<0>(it->first) == query.kind; ++it) {
    const StoredObject& o = it->second;
    if (query.tenant && o.key.tenant != *query.tenant) continue;
    if (query.owners && std::find(query.owners->begin(), query.owners->end(), o.owner) == query.owners->end()) {
      continue;
    }
    if (page.items.size() == limit) {
      const StoredObject& last = page.items.back();
      page.next_page_token = last.key.tenant + "\n" + last.key.name;
      break;
    }
    page.items.push_back(o);
    if (!query.references) page.items.back().references.clear();
  }
  return page;
}

Result<aggregator::StoredObject> FakeControlStore::Put(StoredObject object, aggregator::WriteMode mode,
                                                       std::optional<int64_t> expected_version, AuditRecord audit) {
  std::lock_guard lock(mu_);
  const std::string name = KeyName(object.key);
  auto it = objects_.find(KeyOf(object.key));
  const StoredObject* before = it == objects_.end() ? nullptr : &it->second;
  if (mode == aggregator::WriteMode::kCreate && before != nullptr)
    return Status::AlreadyExists(name + " already exists");
  if (mode == aggregator::WriteMode::kReplace && before == nullptr) return Status::NotFound(name + " not found");
  PRESCALE_RETURN_IF_ERROR(CheckVersion(name, before, expected_version));
  for (const ObjectKey& ref : object.references) {
    if (!objects_.contains(KeyOf(ref))) {
      return Status::FailedPrecondition(name + " references " + KeyName(ref) + ", which does not exist");
    }
  }
  object.version = before != nullptr ? before->version + 1 : 1;
  object.created_ms = before != nullptr ? before->created_ms : audit.time_ms;
  object.updated_ms = audit.time_ms;
  audit.before_json = before != nullptr ? before->spec_json : "null";
  audit.after_json = object.spec_json;
  objects_[KeyOf(object.key)] = object;
  ++generation_;
  AppendLocked(std::move(audit));
  return object;
}

std::optional<aggregator::ObjectKey> FakeControlStore::ReferrerLocked(const ObjectKey& key) const {
  for (const auto& [k, o] : objects_) {
    for (const ObjectKey& ref : o.references) {
      if (ref == key) return o.key;
    }
  }
  return std::nullopt;
}

Result<aggregator::StoredObject> FakeControlStore::Delete(const ObjectKey& key, std::optional<int64_t> expected_version,
                                                          AuditRecord audit) {
  std::lock_guard lock(mu_);
  const std::string name = KeyName(key);
  auto it = objects_.find(KeyOf(key));
  if (it == objects_.end()) return Status::NotFound(name + " not found");
  PRESCALE_RETURN_IF_ERROR(CheckVersion(name, &it->second, expected_version));
  if (auto referrer = ReferrerLocked(key)) {
    return Status::FailedPrecondition("cannot delete " + name + ": " + KeyName(*referrer) + " references it");
  }
  StoredObject before = std::move(it->second);
  objects_.erase(it);
  ++generation_;
  audit.before_json = before.spec_json;
  audit.after_json = "null";
  AppendLocked(std::move(audit));
  return before;
}

Result<std::string> FakeControlStore::ObjectsGeneration() {
  std::lock_guard lock(mu_);
  ++generation_calls_;
  return std::to_string(generation_);
}

Status FakeControlStore::CreateToken(const aggregator::TokenRecord&, AuditRecord) { return NotSupported(); }
Result<aggregator::TokenRecord> FakeControlStore::GetToken(const std::string&) { return NotSupported(); }
Result<aggregator::TokenRecord> FakeControlStore::FindTokenByHash(const std::string&) { return NotSupported(); }
Result<aggregator::Page<aggregator::TokenRecord>> FakeControlStore::ListTokens(const std::string&, size_t) {
  return NotSupported();
}
Result<aggregator::TokenRecord> FakeControlStore::RevokeToken(const std::string&, int64_t, AuditRecord) {
  return NotSupported();
}

aggregator::AuditRecord FakeControlStore::AppendLocked(AuditRecord audit) {
  audit.seq = static_cast<int64_t>(audit_.size()) + 1;
  audit.prev_hash = audit_.empty() ? std::string() : audit_.back().hash;
  audit.hash.clear();  // not hashed: see the header
  audit_.push_back(audit);
  return audit;
}

Result<aggregator::AuditRecord> FakeControlStore::AppendAudit(AuditRecord audit) {
  std::lock_guard lock(mu_);
  return AppendLocked(std::move(audit));
}

Result<aggregator::Page<aggregator::AuditRecord>> FakeControlStore::ListAudit(const aggregator::AuditQuery& query) {
  std::lock_guard lock(mu_);
  const size_t limit = ClampLimit(query.limit);
  aggregator::Page<AuditRecord> page;
  for (const AuditRecord& r : audit_) {
    if (r.seq <= query.after_seq || (query.tenant && r.tenant != *query.tenant) ||
        (query.kind && r.kind != *query.kind)) {
      continue;
    }
    if (page.items.size() == limit) {
      page.next_page_token = std::to_string(page.items.back().seq);
      break;
    }
    page.items.push_back(r);
  }
  return page;
}

Result<aggregator::AuditVerification> FakeControlStore::VerifyAudit() { return NotSupported(); }

Result<aggregator::AuditRecord> FakeControlStore::RecordAction(AuditRecord audit,
                                                               const std::optional<OutboxEntry>& entry,
                                                               int64_t target) {
  std::lock_guard lock(mu_);
  if (entry) {
    for (const OutboxEntry& e : outbox_) {
      if (e.action_id == entry->action_id) return Status::AlreadyExists("action " + e.action_id + " is queued");
    }
    outbox_.push_back(*entry);
  }
  ServiceStatus& st = status_[{audit.tenant, audit.name}];
  st.tenant = audit.tenant;
  st.service = audit.name;
  st.target = target;
  st.updated_ms = audit.time_ms;
  return AppendLocked(std::move(audit));
}

Result<std::vector<aggregator::OutboxEntry>> FakeControlStore::QueuedActions(size_t limit) {
  std::lock_guard lock(mu_);
  const size_t n = std::min(ClampLimit(limit), outbox_.size());
  return std::vector<OutboxEntry>(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(n));
}

Result<std::pair<int64_t, int64_t>> FakeControlStore::OutboxBacklog() {
  std::lock_guard lock(mu_);
  int64_t oldest = 0;
  for (const OutboxEntry& e : outbox_) {
    if (oldest == 0 || e.created_ms < oldest) oldest = e.created_ms;
  }
  return std::make_pair(static_cast<int64_t>(outbox_.size()), oldest);
}

Status FakeControlStore::RetryAction(const std::string& action_id, int64_t next_attempt_ms, const std::string& error) {
  std::lock_guard lock(mu_);
  for (OutboxEntry& e : outbox_) {
    if (e.action_id != action_id) continue;
    ++e.attempts;
    e.next_attempt_ms = next_attempt_ms;
    e.last_error = error;
    return Status::Ok();
  }
  return Status::NotFound("action " + action_id + " is not queued");
}

Result<aggregator::AuditRecord> FakeControlStore::FinishAction(const std::string& action_id, AuditRecord audit) {
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(outbox_.begin(), outbox_.end(), [&](const OutboxEntry& e) { return e.action_id == action_id; });
  if (it == outbox_.end()) return Status::NotFound("action " + action_id + " is not queued");
  outbox_.erase(it);
  return AppendLocked(std::move(audit));
}

Result<std::optional<aggregator::AuditRecord>> FakeControlStore::RecordAndQueue(std::optional<AuditRecord> audit,
                                                                                const std::vector<OutboxEntry>& entries,
                                                                                std::optional<int64_t> target) {
  if (target && !audit) return Status::InvalidArgument("a target is set by an audited action only");
  std::lock_guard lock(mu_);
  for (const OutboxEntry& entry : entries) {
    for (const OutboxEntry& e : outbox_) {
      if (e.action_id == entry.action_id) return Status::AlreadyExists("action " + e.action_id + " is queued");
    }
  }
  outbox_.insert(outbox_.end(), entries.begin(), entries.end());
  if (!audit) return std::optional<AuditRecord>();
  if (target) {
    ServiceStatus& st = status_[{audit->tenant, audit->name}];
    st.tenant = audit->tenant;
    st.service = audit->name;
    st.target = *target;
    st.updated_ms = audit->time_ms;
  }
  return std::optional<AuditRecord>(AppendLocked(std::move(*audit)));
}

Result<aggregator::Approval> FakeControlStore::Approve(aggregator::Approval approval, AuditRecord audit) {
  std::lock_guard lock(mu_);
  approval.seq = AppendLocked(std::move(audit)).seq;
  std::erase_if(approvals_, [&](const aggregator::Approval& a) {
    return a.tenant == approval.tenant && a.service == approval.service;
  });
  approvals_.push_back(approval);
  ++generation_;
  return approval;
}

Result<std::vector<aggregator::Approval>> FakeControlStore::PendingApprovals() {
  std::lock_guard lock(mu_);
  return approvals_;
}

Result<aggregator::AuditRecord> FakeControlStore::UseApproval(int64_t seq, AuditRecord audit,
                                                              const std::vector<OutboxEntry>& entries,
                                                              std::optional<int64_t> target) {
  {
    std::lock_guard lock(mu_);
    const size_t before = approvals_.size();
    std::erase_if(approvals_, [seq](const aggregator::Approval& a) { return a.seq == seq; });
    if (approvals_.size() == before) return Status::NotFound("approval " + std::to_string(seq) + " is not pending");
  }
  PRESCALE_ASSIGN_OR_RETURN(std::optional<AuditRecord> stored, RecordAndQueue(std::move(audit), entries, target));
  return std::move(*stored);
}

Result<std::vector<aggregator::OutboxEntry>> FakeControlStore::QueuedFor(const std::vector<std::string>& executors,
                                                                         bool only, size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<OutboxEntry> out;
  for (const OutboxEntry& e : outbox_) {
    if (out.size() >= ClampLimit(limit)) break;
    const bool listed = std::find(executors.begin(), executors.end(), e.executor) != executors.end();
    if (listed == only) out.push_back(e);
  }
  return out;
}

Status FakeControlStore::DropQueued(const std::string& action_id) {
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(outbox_.begin(), outbox_.end(), [&](const OutboxEntry& e) { return e.action_id == action_id; });
  if (it == outbox_.end()) return Status::NotFound(action_id + " is not queued");
  outbox_.erase(it);
  return Status::Ok();
}

Result<std::vector<aggregator::ServiceStatus>> FakeControlStore::ServiceStatuses() {
  std::lock_guard lock(mu_);
  ++status_calls_;
  std::vector<ServiceStatus> out;
  out.reserve(status_.size());
  for (const auto& [key, st] : status_) out.push_back(st);
  return out;
}

Status FakeControlStore::SetCurrentReplicas(const std::string& tenant, const std::string& service, int64_t current,
                                            const std::string& source, int64_t now_ms) {
  std::lock_guard lock(mu_);
  ServiceStatus& st = status_[{tenant, service}];
  st.tenant = tenant;
  st.service = service;
  st.target = current;
  st.current = current;
  st.current_source = source;
  st.updated_ms = now_ms;
  return Status::Ok();
}

Result<aggregator::Lease> FakeControlStore::AcquireLease(const std::string& holder, int64_t now_ms,
                                                         int64_t duration_ms) {
  std::lock_guard lock(mu_);
  if (lease_.holder == holder || lease_.expires_ms <= now_ms) {
    if (lease_.holder != holder) ++lease_.token;
    lease_.holder = holder;
    lease_.expires_ms = now_ms + duration_ms;
  }
  return lease_;
}

Status FakeControlStore::ReleaseLease(const std::string& holder) {
  std::lock_guard lock(mu_);
  if (lease_.holder == holder) lease_.expires_ms = 0;
  return Status::Ok();
}

Result<aggregator::Lease> FakeControlStore::ReadLease() {
  std::lock_guard lock(mu_);
  return lease_;
}

Status FakeControlStore::PublishCaps(const std::vector<aggregator::PublishedCap>& caps) {
  std::lock_guard lock(mu_);
  caps_ = caps;
  return Status::Ok();
}

Result<std::vector<aggregator::PublishedCap>> FakeControlStore::PublishedCaps() {
  std::lock_guard lock(mu_);
  return caps_;
}

}  // namespace prescale::testing
