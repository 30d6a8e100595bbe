// Fuzzes the RabbitMQ trigger source's message decoder (docs/events.md,
// "Triggers"): any body is either a well-formed trigger or an
// InvalidArgument / Unprocessable error naming the field; never a crash, a
// hang or an escaped exception. A decoded trigger's event then round-trips
// through the event JSON, and any bytes as a name give a routing key of
// exactly three words without wildcards.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/aggregator/actions/events.h"
#include "prescale/aggregator/events/trigger_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::aggregator;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string key = EventRoutingKey(body, body, "trigger");
  if (std::count(key.begin(), key.end(), '.') != 2) std::abort();
  if (key.find_first_of("*#") != std::string::npos) std::abort();
  auto m = ParseTriggerMessage(body);
  if (!m.ok()) {
    const prescale::StatusCode code = m.status().code();
    if (code != prescale::StatusCode::kInvalidArgument && code != prescale::StatusCode::kUnprocessable) std::abort();
    if (code == prescale::StatusCode::kUnprocessable && m.status().field().empty()) std::abort();
    return 0;
  }
  if (m->type != "evaluate" && m->type != "scale_up") std::abort();
  if (m->tenant.empty() || m->service.empty() || m->name.empty() || m->name.size() > 253) std::abort();
  ScalingEvent e;
  e.id = "evt_fuzz";
  e.kind = "trigger";
  e.tenant = m->tenant;
  e.service = m->service;
  e.trigger = EventTrigger{"amqp", m->name, m->type, m->resolved};
  auto header = ParseEventHeader(EventJson(e));
  if (!header.ok() || header->id != "evt_fuzz" || header->kind != "trigger") std::abort();
  if (EventRoutingKey(m->tenant, m->service, "trigger") != m->tenant + "." + m->service + ".trigger") std::abort();
  return 0;
}
