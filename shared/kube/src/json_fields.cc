#include "json_fields.h"

#include "prescale/base/json_depth.h"

namespace prescale::kube::internal {
namespace {

bool Is(const rapidjson::Value& v, JsonType want) {
  switch (want) {
    case JsonType::kObject: return v.IsObject();
    case JsonType::kArray: return v.IsArray();
    case JsonType::kString: return v.IsString();
  }
  return false;
}

std::string_view TypeName(JsonType want) {
  switch (want) {
    case JsonType::kObject: return "must be an object";
    case JsonType::kArray: return "must be an array";
    case JsonType::kString: return "must be a string";
  }
  return "has the wrong type";
}

Status Bad(const std::string& field, std::string_view what) {
  return Status::ForField(StatusCode::kInvalidArgument, field, what);
}

}  // namespace

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string At(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

Result<const rapidjson::Value*> ParseList(std::string_view json, std::string_view kind, size_t max_bytes,
                                          size_t max_items, rapidjson::Document* doc) {
  if (json.size() > max_bytes) {
    return Bad("", "the " + std::string(kind) + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (Status s = CheckJsonEscapes(json); !s.ok()) return Bad("", s.message());
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc->HasParseError() || !doc->IsObject()) {
    return Bad("", "the " + std::string(kind) + " is not a JSON object");
  }
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* k, Member(*doc, "kind", "", JsonType::kString));
  if (k != nullptr && std::string_view(k->GetString(), k->GetStringLength()) != kind) {
    return Bad("kind", "is not " + std::string(kind));
  }
  if (!doc->HasMember("items")) return Bad("items", "is missing");
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* items, Member(*doc, "items", "", JsonType::kArray));
  if (items != nullptr && items->Size() > max_items) {
    return Bad("items", "has more than " + std::to_string(max_items) + " entries");
  }
  return items;
}

Result<const rapidjson::Value*> Member(const rapidjson::Value& obj, const char* key, const std::string& path,
                                       JsonType want) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return static_cast<const rapidjson::Value*>(nullptr);
  if (!Is(it->value, want)) return Bad(Join(path, key), TypeName(want));
  return &it->value;
}

Result<std::string> StringField(const rapidjson::Value& obj, const char* key, const std::string& path, size_t max_bytes,
                                bool required) {
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* v, Member(obj, key, path, JsonType::kString));
  if (v == nullptr || v->GetStringLength() == 0) {
    if (required) return Bad(Join(path, key), "is missing");
    return std::string();
  }
  if (v->GetStringLength() > max_bytes) {
    return Bad(Join(path, key), "is longer than " + std::to_string(max_bytes) + " bytes");
  }
  return std::string(v->GetString(), v->GetStringLength());
}

Result<std::map<std::string, std::string>> StringMap(const rapidjson::Value& obj, const char* key,
                                                     const std::string& path, size_t max_entries, size_t max_bytes) {
  std::map<std::string, std::string> out;
  const std::string at = Join(path, key);
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* map, Member(obj, key, path, JsonType::kObject));
  if (map == nullptr) return out;
  if (map->MemberCount() > max_entries) {
    return Bad(at, "has more than " + std::to_string(max_entries) + " entries");
  }
  for (const auto& m : map->GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name.size() > max_bytes) return Bad(at, "has a key longer than " + std::to_string(max_bytes) + " bytes");
    if (!m.value.IsString()) return Bad(Join(at, name), "must be a string");
    if (m.value.GetStringLength() > max_bytes) {
      return Bad(Join(at, name), "is longer than " + std::to_string(max_bytes) + " bytes");
    }
    out[std::move(name)].assign(m.value.GetString(), m.value.GetStringLength());
  }
  return out;
}

}  // namespace prescale::kube::internal
