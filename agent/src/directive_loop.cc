#include "prescale/agent/directive_loop.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cctype>
#include <set>

#include "directive_fetcher.h"
#include "prescale/agent/aggregator_urls.h"
#include "prescale/base/log.h"
#include "prescale/base/yaml_config.h"

namespace prescale::agent {
namespace {

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string_view LabelValue(const metrics::Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

// True when a proper ancestor of `path` is in `paths`.
bool HasAncestorIn(const std::string& path, const std::set<std::string>& paths) {
  if (path != "/" && paths.contains("/")) return true;
  for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1)) {
    if (paths.contains(path.substr(0, slash))) return true;
  }
  return false;
}

}  // namespace

ServiceCgroups ServiceCgroupsFromTable(const CgroupTable& table) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> all;
  for (const TrackedCgroup* cg : table.included()) {
    const std::string_view tenant = LabelValue(cg->labels, "tenant");
    const std::string_view service = LabelValue(cg->labels, "service");
    if (tenant.empty() || service.empty()) continue;
    all[{std::string(tenant), std::string(service)}].insert(cg->path);
  }
  ServiceCgroups out;
  for (const auto& [key, paths] : all) {
    std::vector<std::string>& kept = out[key];
    for (const std::string& path : paths) {
      if (!HasAncestorIn(path, paths)) kept.push_back(path);
    }
  }
  return out;
}

Result<std::string> CpuCapRoot(const CgroupLayout& layout) {
  for (const CgroupHierarchy& h : layout.hierarchies) {
    if (!h.v2 && (h.controllers & kCtrlCpu) != 0) return h.dir;
  }
  for (const CgroupHierarchy& h : layout.hierarchies) {
    if (h.v2) return h.dir;
  }
  return Status::NotFound("no cgroup hierarchy with a CPU controller (v1 cpu or v2) to apply CPU caps in");
}

struct DirectiveLoop::Metrics {
  // One in_use series per API URL (`shown_urls`, in order).
  Metrics(prometheus::Registry& registry, const std::vector<std::string>& shown_urls);

  prometheus::Family<prometheus::Gauge>* cap_family = nullptr;
  std::map<std::string, prometheus::Gauge*> cap_gauges;  // dir -> its gauge in cap_family
  prometheus::Counter* polls_ok = nullptr;
  prometheus::Counter* polls_error = nullptr;
  prometheus::Counter* lease_expiries = nullptr;
  prometheus::Counter* apply_errors = nullptr;
  prometheus::Gauge* active = nullptr;
  std::vector<prometheus::Gauge*> in_use;  // per API URL: 1 for the one in use
  prometheus::Counter* failovers = nullptr;
};

DirectiveLoop::Metrics::Metrics(prometheus::Registry& registry, const std::vector<std::string>& shown_urls) {
  cap_family = &prometheus::BuildGauge()
                    .Name("prescale_agent_cpu_cap_cores")
                    .Help(
                        "CPU cap in force on a cgroup by an aggregator directive, in cores (the directive's "
                        "cap split equally among the service's cgroups on the node).")
                    .Register(registry);
  auto& polls = prometheus::BuildCounter()
                    .Name("prescale_agent_directive_polls_total")
                    .Help("Polls of the aggregator's directives, by result (error: network, HTTP status or body).")
                    .Register(registry);
  polls_ok = &polls.Add({{"result", "ok"}});
  polls_error = &polls.Add({{"result", "error"}});
  lease_expiries = &prometheus::BuildCounter()
                        .Name("prescale_agent_directive_lease_expiries_total")
                        .Help("CPU caps released because their lease ran out without a renewing answer.")
                        .Register(registry)
                        .Add({});
  apply_errors = &prometheus::BuildCounter()
                      .Name("prescale_agent_directive_apply_errors_total")
                      .Help("CPU caps that could not be written to a cgroup (no CPU controller, cgroup gone).")
                      .Register(registry)
                      .Add({});
  active = &prometheus::BuildGauge()
                .Name("prescale_agent_directives_active")
                .Help("Directives (tenant, service) with a CPU cap in force on at least one cgroup of this node.")
                .Register(registry)
                .Add({});
  auto& in_use_family = prometheus::BuildGauge()
                            .Name("prescale_agent_directive_api_in_use")
                            .Help(
                                "1 for the aggregator API URL directives are polled from (the one that last "
                                "answered, tried first), 0 for the other configured ones.")
                            .Register(registry);
  for (const std::string& url : shown_urls) in_use.push_back(&in_use_family.Add({{"url", url}}));
  failovers = &prometheus::BuildCounter()
                   .Name("prescale_agent_directive_failovers_total")
                   .Help(
                       "Times directives were polled from another API URL because the one in use failed "
                       "(network error or 5xx).")
                   .Register(registry)
                   .Add({});
}

Result<std::unique_ptr<DirectiveLoop>> DirectiveLoop::Create(DirectiveLoopOptions options, const Clock& clock,
                                                             prometheus::Registry* registry) {
  if (options.api_urls.empty()) return Status::InvalidArgument("aggregator_api_url: no URL to poll directives from");
  for (const std::string& url : options.api_urls) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return Status::InvalidArgument("aggregator_api_url '" + url + "': expected an http:// or https:// URL");
    }
  }
  if (registry == nullptr) return Status::Internal("DirectiveLoop::Create needs a registry");
  if (options.cpu_root.empty()) return Status::InvalidArgument("DirectiveLoop::Create needs the CPU cgroup root");
  std::string token;
  if (!options.token_file.empty()) {
    auto read = ReadTokenFile(options.token_file);
    if (!read.ok()) return read.status();
    token = std::move(*read);
  }

  return std::unique_ptr<DirectiveLoop>(new DirectiveLoop(std::move(options), std::move(token), clock, registry));
}

DirectiveLoop::DirectiveLoop(DirectiveLoopOptions options, std::string token, const Clock& clock,
                             prometheus::Registry* registry)
    : options_(std::move(options)),
      token_(std::move(token)),
      throttler_(clock),
      fetcher_(std::make_unique<DirectiveFetcher>()) {
  for (const std::string& api : options_.api_urls) {
    std::string base = api;
    while (base.ends_with('/')) base.pop_back();
    urls_.push_back(base + "/api/v1/directives?node=" + PercentEncode(options_.node));
    shown_urls_.push_back(RedactUrl(api));
  }
  metrics_ = std::make_unique<Metrics>(*registry, shown_urls_);
  metrics_->in_use.front()->Set(1);
}

DirectiveLoop::~DirectiveLoop() {
  Stop();
  ReleaseAll();
}

void DirectiveLoop::ReleaseAll() {
  throttler_.ReleaseAll();
  owners_.clear();
  for (const auto& [dir, gauge] : metrics_->cap_gauges) metrics_->cap_family->Remove(gauge);
  metrics_->cap_gauges.clear();
  metrics_->active->Set(0);
}

void DirectiveLoop::SetCgroups(ServiceCgroups cgroups) {
  std::lock_guard<std::mutex> lock(cgroups_mu_);
  cgroups_ = std::move(cgroups);
}

Result<DirectiveSet> DirectiveLoop::FetchFrom(size_t i, bool* answered) {
  const std::string& url = urls_[i];
  auto response = fetcher_->Get(url, token_, options_.ca_file, options_.timeout, options_.max_body_bytes);
  *answered = response.ok() && response->status < 500;
  if (!response.ok()) {  // the client's message names the URL
    return Status(response.status().code(), RedactUrlIn(response.status().message(), url));
  }
  if (response->status != 200) {
    return Status::Unavailable(RedactUrl(url) + ": " + DescribeDirectiveError(response->status, response->body));
  }
  auto set = ParseDirectives(response->body, options_.node);
  if (!set.ok()) return Status(set.status().code(), RedactUrl(url) + ": " + set.status().message());
  return set;
}

Result<DirectiveSet> DirectiveLoop::Fetch() {
  const size_t first = current_.load();
  std::string errors;
  for (size_t k = 0; k < urls_.size(); ++k) {
    const size_t i = (first + k) % urls_.size();
    // A URL that hangs takes its whole timeout: caps whose lease ran out meanwhile go now, not
    // after every URL was tried.
    if (k > 0) ExpireAndPublish();
    bool answered = false;
    auto set = FetchFrom(i, &answered);
    if (answered) {
      Use(i);
      return set;
    }
    if (urls_.size() == 1) return set;
    errors += (errors.empty() ? "" : "; ") + set.status().message();
  }
  return Status::Unavailable("no aggregator API answered: " + errors);
}

void DirectiveLoop::Use(size_t i) {
  const size_t previous = current_.exchange(i);
  if (previous == i) return;
  metrics_->failovers->Increment();
  metrics_->in_use[previous]->Set(0);
  metrics_->in_use[i]->Set(1);
  Log(LogLevel::kWarning,
      "directives: " + shown_urls_[previous] + " failed; polling " + shown_urls_[i] + " from now on");
}

Status DirectiveLoop::PollOnce() {
  auto set = Fetch();
  if (set.ok()) {
    metrics_->polls_ok->Increment();
    if (!last_error_.empty()) {
      Log(LogLevel::kInfo, "directives: polling works again (" + shown_urls_[current_.load()] + ")");
    }
    last_error_.clear();
    Apply(*set);
  } else {
    metrics_->polls_error->Increment();
    // Caps stay until their lease runs out. Log a failure once, not every cycle.
    if (set.status().message() != last_error_) {
      Log(LogLevel::kWarning, "directives: " + set.status().message() + "; caps in force stay until their lease ends");
    }
    last_error_ = set.status().message();
  }
  ExpireAndPublish();
  return set.status();
}

void DirectiveLoop::Apply(const DirectiveSet& set) {
  ServiceCgroups cgroups;
  {
    std::lock_guard<std::mutex> lock(cgroups_mu_);
    cgroups = cgroups_;
  }
  struct Want {
    Owner owner;
    double cores;
  };
  std::map<std::string, Want> wanted;  // cgroup directory -> its share
  for (const Directive& d : set.directives) {
    auto it = cgroups.find({d.tenant, d.service});
    if (it == cgroups.end() || it->second.empty()) continue;  // the service has no cgroup on this node
    const double share = d.cpu_cores / static_cast<double>(it->second.size());
    for (const std::string& path : it->second) {
      wanted[options_.cpu_root + (path == "/" ? "" : path)] = {{d.tenant, d.service, path}, share};
    }
  }
  for (const CpuThrottler::Cap& cap : throttler_.caps()) {
    if (wanted.contains(cap.dir)) continue;
    if (Status s = throttler_.Release(cap.dir); !s.ok()) {
      Log(LogLevel::kWarning, "directives: releasing the CPU cap: " + s.message());
    }
    owners_.erase(cap.dir);
  }
  for (auto& [dir, want] : wanted) {
    if (Status s = throttler_.Apply(dir, want.cores, set.lease); !s.ok()) {
      metrics_->apply_errors->Increment();
      // Warn once per cgroup, not every cycle; the counter keeps counting.
      if (failing_.insert(dir).second) {
        Log(LogLevel::kWarning,
            "directives: cannot cap " + want.owner.tenant + "/" + want.owner.service + ": " + s.message());
      }
      continue;
    }
    failing_.erase(dir);
    Owner& owner = owners_[dir];
    if (owner.tenant != want.owner.tenant || owner.service != want.owner.service || owner.path != want.owner.path) {
      // The directory changed hands (or is new): its gauge takes the new labels.
      if (auto g = metrics_->cap_gauges.find(dir); g != metrics_->cap_gauges.end()) {
        metrics_->cap_family->Remove(g->second);
        metrics_->cap_gauges.erase(g);
      }
      owner = std::move(want.owner);
    }
  }
}

void DirectiveLoop::ExpireAndPublish() {
  const size_t expired = throttler_.ExpireLeases();
  if (expired > 0) {
    metrics_->lease_expiries->Increment(static_cast<double>(expired));
    Log(LogLevel::kInfo, "directives: " + std::to_string(expired) + " CPU cap(s) released, their lease ran out");
  }
  std::set<std::string> in_force;
  std::set<std::pair<std::string, std::string>> services;
  for (const CpuThrottler::Cap& cap : throttler_.caps()) {
    in_force.insert(cap.dir);
    auto owner = owners_.find(cap.dir);
    if (owner == owners_.end()) continue;  // cannot happen: every cap applied was recorded
    services.emplace(owner->second.tenant, owner->second.service);
    prometheus::Gauge*& gauge = metrics_->cap_gauges[cap.dir];
    if (gauge == nullptr) {
      gauge = &metrics_->cap_family->Add(
          {{"tenant", owner->second.tenant}, {"service", owner->second.service}, {"cgroup", owner->second.path}});
    }
    gauge->Set(cap.cores);
  }
  for (auto it = owners_.begin(); it != owners_.end();) {
    it = in_force.contains(it->first) ? std::next(it) : owners_.erase(it);
  }
  for (auto it = metrics_->cap_gauges.begin(); it != metrics_->cap_gauges.end();) {
    if (in_force.contains(it->first)) {
      ++it;
    } else {
      metrics_->cap_family->Remove(it->second);
      it = metrics_->cap_gauges.erase(it);
    }
  }
  metrics_->active->Set(static_cast<double>(services.size()));
}

void DirectiveLoop::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(run_mu_);
    while (!stop_) {
      lock.unlock();
      (void)PollOnce();
      lock.lock();
      run_cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    }
  });
}

void DirectiveLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace prescale::agent
