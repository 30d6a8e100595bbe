// Fuzzes the HorizontalPodAutoscalerList decoder the kubernetes executor
// checks before every PATCH: any body is either a list within the documented
// bounds (every HPA with a name, a namespace and a target kind and name, none
// longer than kMaxObjectNameBytes) or InvalidArgument naming a field; never a
// crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/kube/hpa_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace kube = prescale::kube;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto hpas = kube::ParseHpaList(body);
  if (!hpas.ok()) {
    if (hpas.status().code() != prescale::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (hpas->size() > kube::kMaxHpas) std::abort();
  for (const kube::HpaInfo& h : *hpas) {
    for (const std::string* s : {&h.name, &h.namespace_name, &h.target_kind, &h.target_name}) {
      if (s->empty() || s->size() > kube::kMaxObjectNameBytes) std::abort();
    }
    if (h.target_api_version.size() > kube::kMaxObjectNameBytes) std::abort();
    (void)kube::HpaScales(h, "Deployment", h.target_name);
  }
  return 0;
}
