#include "prescale/aggregator/scaling/triggers.h"

#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

bool TriggerBus::Publish(TriggerEvent event) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= capacity_) {
      overflow_ += 1;
      return false;
    }
    published_[event.source] += 1;
    queue_.push_back(std::move(event));
  }
  if (notify_) notify_();
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

namespace prescale::aggregator {
namespace {

bool Holds(const std::string& op, double v, double threshold) {
  if (op == ">") return v > threshold;
  if (op == ">=") return v >= threshold;
  if (op == "<") return v < threshold;
  return v <= threshold;  // "<=" (the config allows no other)
}

std::string LabelOf(const std::vector<remote_write::Label>& labels, std::string_view name) {
  for (const remote_write::Label& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

}  // namespace

size_t TriggerRules::Evaluate(const SeriesStore& series, const ForecastEngine& forecasts, const Clock& clock,
                              TriggerBus* bus) {
  const int64_t now_ms = ToUnixMillis(clock.Now());
  const auto now = clock.Monotonic();
  // The condition of every (rule, tenant, service) seen this round.
  std::map<std::tuple<size_t, std::string, std::string>, bool> holds;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const TriggerRule& rule = rules_[i];
    if (rule.kind == TriggerRule::Kind::kThreshold) {
      std::vector<remote_write::Label> equalities;
      for (const auto& [name, value] : rule.labels) equalities.push_back({name, value});
      for (const SeriesData& s : series.Query(rule.metric, equalities)) {
        if (s.samples.empty() || s.samples.back().timestamp_ms < now_ms - 300'000) continue;
        const std::string tenant = rule.tenant.empty() ? LabelOf(s.labels, "tenant") : rule.tenant;
        const std::string service = rule.service.empty() ? LabelOf(s.labels, "service") : rule.service;
        if (tenant.empty() || service.empty()) continue;
        bool& h = holds[{i, tenant, service}];
        h = h || Holds(rule.op, s.samples.back().value, rule.value);
      }
    } else {
      const DemandKey key{rule.tenant, rule.service, rule.resource};
      for (const SeriesForecast& f : forecasts.Latest(key)) {
        if (!(f.key == key)) continue;
        bool& h = holds[{i, rule.tenant, rule.service}];
        for (const HorizonForecast& fh : f.horizons) {
          if (fh.target_ms <= now_ms + rule.within.count() && Holds(rule.op, fh.point, rule.value)) h = true;
        }
      }
    }
  }
  size_t published = 0;
  auto publish = [&](size_t i, const std::string& tenant, const std::string& service, bool resolved) {
    const TriggerRule& rule = rules_[i];
    TriggerEvent e;
    e.source = rule.kind == TriggerRule::Kind::kThreshold ? "threshold" : "predictive";
    e.name = rule.name;
    e.tenant = tenant;
    e.service = service;
    e.action = rule.action;
    e.resolved = resolved;
    if (bus->Publish(std::move(e))) ++published;
  };
  for (const auto& [key, condition] : holds) {
    Target& t = targets_[key];
    if (!condition) continue;
    if (!t.since) t.since = now;
    if (!t.firing && now - *t.since >= rules_[std::get<0>(key)].for_duration) {
      t.firing = true;
      publish(std::get<0>(key), std::get<1>(key), std::get<2>(key), false);
    }
  }
  // Targets whose condition no longer holds (or whose series went away) resolve.
  for (auto it = targets_.begin(); it != targets_.end();) {
    auto h = holds.find(it->first);
    if (h != holds.end() && h->second) {
      ++it;
      continue;
    }
    if (it->second.firing) publish(std::get<0>(it->first), std::get<1>(it->first), std::get<2>(it->first), true);
    it = targets_.erase(it);
  }
  std::lock_guard lock(mu_);
  firing_.clear();
  for (const auto& [key, t] : targets_) {
    if (t.firing) firing_.emplace_back(rules_[std::get<0>(key)].name, std::get<1>(key), std::get<2>(key));
  }
  return published;
}

void TriggerRules::AppendMetrics(std::string* out) const {
  if (rules_.empty()) return;
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_trigger_rule_firing", "1 for each threshold or predictive rule firing, by the service it names",
           metrics::MetricType::kGauge);
  for (const auto& [rule, tenant, service] : firing_) {
    w.Sample("prescale_trigger_rule_firing", {{"rule", rule}, {"service", service}, {"tenant", tenant}}, 1);
  }
}

}  // namespace prescale::aggregator
