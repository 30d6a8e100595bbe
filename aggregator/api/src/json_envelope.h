// The API's JSON answers: {"status":"success","data":[ ... ]}, the items
// written by the caller. Private to aggregator_api; RapidJSON stays here.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace prescale::aggregator {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// write_items(JsonWriter&) writes the elements of the "data" array.
template <typename Fn>
std::string RenderSuccessJson(Fn&& write_items) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("status");
  w.String("success");
  w.Key("data");
  w.StartArray();
  write_items(w);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

inline void WriteStringField(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace prescale::aggregator
