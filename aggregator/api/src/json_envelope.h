// The API's JSON answers: {"status":"success","data":[ ... ]}, the items
// written by the caller. Private to aggregator_api; RapidJSON stays here.
#pragma once

#include <string>

#include "prescale/base/json_writer.h"

namespace prescale::aggregator {

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

}  // namespace prescale::aggregator
