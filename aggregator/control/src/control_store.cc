#include "prescale/aggregator/control/control_store.h"

#include <openssl/rand.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

#include "audit_json.h"
#include "prescale/aggregator/control/auth.h"

namespace prescale::aggregator {

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

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
  WriteAuditRecord(w, r, true);
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
