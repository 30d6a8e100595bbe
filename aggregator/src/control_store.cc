#include "prescale/aggregator/control_store.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "prescale/aggregator/auth.h"

namespace prescale::aggregator {

std::string_view ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kTenant: return "tenant";
    case ObjectKind::kService: return "service";
    case ObjectKind::kPolicy: return "policy";
  }
  return "unknown";
}

std::string AuditCanonicalForm(const AuditRecord& r) {
  // Fixed member order; strings escaped by RapidJSON, so no field can forge another.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("seq");
  w.Int64(r.seq);
  w.Key("time_ms");
  w.Int64(r.time_ms);
  str("request_id", r.request_id);
  str("actor", r.actor);
  str("actor_role", r.actor_role);
  str("actor_tenant", r.actor_tenant);
  str("action", r.action);
  str("kind", r.kind);
  str("tenant", r.tenant);
  str("name", r.name);
  str("before", r.before_json);
  str("after", r.after_json);
  w.Key("status");
  w.Int(r.status);
  str("message", r.message);
  str("prev_hash", r.prev_hash);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string AuditHash(const AuditRecord& record) { return Sha256Hex(AuditCanonicalForm(record)); }

bool AuditChainVerifier::Feed(const AuditRecord& record) {
  if (!result_.ok) return false;
  std::string reason;
  if (record.seq != last_seq_ + 1) {
    reason = "sequence gap: record " + std::to_string(record.seq) + " follows " + std::to_string(last_seq_) +
             " (a record was deleted or inserted)";
  } else if (record.prev_hash != last_hash_) {
    reason = "prev_hash does not match the previous record's hash (a record was deleted, inserted or edited)";
  } else if (record.hash != AuditHash(record)) {
    reason = "hash mismatch: the record was edited";
  }
  if (!reason.empty()) {
    result_.ok = false;
    result_.first_bad_seq = record.seq;
    result_.reason = std::move(reason);
    return false;
  }
  ++result_.records;
  last_seq_ = record.seq;
  last_hash_ = record.hash;
  result_.head_hash = record.hash;
  return true;
}

}  // namespace prescale::aggregator
