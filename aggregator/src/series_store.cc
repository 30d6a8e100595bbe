#include "prescale/aggregator/series_store.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace prescale::aggregator {

using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;

// A ring buffer of samples that grows (doubling) while its oldest sample is
// still within the retention window, up to max_samples_per_series.
struct SeriesStore::Series {
  std::vector<Label> labels;
  std::vector<Sample> ring;
  size_t head = 0;  // index of the oldest sample
  size_t size = 0;
  std::chrono::steady_clock::time_point last_append;
  bool ended = false;  // the last sample is a stale marker
  DemandRollups::Binding demand;

  const Sample& at(size_t i) const { return ring[(head + i) % ring.size()]; }
  const Sample& newest() const { return at(size - 1); }
  void PopOldest() {
    head = (head + 1) % ring.size();
    --size;
  }
  // Returns the bytes the ring grew by.
  int64_t Push(const Sample& s, size_t max_samples) {
    int64_t grown = 0;
    if (size == ring.size()) {
      if (ring.size() < max_samples) {
        grown = -static_cast<int64_t>(ring.capacity() * sizeof(Sample));
        std::vector<Sample> bigger;
        bigger.reserve(std::min(max_samples, std::max<size_t>(4, ring.size() * 2)));
        for (size_t i = 0; i < size; ++i) bigger.push_back(at(i));
        bigger.resize(bigger.capacity());
        ring = std::move(bigger);
        head = 0;
        grown += static_cast<int64_t>(ring.capacity() * sizeof(Sample));
      } else {
        PopOldest();
      }
    }
    ring[(head + size) % ring.size()] = s;
    ++size;
    return grown;
  }
  size_t bytes() const {
    size_t b = sizeof(Series) + labels.capacity() * sizeof(Label) + ring.capacity() * sizeof(Sample);
    for (const Label& l : labels) b += l.name.capacity() + l.value.capacity();
    return b;
  }
};

uint64_t HashLabels(const std::vector<Label>& labels) {
  // FNV-1a over "name\xffvalue\xff..." then a splitmix64 finaliser, so the top
  // bits (which pick the shard) are well mixed.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (const Label& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

bool IsStaleMarker(double value) { return std::bit_cast<uint64_t>(value) == remote_write::kStaleNaNBits; }

SeriesStore::SeriesStore(SeriesStoreOptions options, const Clock& clock, DemandRollups* demand)
    : options_(options), clock_(clock), demand_(demand) {
  if (options_.max_samples_per_series < 4) options_.max_samples_per_series = 4;
}

SeriesStore::~SeriesStore() = default;

SeriesStore::Series* SeriesStore::Find(Shard& shard, uint64_t hash, const std::vector<Label>& labels) {
  auto it = shard.series.find(hash);
  if (it == shard.series.end()) return nullptr;
  for (const auto& s : it->second) {
    if (s->labels == labels) return s.get();
  }
  return nullptr;
}

void SeriesStore::AppendSamples(Series* s, const std::vector<Sample>& samples, bool restoring, AppendStats* stats) {
  const int64_t retention_ms = options_.raw_retention.count();
  for (const Sample& sample : samples) {
    if (s->size > 0 && sample.timestamp_ms <= s->newest().timestamp_ms) {
      ++stats->samples_out_of_order;
      continue;
    }
    if (s->demand.key != nullptr && s->size > 0 && !restoring) demand_->AddInterval(s->demand, s->newest(), sample);
    const int64_t grown = s->Push(sample, options_.max_samples_per_series);
    if (grown != 0) bytes_.fetch_add(static_cast<uint64_t>(grown), std::memory_order_relaxed);
    s->ended = IsStaleMarker(sample.value);
    ++stats->samples_appended;
    // Remote write allows any int64 timestamp: keep the cutoff from overflowing.
    const int64_t cutoff = sample.timestamp_ms < std::numeric_limits<int64_t>::min() + retention_ms
                               ? std::numeric_limits<int64_t>::min()
                               : sample.timestamp_ms - retention_ms;
    while (s->size > 1 && s->at(0).timestamp_ms <= cutoff) s->PopOldest();
  }
}

Status SeriesStore::Append(const std::vector<TimeSeries>& series, AppendStats* stats, bool restoring) {
  std::vector<uint64_t> hashes(series.size());
  // Pass 1: how many series are new? Reserve room for them before touching anything.
  uint64_t new_series = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    hashes[i] = HashLabels(series[i].labels);
    if (series[i].samples.empty()) continue;
    Shard& shard = ShardFor(hashes[i]);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (Find(shard, hashes[i], series[i].labels) == nullptr) ++new_series;
  }
  if (new_series > 0) {
    const uint64_t before = active_series_.fetch_add(new_series, std::memory_order_relaxed);
    if (before + new_series > options_.max_series) {
      active_series_.fetch_sub(new_series, std::memory_order_relaxed);
      stats->series_rejected += new_series;
      return Status::ResourceExhausted("the request would create " + std::to_string(new_series) +
                                       " new series, over the limit of " + std::to_string(options_.max_series) +
                                       " series (" + std::to_string(before) + " held); retry later");
    }
  }
  // Pass 2: append. A series counted as new may have been created by another
  // request meanwhile (give its slot back), or one counted as existing may have
  // expired (take a slot anyway: the overshoot is bounded by concurrent requests).
  uint64_t created = 0;
  int64_t newest = 0;
  const auto now = clock_.Monotonic();
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].samples.empty()) continue;
    Shard& shard = ShardFor(hashes[i]);
    std::lock_guard<std::mutex> lock(shard.mu);
    Series* s = Find(shard, hashes[i], series[i].labels);
    if (s == nullptr) {
      auto owned = std::make_unique<Series>();
      owned->labels = series[i].labels;
      if (demand_ != nullptr) owned->demand = demand_->Bind(owned->labels);
      bytes_.fetch_add(owned->bytes(), std::memory_order_relaxed);
      s = owned.get();
      shard.series[hashes[i]].push_back(std::move(owned));
      ++created;
    }
    s->last_append = now;
    AppendSamples(s, series[i].samples, restoring, stats);
    if (s->size > 0) newest = std::max(newest, s->newest().timestamp_ms);
  }
  if (created > new_series) {
    active_series_.fetch_add(created - new_series, std::memory_order_relaxed);
  } else if (created < new_series) {
    active_series_.fetch_sub(new_series - created, std::memory_order_relaxed);
  }
  stats->series_created += created;
  int64_t seen = newest_timestamp_ms_.load(std::memory_order_relaxed);
  while (newest > seen && !newest_timestamp_ms_.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
  }
  return Status::Ok();
}

remote_write::WriteRequest SeriesStore::CopyShard(size_t index) const {
  remote_write::WriteRequest out;
  const Shard& shard = shards_[index];
  std::lock_guard<std::mutex> lock(shard.mu);
  for (const auto& [hash, list] : shard.series) {
    for (const auto& s : list) {
      remote_write::TimeSeries& ts = out.timeseries.emplace_back();
      ts.labels = s->labels;
      ts.samples.reserve(s->size);
      for (size_t i = 0; i < s->size; ++i) ts.samples.push_back(s->at(i));
    }
  }
  return out;
}

std::vector<SeriesData> SeriesStore::Query(std::string_view metric_name, const std::vector<Label>& equalities) const {
  std::vector<SeriesData> out;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [hash, list] : shard.series) {
      for (const auto& s : list) {
        bool match = false;
        for (const Label& l : s->labels) {
          if (l.name == "__name__") match = l.value == metric_name;
        }
        for (const Label& want : equalities) {
          if (!match) break;
          match = std::find(s->labels.begin(), s->labels.end(), want) != s->labels.end();
        }
        if (!match) continue;
        SeriesData& d = out.emplace_back();
        d.labels = s->labels;
        d.samples.reserve(s->size);
        for (size_t i = 0; i < s->size; ++i) d.samples.push_back(s->at(i));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const SeriesData& a, const SeriesData& b) {
    return std::lexicographical_compare(
        a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end(),
        [](const Label& x, const Label& y) { return x.name != y.name ? x.name < y.name : x.value < y.value; });
  });
  return out;
}

size_t SeriesStore::ExpireIdle() {
  const auto now = clock_.Monotonic();
  size_t removed = 0;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (auto it = shard.series.begin(); it != shard.series.end();) {
      auto& list = it->second;
      const size_t before = list.size();
      std::erase_if(list, [&](const std::unique_ptr<Series>& s) {
        const bool expired = s->ended || now - s->last_append >= options_.raw_retention;
        if (expired) bytes_.fetch_sub(s->bytes(), std::memory_order_relaxed);
        return expired;
      });
      removed += before - list.size();
      it = list.empty() ? shard.series.erase(it) : std::next(it);
    }
  }
  active_series_.fetch_sub(removed, std::memory_order_relaxed);
  return removed;
}

}  // namespace prescale::aggregator
