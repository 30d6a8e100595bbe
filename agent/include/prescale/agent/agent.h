// Agent: prescale-agent's wiring. Owns the collectors, the cgroup table, the
// node stats, the scrape manager and the self metrics; runs collection cycles
// and streams the latest cycle's exposition when it is asked for. WriteExposition() and
// ready() may be called from any thread (the HTTP server's); CollectOnce()
// from one collection thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/cgroup_layout.h"
#include "prescale/agent/cgroup_mapper.h"
#include "prescale/agent/cgroup_table.h"
#include "prescale/agent/collector.h"
#include "prescale/agent/config.h"
#include "prescale/agent/directive_loop.h"
#include "prescale/agent/exposition.h"
#include "prescale/agent/pod_metadata.h"
#include "prescale/agent/pusher.h"
#include "prescale/agent/scrape_manager.h"
#include "prescale/base/clock.h"
#include "prescale/remote_write/remote_write.h"

namespace prescale::agent {

class Agent {
 public:
  // Detects the cgroup layout and builds the collectors; NotFound when the
  // cgroup root holds no hierarchy.
  // With push URLs (PushUrls()), also opens a spool in data_dir and builds a
  // pusher for each (errors name the key, the directory or the token file);
  // with directives on, builds the directive loop (errors name the key);
  // push_tuning (optional, for tests) overrides the pushers' queue, backoff
  // and timeout.
  static Result<std::unique_ptr<Agent>> Create(AgentConfig config, const Clock& clock,
                                               const PusherOptions* push_tuning = nullptr);
  ~Agent();

  // One collection cycle: every collector, then the exposition is rebuilt.
  void CollectOnce();
  // Scrapes every scrape target once, synchronously (for --once).
  void ScrapeTargetsOnce() { scrapes_->ScrapeAll(); }
  // The latest cycle's exposition, the scraped services' metrics and the self
  // metrics, handed to `write` in pieces (of about 64 KiB for the cgroups);
  // stops, returning false, when `write` returns false.
  bool WriteExposition(const std::function<bool(std::string_view)>& write) const;
  // The same, concatenated.
  std::string Exposition() const;
  bool ready() const { return ready_.load(); }

  // Runs cycles every interval until Stop(); after_cycle (optional) runs on
  // the collection thread after each cycle. Scrape targets get a thread of
  // their own, and so does each pusher (stopped, its memory spooled, on return)
  // and the directive loop (started after the first cycle; on return it is
  // stopped and every capped cgroup gets its original limit back).
  void Run(const std::function<void()>& after_cycle);
  void Stop();

  const CgroupLayout& layout() const { return layout_; }
  const CgroupTable& table() const { return table_; }
  const NodeStats& node_stats() const { return node_stats_; }
  const AgentConfig& config() const { return config_; }
  // The first pusher; nullptr without an aggregator URL.
  Pusher* pusher() { return pushers_.empty() ? nullptr : pushers_.front().get(); }
  // One pusher per push URL, in PushUrls() order.
  const std::vector<std::unique_ptr<Pusher>>& pushers() const { return pushers_; }
  // nullptr when directives are off.
  DirectiveLoop* directives() { return directives_.get(); }

 private:
  Agent(AgentConfig config, CgroupLayout layout, const Clock& clock);
  Status CreatePushers(const Clock& clock, const PusherOptions* push_tuning);
  // Stops every pusher (each spools what it holds in memory); no-op for stopped ones.
  void StopPushers();
  Status CreateDirectiveLoop(const Clock& clock);
  void CreatePodWatcher(const Clock& clock);

  AgentConfig config_;
  CgroupLayout layout_;
  const Clock& clock_;
  CgroupMapper mapper_;
  CgroupTable table_;
  CgroupFileReader reader_;
  NodeStats node_stats_;
  CgroupTreeWatch tree_watch_;  // before the collectors, whose walkers add to it
  CgroupCollectors cgroup_collectors_;
  std::unique_ptr<Collector> node_collector_;

  // The self-metrics registry and the agent's own metrics in it. Defined in agent.cc so that
  // prometheus-cpp stays out of this header (it is a private dependency of agent_lib).
  struct Metrics;
  // Before scrapes_, pushers_ and directives_: their metrics live in its registry, so it is destroyed after them.
  std::unique_ptr<Metrics> metrics_;
  // Runs one collector and counts its read errors.
  void Run(Collector* collector);
  std::unique_ptr<ScrapeManager> scrapes_;
  std::vector<std::unique_ptr<Pusher>> pushers_;
  SeriesBuilder push_series_;
  remote_write::Encoder push_encoder_;
  // Builds this cycle's batch and hands it to every pusher.
  void Push(int64_t timestamp_ms);
  // After metrics_ (its metrics live in its registry); nullptr without a pod source.
  std::unique_ptr<PodWatcher> pods_;
  // After metrics_ (its metrics live there); destroyed first, restoring every capped cgroup.
  std::unique_ptr<DirectiveLoop> directives_;

  // Guards table_ and node_stats_ while a cycle reads them and a scrape copies them.
  mutable std::mutex mu_;
  std::atomic<bool> ready_{false};
  std::chrono::steady_clock::time_point last_discovery_{};
  std::chrono::steady_clock::time_point last_walk_{};
  std::chrono::steady_clock::time_point last_detail_{};  // the last cycle that read the costly files
  bool discovered_once_ = false;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;
};

}  // namespace prescale::agent
