// ScrapeManager: fetches services' own /metrics (scrape_targets in the
// config), parses them strictly, sets the labels the agent owns (tenant,
// service and node from the config; see kOwnedLabels) and keeps the merged
// result ready for the agent's /metrics. A target cannot set an owned label:
// its own value moves to exported_<name>, as Prometheus does with
// honor_labels: false. Scraping runs on its own thread (ScrapeAll), so a slow
// target never delays cgroup collection; Latest() may be called from any
// thread. A broken target is reported through prescale_agent_scrape_target_up
// and a rate-limited log line, never fatal.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/agent/config.h"
#include "prescale/base/clock.h"
#include "prescale/base/log.h"
#include "prescale/http/http_client.h"
#include "prescale/metrics/types.h"

// Declared only: the caller's registry is passed through to the .cc, which includes prometheus-cpp
// (a private dependency of agent_lib).
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace prescale::agent {

class ScrapeManager {
 public:
  ScrapeManager(const AgentConfig& config, std::unique_ptr<http::HttpClient> client, prometheus::Registry* registry,
                const Clock& clock);
  ~ScrapeManager();

  // Scrapes every target once and publishes the merged exposition.
  void ScrapeAll();
  // The latest merged exposition (never null).
  std::shared_ptr<const std::string> Latest() const;
  size_t target_count() const { return targets_.size(); }

  // The labels only the agent sets on a scraped sample, sorted: the identity a Prometheus
  // scraping the agent with honor_labels: true (as it must, for the agent's own series) takes
  // as is. tenant, service and node carry the target's tenant and service and the agent's node;
  // the others are left out, since a scrape target names no pod, and job and instance are then
  // the agent's own target's in Prometheus. A target's non-empty value of one is kept under
  // exported_<name> (exported_exported_<name> when that is taken, and so on).
  static constexpr std::array<std::string_view, 8> kOwnedLabels = {"container", "instance", "job",     "namespace",
                                                                   "node",      "pod",      "service", "tenant"};

  // Merges parsed families of several targets into text, setting each target's
  // owned labels; exposed for tests. Returns the number of families dropped.
  struct TargetFamilies {
    const ScrapeTarget* target;
    std::vector<metrics::MetricFamily> families;
  };
  static size_t Merge(const std::vector<TargetFamilies>& parts, const std::string& node, std::string* out);

 private:
  // The scrape metrics, pointing into the caller's registry: per target (in targets_' order)
  // and the dropped families (defined in scrape_manager.cc).
  struct Metrics;
  Result<std::vector<metrics::MetricFamily>> ScrapeOne(const ScrapeTarget& target);

  std::string node_;
  http::GetOptions options_;
  std::unique_ptr<http::HttpClient> client_;
  const Clock& clock_;
  std::vector<ScrapeTarget> targets_;
  std::unique_ptr<Metrics> metrics_;
  LogRateLimiter log_limiter_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::string> latest_;
};

}  // namespace prescale::agent
