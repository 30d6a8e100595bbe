// The rollups as remote-write series, for snapshots and backfill.
#include <algorithm>

#include "demand_internal.h"
#include "prescale/aggregator/history/demand.h"

namespace prescale::aggregator {
namespace {

using demand_internal::kMinuteMs;
using demand_internal::kQuarterMinutes;
using remote_write::Label;
using remote_write::TimeSeries;

struct Part {
  const char* suffix;
  bool coarse;
  bool max;
};
constexpr Part kParts[] = {
    {"avg_1m", false, false}, {"max_1m", false, true}, {"avg_15m", true, false}, {"max_15m", true, true}};

}  // namespace

std::vector<TimeSeries> DemandRollups::Export() const {
  std::vector<TimeSeries> out;
  std::vector<std::shared_ptr<Key>> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keys.reserve(keys_.size());
    for (const auto& entry : keys_) keys.push_back(entry.second);
  }
  for (const auto& key : keys) {
    const DemandKey& k = key->id;
    std::lock_guard<std::mutex> lock(key->mu);
    for (const Part& part : kParts) {
      const demand_internal::Ring& ring = part.coarse ? key->coarse : key->fine;
      if (ring.empty()) continue;
      const int64_t bucket_ms = part.coarse ? kQuarterMinutes * kMinuteMs : kMinuteMs;
      TimeSeries& ts = out.emplace_back();
      // Sorted by name, as remote write wants.
      ts.labels = {Label{"__name__", std::string(kSnapshotPrefix) + part.suffix}, Label{"resource", k.resource},
                   Label{"service", k.service}, Label{"tenant", k.tenant}};
      ring.ForEach(ring.first(), ring.end(), [&](int64_t bucket, double avg, double max) {
        ts.samples.push_back({part.max ? max : avg, bucket * bucket_ms});
      });
    }
  }
  return out;
}

void DemandRollups::Restore(const TimeSeries& series) {
  DemandKey k;
  const Part* part = nullptr;
  for (const Label& l : series.labels) {
    if (l.name == "__name__") {
      for (const Part& p : kParts) {
        if (l.value == std::string(kSnapshotPrefix) + p.suffix) part = &p;
      }
    } else if (l.name == "tenant") {
      k.tenant = l.value;
    } else if (l.name == "service") {
      k.service = l.value;
    } else if (l.name == "resource") {
      k.resource = l.value;
    }
  }
  if (part == nullptr || k.tenant.empty() || k.service.empty() || k.resource.empty()) return;
  std::shared_ptr<Key> key = FindOrCreate(k);
  std::lock_guard<std::mutex> lock(key->mu);
  demand_internal::Ring& ring = part->coarse ? key->coarse : key->fine;
  const int64_t bucket_ms = part->coarse ? kQuarterMinutes * kMinuteMs : kMinuteMs;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const remote_write::Sample& s : series.samples) {
    if (!std::isfinite(s.value)) continue;
    const int64_t bucket = demand_internal::FloorDiv(s.timestamp_ms, bucket_ms);
    ring.Set(bucket, part->max ? nan : s.value, part->max ? s.value : nan);
  }
}

void DemandRollups::Backfill(const DemandKey& k, bool coarse, const DemandPoint& point) {
  // NaN keeps what the bucket holds (avg and max may come from separate queries); Inf is refused.
  if (std::isinf(point.avg) || std::isinf(point.max) || (std::isnan(point.avg) && std::isnan(point.max))) return;
  std::shared_ptr<Key> key = FindOrCreate(k);
  std::lock_guard<std::mutex> lock(key->mu);
  const int64_t bucket_ms = coarse ? kQuarterMinutes * kMinuteMs : kMinuteMs;
  (coarse ? key->coarse : key->fine)
      .Set(demand_internal::FloorDiv(point.timestamp_ms, bucket_ms), point.avg, point.max);
}

}  // namespace prescale::aggregator
