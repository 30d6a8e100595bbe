// What both control stores (SqliteStore, PostgresStore) share beside the
// interface: page sizes, page tokens, filter fields and how errors name
// objects and version conflicts, so that either answers the same tokens,
// limits and messages to the same requests.
#pragma once

#include <algorithm>
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

}  // namespace prescale::aggregator::store_keys
