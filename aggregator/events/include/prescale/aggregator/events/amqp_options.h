// Settings of prescale's RabbitMQ link (the aggregator's `events: {amqp: ...}`,
// docs/events.md): the event sink's exchange and, optionally, the trigger
// source's queue. Value types; CheckAmqpUrl and RedactAmqpUrl are pure.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale::aggregator {

// The trigger source: a durable queue bound to a durable topic exchange.
struct AmqpTriggerOptions {
  std::string exchange = "prescale.triggers";  // declared durable, of type topic
  std::string queue = "prescale.triggers";     // declared durable
  std::string binding_key = "#";               // binds the queue to the exchange
  int prefetch = 10;                           // unacknowledged messages at most (basic.qos)
};

struct AmqpOptions {
  // amqp://USER:PASSWORD@HOST:PORT/VHOST (the vhost percent-encoded: %2f for
  // "/"; absent: "/"). The password never appears in logs or errors.
  std::string url;
  // A file holding the password (a mounted Secret; surrounding whitespace
  // trimmed), read at every connect: it replaces the URL's. "": the URL's.
  std::string password_file;
  std::string exchange = "prescale.events";  // declared durable
  std::string exchange_type = "topic";       // topic, direct, fanout or headers
  // Connecting, each broker call, and each publisher confirm wait at most this long.
  std::chrono::milliseconds timeout{5000};
  std::optional<AmqpTriggerOptions> triggers;  // the trigger source, when set
};

// InvalidArgument saying why when `url` is not an amqp:// URL that
// librabbitmq parses (amqps:// is not supported yet).
Status CheckAmqpUrl(std::string_view url);
// The URL without its password, for logs: amqp://USER@HOST:PORT/VHOST.
std::string RedactAmqpUrl(std::string_view url);

}  // namespace prescale::aggregator
