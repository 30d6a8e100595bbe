// KubernetesExecutor: carries out scaling actions on the `scale` subresource
// of a Deployment or StatefulSet through the Kubernetes API (issue 6), with
// the in-cluster service account's token and CA (KubernetesApi):
//   Execute          PATCH .../namespaces/{ns}/{deployments|statefulsets}/{name}/scale
//                    Content-Type: application/merge-patch+json, {"spec":{"replicas":N}}
//   CurrentReplicas  GET the same subresource; its spec.replicas
// Before a PATCH it lists the namespace's autoscaling/v2
// HorizontalPodAutoscalers (cached for hpa_cache_ttl): two autoscalers on one
// workload would undo each other's changes, so where an HPA scales the target
// prescale only recommends. The executor needs RBAC get and patch on
// deployments/scale and statefulsets/scale (API group apps) and list on
// horizontalpodautoscalers (autoscaling) in the services' namespaces.
// Execute and CurrentReplicas may be called from different threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/aggregator/actions/executor.h"
#include "prescale/aggregator/actions/kubernetes_api.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/http/http_client.h"
#include "prescale/kube/hpa_list.h"

namespace prescale::aggregator {

// The fields prescale reads from an autoscaling/v1 Scale object (outside
// input: the API server's answer).
struct KubernetesScale {
  std::string name;            // metadata.name; "" when absent
  std::string namespace_name;  // metadata.namespace; "" when absent
  // spec.replicas: what the target is set to. The API server omits it when it
  // is 0 (omitempty), so a spec without it reads as 0.
  int64_t spec_replicas = 0;
  // status.replicas: the instances observed now; nullopt without a status.
  std::optional<int64_t> status_replicas;
  std::string selector;  // status.selector; "" when absent
};

// Decodes a Scale. ParseError naming the field when the body is not a JSON
// object, kind is present and not "Scale", spec is missing or not an object,
// or a replicas field is not an integer in [0, 2^31).
Result<KubernetesScale> ParseKubernetesScale(std::string_view json);

// The scale subresource path of spec's executor block,
// /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale;
// InvalidArgument naming the executor field when the namespace or name is
// not a DNS name or the kind is neither "Deployment" nor "StatefulSet".
Result<std::string> KubernetesScalePath(const ExecutorSpec& executor);

// The autoscaling/v2 collection of a namespace's HorizontalPodAutoscalers.
std::string KubernetesHpaListPath(const std::string& namespace_name);

class KubernetesExecutor final : public Executor {
 public:
  // The clock times the HPA cache.
  KubernetesExecutor(std::unique_ptr<http::HttpClient> client, KubernetesOptions options,
                     const Clock& clock = SystemClock::Instance());

  // 2xx: kDone, current_replicas from the answer's spec.replicas (what the
  // target is set to now, as CurrentReplicas reads it). 401, 403, 404, 422 and other 4xx:
  // kFailed with the API server's message. 408, 409, 429, 5xx, network
  // errors and an unreadable token file: kRetry. A bad executor block or a
  // replica count outside int32: kFailed. An HPA scaling the target:
  // kRefused without a PATCH, naming the HPA. The namespace's HPAs not listed
  // (403 without RBAC, 5xx, a list that does not decode): kRetry without a
  // PATCH, saying why: patching blind could fight an HPA.
  ExecutionResult Execute(const Service& spec, const ScaleAction& action) override;

  // The HPA that scales the service's workload, as a refusal with reason
  // "hpa_conflict"; nullopt when none does. An error when the executor block
  // is bad or the namespace's HPAs cannot be listed. From the same cached list
  // as Execute; keeps prescale_kubernetes_hpa_conflicts up to date.
  Result<std::optional<Refusal>> WouldRefuse(const Service& spec) override;

  // The scale subresource's spec.replicas: what the target is set to, as
  // HPA takes scale.spec.replicas for current replicas (status.replicas
  // lags while pods start or stop, and would make a scale-up repeat).
  std::optional<int64_t> CurrentReplicas(const Service& spec, std::string* error) override;

  // prescale_kubernetes_hpa_conflicts{tenant,service,hpa} (1 while that
  // HPA holds a service to recommend-only: from a refused action until an
  // action or WouldRefuse finds it gone),
  // prescale_kubernetes_hpa_refused_actions_total,
  // prescale_kubernetes_hpa_list_errors_total.
  void AppendMetrics(std::string* out) const override;

 private:
  // The HPA of the target's namespace that scales it, nullopt when none;
  // an error when the namespace's HPAs cannot be listed.
  Result<std::optional<kube::HpaInfo>> FindHpa(const ExecutorSpec& e);
  // The namespace's HPAs, from the cache while fresh.
  Result<std::vector<kube::HpaInfo>> ListHpas(const std::string& namespace_name);
  // Remembers (or, with hpa empty, forgets) the HPA that holds a service.
  void NoteConflict(const Service& spec, const std::string& hpa);

  KubernetesApi api_;
  const Clock& clock_;

  struct CachedHpas {
    std::chrono::steady_clock::time_point fetched;
    std::vector<kube::HpaInfo> hpas;
  };
  std::mutex cache_mu_;  // guards cache_
  std::map<std::string, CachedHpas> cache_;

  mutable std::mutex metrics_mu_;                                         // guards the metrics below
  std::map<std::pair<std::string, std::string>, std::string> conflicts_;  // (tenant, service) -> "ns/hpa"
  double refused_ = 0, list_errors_ = 0;
};

}  // namespace prescale::aggregator
