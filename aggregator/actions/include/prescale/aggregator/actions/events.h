// Scaling events (docs/events.md): every scaling action, recommendation
// change and trigger, as a JSON message for an event sink (RabbitMQ). Events
// enter the control store's outbox in the transaction that records what they
// tell (ControlStore::RecordAndQueue), one entry per sink, and the
// ActionDispatcher publishes them as it delivers actions: at least once, in
// order per service, retried while the sink cannot take them. Pure functions
// are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "prescale/aggregator/actions/executor.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// The kinds of events, the last word of their routing keys.
inline constexpr std::string_view kEventAction = "action";                  // a scaling action was queued
inline constexpr std::string_view kEventRecommendation = "recommendation";  // a recommend-only service's changed
inline constexpr std::string_view kEventTrigger = "trigger";                // a trigger made a service evaluate

// What set off an evaluation (a TriggerEvent, as the event tells it).
struct EventTrigger {
  std::string source;  // "alertmanager", "amqp", "threshold", "predictive"
  std::string name;
  std::string action = "evaluate";  // or "scale_up"
  bool resolved = false;
};

struct ScalingEvent {
  std::string id;  // unique ("evt_" + hex); the message id receivers dedupe by
  std::string kind;
  std::string tenant, service;
  int64_t time_ms = 0;
  std::string replica;                  // the replica that recorded it; "" when alone
  std::optional<ScaleAction> action;    // action, recommendation
  std::string executor;                 // action, recommendation: the service's executor type
  std::optional<EventTrigger> trigger;  // trigger
};

// {"id","kind","tenant","service","timestamp" (RFC 3339),"replica", then
// "executor" and "action" (ActionJson) or "trigger" {source,name,action,resolved}}.
std::string EventJson(const ScalingEvent& event);

// The id and kind of an event's JSON (EventJson's); ParseError otherwise.
struct EventHeader {
  std::string id, kind;
};
Result<EventHeader> ParseEventHeader(std::string_view json);

// One word of a routing key: '.', '*' and '#' (the topic exchange's word
// separator and wildcards) and anything outside printable ASCII become '_';
// an empty name is "_". So tenant.service.kind always has three words.
std::string RoutingKeyWord(std::string_view name);
// RoutingKeyWord(tenant) + "." + RoutingKeyWord(service) + "." + kind.
std::string EventRoutingKey(std::string_view tenant, std::string_view service, std::string_view kind);

// The event's outbox entry for the sink `sink` ("amqp"): its id, tenant and
// service, EventJson as the payload, due at once.
OutboxEntry EventOutboxEntry(const ScalingEvent& event, const std::string& sink);

// Where events go: publishes one queued event at a time, from the
// dispatcher's thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Publishes entry.payload_json (its id entry.action_id): kDone once the
  // sink has it for good (RabbitMQ: confirmed), kRetry while it cannot take
  // it (down, refused, timed out), kFailed when it never will.
  virtual ExecutionResult Publish(const OutboxEntry& entry) = 0;
  // The sink's own metrics in the text format (none by default).
  virtual void AppendMetrics(std::string* out) const { (void)out; }
};

}  // namespace prescale::aggregator
