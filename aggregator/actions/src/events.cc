#include "prescale/aggregator/actions/events.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "prescale/aggregator/actions/actions.h"

namespace prescale::aggregator {

std::string EventJson(const ScalingEvent& e) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("id", e.id);
  str("kind", e.kind);
  str("tenant", e.tenant);
  str("service", e.service);
  str("timestamp", FormatRfc3339(e.time_ms));
  str("replica", e.replica);
  if (e.action) {
    str("executor", e.executor);
    const std::string action = ActionJson(*e.action);
    w.Key("action");
    w.RawValue(action.data(), action.size(), rapidjson::kObjectType);
  }
  if (e.trigger) {
    w.Key("trigger");
    w.StartObject();
    str("source", e.trigger->source);
    str("name", e.trigger->name);
    str("action", e.trigger->action);
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
