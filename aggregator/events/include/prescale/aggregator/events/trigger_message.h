// The trigger source's messages (docs/events.md, "Triggers"): a JSON object
//   {"type": "evaluate" | "scale_up", "tenant": "...", "service": "...",
//    "name": "...", "resolved": false}
// that makes the decision engine evaluate a service at once, as an alert
// through the Alertmanager receiver does. Outside input: a pure, thread-safe
// decoder that never crashes on any bytes (tests/fuzz/fuzz_trigger_message.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale::aggregator {

inline constexpr size_t kMaxTriggerMessageBytes = size_t{64} << 10;

struct TriggerMessage {
  std::string type;  // "evaluate" or "scale_up"
  std::string tenant, service;
  // Names the trigger among the source's ("amqp:NAME" in decisions and
  // events): a scale_up holds the service up until a message of the same
  // name, tenant and service says resolved. Default "trigger".
  std::string name = "trigger";
  bool resolved = false;
};

// InvalidArgument when the body is not a JSON object (or larger than
// kMaxTriggerMessageBytes); Unprocessable naming the field (Status::field())
// when type is missing or not one of the two, tenant or service is missing or
// not a DNS label, name is not 1-253 printable ASCII characters, or resolved
// is not a boolean. Other fields are ignored.
Result<TriggerMessage> ParseTriggerMessage(std::string_view body);

}  // namespace prescale::aggregator
