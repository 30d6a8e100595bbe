#include "prescale/agent/agent.h"

#include <malloc.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "prescale/agent/aggregator_urls.h"
#include "prescale/agent/exposition.h"
#include "prescale/agent/node_collector.h"
#include "prescale/base/build_info.h"
#include "prescale/base/log.h"
#include "prescale/metrics/process_metrics.h"

namespace prescale::agent {
namespace {

// Without a cgroup created or removed, the trees are still walked every this many discovery
// intervals: a safety net for changes inotify does not report.
constexpr int kWalkSafetyFactor = 10;

// Whether `dir` holds a spool segment with data in it (a spool's files are NNN.seg and "cursor").
bool HoldsSpooledBatches(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code size_ec;
    if (entry.path().extension() == ".seg" && entry.file_size(size_ec) > 0 && !size_ec) return true;
  }
  return false;
}

// Spools in data_dir that no pusher uses (`in_use`: the names of those in use) are left alone, but
// said: the single-URL spool after a switch to several URLs, or the other way round, or the spool of
// a URL taken out of the list.
void WarnAboutUnusedSpools(const std::string& data_dir, const std::set<std::string>& in_use) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name != "spool" && !name.starts_with("spool-")) || in_use.contains(name)) continue;
    if (!entry.is_directory(ec) || !HoldsSpooledBatches(entry.path())) continue;
    Log(LogLevel::kWarning, "spool " + entry.path().string() +
                                " holds batches for an aggregator URL no longer configured; they are not sent. "
                                "Remove it once they are not needed (docs/configuration.md, \"Several aggregators\")");
  }
}

}  // namespace

// The self-metrics registry (the scrape manager, the pusher and the directive loop register
// theirs here too) and the agent's own metrics, which point into it.
struct Agent::Metrics {
  // Registers the agent's metrics: read errors by collector (every one of `collectors` that is
  // not null) and the build info, labelled with the cgroup layout.
  Metrics(const std::vector<const Collector*>& collectors, std::string_view layout_kind);

  prometheus::Registry registry;
  prometheus::Histogram* cycle_seconds = nullptr;
  prometheus::Gauge* cgroups_tracked = nullptr;
  prometheus::Gauge* cgroups_seen = nullptr;
  prometheus::Gauge* open_fds = nullptr;
  prometheus::Counter* walks = nullptr;
  std::map<const Collector*, prometheus::Counter*> read_errors;
};

Agent::Metrics::Metrics(const std::vector<const Collector*>& collectors, std::string_view layout_kind) {
  cycle_seconds = &prometheus::BuildHistogram()
                       .Name("prescale_agent_collection_duration_seconds")
                       .Help("Wall time of one collection cycle (all collectors and the exposition).")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                                                        0.1, 0.25, 0.5, 1});
  auto& gauges = prometheus::BuildGauge()
                     .Name("prescale_agent_cgroups_tracked")
                     .Help("Cgroups the agent tracks: included (mapped to a tenant and service) or seen (all walked).")
                     .Register(registry);
  cgroups_tracked = &gauges.Add({{"state", "included"}});
  cgroups_seen = &gauges.Add({{"state", "seen"}});
  open_fds = &prometheus::BuildGauge()
                  .Name("prescale_agent_open_file_descriptors")
                  .Help("Cgroup files the agent keeps open to re-read with pread.")
                  .Register(registry)
                  .Add({});
  walks = &prometheus::BuildCounter()
               .Name("prescale_agent_cgroup_walks_total")
               .Help("Walks of the cgroup trees: when a cgroup came or went, and on a slow safety cadence.")
               .Register(registry)
               .Add({});
  auto& errors = prometheus::BuildCounter()
                     .Name("prescale_agent_read_errors_total")
                     .Help("Reads that failed and were skipped (vanished cgroups, unreadable or malformed files).")
                     .Register(registry);
  for (const Collector* c : collectors) {
    if (c != nullptr) read_errors[c] = &errors.Add({{"collector", std::string(c->name())}});
  }
  auto& info = prometheus::BuildGauge()
                   .Name("prescale_agent_build_info")
                   .Help("Constant 1, labelled with the agent's version and the node's cgroup layout.")
                   .Register(registry);
  info.Add({{"version", std::string(GetBuildInfo().version)}, {"cgroup_layout", std::string(layout_kind)}}).Set(1);
}

Result<std::unique_ptr<Agent>> Agent::Create(AgentConfig config, const Clock& clock, const PusherOptions* push_tuning) {
  auto layout = DetectCgroupLayout(config.cgroup_root);
  if (!layout.ok()) return layout.status();
  std::unique_ptr<Agent> agent(new Agent(std::move(config), std::move(layout).value(), clock));
  const AgentConfig& c = agent->config_;
  PRESCALE_RETURN_IF_ERROR(CheckAggregatorUrls(c));
  if (!PushUrls(c).empty()) PRESCALE_RETURN_IF_ERROR(agent->CreatePushers(clock, push_tuning));
  if (DirectivesEnabled(c)) PRESCALE_RETURN_IF_ERROR(agent->CreateDirectiveLoop(clock));
  if (c.pods.kind != PodSourceOptions::Kind::kNone) agent->CreatePodWatcher(clock);
  return agent;
}

void Agent::CreatePodWatcher(const Clock& clock) {
  pods_ =
      std::make_unique<PodWatcher>(config_.pods, config_.node, clock, http::NewBeastHttpClient(), &metrics_->registry);
  // One read before the first cycle, so its series carry their pods' labels from the start. A
  // source that does not answer is no reason not to start: the pods are labelled by UID until it
  // does (the watcher thread keeps trying).
  if (Status s = pods_->RefreshOnce(); !s.ok()) {
    Log(LogLevel::kWarning, "pod metadata: " + s.message() + " (pods are labelled by UID until it answers)");
  }
  table_.SetPods(pods_->Snapshot());
}

// One URL spools in <data_dir>/spool, as before there could be several (an upgraded agent finds its
// spool) and its metrics have no label; several each spool in <data_dir>/spool-<name>, and their
// metrics carry remote_name and url, as Prometheus's remote-write queues' do.
Status Agent::CreatePushers(const Clock& clock, const PusherOptions* push_tuning) {
  const AgentConfig& c = config_;
  const std::vector<std::string> urls = PushUrls(c);
  const bool several = urls.size() > 1;
  std::set<std::string> dirs;
  for (const std::string& url : urls) {
    SpoolOptions spool_options;
    spool_options.max_bytes = c.spool_max_bytes;
    spool_options.max_age = c.spool_max_age;
    PusherOptions options = push_tuning != nullptr ? *push_tuning : PusherOptions{};
    options.url = url;
    options.token_file = c.token_file;
    options.ca_file = c.ca_file;
    if (several) {
      const std::string name = PushTargetName(url);
      spool_options.dir = c.data_dir + "/spool-" + name;
      options.metric_labels = {{"remote_name", name}, {"url", RedactUrl(url)}};
    } else {
      spool_options.dir = c.data_dir + "/spool";
    }
    // Two URLs whose names collide (a 32-bit hash on the same host and port): never seen, but a
    // spool is never shared.
    if (!dirs.insert(std::filesystem::path(spool_options.dir).filename().string()).second) {
      return Status::InvalidArgument("aggregator_urls: '" + RedactUrl(url) + "' would share the spool " +
                                     spool_options.dir + " with another URL");
    }
    auto spool = Spool::Open(spool_options, clock);
    if (!spool.ok()) return Status(spool.status().code(), "data_dir: " + spool.status().message());
    auto pusher = Pusher::Create(std::move(options), http::NewBeastHttpClient(), std::move(spool).value(), clock,
                                 &metrics_->registry);
    if (!pusher.ok()) return pusher.status();
    pushers_.push_back(std::move(pusher).value());
  }
  WarnAboutUnusedSpools(c.data_dir, dirs);
  return Status::Ok();
}

void Agent::StopPushers() {
  if (pushers_.size() == 1) {
    pushers_.front()->Stop();
    return;
  }
  // Together: a stop waits for the request in flight, and several hung aggregators would add up.
  std::vector<std::thread> stops;
  for (auto& p : pushers_) stops.emplace_back([&p] { p->Stop(); });
  for (std::thread& t : stops) t.join();
}

Status Agent::CreateDirectiveLoop(const Clock& clock) {
  const AgentConfig& c = config_;
  DirectiveLoopOptions options;
  options.api_urls = DirectiveApiUrls(c);
  if (options.api_urls.empty()) {
    return Status::InvalidArgument(
        "directives: on, but neither aggregator_url nor aggregator_api_url is set (nor aggregator_urls, "
        "aggregator_api_urls)");
  }
  auto root = CpuCapRoot(layout_);
  if (!root.ok()) return Status(root.status().code(), "directives: " + root.status().message());
  options.cpu_root = *root;
  options.node = c.node;
  options.token_file = c.token_file;
  options.ca_file = c.ca_file;
  options.interval = c.directive_interval.count() > 0 ? c.directive_interval : c.interval;
  // An attempt never outlasts the interval, and leases are checked between a poll's attempts at
  // several URLs: a dead aggregator cannot delay lease checks by more than one interval.
  options.timeout = std::min(options.interval, std::chrono::milliseconds(5000));
  auto loop = DirectiveLoop::Create(std::move(options), clock, &metrics_->registry);
  if (!loop.ok()) return loop.status();
  directives_ = std::move(loop).value();
  return Status::Ok();
}

Agent::~Agent() {
  StopPushers();
  directives_.reset();  // stops its thread and puts every original CPU limit back
}

Agent::Agent(AgentConfig config, CgroupLayout layout, const Clock& clock)
    : config_(std::move(config)),
      layout_(std::move(layout)),
      clock_(clock),
      mapper_(config_.mapping, config_.keep_unmatched),
      table_(mapper_, config_.node, config_.max_cgroups),
      reader_(std::min<size_t>(RaiseFdLimitAndBudget(), config_.max_open_files)) {
  cgroup_collectors_ = NewCgroupCollectors(layout_, &table_, &reader_, config_.proc_root, &tree_watch_);
  node_collector_ = std::make_unique<NodeCollector>(config_.proc_root, &node_stats_, &reader_);

  std::vector<const Collector*> all = {cgroup_collectors_.activity.get(), cgroup_collectors_.network.get(),
                                       node_collector_.get()};
  for (const auto& c : cgroup_collectors_.hierarchies) all.push_back(c.get());
  metrics_ = std::make_unique<Metrics>(all, CgroupLayoutKindName(layout_.kind));
  // No client (no connection cache, no resolver thread) when there is nothing to scrape.
  scrapes_ = std::make_unique<ScrapeManager>(
      config_, config_.scrape_targets.empty() ? nullptr : http::NewBeastHttpClient(), &metrics_->registry, clock_);
}

void Agent::CollectOnce() {
  const auto start = clock_.Monotonic();
  const int64_t timestamp_ms = ToUnixMillis(clock_.Now());
  // A cgroup created or removed makes this a discovery cycle that walks the trees. Without such an
  // event, discovery cycles re-read every file (limits, idle cgroups) but walk only on the safety
  // cadence, or always when the inotify watches do not cover the trees.
  const bool tree_changed = tree_watch_.Changed();
  const bool discovery = !discovered_once_ || tree_changed || start - last_discovery_ >= config_.discovery_interval;
  const bool walk = discovery && (!discovered_once_ || tree_changed || !tree_watch_.complete() ||
                                  start - last_walk_ >= kWalkSafetyFactor * config_.discovery_interval);
  {
    // Scrapes copy the table and the node stats (WriteExposition): they wait for the cycle's
    // reads to finish, and never see a half-read cycle.
    std::lock_guard<std::mutex> lock(mu_);
    if (discovery) {
      last_discovery_ = start;
      discovered_once_ = true;
      if (pods_) table_.SetPods(pods_->Snapshot());
    }
    if (walk) {
      last_walk_ = start;
      metrics_->walks->Increment();
    }
    // A discovery cycle reads every file, so it restarts the detail cadence too.
    const bool detail = discovery || start - last_detail_ >= config_.detail_interval;
    if (detail) last_detail_ = start;
    table_.BeginCycle(discovery, detail, walk);
    if (config_.skip_idle_cgroups && cgroup_collectors_.activity) Run(cgroup_collectors_.activity.get());
    table_.StartReads();
    for (const auto& c : cgroup_collectors_.hierarchies) Run(c.get());
    table_.EndCycle();  // the network collector works on this cycle's membership
    Run(cgroup_collectors_.network.get());
    Run(node_collector_.get());
  }
  if (pods_ && table_.TakeUnknownPod()) pods_->RequestRefresh();
  // Membership and labels change only on discovery cycles.
  if (discovery && directives_) directives_->SetCgroups(ServiceCgroupsFromTable(table_));
  if (!pushers_.empty()) Push(timestamp_ms);
  metrics_->cgroups_tracked->Set(static_cast<double>(table_.included().size()));
  metrics_->cgroups_seen->Set(static_cast<double>(table_.size()));
  metrics_->open_fds->Set(static_cast<double>(CgroupFileReader::GlobalOpenFds()));
  // A discovery cycle (and the pod list read before it) leaves freed memory in the middle of the
  // heap, which glibc does not give back on its own; the agent runs on every node.
  if (discovery) ::malloc_trim(0);
  metrics_->cycle_seconds->Observe(std::chrono::duration<double>(clock_.Monotonic() - start).count());
  ready_.store(true);
}

void Agent::Push(int64_t timestamp_ms) {
  push_series_.Begin();
  AppendCgroupSeries(table_, node_stats_, timestamp_ms, &push_series_);
  AppendNodeSeries(node_stats_, config_.node, timestamp_ms, &push_series_);
  const remote_write::WriteRequest& request = push_series_.Finish();
  if (request.timeseries.empty()) return;
  Batch batch;
  push_encoder_.Encode(request, &batch.body);
  batch.samples = static_cast<uint32_t>(request.timeseries.size());
  batch.timestamp_ms = timestamp_ms;
  // One immutable batch shared by every pusher: no copy of the body per aggregator.
  const auto shared = std::make_shared<const Batch>(std::move(batch));
  for (auto& p : pushers_) p->Enqueue(shared);
}

void Agent::Run(Collector* collector) {
  const uint64_t errors = collector->Collect();
  if (errors > 0) metrics_->read_errors.at(collector)->Increment(static_cast<double>(errors));
}

// The cgroup and node samples are copied out of the table under the lock (a few hundred bytes a
// cgroup) and rendered and sent in chunks without it: with Kubernetes' labels the whole text is
// megabytes (2.3 MB for 200 pods), which the agent never holds, and a slow scraper never holds
// up collection. An agent nobody scrapes renders nothing.
bool Agent::WriteExposition(const std::function<bool(std::string_view)>& write) const {
  constexpr size_t kChunkBytes = 64 << 10;
  {
    ExpositionSnapshot snapshot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      TakeSnapshot(table_, node_stats_, &snapshot);
    }
    if (!StreamExposition(snapshot, config_.node, kChunkBytes, write)) return false;
  }
  const std::shared_ptr<const std::string> scraped = scrapes_->Latest();
  if (!scraped->empty() && !write(*scraped)) return false;
  std::ostringstream self;
  prometheus::TextSerializer().Serialize(self, metrics_->registry.Collect());
  std::string text = self.str();
  metrics::AppendBuildInfo(&text);
  metrics::AppendProcessMetrics(&text);  // the agent's own process, in its own /proc
  return write(text);
}

std::string Agent::Exposition() const {
  std::string out;
  WriteExposition([&out](std::string_view piece) {
    out.append(piece);
    return true;
  });
  return out;
}

void Agent::Run(const std::function<void()>& after_cycle) {
  std::thread scraper;
  if (scrapes_->target_count() > 0) {
    scraper = std::thread([this] {
      std::unique_lock<std::mutex> lock(run_mu_);
      while (!stop_) {
        lock.unlock();
        scrapes_->ScrapeAll();
        lock.lock();
        run_cv_.wait_for(lock, config_.interval, [this] { return stop_; });
      }
    });
  }
  for (auto& p : pushers_) p->Start();
  if (pods_) pods_->Start();
  std::unique_lock<std::mutex> lock(run_mu_);
  auto next = std::chrono::steady_clock::now();
  while (!stop_) {
    lock.unlock();
    CollectOnce();
    // Directives run on a thread of their own, started once the first cycle has told them the
    // node's cgroups: a poll may wait its whole timeout on an unreachable aggregator, which must
    // not delay collection, and a slow collection cycle must not delay the renewal or the
    // expiry of CPU caps' leases.
    if (directives_) directives_->Start();  // no-op once running
    if (after_cycle) after_cycle();
    lock.lock();
    next += config_.interval;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a late cycle does not trigger a burst of catch-up cycles
    run_cv_.wait_until(lock, next, [this] { return stop_; });
  }
  lock.unlock();
  if (scraper.joinable()) scraper.join();
  if (pods_) pods_->Stop();
  StopPushers();
  if (directives_) {
    directives_->Stop();
    directives_->ReleaseAll();  // the agent stops: every original CPU limit comes back
  }
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
}

}  // namespace prescale::agent
