// DemandRollups: the demand series forecasting uses, one per tenant, service
// and resource, summed over every instance and node of the service, kept as
// rollups: average and max per minute (2 days) and per 15 minutes (5 weeks).
//
// The raw store binds each incoming series to a demand key once, when the
// series is created (Bind), and then hands over each pair of consecutive
// samples (AddInterval). Every source series is a step function over time:
// a counter contributes its rate over (t0, t1], a gauge its value v1 over
// (t0, t1]. Their sum is integrated into sub-buckets of `resolution` (10 s),
// so series pushed at different moments add up without aligning them. A
// minute becomes final `settle` after it ends (Finalize, from the main loop):
// its average is the mean of its sub-buckets that received data, its max the
// largest of them. Data for a minute already final is late: dropped, counted.
// Thread-safe: many ingest threads, one Finalize caller, any readers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::aggregator {

// One source of demand: samples of `metric` become `resource` demand.
struct DemandRule {
  std::string metric;
  std::string resource;  // "cpu", "memory", "network", or a custom name
  bool counter = false;  // the demand is the counter's rate per second
};

struct DemandOptions {
  std::string tenant_label = "tenant";
  std::string service_label = "service";
  // Defaults: cpu (cores) from container_cpu_usage_seconds_total, memory (bytes) from
  // container_memory_working_set_bytes, network (bytes/s) from receive + transmit.
  std::vector<DemandRule> rules = DefaultRules();
  std::chrono::milliseconds resolution{10'000};
  std::chrono::milliseconds settle{60'000};
  // Two samples of a series further apart than this are not bridged.
  std::chrono::milliseconds max_gap{5 * 60'000};
  std::chrono::hours fine_retention{48};
  std::chrono::hours coarse_retention{35 * 24};

  static std::vector<DemandRule> DefaultRules();
};

struct DemandKey {
  std::string tenant;
  std::string service;
  std::string resource;
  auto operator<=>(const DemandKey&) const = default;
};

struct DemandPoint {
  int64_t timestamp_ms = 0;  // the start of the bucket
  double avg = 0;
  double max = 0;
};

struct DemandSeries {
  DemandKey key;
  std::chrono::milliseconds step{60'000};
  std::vector<DemandPoint> points;  // oldest first; buckets without data are left out
};

struct DemandStats {
  uint64_t keys = 0;
  uint64_t late_intervals = 0;    // data for minutes already final
  uint64_t future_intervals = 0;  // data more than a minute ahead of the clock
  uint64_t bytes = 0;             // memory held by rollups and open buckets (approximate)
};

class DemandRollups {
 public:
  struct Key;  // per demand key state (opaque)
  // What a raw series contributes to, decided once when it is created.
  struct Binding {
    std::shared_ptr<Key> key;
    bool counter = false;
  };

  DemandRollups(DemandOptions options, const Clock& clock);
  ~DemandRollups();
  DemandRollups(const DemandRollups&) = delete;
  DemandRollups& operator=(const DemandRollups&) = delete;

  // The binding of a series with these (sorted) labels; key == nullptr when
  // the series is not a demand source (no rule, or no tenant/service label).
  Binding Bind(const std::vector<remote_write::Label>& labels);
  // Two consecutive samples of one bound series (t0 < t1).
  void AddInterval(const Binding& binding, const remote_write::Sample& previous, const remote_write::Sample& current);

  // Closes every minute that ended `settle` before now.
  void Finalize();

  // Points in [from_ms, to_ms) at `step` (a multiple of 1 minute; 15 minutes
  // and longer read the 15-minute rollup, as do ranges older than the 1-minute
  // retention). `filter` fields left empty match any key.
  std::vector<DemandSeries> Query(const DemandKey& filter, int64_t from_ms, int64_t to_ms,
                                  std::chrono::milliseconds step) const;
  // One key's points (an empty series when the key is unknown), as Query.
  DemandSeries QueryKey(const DemandKey& key, int64_t from_ms, int64_t to_ms, std::chrono::milliseconds step) const;
  // Keys matching a filter whose empty fields match anything, sorted.
  std::vector<DemandKey> Keys(const DemandKey& filter) const;
  // The newest final minute of every key (for the usage gauges).
  std::vector<std::pair<DemandKey, DemandPoint>> Latest() const;
  // The average of every key over its open sub-buckets (10 s) that ended in
  // [now - lag - window, now - lag]: demand fresher than the newest final
  // minute, for reactive decisions. `lag` leaves the agents time to push a
  // sub-bucket whole. Keys without such data are left out.
  // With or_latest_minute, keys without such data get their newest final
  // minute's average instead (keys with neither are left out).
  std::vector<std::pair<DemandKey, double>> Recent(std::chrono::milliseconds window, std::chrono::milliseconds lag,
                                                   bool or_latest_minute = false) const;
  DemandStats Stats() const;
  // "cores" (cpu), "bytes" (memory), "bytes_per_second" (network); a custom
  // resource: "per_second" from a counter, "value" from a gauge.
  std::string UnitOf(const std::string& resource) const;
  const DemandOptions& options() const { return options_; }

  // Rollups as remote-write series (name kSnapshotPrefix + "avg_1m" etc.) for
  // snapshots, and back. Restore is for an empty store at start; points of
  // keys that exist are merged by time.
  std::vector<remote_write::TimeSeries> Export() const;
  void Restore(const remote_write::TimeSeries& series);
  bool empty() const;
  // Sets one final bucket directly (backfill from Prometheus); a NaN avg or
  // max keeps what the bucket holds.
  void Backfill(const DemandKey& key, bool coarse, const DemandPoint& point);

  static constexpr const char* kSnapshotPrefix = "prescale_demand_rollup_";

 private:
  std::shared_ptr<Key> FindOrCreate(const DemandKey& key);

  DemandOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;  // guards keys_ (the map, not the keys' contents)
  std::map<DemandKey, std::shared_ptr<Key>> keys_;
  std::map<std::string, DemandRule, std::less<>> rules_;
  std::atomic<uint64_t> late_{0};
  std::atomic<uint64_t> future_{0};
};

}  // namespace prescale::aggregator
