// Fuzzes the Kubernetes API answers the kubernetes executor decodes: an
// autoscaling/v1 Scale (ParseKubernetesScale) and a metav1.Status error body
// (KubernetesStatusMessage). Any body is either a Scale with replica counts
// in [0, 2^31) or a ParseError; never a crash, a hang or an escaped
// exception. An error message is never longer than the body allows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "prescale/aggregator/actions/kubernetes_executor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto scale = prescale::aggregator::ParseKubernetesScale(body);
  if (scale.ok()) {
    constexpr int64_t kMax = 2147483647;
    if (scale->spec_replicas < 0 || scale->spec_replicas > kMax) std::abort();
    if (scale->status_replicas && (*scale->status_replicas < 0 || *scale->status_replicas > kMax)) std::abort();
  } else if (scale.status().code() != prescale::StatusCode::kParseError) {
    std::abort();
  }
  const std::string message = prescale::aggregator::KubernetesStatusMessage(body);
  if (message.size() > size) std::abort();  // a message, a reason or a prefix: all taken from the body
  return 0;
}
