// Writing JSON with RapidJSON's Writer: the one helper every writer of a
// string member needs (RapidJSON takes a pointer and a length, not a view).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

namespace prescale {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// "key": "value", escaped as JSON.
inline void WriteStringField(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace prescale
