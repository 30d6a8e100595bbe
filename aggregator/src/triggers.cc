#include "prescale/aggregator/triggers.h"

#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

bool TriggerBus::Publish(TriggerEvent event) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= capacity_) {
    overflow_ += 1;
    return false;
  }
  published_[event.source] += 1;
  queue_.push_back(std::move(event));
  return true;
}

std::vector<TriggerEvent> TriggerBus::Drain() {
  std::lock_guard lock(mu_);
  std::vector<TriggerEvent> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

bool TriggerBus::pending() const {
  std::lock_guard lock(mu_);
  return !queue_.empty();
}

void TriggerBus::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_triggers_total", "Trigger events published for an immediate evaluation, by source",
           metrics::MetricType::kCounter);
  for (const auto& [source, count] : published_) w.Sample("prescale_triggers_total", {{"source", source}}, count);
  w.Family("prescale_trigger_overflow_total", "Trigger events dropped because the bus was full",
           metrics::MetricType::kCounter);
  w.Sample("prescale_trigger_overflow_total", {}, overflow_);
}

}  // namespace prescale::aggregator
