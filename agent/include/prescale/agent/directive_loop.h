// DirectiveLoop: the agent's side of throttling on the node (issue 6). Every
// interval it GETs {api}/api/v1/directives?node=NAME with the agent's token,
// splits each directive's CPU cap equally among the service's cgroups on this
// node and applies the shares through a CpuThrottler, with the answer's lease.
// Caps of cgroups a successful answer no longer names are released. When a
// poll fails (network, HTTP error, bad body) the caps in force stay until
// their lease runs out; leases are checked every cycle, so a service is never
// left throttled by a dead aggregator. Destroying the loop restores every
// original value.
//
// Several API URLs (aggregator replicas, issue 17; each answers the route,
// followers from the leader's last directives) are tried in order: a network
// error or a 5xx fails over to the next one, wrapping around, within the same
// poll (leases are checked between attempts); the URL that last answered is
// tried first at the next poll. Any other answer (2xx, 4xx) counts as the
// aggregator's and is not retried elsewhere: the replicas share their store.
//
// Threads: SetCgroups() may be called from any thread (the collection thread
// publishes what the mapper found); PollOnce() from one thread at a time, and
// not while Start()ed; Start()/Stop() from the owner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "prescale/agent/cgroup_layout.h"
#include "prescale/agent/cgroup_table.h"
#include "prescale/agent/cpu_throttler.h"
#include "prescale/agent/directives.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"

// Declared only: the caller's registry is passed through to the .cc, which includes prometheus-cpp
// (a private dependency of agent_lib).
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace prescale::agent {

class DirectiveFetcher;

// (tenant, service) -> that service's cgroups on this node, as paths relative
// to the hierarchy root ("/prescale/acme/web"), sorted.
using ServiceCgroups = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;

// The included cgroups of `table` by their tenant and service labels (cgroups
// with an empty tenant or service are left out). Only the outermost cgroups of
// a service are kept: a cap on a cgroup holds its descendants too, so capping
// a pod and its containers as well would count them twice.
ServiceCgroups ServiceCgroupsFromTable(const CgroupTable& table);

// The hierarchy whose directories take CPU caps: the v1 cpu controller's
// (v1 and hybrid nodes), else the v2 hierarchy. NotFound when there is none.
Result<std::string> CpuCapRoot(const CgroupLayout& layout);

struct DirectiveLoopOptions {
  // scheme://host:port[/prefix] of the aggregator's API: one, or one per
  // replica in the order they are tried.
  std::vector<std::string> api_urls;
  std::string node;
  std::string token_file;  // bearer token (agent role); empty: none is sent
  std::string ca_file;     // CA bundle for an https aggregator
  std::string cpu_root;    // CpuCapRoot(): cgroup directories are cpu_root + path
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{5000};
  size_t max_body_bytes = 4 << 20;
};

class DirectiveLoop {
 public:
  // Reads the token file (errors name it). Metrics go to `registry`.
  static Result<std::unique_ptr<DirectiveLoop>> Create(DirectiveLoopOptions options, const Clock& clock,
                                                       prometheus::Registry* registry);
  ~DirectiveLoop();  // Stop(), then every original value back
  DirectiveLoop(const DirectiveLoop&) = delete;
  DirectiveLoop& operator=(const DirectiveLoop&) = delete;

  // Replaces what the loop knows of the node's cgroups (taken at the next cycle).
  void SetCgroups(ServiceCgroups cgroups);

  // One cycle: poll, apply or release, expire leases. Returns the poll's
  // outcome (the caps were still brought up to date with the leases).
  Status PollOnce();

  // Runs PollOnce() every interval on a thread of its own until Stop().
  // Start() while running does nothing.
  void Start();
  void Stop();
  // Puts every capped cgroup's original value back (after Stop(); the
  // destructor does it too).
  void ReleaseAll();

  // The directives URL in use: the one that last answered (the first until one has). Any thread.
  const std::string& url() const { return urls_[current_.load()]; }
  // The caps in force. Not while Start()ed.
  std::vector<CpuThrottler::Cap> caps() const { return throttler_.caps(); }

 private:
  DirectiveLoop(DirectiveLoopOptions options, std::string token, const Clock& clock, prometheus::Registry* registry);

  // Polls the URLs from the one in use on, failing over as the class comment says.
  Result<DirectiveSet> Fetch();
  // One GET of urls_[i]; *answered: the aggregator answered (not a network error nor a 5xx).
  Result<DirectiveSet> FetchFrom(size_t i, bool* answered);
  // Makes urls_[i] the one in use (logged and counted when it changes).
  void Use(size_t i);
  void Apply(const DirectiveSet& set);
  void ExpireAndPublish();

  DirectiveLoopOptions options_;
  std::string token_;
  std::vector<std::string> urls_;        // {api}/api/v1/directives?node=NODE for each API URL
  std::vector<std::string> shown_urls_;  // each API URL without its password, for logs and labels
  std::atomic<size_t> current_{0};       // index of the one in use
  CpuThrottler throttler_;
  std::unique_ptr<DirectiveFetcher> fetcher_;

  std::mutex cgroups_mu_;
  ServiceCgroups cgroups_;

  // dir -> (tenant, service, path) of the caps this loop applied, for metrics.
  struct Owner {
    std::string tenant;
    std::string service;
    std::string path;
  };
  std::map<std::string, Owner> owners_;
  std::string last_error_;         // of the last poll, logged once
  std::set<std::string> failing_;  // directories whose cap could not be written, logged once

  // The loop's metrics, pointing into the caller's registry, and the cap gauge of each capped
  // directory (defined in directive_loop.cc).
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace prescale::agent
