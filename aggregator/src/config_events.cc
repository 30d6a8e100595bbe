#include "config_events.h"

#include <string>

#include "prescale/base/numbers.h"

namespace prescale::aggregator {
namespace {

// "" when `name` may name an exchange or a queue we declare, else why not.
std::string CheckAmqpName(const std::string& name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 255) return "must be at most 255 characters";
  if (name.starts_with("amq.")) return "names starting with \"amq.\" are reserved by the broker";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return "may hold only letters, digits, '-', '_', '.' and ':'";
  }
  return "";
}

Status ReadName(const YamlConfigReader& r, const ConfigNode& node, const std::string& path, std::string* out) {
  if (!node.IsDefined()) return Status::Ok();
  PRESCALE_ASSIGN_OR_RETURN(*out, r.String(node, path));
  if (std::string why = CheckAmqpName(*out); !why.empty()) return r.Error(node, path, why);
  return Status::Ok();
}

Status ParseTriggerSource(const YamlConfigReader& r, const ConfigNode& node, AmqpTriggerOptions* t) {
  const std::string path = "events.amqp.triggers";
  if (node.IsNull()) return Status::Ok();  // `triggers:` alone: the defaults
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, path, {"exchange", "queue", "binding_key", "prefetch"}));
  PRESCALE_RETURN_IF_ERROR(ReadName(r, node["exchange"], path + ".exchange", &t->exchange));
  PRESCALE_RETURN_IF_ERROR(ReadName(r, node["queue"], path + ".queue", &t->queue));
  if (node["binding_key"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(t->binding_key, r.String(node["binding_key"], path + ".binding_key"));
    if (t->binding_key.size() > 255) {
      return r.Error(node["binding_key"], path + ".binding_key", "must be at most 255 characters");
    }
  }
  if (const ConfigNode n = node["prefetch"]; n.IsDefined()) {
    uint64_t v = 0;
    if (!n.IsScalar() || !ParseU64(n.Scalar(), &v) || v == 0 || v > 65535) {
      return r.Error(n, path + ".prefetch", "expected a whole number from 1 to 65535");
    }
    t->prefetch = static_cast<int>(v);
  }
  return Status::Ok();
}

}  // namespace

Status ParseEventsConfig(const YamlConfigReader& r, const ConfigNode& node, AggregatorConfig* c) {
  PRESCALE_RETURN_IF_ERROR(r.CheckMap(node, "events", {"amqp"}));
  const ConfigNode a = node["amqp"];
  if (!a.IsDefined()) return Status::Ok();
  const std::string path = "events.amqp";
  PRESCALE_RETURN_IF_ERROR(
      r.CheckMap(a, path, {"url", "password_file", "exchange", "exchange_type", "timeout", "triggers"}));
  AmqpOptions o;
  if (!a["url"].IsDefined())
    return r.Error(a, path + ".url", "missing: the broker, amqp://USER:PASSWORD@HOST:PORT/VHOST");
  PRESCALE_ASSIGN_OR_RETURN(o.url, r.String(a["url"], path + ".url"));
  // The message never repeats the URL: it may hold a password.
  if (Status s = CheckAmqpUrl(o.url); !s.ok()) return r.Error(a["url"], path + ".url", s.message());
  if (a["password_file"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(o.password_file, r.String(a["password_file"], path + ".password_file"));
    if (o.password_file.empty()) return r.Error(a["password_file"], path + ".password_file", "must not be empty");
  }
  PRESCALE_RETURN_IF_ERROR(ReadName(r, a["exchange"], path + ".exchange", &o.exchange));
  if (a["exchange_type"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(o.exchange_type, r.String(a["exchange_type"], path + ".exchange_type"));
    if (o.exchange_type != "topic" && o.exchange_type != "direct" && o.exchange_type != "fanout" &&
        o.exchange_type != "headers") {
      return r.Error(a["exchange_type"], path + ".exchange_type", "expected topic, direct, fanout or headers");
    }
  }
  if (a["timeout"].IsDefined()) {
    PRESCALE_ASSIGN_OR_RETURN(o.timeout, r.Duration(a["timeout"], path + ".timeout"));
    if (o.timeout < std::chrono::milliseconds(100)) {
      return r.Error(a["timeout"], path + ".timeout", "must be at least 100ms");
    }
  }
  if (a["triggers"].IsDefined()) {
    AmqpTriggerOptions t;
    PRESCALE_RETURN_IF_ERROR(ParseTriggerSource(r, a["triggers"], &t));
    if (t.exchange == o.exchange) {
      return r.Error(a["triggers"], path + ".triggers.exchange",
                     "must differ from events.amqp.exchange: the source would consume prescale's own events");
    }
    o.triggers = t;
  }
  c->events_amqp = std::move(o);
  return Status::Ok();
}

}  // namespace prescale::aggregator
