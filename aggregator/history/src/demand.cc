#include "prescale/aggregator/history/demand.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "demand_internal.h"

namespace prescale::aggregator {
using remote_write::Label;
using remote_write::Sample;
using namespace demand_internal;

std::vector<DemandRule> DemandOptions::DefaultRules() {
  return {{"container_cpu_usage_seconds_total", "cpu", true},
          {"container_memory_working_set_bytes", "memory", false},
          {"container_network_receive_bytes_total", "network", true},
          {"container_network_transmit_bytes_total", "network", true}};
}

DemandRollups::DemandRollups(DemandOptions options, const Clock& clock) : options_(std::move(options)), clock_(clock) {
  for (const DemandRule& r : options_.rules) rules_.emplace(r.metric, r);
}

DemandRollups::~DemandRollups() = default;

namespace {

struct Geometry {
  int64_t resolution_ms;
  int64_t per_minute;
  size_t open_buckets;
};

Geometry GeometryOf(const DemandOptions& o) {
  Geometry g{};
  g.resolution_ms = std::clamp<int64_t>(o.resolution.count(), 1000, kMinuteMs);
  g.per_minute = kMinuteMs / g.resolution_ms;
  // The open window: everything not final (settle plus the current minute) and a minute of clock skew.
  const int64_t minutes = (o.settle.count() + kMinuteMs - 1) / kMinuteMs + 3;
  g.open_buckets = static_cast<size_t>(minutes * g.per_minute);
  return g;
}

int64_t FinalLimit(const Clock& clock, const DemandOptions& o) {
  return FloorDiv(ToUnixMillis(clock.Now()) - o.settle.count(), kMinuteMs);
}

}  // namespace

std::shared_ptr<DemandRollups::Key> DemandRollups::FindOrCreate(const DemandKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(key);
  if (it != keys_.end()) return it->second;
  const Geometry g = GeometryOf(options_);
  auto created = std::make_shared<Key>(key, g.open_buckets, static_cast<size_t>(options_.fine_retention.count() * 60),
                                       static_cast<size_t>(options_.coarse_retention.count() * 4));
  created->next_minute = FinalLimit(clock_, options_);
  keys_.emplace(key, created);
  return created;
}

DemandRollups::Binding DemandRollups::Bind(const std::vector<Label>& labels) {
  const DemandRule* rule = nullptr;
  std::string_view tenant, service;
  for (const Label& l : labels) {
    if (l.name == "__name__") {
      auto it = rules_.find(l.value);
      if (it == rules_.end()) return {};
      rule = &it->second;
    } else if (l.name == options_.tenant_label) {
      tenant = l.value;
    } else if (l.name == options_.service_label) {
      service = l.value;
    }
  }
  if (rule == nullptr || tenant.empty() || service.empty()) return {};
  return Binding{FindOrCreate(DemandKey{std::string(tenant), std::string(service), rule->resource}), rule->counter};
}

void DemandRollups::AddInterval(const Binding& binding, const Sample& previous, const Sample& current) {
  if (binding.key == nullptr) return;
  const int64_t t0 = previous.timestamp_ms;
  const int64_t t1 = current.timestamp_ms;
  if (t1 <= t0 || t1 - t0 > options_.max_gap.count()) return;
  if (!std::isfinite(previous.value) || !std::isfinite(current.value)) return;  // NaN, Inf, stale markers
  double value = current.value;
  if (binding.counter) {
    const double increase = current.value >= previous.value ? current.value - previous.value : current.value;
    value = increase * 1000.0 / static_cast<double>(t1 - t0);
  }
  const Geometry g = GeometryOf(options_);
  Key& key = *binding.key;
  std::lock_guard<std::mutex> lock(key.mu);
  const int64_t lo = key.next_minute * g.per_minute;
  const int64_t hi = lo + static_cast<int64_t>(g.open_buckets);
  for (int64_t b = FloorDiv(t0, g.resolution_ms); b * g.resolution_ms < t1; ++b) {
    if (b < lo) {
      late_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (b >= hi) {
      future_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    const int64_t overlap = std::min(t1, (b + 1) * g.resolution_ms) - std::max(t0, b * g.resolution_ms);
    const size_t slot = static_cast<size_t>(b % static_cast<int64_t>(g.open_buckets));
    key.integral[slot] += value * static_cast<double>(overlap);
    key.has[slot] = 1;
  }
}

void DemandRollups::Finalize() {
  const Geometry g = GeometryOf(options_);
  const int64_t limit = FinalLimit(clock_, options_);
  std::vector<std::shared_ptr<Key>> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.reserve(keys_.size());
    for (const auto& entry : keys_) keys.push_back(entry.second);
  }
  const int64_t window_minutes = static_cast<int64_t>(g.open_buckets) / g.per_minute;
  for (const auto& key_ptr : keys) {
    Key& key = *key_ptr;
    std::lock_guard<std::mutex> lock(key.mu);
    if (key.next_minute == kUnset || key.next_minute >= limit) continue;
    const int64_t old_next = key.next_minute;
    // Only the open window can hold data: minutes past it are empty.
    const int64_t last_with_data = std::min(limit, old_next + window_minutes);
    for (int64_t m = old_next; m < last_with_data; ++m) {
      double sum = 0, max = -std::numeric_limits<double>::infinity();
      int n = 0;
      for (int64_t b = m * g.per_minute; b < (m + 1) * g.per_minute; ++b) {
        const size_t slot = static_cast<size_t>(b % static_cast<int64_t>(g.open_buckets));
        if (key.has[slot] != 0) {
          const double avg = key.integral[slot] / static_cast<double>(g.resolution_ms);
          sum += avg;
          max = std::max(max, avg);
          ++n;
        }
        key.integral[slot] = 0;
        key.has[slot] = 0;
      }
      if (n > 0) key.fine.Set(m, sum / n, max);
    }
    key.next_minute = limit;
    // Quarters that became complete: their 15-minute point from the minute points.
    const int64_t q_begin = std::max(FloorDiv(old_next, kQuarterMinutes), FloorDiv(key.fine.first(), kQuarterMinutes));
    for (int64_t q = q_begin; q < FloorDiv(limit, kQuarterMinutes) && !key.fine.empty(); ++q) {
      double sum = 0, max = -std::numeric_limits<double>::infinity();
      int n = 0;
      key.fine.ForEach(q * kQuarterMinutes, (q + 1) * kQuarterMinutes, [&](int64_t, double avg, double mx) {
        sum += avg;
        max = std::max(max, mx);
        ++n;
      });
      if (n > 0) key.coarse.Set(q, sum / n, max);
    }
  }
}

std::vector<DemandKey> DemandRollups::Keys(const DemandKey& filter) const {
  std::vector<DemandKey> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& entry : keys_) {
    const DemandKey& k = entry.first;
    if ((filter.tenant.empty() || filter.tenant == k.tenant) &&
        (filter.service.empty() || filter.service == k.service) &&
        (filter.resource.empty() || filter.resource == k.resource)) {
      out.push_back(k);
    }
  }
  return out;
}

std::vector<DemandSeries> DemandRollups::Query(const DemandKey& filter, int64_t from_ms, int64_t to_ms,
                                               std::chrono::milliseconds step) const {
  std::vector<DemandSeries> out;
  for (const DemandKey& k : Keys(filter)) out.push_back(QueryKey(k, from_ms, to_ms, step));
  return out;
}

DemandSeries DemandRollups::QueryKey(const DemandKey& k, int64_t from_ms, int64_t to_ms,
                                     std::chrono::milliseconds step) const {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const bool coarse =
      step.count() >= kQuarterMinutes * kMinuteMs ||
      from_ms < now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(options_.fine_retention).count();
  const int64_t bucket_ms = coarse ? kQuarterMinutes * kMinuteMs : kMinuteMs;
  const int64_t step_ms = std::max(bucket_ms, step.count() / bucket_ms * bucket_ms);
  DemandSeries series;
  series.key = k;
  series.step = std::chrono::milliseconds(step_ms);
  std::shared_ptr<Key> key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(k);
    if (it == keys_.end()) return series;
    key = it->second;
  }
  std::lock_guard<std::mutex> lock(key->mu);
  const Ring& ring = coarse ? key->coarse : key->fine;
  int64_t current = kUnset;
  double sum = 0;
  int n = 0;
  auto flush = [&] {
    if (n > 0) series.points.back().avg = sum / n;
  };
  ring.ForEach(FloorDiv(from_ms, bucket_ms), FloorDiv(to_ms + bucket_ms - 1, bucket_ms),
               [&](int64_t bucket, double avg, double max) {
                 const int64_t start = FloorDiv(bucket * bucket_ms, step_ms) * step_ms;
                 if (bucket * bucket_ms < from_ms || bucket * bucket_ms >= to_ms) return;
                 if (start != current) {
                   flush();
                   current = start;
                   sum = 0;
                   n = 0;
                   series.points.push_back(DemandPoint{start, 0, max});
                 }
                 sum += avg;
                 ++n;
                 series.points.back().max = std::max(series.points.back().max, max);
               });
  flush();
  return series;
}

std::vector<std::pair<DemandKey, DemandPoint>> DemandRollups::Latest() const {
  std::vector<std::pair<DemandKey, DemandPoint>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [k, key] : keys_) {
    std::lock_guard<std::mutex> key_lock(key->mu);
    if (key->fine.empty()) continue;
    DemandPoint latest;
    bool found = false;
    key->fine.ForEach(key->fine.end() - 1, key->fine.end(), [&](int64_t bucket, double avg, double max) {
      latest = DemandPoint{bucket * kMinuteMs, avg, max};
      found = true;
    });
    if (found) out.emplace_back(k, latest);
  }
  return out;
}

std::vector<std::pair<DemandKey, double>> DemandRollups::Recent(std::chrono::milliseconds window,
                                                                std::chrono::milliseconds lag,
                                                                bool or_latest_minute) const {
  const Geometry g = GeometryOf(options_);
  const int64_t end_ms = ToUnixMillis(clock_.Now()) - lag.count();
  const int64_t first = FloorDiv(end_ms - window.count(), g.resolution_ms);
  const int64_t last = FloorDiv(end_ms, g.resolution_ms);  // sub-buckets [first, last) ended by end_ms
  std::vector<std::pair<DemandKey, double>> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(keys_.size());
  for (const auto& [k, key] : keys_) {
    std::lock_guard<std::mutex> key_lock(key->mu);
    // Only sub-buckets still open hold their own data (the ring reuses the slots of final minutes).
    const int64_t lo = key->next_minute * g.per_minute;
    const int64_t hi = lo + static_cast<int64_t>(g.open_buckets);
    double integral = 0;
    int64_t covered = 0;
    for (int64_t b = std::max(first, lo); b < std::min(last, hi); ++b) {
      const size_t slot = static_cast<size_t>(b % static_cast<int64_t>(g.open_buckets));
      if (key->has[slot] == 0) continue;
      integral += key->integral[slot];
      covered += g.resolution_ms;
    }
    if (covered > 0) {
      out.emplace_back(k, integral / static_cast<double>(covered));
    } else if (or_latest_minute && !key->fine.empty()) {
      const DemandKey& id = k;  // clang 14 cannot capture a structured binding
      key->fine.ForEach(key->fine.end() - 1, key->fine.end(),
                        [&](int64_t, double avg, double) { out.emplace_back(id, avg); });
    }
  }
  return out;
}

DemandStats DemandRollups::Stats() const {
  DemandStats s;
  s.late_intervals = late_.load(std::memory_order_relaxed);
  s.future_intervals = future_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  s.keys = keys_.size();
  for (const auto& entry : keys_) {
    const Key& key = *entry.second;
    std::lock_guard<std::mutex> key_lock(entry.second->mu);
    s.bytes += sizeof(Key) + key.integral.size() * (sizeof(double) + 1) + key.fine.bytes() + key.coarse.bytes();
  }
  return s;
}

std::string DemandRollups::UnitOf(const std::string& resource) const {
  if (resource == "cpu") return "cores";
  if (resource == "memory") return "bytes";
  if (resource == "network") return "bytes_per_second";
  for (const auto& entry : rules_) {
    if (entry.second.resource == resource) return entry.second.counter ? "per_second" : "value";
  }
  return "value";
}

bool DemandRollups::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.empty();
}

}  // namespace prescale::aggregator
