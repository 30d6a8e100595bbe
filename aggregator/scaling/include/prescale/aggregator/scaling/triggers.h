// Triggers (issue 6): what makes the decision engine evaluate services at once
// instead of at the next tick. Observers (the Alertmanager receiver, threshold
// and predictive rules) publish events on one in-process bus; the tick thread
// drains it. The bus is bounded: past its capacity an event is dropped and
// counted (the next tick evaluates every service anyway). Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "prescale/aggregator/history/forecasts.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

struct TriggerEvent {
  std::string source;  // "alertmanager", "threshold", "predictive", "approval"
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
  // Called (outside the bus's lock) after every event published, e.g. to wake
  // the thread that drains the bus. Set once, before events are published.
  void OnPublish(std::function<void()> notify) { notify_ = std::move(notify); }
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
  std::function<void()> notify_;
};

// A rule from the aggregator's `triggers:` (docs/scaling.md, "Triggers").
struct TriggerRule {
  std::string name;  // unique; the event's name
  enum class Kind { kThreshold, kPredictive } kind = Kind::kThreshold;
  // threshold: the newest sample of every raw series named `metric` with these label values
  std::string metric;
  std::map<std::string, std::string> labels;
  // predictive: the forecast of this demand resource ("cpu", "memory", ...) of tenant/service
  std::string resource = "cpu";
  std::chrono::milliseconds within{std::chrono::minutes(15)};  // forecast targets up to now + within
  std::string op = ">";                                        // ">", ">=", "<", "<="
  double value = 0;
  std::chrono::milliseconds for_duration{0};  // the condition holds this long before the rule fires
  // The service to evaluate: these, else (threshold) each matching series' tenant and service labels.
  std::string tenant, service;
  std::string action = "evaluate";  // or "scale_up" (TriggerEvent::action)
};

// Evaluates the rules at every tick and publishes their transitions: an event
// when a rule's condition has held for `for` (firing), and a resolved one when
// it no longer holds. Series older than five minutes are not read. One thread
// (the tick); AppendMetrics from any.
class TriggerRules {
 public:
  explicit TriggerRules(std::vector<TriggerRule> rules) : rules_(std::move(rules)) {}
  // Returns how many events were published.
  size_t Evaluate(const SeriesStore& series, const ForecastEngine& forecasts, const Clock& clock, TriggerBus* bus);
  // prescale_trigger_rule_firing{rule,tenant,service}.
  void AppendMetrics(std::string* out) const;

 private:
  struct Target {
    std::optional<std::chrono::steady_clock::time_point> since;  // the condition has held since
    bool firing = false;
  };
  std::vector<TriggerRule> rules_;
  // (rule index, tenant, service) -> state
  std::map<std::tuple<size_t, std::string, std::string>, Target> targets_;
  mutable std::mutex mu_;  // guards firing_ (for metrics)
  std::vector<std::tuple<std::string, std::string, std::string>> firing_;
};

}  // namespace prescale::aggregator
