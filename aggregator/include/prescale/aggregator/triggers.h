// Triggers (issue 6): what makes the decision engine evaluate services at once
// instead of at the next tick. Observers (the Alertmanager receiver, threshold
// and predictive rules) publish events on one in-process bus; the tick thread
// drains it. The bus is bounded: past its capacity an event is dropped and
// counted (the next tick evaluates every service anyway). Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace prescale::aggregator {

struct TriggerEvent {
  std::string source;  // "alertmanager", "threshold", "predictive"
  std::string name;    // the alert's fingerprint, the rule's name
  std::string tenant, service;
  // "evaluate" (default): evaluate the service now. "scale_up": also hold it
  // at least one replica above what it ran when the trigger fired, until the
  // trigger resolves.
  std::string action = "evaluate";
  bool resolved = false;  // ends what the same source and name started

  std::string Label() const { return source + ":" + name; }  // Decision::trigger
};

class TriggerBus {
 public:
  explicit TriggerBus(size_t capacity = 1024) : capacity_(capacity) {}
  // False when the bus is full (the event is counted as overflow).
  bool Publish(TriggerEvent event);
  // Every pending event, oldest first.
  std::vector<TriggerEvent> Drain();
  bool pending() const;

  // prescale_triggers_total{source}, prescale_trigger_overflow_total.
  void AppendMetrics(std::string* out) const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<TriggerEvent> queue_;
  std::map<std::string, double> published_;  // by source
  double overflow_ = 0;
};

}  // namespace prescale::aggregator
