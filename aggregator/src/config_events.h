// The aggregator config's `events:` section (docs/events.md): RabbitMQ's
// event sink and trigger source. Private to aggregator_lib (config.cc).
#pragma once

#include "prescale/aggregator/config.h"
#include "prescale/base/status.h"
#include "prescale/base/yaml_config.h"

namespace prescale::aggregator {

// Reads `events` into c->events_amqp; errors name the key and the line.
Status ParseEventsConfig(const YamlConfigReader& r, const ConfigNode& node, AggregatorConfig* c);

}  // namespace prescale::aggregator
