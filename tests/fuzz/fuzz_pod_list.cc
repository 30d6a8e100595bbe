// Fuzzes the PodList decoder (the kubelet's /pods, the API server's
// /api/v1/pods): any body is either a list of pods within the documented
// bounds (a safe uid, name and namespace, at most kMaxContainersPerPod
// containers with safe ids, uids unique) or InvalidArgument; never a crash, a
// hang or an escaped exception. Every pod left out has its reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/kube/pod_list.h"

namespace {

bool IsSafeId(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> skipped;
  auto pods = prescale::kube::ParsePodList(body, &skipped);
  if (!pods.ok()) {
    if (pods.status().code() != prescale::StatusCode::kInvalidArgument) std::abort();
    if (!skipped.empty()) std::abort();
    return 0;
  }
  if (pods->size() > prescale::kube::kMaxPods) std::abort();
  for (const std::string& why : skipped) {
    if (!why.starts_with("items[")) std::abort();
  }
  std::set<std::string> uids;
  for (const auto& pod : *pods) {
    if (pod.uid.empty() || pod.name.empty() || pod.namespace_name.empty() || !IsSafeId(pod.uid)) std::abort();
    if (pod.uid.size() > prescale::kube::kMaxStringBytes || !uids.insert(pod.uid).second) std::abort();
    if (pod.workload_kind.empty() || pod.workload.empty()) std::abort();
    if (!pod.qos_class.empty() && pod.qos_class != "Guaranteed" && pod.qos_class != "Burstable" &&
        pod.qos_class != "BestEffort") {
      std::abort();
    }
    if (pod.labels.size() > prescale::kube::kMaxLabelsPerPod) std::abort();
    if (pod.containers.size() > prescale::kube::kMaxContainersPerPod) std::abort();
    std::set<std::string> names;
    for (const auto& c : pod.containers) {
      if (c.name.empty() || !names.insert(c.name).second || !IsSafeId(c.id) || !IsSafeId(c.runtime)) std::abort();
    }
  }
  return 0;
}
