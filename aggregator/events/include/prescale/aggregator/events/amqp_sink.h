// AmqpEventSink: publishes scaling events (docs/events.md) to a RabbitMQ
// exchange through librabbitmq. The exchange is declared durable; each event
// is a persistent message (delivery_mode 2, content_type application/json,
// message_id the event id, type its kind, timestamp) with the routing key
// tenant.service.kind, and counts as published only once the broker
// confirmed it (publisher confirms: confirm.select, then basic.ack within
// the timeout). Anything else (the broker down, a nack, no confirm in time)
// closes the connection and asks the dispatcher to retry; the next publish
// reconnects. The dispatcher calls Publish from one thread; AppendMetrics
// from any.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "prescale/aggregator/actions/events.h"
#include "prescale/aggregator/events/amqp_options.h"

namespace prescale::aggregator {

namespace amqp_internal {
class AmqpConnection;
}  // namespace amqp_internal

class AmqpEventSink final : public EventSink {
 public:
  explicit AmqpEventSink(AmqpOptions options);
  ~AmqpEventSink() override;

  ExecutionResult Publish(const OutboxEntry& entry) override;

  // prescale_events_published_total{result} (published, nacked, unconfirmed,
  // error, invalid), prescale_events_sink_connected.
  void AppendMetrics(std::string* out) const override;

 private:
  // Connected, the exchange declared and confirms on; an error otherwise.
  Status Ready();
  // Waits for the broker's confirm of delivery tag `tag`: "" when acked,
  // else why not ("nacked", "unconfirmed", or the error); *result_label for the metric.
  std::string AwaitConfirm(uint64_t tag, const char** result_label);
  void Count(const char* result);

  AmqpOptions options_;
  std::unique_ptr<amqp_internal::AmqpConnection> conn_;
  uint64_t next_tag_ = 1;  // the delivery tag of the next publish on this channel

  mutable std::mutex mu_;  // guards the metrics
  std::map<std::string, double> published_;
  bool connected_ = false;
};

}  // namespace prescale::aggregator
