// Pod metadata for the agent: which namespace, pod, container, image and
// owning workload each Kubernetes cgroup belongs to. PodWatcher reads the
// node's pods (the kubelet's /pods, or the API server's pods of this node) on
// a thread of its own, every refresh interval and soon after the collection
// thread meets a pod or container it does not know, and keeps serving the
// last good answer while the source fails. The collection thread reads
// immutable PodIndex snapshots; nothing it does waits on the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/kube/pod_list.h"

namespace prescale::http {
class HttpClient;
}
namespace prometheus {
class Registry;
}

namespace prescale::agent {

// One answer of the pod source, by pod UID. Immutable once built.
class PodIndex {
 public:
  PodIndex() = default;
  PodIndex(std::vector<kube::PodInfo> pods, uint64_t version);
  // The index points into its own pod list: a copy would point into the
  // original's. A move keeps the list's storage, so it stays valid.
  PodIndex(const PodIndex&) = delete;
  PodIndex& operator=(const PodIndex&) = delete;
  PodIndex(PodIndex&&) = default;
  PodIndex& operator=(PodIndex&&) = default;

  const kube::PodInfo* Find(std::string_view uid) const;
  // The container of `pod` whose runtime id is `container_id`; nullptr when
  // it is not (yet) in the pod's status, e.g. the pod's sandbox ("pause").
  static const kube::ContainerInfo* FindContainer(const kube::PodInfo& pod, std::string_view container_id);
  size_t size() const { return by_uid_.size(); }
  // Bumped by each successful refresh; 0 before the first.
  uint64_t version() const { return version_; }

 private:
  std::vector<kube::PodInfo> pods_;
  std::unordered_map<std::string_view, const kube::PodInfo*> by_uid_;
  uint64_t version_ = 0;
};

struct PodSourceOptions {
  enum class Kind {
    kNone,             // no pod metadata: Kubernetes cgroups are labelled by pod UID
    kKubelet,          // the kubelet's authenticated port: https://<node>:10250/pods
    kKubeletReadOnly,  // the kubelet's read-only port: http://<node>:10255/pods
    kApiServer,        // the API server: <url>/api/v1/pods?fieldSelector=spec.nodeName=<node>
  };
  Kind kind = Kind::kNone;
  // kubelet: the /pods URL; apiserver: the API server's base URL. Empty: the
  // default of the kind (kKubelet https://127.0.0.1:10250/pods,
  // kKubeletReadOnly http://127.0.0.1:10255/pods, kApiServer
  // https://kubernetes.default.svc).
  std::string url;
  // The service account's token and CA, as a pod mounts them.
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  bool insecure_skip_verify = false;  // kubelets with self-signed serving certificates
  std::chrono::milliseconds refresh_interval{60000};
  // The least time between two reads, including those asked for by an unknown pod.
  std::chrono::milliseconds min_refresh_interval{5000};
  std::chrono::milliseconds timeout{5000};
  size_t max_body_bytes = 64 << 20;
};

std::string_view PodSourceKindName(PodSourceOptions::Kind kind);  // "none", "kubelet", ...
// "none", "kubelet", "kubelet-read-only", "apiserver"; InvalidArgument otherwise.
Result<PodSourceOptions::Kind> ParsePodSourceKind(std::string_view name);
// The URL a refresh GETs (defaults filled in, the node selector for the API server).
std::string PodSourceUrl(const PodSourceOptions& options, std::string_view node);

class PodWatcher {
 public:
  // registry (optional) receives prescale_agent_pod_metadata_* metrics.
  PodWatcher(PodSourceOptions options, std::string node, const Clock& clock, std::unique_ptr<http::HttpClient> client,
             prometheus::Registry* registry);
  ~PodWatcher();
  PodWatcher(const PodWatcher&) = delete;
  PodWatcher& operator=(const PodWatcher&) = delete;

  // Reads the source once. On failure the last good index stays and the
  // status says why (the URL and the HTTP status or decoding error).
  Status RefreshOnce();
  // The latest good index; an empty one (version 0) before the first success.
  std::shared_ptr<const PodIndex> Snapshot() const;
  // Asks the watcher thread for an early refresh (at most one per
  // min_refresh_interval). Cheap; any thread.
  void RequestRefresh();

  // The watcher thread: a first read at once, then every refresh interval
  // or on request. Stop() joins it.
  void Start();
  void Stop();

 private:
  struct Metrics;
  void Loop();

  PodSourceOptions options_;
  std::string node_;
  std::string url_;
  const Clock& clock_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::shared_ptr<const PodIndex> index_;
  uint64_t version_ = 0;
  bool requested_ = false;
  bool stop_ = false;
  std::stop_source wake_;  // stopped to end the watcher thread's current wait early
  std::thread thread_;
};

}  // namespace prescale::agent
