// Workload discovery: services from annotated Deployments and StatefulSets.
// A periodic job (kubernetes_discovery: true) lists
//   GET /apis/apps/v1/deployments   and   GET /apis/apps/v1/statefulsets
// in all namespaces (paged), and every workload annotated
// `prescale.io/enabled: "true"` becomes a service: tenant = its namespace
// (created when missing), name = its name, executor kubernetes on it,
// per-replica requests summed over its pod template's containers, selector
// {tenant, service} (what the agent's kubernetes preset labels series with),
// replicas, priority and policy from `prescale.io/` annotations.
//
// Precedence: what discovery writes carries the label
// prescale.io/managed-by=discovery, and only such objects are ever changed or
// deleted by it; a service created through the API or a bootstrap file wins.
// A changed annotation replaces the service; a workload that loses the
// annotation, or is deleted, loses its service. A workload that cannot be
// turned into a service (a name that is no DNS label, a bad quantity, a bad
// annotation) is skipped with a reason and its existing service, if any, is
// left as it was: a typo in an annotation does not delete a service. Writes go
// through the ControlStore, each with an audit record of actor "discovery".
//
// Lives in its own room (aggregator/kubernetes, library aggregator_kubernetes)
// above control and actions: it writes the control store as the API does, and
// shares the API server client (KubernetesApi) with the kubernetes executor;
// neither the executors nor the decision loop depend on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "prescale/aggregator/actions/kubernetes_api.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"
#include "prescale/decide/control_model.h"
#include "prescale/http/http_client.h"
#include "prescale/kube/workload_list.h"

namespace prescale::aggregator {

// The label on every object discovery writes, and its value.
inline constexpr const char* kManagedByLabel = "prescale.io/managed-by";
inline constexpr const char* kManagedByDiscovery = "discovery";

// The service a workload stands for; nullopt when it is not annotated
// prescale.io/enabled: "true". An error is why it is skipped, naming the
// field or annotation ("metadata.name", "prescale.io/max-replicas",
// "spec.template.spec.containers[1].resources.requests.cpu").
Result<std::optional<Service>> ServiceFromWorkload(const kube::WorkloadInfo& workload);

struct DiscoveryOptions {
  size_t page_size = 500;  // items asked for per list request (limit=)
};

// What one round did.
struct DiscoveryReport {
  int64_t workloads = 0;  // listed, annotated or not
  int64_t created = 0, updated = 0, deleted = 0, unchanged = 0;
  int64_t tenants_created = 0;
  // Annotated workloads that were not turned into (or kept as) a service,
  // each "Deployment shop/web: <why>": skipped for a reason of theirs, or
  // left alone because a service of the same name is not discovery's.
  std::vector<std::string> skipped;
};

class WorkloadDiscovery {
 public:
  WorkloadDiscovery(ControlStore* store, std::unique_ptr<http::HttpClient> client, KubernetesOptions options,
                    const Clock& clock, DiscoveryOptions discovery = {});

  // One round: lists every Deployment and StatefulSet, then creates, replaces
  // and deletes discovered services to match. A list that fails (network,
  // 403 without RBAC, a body that does not decode) ends the round before any
  // write, so a broken answer never deletes services. Skipped workloads are
  // logged (rate-limited per workload). One thread at a time.
  Result<DiscoveryReport> RunOnce();

  // prescale_kubernetes_discovery_services (discovered services now),
  // prescale_kubernetes_discovery_skipped_workloads,
  // prescale_kubernetes_discovery_runs_total{result="ok"|"error"}.
  void AppendMetrics(std::string* out) const;

 private:
  // Every workload of `kind`, all pages; an error when any page fails.
  Result<std::vector<kube::WorkloadInfo>> ListAll(const std::string& kind);

  ControlStore* store_;
  KubernetesApi api_;
  const Clock& clock_;
  DiscoveryOptions options_;

  mutable std::mutex mu_;  // guards the metrics below
  int64_t services_ = 0, skipped_ = 0;
  double runs_ok_ = 0, runs_error_ = 0;
};

}  // namespace prescale::aggregator
