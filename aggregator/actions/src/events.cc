#include "prescale/aggregator/actions/events.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/base/json_writer.h"

namespace prescale::aggregator {

std::string EventJson(const ScalingEvent& e) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  WriteStringField(w, "id", e.id);
  WriteStringField(w, "kind", e.kind);
  WriteStringField(w, "tenant", e.tenant);
  WriteStringField(w, "service", e.service);
  WriteStringField(w, "timestamp", FormatRfc3339(e.time_ms));
  WriteStringField(w, "replica", e.replica);
  if (e.action) {
    WriteStringField(w, "executor", e.executor);
    const std::string action = ActionJson(*e.action);
    w.Key("action");
    w.RawValue(action.data(), action.size(), rapidjson::kObjectType);
  }
  if (e.trigger) {
    w.Key("trigger");
    w.StartObject();
    WriteStringField(w, "source", e.trigger->source);
    WriteStringField(w, "name", e.trigger->name);
    WriteStringField(w, "action", e.trigger->action);
    w.Key("resolved");
    w.Bool(e.trigger->resolved);
    w.EndObject();
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

Result<EventHeader> ParseEventHeader(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::ParseError("a queued event is not a JSON object");
  EventHeader h;
  const rapidjson::Value& o = doc;
  for (auto [key, out] : {std::pair{"id", &h.id}, {"kind", &h.kind}}) {
    if (!o.HasMember(key) || !o[key].IsString()) {
      return Status::ParseError(std::string("a queued event has no string \"") + key + "\"");
    }
    out->assign(o[key].GetString(), o[key].GetStringLength());
  }
  return h;
}

std::string RoutingKeyWord(std::string_view name) {
  if (name.empty()) return "_";
  std::string out(name);
  for (char& c : out) {
    if (c == '.' || c == '*' || c == '#' || c <= ' ' || c > '~') c = '_';
  }
  return out;
}

std::string EventRoutingKey(std::string_view tenant, std::string_view service, std::string_view kind) {
  return RoutingKeyWord(tenant) + "." + RoutingKeyWord(service) + "." + RoutingKeyWord(kind);
}

OutboxEntry EventOutboxEntry(const ScalingEvent& event, const std::string& sink) {
  OutboxEntry entry;
  entry.action_id = event.id;
  entry.tenant = event.tenant;
  entry.service = event.service;
  entry.executor = sink;
  entry.payload_json = EventJson(event);
  entry.created_ms = event.time_ms;
  entry.next_attempt_ms = event.time_ms;
  return entry;
}

}  // namespace prescale::aggregator
