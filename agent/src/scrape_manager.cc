#include "prescale/agent/scrape_manager.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <map>
#include <span>

#include "prescale/agent/exposition.h"
#include "prescale/metrics/text_parser.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::agent {
namespace {

constexpr std::string_view kExportedPrefix = "exported_";

// One sample's labels as the agent exposes them, made as Prometheus's mutateSampleLabels makes
// them with honor_labels: false (scrape/scrape.go): the owned labels get the agent's values, and
// every one the target exposes with a value moves to exported_<name>, prefixed again while that
// name has a value, shortest names first (resolveConflictingExposedLabels). One deviation: an
// owned label the agent has no value for (namespace, pod...) is still taken from the target and
// left out, where Prometheus would keep the target's value of a label it does not set.
// Reused from sample to sample; the returned labels point into it and into the sample.
class OwnedLabels {
 public:
  // values[i] is the agent's value of ScrapeManager::kOwnedLabels[i]; "" leaves it out.
  explicit OwnedLabels(const std::array<std::string_view, ScrapeManager::kOwnedLabels.size()>& values)
      : values_(values) {}

  std::span<const metrics::LabelRef> Apply(const metrics::Labels& exposed) {
    labels_.clear();
    conflicts_.clear();
    for (size_t i = 0; i < values_.size(); ++i) {
      if (!values_[i].empty()) labels_.push_back({ScrapeManager::kOwnedLabels[i], values_[i]});
    }
    for (const auto& [name, value] : exposed) {
      if (!IsOwned(name)) {
        labels_.push_back({name, value});
      } else if (!value.empty()) {  // an empty value is no label: nothing to keep
        conflicts_.push_back({name, value});
      }
    }
    // Prometheus visits the target's labels in name order, then sorts the conflicts stably by length.
    std::sort(conflicts_.begin(), conflicts_.end(), [](const metrics::LabelRef& a, const metrics::LabelRef& b) {
      return a.name.size() != b.name.size() ? a.name.size() < b.name.size() : a.name < b.name;
    });
    for (size_t i = 0; i < conflicts_.size(); ++i) {
      std::string& exported = exported_names_[i];
      exported.assign(conflicts_[i].name);
      do {
        exported.insert(0, kExportedPrefix);
      } while (HasValue(exported));
      Set(exported, conflicts_[i].value);
    }
    return labels_;
  }

 private:
  static bool IsOwned(std::string_view name) {
    return std::binary_search(ScrapeManager::kOwnedLabels.begin(), ScrapeManager::kOwnedLabels.end(), name);
  }
  bool HasValue(std::string_view name) const {
    return std::any_of(labels_.begin(), labels_.end(),
                       [&](const metrics::LabelRef& l) { return l.name == name && !l.value.empty(); });
  }
  // Overwrites a label of that name (which can only be an empty one), else adds it.
  void Set(std::string_view name, std::string_view value) {
    for (metrics::LabelRef& l : labels_) {
      if (l.name == name) {
        l.value = value;
        return;
      }
    }
    labels_.push_back({name, value});
  }

  const std::array<std::string_view, ScrapeManager::kOwnedLabels.size()> values_;
  std::vector<metrics::LabelRef> labels_;
  std::vector<metrics::LabelRef> conflicts_;  // at most one per owned label
  std::array<std::string, ScrapeManager::kOwnedLabels.size()> exported_names_;
};

static_assert(std::is_sorted(ScrapeManager::kOwnedLabels.begin(), ScrapeManager::kOwnedLabels.end()),
              "IsOwned searches kOwnedLabels by bisection");

}  // namespace

struct ScrapeManager::Metrics {
  Metrics(prometheus::Registry& registry, const std::vector<ScrapeTarget>& specs);

  struct Target {
    prometheus::Gauge* up = nullptr;
    prometheus::Gauge* duration = nullptr;
    prometheus::Gauge* samples = nullptr;
  };
  std::vector<Target> targets;  // targets[i] is ScrapeManager::targets_[i]'s
  prometheus::Counter* dropped_families = nullptr;
};

ScrapeManager::Metrics::Metrics(prometheus::Registry& registry, const std::vector<ScrapeTarget>& specs) {
  auto& up = prometheus::BuildGauge()
                 .Name("prescale_agent_scrape_target_up")
                 .Help("1 when the last scrape of the target succeeded and parsed, else 0.")
                 .Register(registry);
  auto& duration = prometheus::BuildGauge()
                       .Name("prescale_agent_scrape_target_duration_seconds")
                       .Help("How long the last scrape of the target took.")
                       .Register(registry);
  auto& samples = prometheus::BuildGauge()
                      .Name("prescale_agent_scrape_target_samples")
                      .Help("Samples taken from the target in its last successful scrape.")
                      .Register(registry);
  dropped_families = &prometheus::BuildCounter()
                          .Name("prescale_agent_scrape_families_dropped_total")
                          .Help("Scraped metric families dropped because their name or type clashed.")
                          .Register(registry)
                          .Add({});
  for (const ScrapeTarget& spec : specs) {
    const prometheus::Labels labels{{"tenant", spec.tenant}, {"service", spec.service}, {"url", spec.url}};
    targets.push_back(Target{&up.Add(labels), &duration.Add(labels), &samples.Add(labels)});
  }
}

ScrapeManager::ScrapeManager(const AgentConfig& config, std::unique_ptr<http::HttpClient> client,
                             prometheus::Registry* registry, const Clock& clock)
    : node_(config.node),
      client_(std::move(client)),
      clock_(clock),
      targets_(config.scrape_targets),
      metrics_(std::make_unique<Metrics>(*registry, targets_)),
      log_limiter_(clock, std::chrono::minutes(1)),
      latest_(std::make_shared<const std::string>()) {
  options_.timeout = config.scrape_timeout;
  options_.max_body_bytes = config.scrape_max_body_bytes;
}

ScrapeManager::~ScrapeManager() = default;

Result<std::vector<metrics::MetricFamily>> ScrapeManager::ScrapeOne(const ScrapeTarget& target) {
  auto response = client_->Get(target.url, options_);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return Status::Unavailable("HTTP status " + std::to_string(response->status));
  }
  metrics::TextParseLimits limits;
  limits.max_body_bytes = options_.max_body_bytes;
  return metrics::ParseTextExposition(response->body, limits);
}

void ScrapeManager::ScrapeAll() {
  std::vector<TargetFamilies> parts;
  for (size_t i = 0; i < targets_.size(); ++i) {
    const ScrapeTarget& t = targets_[i];
    const Metrics::Target& m = metrics_->targets[i];
    const auto start = clock_.Monotonic();
    auto families = ScrapeOne(t);
    m.duration->Set(std::chrono::duration<double>(clock_.Monotonic() - start).count());
    if (!families.ok()) {
      m.up->Set(0);
      if (log_limiter_.Allow(t.url)) {
        Log(LogLevel::kWarning, "scrape of " + t.url + " (tenant " + t.tenant + ", service " + t.service +
                                    ") failed: " + families.status().message());
      }
      continue;
    }
    size_t n = 0;
    for (const auto& f : *families) n += f.samples.size();
    m.up->Set(1);
    m.samples->Set(static_cast<double>(n));
    parts.push_back(TargetFamilies{&t, std::move(families).value()});
  }
  auto text = std::make_shared<std::string>();
  const size_t dropped = Merge(parts, node_, text.get());
  if (dropped > 0) metrics_->dropped_families->Increment(static_cast<double>(dropped));
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(text);
}

std::shared_ptr<const std::string> ScrapeManager::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

size_t ScrapeManager::Merge(const std::vector<TargetFamilies>& parts, const std::string& node, std::string* out) {
  struct Merged {
    metrics::MetricType type;
    std::string help;
    std::vector<std::pair<const ScrapeTarget*, const metrics::MetricFamily*>> sources;
  };
  size_t dropped = 0;
  std::map<std::string, Merged> merged;
  for (const TargetFamilies& part : parts) {
    for (const metrics::MetricFamily& f : part.families) {
      if (f.samples.empty()) continue;
      if (IsAgentFamilyName(f.name)) {
        ++dropped;
        continue;
      }
      auto [it, inserted] = merged.try_emplace(f.name, Merged{f.type, f.help, {}});
      if (!inserted && it->second.type != f.type) {
        ++dropped;
        continue;
      }
      it->second.sources.emplace_back(part.target, &f);
    }
  }
  metrics::TextWriter w(out);
  for (const auto& [name, m] : merged) {
    w.Family(name, m.help.empty() ? "Scraped from the service's own /metrics." : m.help, m.type);
    for (const auto& [target, family] : m.sources) {
      std::array<std::string_view, kOwnedLabels.size()> values{};
      for (size_t i = 0; i < kOwnedLabels.size(); ++i) {
        if (kOwnedLabels[i] == "node") values[i] = node;
        if (kOwnedLabels[i] == "service") values[i] = target->service;
        if (kOwnedLabels[i] == "tenant") values[i] = target->tenant;
      }
      OwnedLabels owned(values);
      for (const metrics::Sample& s : family->samples) w.Sample(s.name, owned.Apply(s.labels), {}, s.value);
    }
  }
  return dropped;
}

}  // namespace prescale::agent
