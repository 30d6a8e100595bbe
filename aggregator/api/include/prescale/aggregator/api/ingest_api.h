// IngestApi: the data plane's routes over the raw series store:
//   POST /api/v1/write   Prometheus remote write 1.0 (snappy protobuf), 204
//   POST /api/v1/ingest  the same samples as JSON (docs/ingest.md)
//   GET  /api/v1/raw     raw series by metric name and label equalities
//                        (operators and viewers: only series whose tenant
//                        label is their tenant)
// Pushes may be limited per sender (samples a second); over the limit or past
// max_series a push is refused whole with 429 and Retry-After. While the
// owner says the history cannot be kept (RefusePushes: the data directory is
// full), pushes are refused whole with 503. With a write-ahead log (UseWal)
// every push is logged before it is stored and acknowledged; one that cannot
// be logged is refused whole with 503 and not stored. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/aggregator/api/front.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/aggregator/history/wal.h"
#include "prescale/base/clock.h"
#include "prescale/base/rate_limiter.h"

namespace prescale::aggregator {

struct IngestOptions {
  uint64_t max_body_bytes = 32ULL << 20;
  // Samples a second each sender (token; all anonymous senders together) may
  // push, with bursts of ten seconds' worth. 0: no limit.
  uint64_t sender_samples_per_second = 0;
  // The label naming a series' tenant (demand.tenant_label): what binds the
  // raw reads of tenant-bound tokens.
  std::string tenant_label = "tenant";
};

class IngestApi {
 public:
  // `store` is not owned and outlives the API.
  IngestApi(SeriesStore* store, const Clock& clock, IngestOptions options);

  std::vector<RouteSpec> Routes();
  // prescale_aggregator_samples_received_total and the other push counters.
  void AppendMetrics(std::string* out) const;
  // Forgets idle senders' rate-limit buckets.
  void Sweep();
  // A non-empty `reason`: every push is refused with 503 and the reason (the
  // JSON envelope) until it is called again with an empty one. Any thread.
  void RefusePushes(std::string reason);
  // Logs every push to `wal` (not owned; outlives the API) from now on. Call
  // before serving.
  void UseWal(WriteAheadLog* wal) { wal_ = wal; }

  Result<http::HttpResponse> Write(Call& call);
  Result<http::HttpResponse> Ingest(Call& call);
  Result<http::HttpResponse> Raw(Call& call);

 private:
  Status BindTenantLabel(const Call& call, std::vector<remote_write::Label>* equalities) const;
  // Logs (the request's `body` when it is remote write, else `request`
  // encoded) and stores a decoded request; the 204 (remote write) or JSON
  // summary, a 429, or a 503 when it could not be logged.
  Result<http::HttpResponse> Append(const remote_write::WriteRequest& request, std::string_view body, bool json,
                                    const std::string& sender);

  SeriesStore* store_;
  WriteAheadLog* wal_ = nullptr;
  const Clock& clock_;
  IngestOptions options_;
  std::unique_ptr<RateLimiter> sender_limit_;  // null: no limit
  std::atomic<bool> refusing_{false};
  mutable std::mutex refusal_mu_;  // guards refusal_
  std::string refusal_;
  std::atomic<uint64_t> samples_received_{0};
  std::atomic<uint64_t> out_of_order_{0};
  std::atomic<uint64_t> series_rejected_{0};
  std::atomic<uint64_t> rate_limited_{0};
};

}  // namespace prescale::aggregator
