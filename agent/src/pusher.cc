#include "prescale/agent/pusher.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <boost/lockfree/spsc_queue.hpp>

#include <algorithm>

#include "prescale/agent/aggregator_urls.h"
#include "prescale/base/build_info.h"
#include "prescale/base/yaml_config.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

// "prescale-agent/VERSION", as Prometheus sends "Prometheus/VERSION".
const std::string& UserAgent() {
  static const std::string kAgent = "prescale-agent/" + std::string(GetBuildInfo().version);
  return kAgent;
}

// Whether `batch`, read from the spool, is still its oldest record (on a read error: assume so,
// since keeping a second copy would send it twice).
bool SpoolStillHolds(Spool* spool, const Batch& batch) {
  Batch front;
  auto found = spool->Front(&front);
  if (!found.ok()) return true;
  return *found && front.timestamp_ms == batch.timestamp_ms && front.body == batch.body;
}

}  // namespace

// Batches travel as owned pointers to their shared handles: the queue needs a trivially movable element.
struct Pusher::Queue {
  using Item = std::shared_ptr<const Batch>;
  explicit Queue(size_t capacity) : q(capacity) {}
  ~Queue() {
    Item* b = nullptr;
    while (q.pop(b)) delete b;
  }
  boost::lockfree::spsc_queue<Item*> q;
  std::atomic<size_t> depth{0};
};

struct Pusher::Metrics {
  // Every series carries `labels` (none with one URL). Pushers to several URLs share the families:
  // the registry merges families registered again under the same name.
  Metrics(prometheus::Registry& registry, std::map<std::string, std::string> labels);

  std::map<std::string, std::string> labels;

  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Gauge* spool_bytes = nullptr;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* retried = nullptr;
  prometheus::Family<prometheus::Counter>* dropped = nullptr;  // by reason
  prometheus::Counter* corrupt = nullptr;
  prometheus::Histogram* duration = nullptr;
};

Pusher::Metrics::Metrics(prometheus::Registry& registry, std::map<std::string, std::string> metric_labels)
    : labels(std::move(metric_labels)) {
  queue_depth = &prometheus::BuildGauge()
                     .Name("prescale_agent_push_queue_depth")
                     .Help("Batches waiting in memory for the pusher thread.")
                     .Register(registry)
                     .Add(labels);
  spool_bytes = &prometheus::BuildGauge()
                     .Name("prescale_agent_spool_bytes")
                     .Help("Size of the on-disk spool of batches not yet sent, in bytes.")
                     .Register(registry)
                     .Add(labels);
  sent = &prometheus::BuildCounter()
              .Name("prescale_agent_samples_sent_total")
              .Help("Samples the aggregator accepted.")
              .Register(registry)
              .Add(labels);
  retried = &prometheus::BuildCounter()
                 .Name("prescale_agent_samples_retried_total")
                 .Help("Samples in pushes that failed with a retryable error (5xx, 429, connection) and were retried.")
                 .Register(registry)
                 .Add(labels);
  dropped = &prometheus::BuildCounter()
                 .Name("prescale_agent_samples_dropped_total")
                 .Help(
                     "Samples given up: rejected by the receiver (reason = HTTP status), or dropped from the spool "
                     "(spool_full, spool_age, spool_error).")
                 .Register(registry);
  corrupt = &prometheus::BuildCounter()
                 .Name("prescale_agent_spool_corrupt_records_total")
                 .Help("Spool records skipped because they were truncated or failed their checksum.")
                 .Register(registry)
                 .Add(labels);
  duration = &prometheus::BuildHistogram()
                  .Name("prescale_agent_push_duration_seconds")
                  .Help("Wall time of one remote-write request to the aggregator, failed ones included.")
                  .Register(registry)
                  .Add(labels, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                       0.25, 0.5, 1, 2.5, 5, 10});
}

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                       std::mt19937_64* rng) {
  int64_t ceiling = base.count();
  for (int i = 1; i < attempt && ceiling < cap.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, cap.count());
  if (ceiling <= 0) return 0ms;
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(*rng));
}

Result<std::unique_ptr<Pusher>> Pusher::Create(PusherOptions options, std::unique_ptr<http::HttpClient> client,
                                               std::unique_ptr<Spool> spool, const Clock& clock,
                                               prometheus::Registry* registry) {
  if (!options.url.starts_with("http://") && !options.url.starts_with("https://")) {
    return Status::InvalidArgument("aggregator_url '" + options.url + "': expected an http:// or https:// URL");
  }
  if (client == nullptr || spool == nullptr || registry == nullptr) {
    return Status::Internal("Pusher::Create needs a client, a spool and a registry");
  }
  if (options.queue_capacity == 0) return Status::InvalidArgument("push queue capacity must be positive");
  std::string token;
  if (!options.token_file.empty()) {
    auto read = ReadTokenFile(options.token_file);
    if (!read.ok()) return read.status();
    token = std::move(*read);
  }

  std::unique_ptr<Pusher> p(new Pusher(std::move(options), std::move(client), std::move(spool), clock, registry));
  p->token_ = std::move(token);
  return p;
}

Pusher::Pusher(PusherOptions options, std::unique_ptr<http::HttpClient> client, std::unique_ptr<Spool> spool,
               const Clock& clock, prometheus::Registry* registry)
    : options_(std::move(options)),
      client_(std::move(client)),
      spool_(std::move(spool)),
      clock_(clock),
      queue_(std::make_unique<Queue>(options_.queue_capacity)),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()),
      log_limiter_(clock, std::chrono::minutes(1)),
      metrics_(std::make_unique<Metrics>(*registry, options_.metric_labels)) {
  shown_url_ = RedactUrl(options_.url);
  spill_ = !spool_->empty();  // batches from before a restart go first
  UpdateGauges();
}

Pusher::~Pusher() { Stop(); }

size_t Pusher::queue_depth() const { return queue_->depth.load(); }

void Pusher::UpdateGauges() {
  metrics_->queue_depth->Set(static_cast<double>(queue_->depth.load()));
  metrics_->spool_bytes->Set(static_cast<double>(spool_->bytes()));
}

void Pusher::Drop(const std::string& reason, uint64_t samples) {
  std::map<std::string, std::string> labels = metrics_->labels;
  labels["reason"] = reason;
  metrics_->dropped->Add(labels).Increment(static_cast<double>(samples));
}

void Pusher::CountSpoolDrops() {
  const SpoolDrops d = spool_->TakeDrops();
  if (d.full_samples > 0) Drop("spool_full", d.full_samples);
  if (d.age_samples > 0) Drop("spool_age", d.age_samples);
  if (d.corrupt_records > 0) {
    metrics_->corrupt->Increment(static_cast<double>(d.corrupt_records));
    if (log_limiter_.Allow("spool-corrupt")) {
      Log(LogLevel::kWarning, "spool for " + shown_url_ + ": skipped " + std::to_string(d.corrupt_records) +
                                  " corrupt or truncated records");
    }
  }
}

void Pusher::Enqueue(std::shared_ptr<const Batch> batch) {
  if (batch == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    const auto spool = [&](const Batch& b) {
      if (Status s = spool_->Append(b); !s.ok()) {
        Drop("spool_error", b.samples);
        if (log_limiter_.Allow("spool-error")) {
          Log(LogLevel::kError, "spool for " + shown_url_ + ": " + s.message() + "; batch dropped");
        }
      }
    };
    if (spill_) {
      spool(*batch);
    } else if (auto* b = new Queue::Item(std::move(batch)); queue_->q.push(b)) {
      ++queue_->depth;
    } else {
      spill_ = true;  // the queue is full: batches go to the spool, in order, until it is empty again
      spool(**b);
      delete b;
    }
  }
  CountSpoolDrops();
  UpdateGauges();
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    kick_ = true;
  }
  wake_cv_.notify_one();
}

void Pusher::Start() {
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Pusher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // What is still in memory is older than anything in the spool: it goes in front. A batch read from
  // the spool counts as in memory once the spool dropped its segment (full or too old) while it was
  // retried: the spool did not count it as dropped, so it must be kept.
  // Copies: other pushers may still hold the same batches.
  std::vector<Batch> memory;
  if (current_ && (!current_from_spool_ || !SpoolStillHolds(spool_.get(), *current_))) memory.push_back(*current_);
  current_.reset();
  Queue::Item* b = nullptr;
  while (queue_->q.pop(b)) {
    memory.push_back(**b);
    delete b;
    --queue_->depth;
  }
  CountSpoolDrops();
  if (Status s = spool_->Prepend(memory); !s.ok()) {
    Log(LogLevel::kError, "spool for " + shown_url_ + ": cannot keep " + std::to_string(memory.size()) +
                              " unsent batches: " + s.message());
  }
  UpdateGauges();
}

bool Pusher::Next() {
  Queue::Item* b = nullptr;
  if (queue_->q.pop(b)) {
    current_ = std::move(*b);
    delete b;
    --queue_->depth;
    current_from_spool_ = false;
    return true;
  }
  Batch from_spool;
  auto found = spool_->Front(&from_spool);
  CountSpoolDrops();
  if (!found.ok()) {
    if (log_limiter_.Allow("spool-read")) {
      Log(LogLevel::kError, "spool for " + shown_url_ + ": " + found.status().message());
    }
    return false;
  }
  if (*found) {
    current_ = std::make_shared<const Batch>(std::move(from_spool));
    current_from_spool_ = true;
    return true;
  }
  // Queue and spool are empty: unless the producer spooled meanwhile, new batches may use the queue again.
  std::lock_guard<std::mutex> lock(spill_mu_);
  if (spill_ && queue_->depth.load() == 0 && spool_->empty()) spill_ = false;
  return false;
}

void Pusher::Finish() {
  if (current_from_spool_) {
    if (Status s = spool_->PopFront(); !s.ok() && log_limiter_.Allow("spool-pop")) {
      Log(LogLevel::kError, "spool for " + shown_url_ + ": " + s.message());
    }
  }
  current_.reset();
  attempt_ = 0;
  UpdateGauges();
}

void Pusher::Wait(std::chrono::milliseconds d) {
  if (options_.sleep) {
    options_.sleep(d);
    return;
  }
  std::unique_lock<std::mutex> lock(wake_mu_);
  wake_cv_.wait_for(lock, d, [this] { return stop_; });
}

Pusher::Outcome Pusher::Send(const Batch& batch) {
  http::PostOptions o;
  o.timeout = options_.timeout;
  o.ca_file = options_.ca_file;
  o.headers = {{"Content-Encoding", std::string(remote_write::kContentEncoding)},
               {"Content-Type", std::string(remote_write::kContentType)},
               {std::string(remote_write::kVersionHeader), std::string(remote_write::kVersion)},
               {"User-Agent", UserAgent()}};
  if (!token_.empty()) o.headers.emplace_back("Authorization", "Bearer " + token_);
  const auto start = clock_.Monotonic();
  auto r = client_->Post(options_.url, batch.body, o);
  metrics_->duration->Observe(std::chrono::duration<double>(clock_.Monotonic() - start).count());
  if (!r.ok()) {
    if (log_limiter_.Allow("push-failed")) {
      Log(LogLevel::kWarning,
          "push to " + shown_url_ + " failed: " + RedactUrlIn(r.status().message(), options_.url) + "; retrying");
    }
    return Outcome::kRetry;
  }
  const long status = r->status;
  if (status >= 200 && status < 300) return Outcome::kSent;
  const std::string code = std::to_string(status);
  if (status == 429 || status >= 500) {
    if (log_limiter_.Allow("push-status-" + code)) {
      Log(LogLevel::kWarning,
          "push to " + shown_url_ + " answered " + code + ": " + r->body.substr(0, 256) + "; retrying");
    }
    return Outcome::kRetry;
  }
  Drop(code, batch.samples);
  if (log_limiter_.Allow("push-drop-" + code)) {
    Log(LogLevel::kWarning, "push to " + shown_url_ + " rejected with " + code + ": " + r->body.substr(0, 256) +
                                "; batch of " + std::to_string(batch.samples) + " samples dropped");
  }
  return Outcome::kDropped;
}

void Pusher::Loop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      if (stop_) return;
    }
    if (!current_ && !Next()) {
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_cv_.wait_for(lock, 200ms, [this] { return stop_ || kick_; });
      kick_ = false;
      continue;
    }
    switch (Send(*current_)) {
      case Outcome::kSent:
        metrics_->sent->Increment(static_cast<double>(current_->samples));
        Finish();
        break;
      case Outcome::kDropped: Finish(); break;
      case Outcome::kRetry:
        metrics_->retried->Increment(static_cast<double>(current_->samples));
        ++attempt_;
        Wait(BackoffDelay(attempt_, options_.backoff_base, options_.backoff_cap, &rng_));
        break;
    }
  }
}

}  // namespace prescale::agent
