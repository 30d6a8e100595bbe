#include "prescale/aggregator/events/amqp_sink.h"

#include <sys/time.h>

#include <chrono>

#include "amqp_connection.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

using amqp_internal::AmqpConnection;
using amqp_internal::Bytes;
using amqp_internal::kChannel;

AmqpEventSink::AmqpEventSink(AmqpOptions options)
    // No heartbeats: the sink is idle between events, and a connection that
    // died meanwhile shows on the next publish (no confirm: retried).
    : options_(std::move(options)), conn_(std::make_unique<AmqpConnection>(options_, 0, "event sink")) {}

AmqpEventSink::~AmqpEventSink() = default;

void AmqpEventSink::Count(const char* result) {
  std::lock_guard lock(mu_);
  published_[result] += 1;
  connected_ = conn_->open();
}

Status AmqpEventSink::Ready() {
  if (conn_->open()) return Status::Ok();
  PRESCALE_RETURN_IF_ERROR(conn_->Open());
  amqp_exchange_declare(conn_->state(), kChannel, Bytes(options_.exchange), Bytes(options_.exchange_type),
                        /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("declaring exchange " + options_.exchange));
  amqp_confirm_select(conn_->state(), kChannel);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("turning publisher confirms on"));
  next_tag_ = 1;
  Log(LogLevel::kInfo, "event sink: connected to " + conn_->broker() + ", exchange " + options_.exchange);
  return Status::Ok();
}

std::string AmqpEventSink::AwaitConfirm(uint64_t tag, const char** result_label) {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      *result_label = "unconfirmed";
      return "no confirm from the broker within " + std::to_string(options_.timeout.count()) + " ms";
    }
    timeval tv{static_cast<time_t>(left.count() / 1'000'000), static_cast<suseconds_t>(left.count() % 1'000'000)};
    amqp_frame_t frame;
    const int rc = amqp_simple_wait_frame_noblock(conn_->state(), &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      *result_label = "error";
      return std::string("waiting for the confirm: ") + amqp_error_string2(rc);
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (ack->delivery_tag == tag || (ack->multiple != 0 && ack->delivery_tag >= tag)) return "";
        continue;  // an earlier publish's (one we gave up on)
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        if (nack->delivery_tag == tag || (nack->multiple != 0 && nack->delivery_tag >= tag)) {
          *result_label = "nacked";
          return "the broker refused the message (basic.nack)";
        }
        continue;
      }
      case AMQP_CHANNEL_CLOSE_METHOD: {
        const auto* m = static_cast<const amqp_channel_close_t*>(frame.payload.method.decoded);
        *result_label = "error";
        return "channel closed by the broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        const auto* m = static_cast<const amqp_connection_close_t*>(frame.payload.method.decoded);
        *result_label = "error";
        return "connection closed by the broker: " + std::to_string(m->reply_code) + " " +
               std::string(static_cast<const char*>(m->reply_text.bytes), m->reply_text.len);
      }
      default: continue;  // basic.return and the like: not ours to act on
    }
  }
}

ExecutionResult AmqpEventSink::Publish(const OutboxEntry& entry) {
  ExecutionResult result;
  auto header = ParseEventHeader(entry.payload_json);
  if (!header.ok()) {
    result.outcome = ExecutionResult::Outcome::kFailed;  // it will never parse
    result.message = header.status().message();
    Count("invalid");
    return result;
  }
  if (Status s = Ready(); !s.ok()) {
    result.outcome = ExecutionResult::Outcome::kRetry;
    result.message = s.message();
    Count("error");
    return result;
  }
  const std::string routing_key = EventRoutingKey(entry.tenant, entry.service, header->kind);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                 AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG;
  props.content_type = Bytes("application/json");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.message_id = Bytes(entry.action_id);
  props.timestamp = static_cast<uint64_t>(entry.created_ms / 1000);
  props.type = Bytes(header->kind);
  props.app_id = Bytes("prescale");
  const int rc = amqp_basic_publish(conn_->state(), kChannel, Bytes(options_.exchange), Bytes(routing_key),
                                    /*mandatory=*/0, /*immediate=*/0, &props, Bytes(entry.payload_json));
  const uint64_t tag = next_tag_++;
  const char* label = "published";
  std::string why;
  if (rc != AMQP_STATUS_OK) {
    label = "error";
    why = std::string("publishing: ") + amqp_error_string2(rc);
  } else {
    why = AwaitConfirm(tag, &label);
  }
  amqp_maybe_release_buffers(conn_->state());
  if (why.empty()) {
    result.outcome = ExecutionResult::Outcome::kDone;
    result.message = "published to " + options_.exchange + " as " + routing_key;
    Count(label);
    return result;
  }
  // A fresh connection for the retry: nothing of this one's state is trusted.
  result.outcome = ExecutionResult::Outcome::kRetry;
  result.message = conn_->Fail("publishing event " + entry.action_id, why).message();
  Count(label);
  return result;
}

void AmqpEventSink::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_events_published_total",
           "Scaling events offered to RabbitMQ, by result: published (confirmed), nacked, unconfirmed (no confirm in "
           "time), error (no connection, a broker error), invalid (never publishable); all but published and "
           "invalid are retried",
           metrics::MetricType::kCounter);
  for (const char* result : {"published", "nacked", "unconfirmed", "error", "invalid"}) {
    auto it = published_.find(result);
    w.Sample("prescale_events_published_total", {{"result", result}}, it == published_.end() ? 0.0 : it->second);
  }
  w.Family("prescale_events_sink_connected", "1 while the event sink's connection to RabbitMQ is up",
           metrics::MetricType::kGauge);
  w.Sample("prescale_events_sink_connected", std::span<const metrics::LabelRef>(), connected_ ? 1.0 : 0.0);
}

}  // namespace prescale::aggregator
