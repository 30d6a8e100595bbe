// Fuzzes the DeploymentList / StatefulSetList decoder workload discovery
// reads: any body is either a list within the documented bounds (names and
// namespaces present and at most kMaxObjectNameBytes, only prescale.io/
// annotations within their bounds, at most kMaxWorkloadContainers named
// containers) or InvalidArgument naming a field; never a crash, a hang or an
// escaped exception. Each list is then turned into services, which must hold
// or name their reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/aggregator/kubernetes/workload_discovery.h"
#include "prescale/kube/hpa_list.h"
#include "prescale/kube/workload_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace kube = prescale::kube;
  if (size == 0) return 0;
  // The first byte picks the list's kind.
  const char* kind = (data[0] & 1) != 0 ? "StatefulSet" : "Deployment";
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto list = kube::ParseWorkloadList(body, kind);
  if (!list.ok()) {
    if (list.status().code() != prescale::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (list->items.size() > kube::kMaxWorkloadsPerList) std::abort();
  for (char c : list->continue_token) {
    if (c == '&' || c == '%' || c == '#' || c == '/' || c == '?' || static_cast<unsigned char>(c) <= 0x20) std::abort();
  }
  for (const kube::WorkloadInfo& w : list->items) {
    if (w.kind != kind || w.name.empty() || w.namespace_name.empty()) std::abort();
    if (w.name.size() > kube::kMaxObjectNameBytes || w.namespace_name.size() > kube::kMaxObjectNameBytes) std::abort();
    if (w.annotations.size() > kube::kMaxPrescaleAnnotations) std::abort();
    for (const auto& [key, value] : w.annotations) {
      if (!key.starts_with(kube::kPrescaleAnnotationPrefix) || value.size() > kube::kMaxAnnotationValueBytes) {
        std::abort();
      }
    }
    if (w.containers.size() > kube::kMaxWorkloadContainers) std::abort();
    for (const kube::ContainerRequests& c : w.containers) {
      if (c.name.empty()) std::abort();
    }
    auto service = prescale::aggregator::ServiceFromWorkload(w);
    if (!service.ok()) {
      if (service.status().field().empty()) std::abort();
    } else if (service->has_value()) {
      const auto& s = **service;
      if (s.tenant != w.namespace_name || s.name != w.name || s.executor.k8s_kind != kind) std::abort();
      if (!(s.request_cpu_cores >= 0) || !(s.request_memory_bytes >= 0)) std::abort();
      if (s.replicas.min > s.replicas.max) std::abort();
    }
  }
  return 0;
}
