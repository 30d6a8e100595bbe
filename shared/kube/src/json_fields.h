// Field readers shared by the strict list decoders (hpa_list.cc,
// workload_list.cc): each failure is a Status::ForField naming the field's
// path inside the document ("items[2].metadata.name"), so an operator can see
// which object of the API server's answer did not hold. Internal to prescale_kube.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale::kube::internal {

enum class JsonType { kObject, kArray, kString };

// Parses a `<kind>` list (kind "<kind>" or absent, items an array or null)
// into *doc, refusing a body over max_bytes before parsing and more than
// max_items items. Returns the items array, nullptr for null items (empty).
// Iterative parsing: deep nesting cannot exhaust the stack.
Result<const rapidjson::Value*> ParseList(std::string_view json, std::string_view kind, size_t max_bytes,
                                          size_t max_items, rapidjson::Document* doc);

// The member `key` of obj (whose own path is `path`, "" at the top), nullptr
// when absent or JSON null (Go writes null for empty maps and slices); an
// error when it has another type.
Result<const rapidjson::Value*> Member(const rapidjson::Value& obj, const char* key, const std::string& path,
                                       JsonType want);

// A string member of at most max_bytes; "" when absent unless required.
Result<std::string> StringField(const rapidjson::Value& obj, const char* key, const std::string& path, size_t max_bytes,
                                bool required);

// A map of strings to strings (labels, annotations, requests) of at most
// max_entries entries, each key and value at most max_bytes; empty when absent.
Result<std::map<std::string, std::string>> StringMap(const rapidjson::Value& obj, const char* key,
                                                     const std::string& path, size_t max_entries, size_t max_bytes);

// "path.key", or "key" at the top.
std::string Join(const std::string& path, std::string_view key);
// "path[i]".
std::string At(const std::string& path, size_t i);

}  // namespace prescale::kube::internal
