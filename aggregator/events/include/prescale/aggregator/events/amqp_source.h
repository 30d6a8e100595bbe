// AmqpTriggerSource: consumes trigger messages (trigger_message.h) from a
// durable RabbitMQ queue and publishes each on the trigger bus, as the
// Alertmanager receiver does with alerts: the decision engine evaluates the
// service at once. Declares the durable topic exchange and the durable
// queue, binds them with the binding key, and consumes with manual acks and
// a prefetch limit. A message is acked once its trigger is on the bus; one
// that does not decode is rejected without requeue (RabbitMQ drops it, or
// dead-letters it when the queue is so configured), logged and counted; no
// message stops the source. A lost connection is reopened with a backoff
// that doubles from 0.5 s to 30 s. Runs on a thread of its own between Start
// and Stop (or destruction); AppendMetrics from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "prescale/aggregator/events/amqp_options.h"
#include "prescale/aggregator/scaling/triggers.h"

namespace prescale::aggregator {

namespace amqp_internal {
class AmqpConnection;
}  // namespace amqp_internal

class AmqpTriggerSource {
 public:
  // options.triggers must be set. `bus` outlives the source.
  AmqpTriggerSource(AmqpOptions options, TriggerBus* bus);
  ~AmqpTriggerSource();
  AmqpTriggerSource(const AmqpTriggerSource&) = delete;
  AmqpTriggerSource& operator=(const AmqpTriggerSource&) = delete;

  // Consumes only while `acting` says so (the replica leads: the queue's
  // messages go to the replica that acts on them); disconnected otherwise.
  // Without it, always. Set before Start.
  void ConsumeOnlyWhile(std::function<bool()> acting) { acting_ = std::move(acting); }
  void Start();
  // Stops consuming and joins the thread (within about a second);
  // unacknowledged messages go back to the queue.
  void Stop();

  // prescale_events_consumed_total{result} (triggered, rejected, overflow),
  // prescale_events_source_connected.
  void AppendMetrics(std::string* out) const;

 private:
  void Run();
  // Connects and starts consuming; an error when it cannot.
  Status Subscribe();
  // Consumes until the connection fails or the source stops (or stops
  // acting); the error that ended it.
  Status Consume();
  // Decodes one delivery, publishes it on the bus, and acks or rejects it.
  Status Handle(uint64_t delivery_tag, std::string_view body);
  void Count(const char* result);
  void SetConnected(bool connected);
  // Sleeps `d` unless Stop comes first.
  void Pause(std::chrono::milliseconds d);
  bool Acting() const { return !acting_ || acting_(); }

  AmqpOptions options_;
  AmqpTriggerOptions triggers_;
  TriggerBus* bus_;
  std::function<bool()> acting_;
  std::unique_ptr<amqp_internal::AmqpConnection> conn_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;

  mutable std::mutex mu_;  // guards the metrics
  std::map<std::string, double> consumed_;
  bool connected_ = false;
};

}  // namespace prescale::aggregator
