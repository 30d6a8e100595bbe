#include "prescale/aggregator/history/series_store.h"

#include "varint.h"
#include "xor_chunk.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace prescale::aggregator {

using remote_write::Label;
using remote_write::Sample;
using remote_write::TimeSeries;

namespace {

// A series' label set packed into one string: for each label a varint length
// and the name, a varint length and the value. One allocation instead of two
// strings per label (about 350 bytes less a series for an agent's label sets).
void PackLabels(const std::vector<Label>& labels, std::string* out) {
  out->clear();
  for (const Label& l : labels) {
    PutVarint(l.name.size(), out);
    out->append(l.name);
    PutVarint(l.value.size(), out);
    out->append(l.value);
  }
}

// Calls fn(name, value) for each label of a packed set.
template <typename Fn>
void ForEachPackedLabel(std::string_view packed, Fn&& fn) {
  auto next = [&packed]() {
    uint64_t n = 0;
    if (!GetVarint(&packed, &n)) n = 0;
    const std::string_view s = packed.substr(0, static_cast<size_t>(std::min<uint64_t>(n, packed.size())));
    packed.remove_prefix(s.size());
    return s;
  };
  while (!packed.empty()) {
    const std::string_view name = next();
    fn(name, next());
  }
}

std::vector<Label> UnpackLabels(std::string_view packed) {
  std::vector<Label> out;
  ForEachPackedLabel(packed, [&](std::string_view name, std::string_view value) {
    out.push_back(Label{std::string(name), std::string(value)});
  });
  return out;
}

}  // namespace

// A series' samples within raw_retention of its newest, in XOR-compressed
// chunks (xor_chunk.h). A chunk is closed when its samples cross a boundary of
// a grid of half the retention, or at kChunkSamples, so whole chunks expire
// and between 1 and 1.5 x raw_retention of samples is held; reads skip the
// expired part of the oldest. Each series' grid is offset by its label hash, so
// a fleet whose series all started together does not close and drop chunks
// all at once (it holds 1.25 x the retention on average, at every moment).
struct SeriesStore::Series {
  static constexpr size_t kChunkSamples = 240;

  std::string labels;                 // PackLabels
  std::vector<XorChunk> chunks;       // oldest first; the last one is open
  std::unique_ptr<Series> collision;  // the next series whose labels hash the same (rare)
  Sample last{};
  size_t size = 0;  // samples held, expired ones of the oldest chunk included
  std::chrono::steady_clock::time_point last_append;
  uint32_t phase = 0;  // the grid's offset, in 2^-32ths of its step (from the label hash)
  bool ended = false;  // the last sample is a stale marker
  DemandRollups::Binding demand;

  const Sample& newest() const { return last; }

  // Whether a and b (a <= b) fall in different steps of this series' chunk grid.
  bool CrossesBoundary(int64_t a, int64_t b, int64_t step_ms) const {
    if (step_ms <= 0) return false;
    const auto step = static_cast<uint64_t>(step_ms);
    const uint64_t offset = (static_cast<uint64_t>(phase) * step) >> 32;
    // Timestamps mapped to unsigned order-preservingly (any int64 is allowed);
    // near the top of the range the sum may wrap, which only closes a chunk early.
    const uint64_t ua = (static_cast<uint64_t>(a) ^ (uint64_t{1} << 63)) + offset;
    const uint64_t ub = (static_cast<uint64_t>(b) ^ (uint64_t{1} << 63)) + offset;
    return ua / step != ub / step || ub - ua >= step;
  }

  // Appends; returns the bytes held grew by (negative when a chunk expired).
  int64_t Push(const Sample& sample, int64_t retention_ms, size_t max_samples) {
    int64_t grown = 0;
    if (chunks.empty() || chunks.back().count() >= kChunkSamples ||
        CrossesBoundary(chunks.back().first_timestamp_ms(), sample.timestamp_ms, retention_ms / 2)) {
      size_t expected = 0;  // the new chunk will likely need what the last one did
      if (!chunks.empty()) {
        grown -= static_cast<int64_t>(chunks.back().bytes());
        chunks.back().Seal();
        expected = chunks.back().bytes();
        grown += static_cast<int64_t>(expected);
      }
      grown -= static_cast<int64_t>(chunks.capacity() * sizeof(XorChunk));
      chunks.emplace_back().Reserve(expected + expected / 16);
      grown += static_cast<int64_t>(chunks.capacity() * sizeof(XorChunk) + chunks.back().bytes());
    }
    const size_t before = chunks.back().bytes();
    chunks.back().Append(sample);
    grown += static_cast<int64_t>(chunks.back().bytes()) - static_cast<int64_t>(before);
    last = sample;
    ++size;
    // Whole chunks that are past the retention (or over the cap) go.
    const int64_t cutoff = Cutoff(retention_ms);
    while (chunks.size() > 1 && (chunks.front().last_timestamp_ms() <= cutoff || size > max_samples)) {
      grown -= static_cast<int64_t>(chunks.front().bytes());
      size -= chunks.front().count();
      chunks.erase(chunks.begin());
    }
    return grown;
  }

  // Samples at or before this are expired (the newest is always kept).
  int64_t Cutoff(int64_t retention_ms) const {
    // Remote write allows any int64 timestamp: keep the cutoff from overflowing.
    return last.timestamp_ms < std::numeric_limits<int64_t>::min() + retention_ms ? std::numeric_limits<int64_t>::min()
                                                                                  : last.timestamp_ms - retention_ms;
  }

  // The held samples within the retention, oldest first.
  void CopyTo(int64_t retention_ms, std::vector<Sample>* out) const {
    const int64_t cutoff = Cutoff(retention_ms);
    out->reserve(out->size() + size);
    for (const XorChunk& c : chunks) {
      if (c.last_timestamp_ms() <= cutoff && &c != &chunks.back()) continue;
      c.ForEach([&](const Sample& s) {
        if (s.timestamp_ms > cutoff || s.timestamp_ms == last.timestamp_ms) out->push_back(s);
      });
    }
  }

  size_t bytes() const {
    size_t b = sizeof(Series) + labels.capacity() + chunks.capacity() * sizeof(XorChunk);
    for (const XorChunk& c : chunks) b += c.bytes();
    return b;
  }
};

namespace {

// FNV-1a over the packed label set (its length prefixes keep boundaries
// apart), then a splitmix64 finaliser so the top bits (the shard) are well mixed.
uint64_t HashPacked(std::string_view packed) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : packed) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

uint64_t HashLabels(const std::vector<Label>& labels) {
  std::string packed;
  PackLabels(labels, &packed);
  return HashPacked(packed);
}

bool IsStaleMarker(double value) { return std::bit_cast<uint64_t>(value) == remote_write::kStaleNaNBits; }

SeriesStore::SeriesStore(SeriesStoreOptions options, const Clock& clock, DemandRollups* demand)
    : options_(options), clock_(clock), demand_(demand) {
  if (options_.max_samples_per_series < 4) options_.max_samples_per_series = 4;
}

SeriesStore::~SeriesStore() = default;

SeriesStore::Series* SeriesStore::Find(Shard& shard, uint64_t hash, std::string_view packed) {
  auto it = shard.series.find(hash);
  if (it == shard.series.end()) return nullptr;
  for (Series* s = it->second.get(); s != nullptr; s = s->collision.get()) {
    if (s->labels == packed) return s;
  }
  return nullptr;
}

void SeriesStore::Insert(Shard& shard, uint64_t hash, std::unique_ptr<Series> series) {
  series->phase = static_cast<uint32_t>(hash);
  std::unique_ptr<Series>& head = shard.series[hash];
  series->collision = std::move(head);
  head = std::move(series);
}

template <typename Fn>
void SeriesStore::ForEachSeries(const Shard& shard, Fn&& fn) {
  for (const auto& entry : shard.series) {
    for (const Series* s = entry.second.get(); s != nullptr; s = s->collision.get()) fn(*s);
  }
}

void SeriesStore::AppendSamples(Series* s, const std::vector<Sample>& samples, bool restoring, AppendStats* stats) {
  const int64_t retention_ms = options_.raw_retention.count();
  for (const Sample& sample : samples) {
    if (s->size > 0 && sample.timestamp_ms <= s->newest().timestamp_ms) {
      ++stats->samples_out_of_order;
      continue;
    }
    if (s->demand.key != nullptr && s->size > 0 && !restoring) demand_->AddInterval(s->demand, s->newest(), sample);
    const int64_t grown = s->Push(sample, retention_ms, options_.max_samples_per_series);
    if (grown != 0) bytes_.fetch_add(static_cast<uint64_t>(grown), std::memory_order_relaxed);
    s->ended = IsStaleMarker(sample.value);
    ++stats->samples_appended;
  }
}

Status SeriesStore::Append(const std::vector<TimeSeries>& series, AppendStats* stats, bool restoring,
                           const std::function<Status()>& before_append) {
  // Each label set is packed and hashed once per request (buffers kept per thread).
  thread_local std::vector<std::string> packed;
  thread_local std::vector<uint64_t> hashes;
  if (packed.size() < series.size()) packed.resize(series.size());
  hashes.resize(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    PackLabels(series[i].labels, &packed[i]);
    hashes[i] = HashPacked(packed[i]);
  }
  // Room for the request's new series is reserved before anything is touched.
  // Far from the limit, a slot for every series of the request is reserved at
  // once (the unused ones are given back after pass 2) and each series is
  // looked up once; near it, pass 1 counts the new series exactly first.
  uint64_t new_series = series.size();
  const uint64_t optimistic = active_series_.fetch_add(new_series, std::memory_order_relaxed);
  if (optimistic + new_series > options_.max_series) {
    active_series_.fetch_sub(new_series, std::memory_order_relaxed);
    new_series = 0;
    for (size_t i = 0; i < series.size(); ++i) {
      if (series[i].samples.empty()) continue;
      Shard& shard = ShardFor(hashes[i]);
      std::lock_guard<std::mutex> lock(shard.mu);
      if (Find(shard, hashes[i], packed[i]) == nullptr) ++new_series;
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
  }
  if (before_append) {
    if (Status s = before_append(); !s.ok()) {
      active_series_.fetch_sub(new_series, std::memory_order_relaxed);
      return s;
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
    Series* s = Find(shard, hashes[i], packed[i]);
    if (s == nullptr) {
      auto owned = std::make_unique<Series>();
      owned->labels.assign(packed[i]);
      if (demand_ != nullptr) owned->demand = demand_->Bind(series[i].labels);
      bytes_.fetch_add(owned->bytes(), std::memory_order_relaxed);
      s = owned.get();
      Insert(shard, hashes[i], std::move(owned));
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
  NoteNewest(newest);
  return Status::Ok();
}

void SeriesStore::NoteNewest(int64_t newest) {
  int64_t seen = newest_timestamp_ms_.load(std::memory_order_relaxed);
  while (newest > seen && !newest_timestamp_ms_.compare_exchange_weak(seen, newest, std::memory_order_relaxed)) {
  }
}

// Per series: varint length + packed labels, varint chunk count, the chunks (XorChunk::Serialize).
void SeriesStore::SerializeShard(size_t index, std::string* out, uint64_t* samples) const {
  const Shard& shard = shards_[index];
  std::lock_guard<std::mutex> lock(shard.mu);
  ForEachSeries(shard, [&](const Series& s) {
    PutVarint(s.labels.size(), out);
    out->append(s.labels);
    PutVarint(s.chunks.size(), out);
    for (const XorChunk& c : s.chunks) c.Serialize(out);
    *samples += s.size;
  });
}

Status SeriesStore::RestoreSerialized(std::string_view bytes, uint64_t* series_count, uint64_t* sample_count) {
  std::vector<std::pair<uint64_t, std::unique_ptr<Series>>> parsed;
  while (!bytes.empty()) {
    auto s = std::make_unique<Series>();
    uint64_t label_bytes = 0, chunks = 0;
    if (!GetVarint(&bytes, &label_bytes) || label_bytes > bytes.size()) return Status::ParseError("truncated labels");
    s->labels.assign(bytes.substr(0, label_bytes));
    bytes.remove_prefix(label_bytes);
    const std::vector<Label> labels = UnpackLabels(s->labels);
    std::string repacked;
    PackLabels(labels, &repacked);
    if (labels.empty() || repacked != s->labels) return Status::ParseError("a label set that does not decode");
    if (!GetVarint(&bytes, &chunks) || chunks == 0 || chunks > bytes.size()) {
      return Status::ParseError("a series without chunks");
    }
    for (uint64_t i = 0; i < chunks; ++i) {
      XorChunk& c = s->chunks.emplace_back();
      if (!XorChunk::Deserialize(&bytes, &c)) return Status::ParseError("a chunk that does not decode");
      if (i > 0 && c.first_timestamp_ms() <= s->chunks[static_cast<size_t>(i) - 1].last_timestamp_ms()) {
        return Status::ParseError("chunks out of order");
      }
      s->size += c.count();
    }
    s->chunks.back().ForEach([&](const Sample& sample) { s->last = sample; });
    s->ended = IsStaleMarker(s->last.value);
    if (demand_ != nullptr) s->demand = demand_->Bind(labels);
    parsed.emplace_back(HashPacked(s->labels), std::move(s));
  }
  const auto now = clock_.Monotonic();
  int64_t newest = 0;
  for (auto& [hash, s] : parsed) {
    Shard& shard = ShardFor(hash);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (Find(shard, hash, s->labels) != nullptr) continue;
    s->last_append = now;
    newest = std::max(newest, s->last.timestamp_ms);
    *sample_count += s->size;
    ++*series_count;
    bytes_.fetch_add(s->bytes(), std::memory_order_relaxed);
    active_series_.fetch_add(1, std::memory_order_relaxed);
    Insert(shard, hash, std::move(s));
  }
  NoteNewest(newest);
  return Status::Ok();
}

std::vector<SeriesData> SeriesStore::Query(std::string_view metric_name, const std::vector<Label>& equalities) const {
  std::vector<SeriesData> out;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    ForEachSeries(shard, [&](const Series& s) {
      bool match = false;
      size_t wanted = 0;
      ForEachPackedLabel(s.labels, [&](std::string_view name, std::string_view value) {
        if (name == "__name__") match = value == metric_name;
        for (const Label& want : equalities) {
          if (want.name == name && want.value == value) ++wanted;
        }
      });
      if (!match || wanted != equalities.size()) return;
      SeriesData& d = out.emplace_back();
      d.labels = UnpackLabels(s.labels);
      s.CopyTo(options_.raw_retention.count(), &d.samples);
    });
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
      // Unlink the expired series of this hash's chain.
      for (std::unique_ptr<Series>* link = &it->second; *link != nullptr;) {
        Series& s = **link;
        if (s.ended || now - s.last_append >= options_.raw_retention) {
          bytes_.fetch_sub(s.bytes(), std::memory_order_relaxed);
          *link = std::move(s.collision);  // frees s
          ++removed;
        } else {
          link = &s.collision;
        }
      }
      it = it->second == nullptr ? shard.series.erase(it) : std::next(it);
    }
  }
  active_series_.fetch_sub(removed, std::memory_order_relaxed);
  return removed;
}

}  // namespace prescale::aggregator
