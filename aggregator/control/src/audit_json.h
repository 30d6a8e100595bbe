// An audit record as JSON, in one fixed member order, for two readers: the
// hash chain's canonical form (before/after as the stored strings, no hash)
// and the API (before/after as JSON objects, the hash included). Private to
// aggregator_control; RapidJSON stays here.
#pragma once

#include <rapidjson/document.h>

#include "prescale/aggregator/control/control_store.h"

namespace prescale::aggregator {

template <typename Writer>
void WriteAuditRecord(Writer& w, const AuditRecord& r, bool canonical) {
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto json = [&](const char* key, const std::string& value) {
    rapidjson::Document d;
    if (!canonical) d.Parse(value.data(), value.size());
    if (canonical || d.HasParseError()) {
      str(key, value);
    } else {
      w.Key(key);
      d.Accept(w);
    }
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
  json("before", r.before_json);
  json("after", r.after_json);
  w.Key("status");
  w.Int(r.status);
  str("message", r.message);
  str("prev_hash", r.prev_hash);
  if (!canonical) str("hash", r.hash);
  w.EndObject();
}

}  // namespace prescale::aggregator
