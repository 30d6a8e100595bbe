// What both control stores (SqliteStore, PostgresStore) share beside the
// interface: page sizes, page tokens, filter fields and how errors name
// objects and version conflicts, so that either answers the same tokens,
// limits and messages to the same requests.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator::store_keys {

inline constexpr size_t kMaxLimit = 1000;

inline size_t ClampLimit(size_t limit) { return std::clamp<size_t>(limit, 1, kMaxLimit); }

// Lower-case hex, for page tokens; HexDecode fails on anything else.
std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);

std::optional<ObjectKind> ParseKind(std::string_view name);

// "service a/web", "tenant a", "policy p": how errors name an object.
std::string KeyName(const ObjectKey& key);

// Object page tokens: hex(tenant) "." hex(name) of the last key returned (the
// kind is the query's). Hex has no '.', so the split is unambiguous.
std::string EncodeObjectToken(const ObjectKey& key);
std::optional<std::pair<std::string, std::string>> DecodeObjectToken(std::string_view token);

// A filter's field: a top-level member of the spec, or a key of "labels".
// Only letters, digits, '_', '-', '.' and '/' pass (label keys such as
// app.kubernetes.io/name): SQLite quotes it into a JSON path.
struct FilterMember {
  bool label = false;
  std::string name;
};
std::optional<FilterMember> ParseFilterField(const std::string& field);

// kConflict when `expected` is given and the stored object is missing or at another version.
Status CheckVersion(const std::string& name, const std::optional<StoredObject>& stored,
                    std::optional<int64_t> expected);

// Text as every store can keep it: each byte sequence that is not UTF-8 (RFC
// 3629: no overlong forms, no surrogates) and each NUL becomes U+FFFD.
std::string ValidText(std::string_view text);
// The same for every text field of an audit record, before it is hashed and
// stored: the record of a refused request keeps whatever the request named.
void MakeValidText(AuditRecord* record);

// The leadership lease's row (ControlStore::AcquireLease): one, by this name.
inline constexpr std::string_view kLeaseName = "leader";

// What an action write must find in the lease: the holder and the token a
// store object last took for it (token 0: it never held the lease).
struct Fence {
  std::string holder;
  int64_t token = 0;
};

// kFailedPrecondition ("not the leader: ...") unless `lease` (nullopt: never
// taken) is held by fence.holder with fence.token.
Status CheckFence(const Fence& fence, const std::optional<Lease>& lease);

// The fence a store object keeps after AcquireLease returned `after`.
Fence FenceAfter(const std::string& holder, const Lease& after, const std::optional<Fence>& before);

// The audit record of a takeover of the lease (`before`: nullopt when it was
// never taken).
AuditRecord LeaseAudit(const std::optional<Lease>& before, const Lease& after, int64_t now_ms);

// The database failures a store met (ControlStore::AppendMetrics).
class ErrorCounter {
 public:
  // Counts `status` when it is the database's failure (kUnavailable, kIoError, kInternal).
  void Count(const Status& status);
  // prescale_control_store_errors_total with store="<store>".
  void AppendMetrics(std::string* out, const char* store) const;

 private:
  std::atomic<int64_t> unavailable_{0}, io_{0};
};

}  // namespace prescale::aggregator::store_keys
