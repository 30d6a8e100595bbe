// The autoscaling/v2 HorizontalPodAutoscalerList, decoded strictly: what
// `GET /apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers`
// answers. The aggregator's kubernetes executor reads it so that it never
// fights an HPA over the same workload's replicas. No I/O here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::kube {

// Bounds, so a hostile or broken peer cannot blow memory. A namespace with
// more HPAs than this is far beyond any real one.
inline constexpr size_t kMaxHpaListBytes = 16 << 20;
inline constexpr size_t kMaxHpas = 10'000;
inline constexpr size_t kMaxObjectNameBytes = 253;  // a DNS subdomain name, the longest Kubernetes allows

// One HPA and the object it scales (spec.scaleTargetRef).
struct HpaInfo {
  std::string namespace_name;      // metadata.namespace
  std::string name;                // metadata.name
  std::string target_api_version;  // "apps/v1"; "" when absent
  std::string target_kind;         // "Deployment", "StatefulSet", ...
  std::string target_name;
};

// Decodes a HorizontalPodAutoscalerList: a JSON object of at most
// kMaxHpaListBytes with kind "HorizontalPodAutoscalerList" (or none) and
// items an array (null: none) of at most kMaxHpas. Unlike the PodList, a
// broken item fails the whole list: an HPA read wrongly or left out could let
// the executor patch a workload the HPA owns. Errors are InvalidArgument with
// field() the path ("items[2].spec.scaleTargetRef.kind"). Unknown fields are
// ignored: Kubernetes adds fields.
Result<std::vector<HpaInfo>> ParseHpaList(std::string_view json);

// Whether hpa scales the apps-group workload kind/name (its namespace is the
// HPA's). Any version of the apps group matches: the API server serves one
// object under every version, so "apps/v1beta2" names the same Deployment.
bool HpaScales(const HpaInfo& hpa, std::string_view kind, std::string_view name);

}  // namespace prescale::kube
