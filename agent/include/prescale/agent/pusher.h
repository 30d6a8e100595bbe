// Pusher: sends the agent's batches to the aggregator (or any receiver) over
// Prometheus remote write 1.0. The collection thread hands batches over with
// Enqueue(), which never touches the network: a lock-free single-producer
// queue feeds the pusher's own thread; when the queue is full (the aggregator
// is slow or down) batches go to the on-disk Spool, and from then on every
// new batch goes behind them until the spool is drained, so batches arrive in
// collection order. 5xx, 429 and connection failures are retried with capped
// exponential backoff and full jitter; other 4xx drop the batch, counted by
// status code. Enqueue() from one producer thread; Start()/Stop() from the owner.
// An agent with several aggregators runs one Pusher per URL (issue 17), each
// with a spool of its own; they share each batch (Enqueue(shared_ptr)).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "prescale/agent/spool.h"
#include "prescale/base/clock.h"
#include "prescale/base/log.h"
#include "prescale/base/status.h"
#include "prescale/http/http_client.h"

// Declared only: the caller's registry is passed through to the .cc, which includes prometheus-cpp
// (a private dependency of agent_lib).
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace prescale::agent {

struct PusherOptions {
  std::string url;         // http(s)://host:port/api/v1/write
  std::string token_file;  // bearer token, trimmed; empty: no Authorization header
  std::string ca_file;     // for https
  size_t queue_capacity = 8;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  uint64_t seed = 0;  // jitter; 0: from std::random_device
  // Labels on every push metric, to tell the pushers of several URLs apart
  // (remote_name and url, as Prometheus's remote-write metrics); empty with
  // one URL, whose metrics keep the unlabelled series they always had.
  std::map<std::string, std::string> metric_labels;
  // Waits between retries; the default is interrupted by Stop(). Tests replace it.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The delay before retry number `attempt` (1, 2, ...): uniform in
// [0, min(cap, base * 2^(attempt-1))] ("full jitter").
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                       std::mt19937_64* rng);

class Pusher {
 public:
  Pusher(const Pusher&) = delete;
  Pusher& operator=(const Pusher&) = delete;
  ~Pusher();

  // Reads the token file (InvalidArgument naming it when unreadable or
  // empty) and registers the push metrics in `registry`.
  static Result<std::unique_ptr<Pusher>> Create(PusherOptions options, std::unique_ptr<http::HttpClient> client,
                                                std::unique_ptr<Spool> spool, const Clock& clock,
                                                prometheus::Registry* registry);

  // Hands a batch to the pusher thread, or to the spool when the queue is
  // full or the spool holds older batches. Never blocks on the network.
  // The batch is never modified: pushers to several URLs share it.
  void Enqueue(std::shared_ptr<const Batch> batch);
  void Enqueue(Batch batch) { Enqueue(std::make_shared<const Batch>(std::move(batch))); }

  // Starts the pusher thread.
  void Start();
  // Stops it; batches still in memory are written to the front of the spool.
  void Stop();

  size_t queue_depth() const;

 private:
  struct Queue;
  // The push metrics, pointing into the caller's registry (defined in pusher.cc).
  struct Metrics;
  enum class Outcome { kSent, kRetry, kDropped };

  Pusher(PusherOptions options, std::unique_ptr<http::HttpClient> client, std::unique_ptr<Spool> spool,
         const Clock& clock, prometheus::Registry* registry);
  void Loop();
  // The next batch in order (queue, then spool) into current_.
  bool Next();
  Outcome Send(const Batch& batch);
  void Finish();
  void Wait(std::chrono::milliseconds d);
  void UpdateGauges();
  void CountSpoolDrops();
  void Drop(const std::string& reason, uint64_t samples);

  PusherOptions options_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<Spool> spool_;
  const Clock& clock_;
  std::string token_;
  std::string shown_url_;  // options_.url without its password, for logs
  std::unique_ptr<Queue> queue_;
  std::mt19937_64 rng_;
  LogRateLimiter log_limiter_;

  // Held by the producer around push-or-spool, and by the pusher to end spill mode.
  std::mutex spill_mu_;
  bool spill_ = false;  // newer batches go to the spool, behind older ones

  std::shared_ptr<const Batch> current_;
  bool current_from_spool_ = false;
  int attempt_ = 0;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool stop_ = false;
  bool kick_ = false;  // a batch arrived
  bool stopped_ = false;
  std::thread thread_;

  std::unique_ptr<Metrics> metrics_;
};

}  // namespace prescale::agent
