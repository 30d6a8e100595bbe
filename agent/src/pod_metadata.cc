#include "prescale/agent/pod_metadata.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <stop_token>

#include "prescale/base/log.h"
#include "prescale/base/yaml_config.h"
#include "prescale/http/http_client.h"

namespace prescale::agent {

PodIndex::PodIndex(std::vector<kube::PodInfo> pods, uint64_t version) : pods_(std::move(pods)), version_(version) {
  by_uid_.reserve(pods_.size());
  for (const kube::PodInfo& p : pods_) by_uid_.emplace(p.uid, &p);
}

const kube::PodInfo* PodIndex::Find(std::string_view uid) const {
  auto it = by_uid_.find(uid);
  return it == by_uid_.end() ? nullptr : it->second;
}

const kube::ContainerInfo* PodIndex::FindContainer(const kube::PodInfo& pod, std::string_view container_id) {
  for (const kube::ContainerInfo& c : pod.containers) {
    if (!c.id.empty() && c.id == container_id) return &c;
  }
  return nullptr;
}

std::string_view PodSourceKindName(PodSourceOptions::Kind kind) {
  switch (kind) {
    case PodSourceOptions::Kind::kNone: return "none";
    case PodSourceOptions::Kind::kKubelet: return "kubelet";
    case PodSourceOptions::Kind::kKubeletReadOnly: return "kubelet-read-only";
    case PodSourceOptions::Kind::kApiServer: return "apiserver";
  }
  return "none";
}

Result<PodSourceOptions::Kind> ParsePodSourceKind(std::string_view name) {
  for (auto kind : {PodSourceOptions::Kind::kNone, PodSourceOptions::Kind::kKubelet,
                    PodSourceOptions::Kind::kKubeletReadOnly, PodSourceOptions::Kind::kApiServer}) {
    if (PodSourceKindName(kind) == name) return kind;
  }
  return Status::InvalidArgument("unknown pod source '" + std::string(name) +
                                 "' (none, kubelet, kubelet-read-only, apiserver)");
}

std::string PodSourceUrl(const PodSourceOptions& options, std::string_view node) {
  using Kind = PodSourceOptions::Kind;
  switch (options.kind) {
    case Kind::kNone: return "";
    case Kind::kKubelet: return options.url.empty() ? "https://127.0.0.1:10250/pods" : options.url;
    case Kind::kKubeletReadOnly: return options.url.empty() ? "http://127.0.0.1:10255/pods" : options.url;
    case Kind::kApiServer: {
      std::string base = options.url.empty() ? "https://kubernetes.default.svc" : options.url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      // Node names are DNS subdomains: nothing in them needs escaping in a query.
      return base + "/api/v1/pods?fieldSelector=spec.nodeName%3D" + std::string(node);
    }
  }
  return "";
}

struct PodWatcher::Metrics {
  explicit Metrics(prometheus::Registry* registry) {
    if (registry == nullptr) return;
    auto& requests = prometheus::BuildCounter()
                         .Name("prescale_agent_pod_metadata_refreshes_total")
                         .Help("Reads of the node's pods (kubelet or API server), by result.")
                         .Register(*registry);
    ok = &requests.Add({{"result", "success"}});
    error = &requests.Add({{"result", "error"}});
    pods = &prometheus::BuildGauge()
                .Name("prescale_agent_pod_metadata_pods")
                .Help("Pods in the last good answer of the pod source.")
                .Register(*registry)
                .Add({});
    skipped = &prometheus::BuildGauge()
                   .Name("prescale_agent_pod_metadata_skipped_pods")
                   .Help("Pods of the last good answer left out because they did not decode.")
                   .Register(*registry)
                   .Add({});
    last_success = &prometheus::BuildGauge()
                        .Name("prescale_agent_pod_metadata_last_success_timestamp_seconds")
                        .Help("When the pod source last answered with a good pod list (Unix seconds).")
                        .Register(*registry)
                        .Add({});
  }
  prometheus::Counter* ok = nullptr;
  prometheus::Counter* error = nullptr;
  prometheus::Gauge* pods = nullptr;
  prometheus::Gauge* skipped = nullptr;
  prometheus::Gauge* last_success = nullptr;
};

PodWatcher::PodWatcher(PodSourceOptions options, std::string node, const Clock& clock,
                       std::unique_ptr<http::HttpClient> client, prometheus::Registry* registry)
    : options_(std::move(options)),
      node_(std::move(node)),
      url_(PodSourceUrl(options_, node_)),
      clock_(clock),
      client_(std::move(client)),
      metrics_(std::make_unique<Metrics>(registry)),
      index_(std::make_shared<const PodIndex>()) {}

PodWatcher::~PodWatcher() { Stop(); }

Status PodWatcher::RefreshOnce() {
  auto fail = [this](Status s) {
    if (metrics_->error != nullptr) metrics_->error->Increment();
    return s;
  };
  http::GetOptions get;
  get.timeout = options_.timeout;
  get.max_body_bytes = options_.max_body_bytes;
  get.accept = "application/json";
  get.ca_file = options_.ca_file;
  get.insecure_skip_verify = options_.insecure_skip_verify;
  // The read-only port takes no token; the others get the service account's,
  // re-read each time because projected tokens rotate.
  if (options_.kind != PodSourceOptions::Kind::kKubeletReadOnly && !options_.token_file.empty()) {
    auto token = ReadTokenFile(options_.token_file);
    if (!token.ok()) return fail(token.status());
    get.headers.emplace_back("Authorization", "Bearer " + *token);
  }
  auto answer = client_->Get(url_, get);
  if (!answer.ok()) return fail(answer.status());
  if (answer->status != 200) {
    std::string body = answer->body.substr(0, 200);
    return fail(Status::Unavailable(url_ + ": HTTP " + std::to_string(answer->status) + ": " + body));
  }
  std::vector<std::string> skipped;
  auto pods = kube::ParsePodList(answer->body, &skipped);
  if (!pods.ok()) return fail(Status::InvalidArgument(url_ + ": " + pods.status().message()));
  for (const std::string& why : skipped) Log(LogLevel::kDebug, "pod metadata: skipped " + why);
  const size_t count = pods->size();
  {
    std::lock_guard lock(mu_);
    index_ = std::make_shared<const PodIndex>(std::move(pods).value(), ++version_);
  }
  if (metrics_->ok != nullptr) {
    metrics_->ok->Increment();
    metrics_->pods->Set(static_cast<double>(count));
    metrics_->skipped->Set(static_cast<double>(skipped.size()));
    metrics_->last_success->Set(static_cast<double>(ToUnixMillis(clock_.Now())) / 1000.0);
  }
  return Status::Ok();
}

std::shared_ptr<const PodIndex> PodWatcher::Snapshot() const {
  std::lock_guard lock(mu_);
  return index_;
}

void PodWatcher::RequestRefresh() {
  std::lock_guard lock(mu_);
  if (requested_) return;
  requested_ = true;
  wake_.request_stop();
}

void PodWatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void PodWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    wake_.request_stop();
  }
  if (thread_.joinable()) thread_.join();
}

void PodWatcher::Loop() {
  bool failing = false;
  while (true) {
    const auto started = clock_.Monotonic();
    if (Status s = RefreshOnce(); !s.ok()) {
      // One line when the source starts failing and one when it is back, not one per attempt.
      if (!failing) Log(LogLevel::kWarning, "pod metadata: " + s.message() + " (keeping the last good answer)");
      failing = true;
    } else if (failing) {
      Log(LogLevel::kInfo, "pod metadata: the pod source answers again");
      failing = false;
    }
    std::stop_token wake;
    bool pending = false;  // asked for while this read ran: its answer may predate the new pod
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      pending = requested_;
      requested_ = false;
      wake_ = std::stop_source();
      wake = wake_.get_token();
    }
    if (!pending) clock_.WaitUntil(started + options_.refresh_interval, wake);
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      // An early read still waits out the least interval, so a node full of
      // starting pods does not turn into a read per collection cycle; requests
      // meanwhile are covered by that read.
      requested_ = true;
      wake_ = std::stop_source();
      wake = wake_.get_token();
    }
    clock_.WaitUntil(started + options_.min_refresh_interval, wake);
    std::lock_guard lock(mu_);
    if (stop_) return;
    requested_ = false;
  }
}

}  // namespace prescale::agent
