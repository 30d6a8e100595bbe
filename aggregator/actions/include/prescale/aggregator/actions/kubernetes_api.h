// KubernetesApi: the few requests prescale makes to the Kubernetes API
// server, with the in-cluster service account's token and CA. Shared by the
// kubernetes executor (scale subresources, HorizontalPodAutoscalers) and the
// workload discovery (Deployments, StatefulSets), so both read the token the
// same way: from token_file for every request, as projected service-account
// tokens rotate (the kubelet rewrites the file about hourly). Requests are
// serialised on one kept-alive connection; any thread may call.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "prescale/base/status.h"
#include "prescale/http/http_client.h"

namespace prescale::aggregator {

struct KubernetesOptions {
  std::string api_server = "https://kubernetes.default.svc";  // scheme://host[:port], no path
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";  // "": the system's CAs
  std::chrono::milliseconds timeout{5000};
  // How long the executor trusts a namespace's HorizontalPodAutoscaler list:
  // a decision round acting on many services of one namespace lists once.
  std::chrono::milliseconds hpa_cache_ttl{30'000};
};

// The `message` of a metav1.Status error body ("deployments.apps \"web\" not
// found"), else "<reason>", else the body's first 200 bytes (not JSON, or no
// message).
std::string KubernetesStatusMessage(std::string_view body);

// RFC 1123 label (at most 63 lower-case alphanumerics and '-', alphanumeric
// at both ends) and subdomain (dot-separated labels, at most 253). Names that
// pass cannot step out of a URL path ("..", "/", "%", "?").
bool IsDnsLabel(std::string_view s);
bool IsDnsSubdomain(std::string_view s);

class KubernetesApi {
 public:
  KubernetesApi(std::unique_ptr<http::HttpClient> client, KubernetesOptions options);

  // GET api_server + path (path from "/apis/..."), Accept application/json,
  // with the bearer token: the answer whatever its status, or why there is
  // none (an unreadable token file, a network error).
  Result<http::HttpClientResponse> Get(const std::string& path, size_t max_body_bytes = 4 << 20);
  // PATCH with a JSON merge patch; the same outcomes as Get.
  Result<http::HttpClientResponse> Patch(const std::string& path, std::string_view merge_patch);

  const KubernetesOptions& options() const { return options_; }

 private:
  // The bearer token from token_file, trailing whitespace removed.
  Result<std::string> ReadToken() const;

  std::mutex mu_;  // one request at a time on client_
  std::unique_ptr<http::HttpClient> client_;
  KubernetesOptions options_;
};

}  // namespace prescale::aggregator
