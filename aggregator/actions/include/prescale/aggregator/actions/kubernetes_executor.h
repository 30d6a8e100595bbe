// KubernetesExecutor: carries out scaling actions on the `scale` subresource
// of a Deployment or StatefulSet through the Kubernetes API (issue 6), with
// the in-cluster service account's token and CA:
//   Execute          PATCH .../namespaces/{ns}/{deployments|statefulsets}/{name}/scale
//                    Content-Type: application/merge-patch+json, {"spec":{"replicas":N}}
//   CurrentReplicas  GET the same subresource; its spec.replicas
// The token file is read for every request: projected service-account tokens
// rotate (the kubelet rewrites the file about hourly). The executor needs RBAC
// get and patch on deployments/scale and statefulsets/scale (API group apps)
// in the services' namespaces. Execute and CurrentReplicas may be called from
// different threads: requests are serialised on one kept-alive connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "prescale/aggregator/actions/executor.h"
#include "prescale/base/status.h"
#include "prescale/http/http_client.h"

namespace prescale::aggregator {

struct KubernetesOptions {
  std::string api_server = "https://kubernetes.default.svc";  // scheme://host[:port], no path
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";  // "": the system's CAs
  std::chrono::milliseconds timeout{5000};
};

// The fields prescale reads from an autoscaling/v1 Scale object (outside
// input: the API server's answer).
struct KubernetesScale {
  std::string name;        // metadata.name; "" when absent
  std::string namespace_;  // metadata.namespace; "" when absent
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

// The `message` of a metav1.Status error body ("deployments.apps \"web\" not
// found"), else "<reason>", else the body's first 200 bytes (not JSON, or no
// message).
std::string KubernetesStatusMessage(std::string_view body);

// The scale subresource path of spec's executor block,
// /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}/scale;
// InvalidArgument naming the executor field when the namespace or name is
// not a DNS name or the kind is neither "Deployment" nor "StatefulSet".
Result<std::string> KubernetesScalePath(const ExecutorSpec& executor);

class KubernetesExecutor final : public Executor {
 public:
  KubernetesExecutor(std::unique_ptr<http::HttpClient> client, KubernetesOptions options);

  // 2xx: kDone, current_replicas from the answer's status.replicas (the pods
  // observed when the patch landed). 401, 403, 404, 422 and other 4xx:
  // kFailed with the API server's message. 408, 409, 429, 5xx, network
  // errors and an unreadable token file: kRetry. A bad executor block or a
  // replica count outside int32: kFailed.
  ExecutionResult Execute(const Service& spec, const ScaleAction& action) override;

  // The scale subresource's spec.replicas: what the target is set to, as
  // HPA takes scale.spec.replicas for current replicas (status.replicas
  // lags while pods start or stop, and would make a scale-up repeat).
  std::optional<int64_t> CurrentReplicas(const Service& spec, std::string* error) override;

 private:
  // The bearer token from token_file, trailing whitespace removed.
  Result<std::string> ReadToken() const;

  std::mutex mu_;  // one request at a time on client_
  std::unique_ptr<http::HttpClient> client_;
  KubernetesOptions options_;
};

}  // namespace prescale::aggregator
