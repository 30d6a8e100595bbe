#include "prescale/aggregator/events/amqp_source.h"

#include <sys/time.h>

#include <algorithm>
#include <span>

#include "amqp_connection.h"
#include "prescale/aggregator/events/trigger_message.h"
#include "prescale/base/log.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

using amqp_internal::AmqpConnection;
using amqp_internal::Bytes;
using amqp_internal::kChannel;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
// How long one wait for a delivery lasts: Stop and a lost lead are noticed within it.
constexpr std::chrono::milliseconds kPoll{250};
// Heartbeats find a broker that vanished without closing the connection.
constexpr int kHeartbeatSeconds = 30;

}  // namespace

AmqpTriggerSource::AmqpTriggerSource(AmqpOptions options, TriggerBus* bus)
    : options_(std::move(options)),
      triggers_(options_.triggers.value_or(AmqpTriggerOptions{})),
      bus_(bus),
      conn_(std::make_unique<AmqpConnection>(options_, kHeartbeatSeconds, "trigger source")) {}

AmqpTriggerSource::~AmqpTriggerSource() { Stop(); }

void AmqpTriggerSource::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AmqpTriggerSource::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AmqpTriggerSource::Pause(std::chrono::milliseconds d) {
  std::unique_lock lock(stop_mu_);
  stop_cv_.wait_for(lock, d, [this] { return stop_.load(); });
}

void AmqpTriggerSource::Count(const char* result) {
  std::lock_guard lock(mu_);
  consumed_[result] += 1;
}

void AmqpTriggerSource::SetConnected(bool connected) {
  std::lock_guard lock(mu_);
  connected_ = connected;
}

void AmqpTriggerSource::Run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  while (!stop_) {
    if (!Acting()) {
      conn_->Close();
      SetConnected(false);
      Pause(std::chrono::seconds(1));
      continue;
    }
    Status s = Subscribe();
    if (s.ok()) {
      SetConnected(true);
      Log(LogLevel::kInfo, "trigger source: consuming queue " + triggers_.queue + " on " + conn_->broker());
      backoff = kFirstBackoff;
      s = Consume();
    }
    conn_->Close();
    SetConnected(false);
    if (stop_ || s.ok()) continue;
    Log(LogLevel::kWarning, s.message() + " (again in " + std::to_string(backoff.count()) + " ms)");
    Pause(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  conn_->Close();
  SetConnected(false);
}

Status AmqpTriggerSource::Subscribe() {
  PRESCALE_RETURN_IF_ERROR(conn_->Open());
  amqp_connection_state_t st = conn_->state();
  amqp_exchange_declare(st, kChannel, Bytes(triggers_.exchange), Bytes("topic"), 0, /*durable=*/1, 0, 0,
                        amqp_empty_table);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("declaring exchange " + triggers_.exchange));
  amqp_queue_declare(st, kChannel, Bytes(triggers_.queue), 0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0,
                     amqp_empty_table);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("declaring queue " + triggers_.queue));
  amqp_queue_bind(st, kChannel, Bytes(triggers_.queue), Bytes(triggers_.exchange), Bytes(triggers_.binding_key),
                  amqp_empty_table);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("binding queue " + triggers_.queue));
  amqp_basic_qos(st, kChannel, 0, static_cast<uint16_t>(triggers_.prefetch), 0);
  PRESCALE_RETURN_IF_ERROR(conn_->CheckReply("setting the prefetch"));
  amqp_basic_consume(st, kChannel, Bytes(triggers_.queue), amqp_empty_bytes, /*no_local=*/0, /*no_ack=*/0,
                     /*exclusive=*/0, amqp_empty_table);
  return conn_->CheckReply("consuming queue " + triggers_.queue);
}

Status AmqpTriggerSource::Consume() {
  while (!stop_ && Acting()) {
    amqp_maybe_release_buffers(conn_->state());
    amqp_envelope_t envelope;
    timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(kPoll).count())};
    const amqp_rpc_reply_t reply = amqp_consume_message(conn_->state(), &envelope, &tv, 0);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
      const std::string_view body(static_cast<const char*>(envelope.message.body.bytes), envelope.message.body.len);
      Status s = Handle(envelope.delivery_tag, body);
      amqp_destroy_envelope(&envelope);
      PRESCALE_RETURN_IF_ERROR(s);
      continue;
    }
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // A frame other than a delivery: a close by the broker ends the
      // connection; anything else (a basic.ack of a channel we do not
      // publish on, ...) is read and dropped.
      amqp_frame_t frame;
      const int rc = amqp_simple_wait_frame(conn_->state(), &frame);
      if (rc != AMQP_STATUS_OK) return conn_->CheckStatus(rc, "reading a frame");
      if (frame.frame_type == AMQP_FRAME_METHOD && (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                                                    frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        return conn_->Fail("consuming", "the broker closed the channel or the connection");
      }
      continue;
    }
    return conn_->Fail("consuming", amqp_internal::ReplyText(reply));
  }
  return Status::Ok();
}

Status AmqpTriggerSource::Handle(uint64_t delivery_tag, std::string_view body) {
  auto message = ParseTriggerMessage(body);
  if (!message.ok()) {
    Count("rejected");
    Log(LogLevel::kWarning,
        "trigger source: rejected a message of queue " + triggers_.queue + ": " + message.status().message());
    return conn_->CheckStatus(amqp_basic_reject(conn_->state(), kChannel, delivery_tag, /*requeue=*/0),
                              "rejecting a message");
  }
  TriggerEvent e;
  e.source = "amqp";
  e.name = message->name;
  e.tenant = message->tenant;
  e.service = message->service;
  e.action = message->type;
  e.resolved = message->resolved;
  // A full bus drops the event (it counts it); the next tick evaluates every service anyway.
  Count(bus_->Publish(std::move(e)) ? "triggered" : "overflow");
  return conn_->CheckStatus(amqp_basic_ack(conn_->state(), kChannel, delivery_tag, /*multiple=*/0),
                            "acknowledging a message");
}

void AmqpTriggerSource::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_events_consumed_total",
           "Trigger messages consumed from RabbitMQ, by result: triggered (on the trigger bus), rejected (did not "
           "decode; not requeued), overflow (the trigger bus was full)",
           metrics::MetricType::kCounter);
  for (const char* result : {"triggered", "rejected", "overflow"}) {
    auto it = consumed_.find(result);
    w.Sample("prescale_events_consumed_total", {{"result", result}}, it == consumed_.end() ? 0.0 : it->second);
  }
  w.Family("prescale_events_source_connected", "1 while the trigger source's connection to RabbitMQ is consuming",
           metrics::MetricType::kGauge);
  w.Sample("prescale_events_source_connected", std::span<const metrics::LabelRef>(), connected_ ? 1.0 : 0.0);
}

}  // namespace prescale::aggregator
