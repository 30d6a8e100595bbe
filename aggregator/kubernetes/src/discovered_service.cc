// The service a discovered workload stands for (see workload_discovery.h):
// pure, so every rule is tested without an API server.
#include <algorithm>
#include <charconv>

#include "prescale/aggregator/kubernetes/workload_discovery.h"
#include "prescale/kube/quantity.h"

namespace prescale::aggregator {
namespace {

constexpr const char* kEnabled = "prescale.io/enabled";
constexpr const char* kMinReplicas = "prescale.io/min-replicas";
constexpr const char* kMaxReplicas = "prescale.io/max-replicas";
constexpr const char* kPriority = "prescale.io/priority";
constexpr const char* kPolicy = "prescale.io/policy";
constexpr const char* kMode = "prescale.io/mode";

Status Skip(const std::string& field, std::string_view why) {
  return Status::ForField(StatusCode::kInvalidArgument, field, why);
}

const std::string* Annotation(const kube::WorkloadInfo& w, const char* key) {
  auto it = w.annotations.find(key);
  return it == w.annotations.end() ? nullptr : &it->second;
}

// A replica count annotation: a whole number from 0 to 100000 (the control
// model's bound), written without sign or spaces.
Status ReadReplicas(const kube::WorkloadInfo& w, const char* key, int64_t* out) {
  const std::string* v = Annotation(w, key);
  if (v == nullptr) return Status::Ok();
  int64_t n = -1;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size() || n < 0 || n > 100'000) {
    return Skip(key, "\"" + *v + "\" is not a whole number from 0 to 100000");
  }
  *out = n;
  return Status::Ok();
}

Status ReadPriority(const kube::WorkloadInfo& w, Priority* out) {
  const std::string* v = Annotation(w, kPriority);
  if (v == nullptr) return Status::Ok();
  for (Priority p : {Priority::kCritical, Priority::kHigh, Priority::kNormal, Priority::kLow, Priority::kBestEffort}) {
    if (PriorityName(p) == *v) {
      *out = p;
      return Status::Ok();
    }
  }
  return Skip(kPriority, "\"" + *v + "\" is not one of critical, high, normal, low, best-effort");
}

// The per-replica requests: the sum over the pod template's containers.
Status SumRequests(const kube::WorkloadInfo& w, Service* s) {
  for (size_t i = 0; i < w.containers.size(); ++i) {
    const kube::ContainerRequests& c = w.containers[i];
    const std::string path = "spec.template.spec.containers[" + std::to_string(i) + "].resources.requests.";
    if (!c.cpu.empty()) {
      auto cores = kube::ParseCpuQuantity(c.cpu);
      if (!cores.ok()) return Skip(path + "cpu", cores.status().message());
      s->request_cpu_cores += *cores;
    }
    if (!c.memory.empty()) {
      auto bytes = kube::ParseMemoryQuantity(c.memory);
      if (!bytes.ok()) return Skip(path + "memory", bytes.status().message());
      s->request_memory_bytes += *bytes;
    }
  }
  return Status::Ok();
}

// The control model's own validation (min <= max, the policy's name, ...),
// its field named as the annotation that set it.
Status Validate(const Service& s) {
  auto parsed = ParseService(RenderService(s));
  if (parsed.ok()) return Status::Ok();
  const std::string& field = parsed.status().field();
  std::string annotation = field;
  if (field == "replicas.min") annotation = kMinReplicas;
  if (field == "replicas.max") annotation = kMaxReplicas;
  if (field == "policy") annotation = kPolicy;
  if (field == "executor.mode") annotation = kMode;
  // No field: the rendered spec did not parse at all (an annotation's text is
  // not UTF-8, which the list decoder refuses before); the annotations are
  // what set its strings.
  if (annotation.empty()) annotation = "metadata.annotations";
  return Skip(annotation, parsed.status().detail());
}

}  // namespace

Result<std::optional<Service>> ServiceFromWorkload(const kube::WorkloadInfo& w) {
  const std::string* enabled = Annotation(w, kEnabled);
  if (enabled == nullptr || *enabled != "true") return std::optional<Service>();
  // Services and tenants are DNS labels; Kubernetes allows longer names with dots.
  if (!IsValidObjectName(w.name)) {
    return Skip("metadata.name", "\"" + w.name + "\" is not a DNS label of at most 63 characters");
  }
  if (!IsValidObjectName(w.namespace_name)) {
    return Skip("metadata.namespace", "\"" + w.namespace_name + "\" is not a DNS label of at most 63 characters");
  }
  Service s;
  s.tenant = w.namespace_name;
  s.name = w.name;
  s.selector = {{"tenant", w.namespace_name}, {"service", w.name}};
  s.executor.type = "kubernetes";
  s.executor.k8s_namespace = w.namespace_name;
  s.executor.k8s_kind = w.kind;
  s.executor.k8s_name = w.name;
  s.labels = {{kManagedByLabel, kManagedByDiscovery}};
  PRESCALE_RETURN_IF_ERROR(ReadReplicas(w, kMinReplicas, &s.replicas.min));
  PRESCALE_RETURN_IF_ERROR(ReadReplicas(w, kMaxReplicas, &s.replicas.max));
  // Where the engine starts until the scale subresource is read back (within 30 s).
  s.replicas.current = std::clamp<int64_t>(1, s.replicas.min, std::max(s.replicas.min, s.replicas.max));
  PRESCALE_RETURN_IF_ERROR(ReadPriority(w, &s.priority));
  if (const std::string* policy = Annotation(w, kPolicy)) s.policy = *policy;
  if (const std::string* mode = Annotation(w, kMode)) s.executor.mode = *mode;
  PRESCALE_RETURN_IF_ERROR(SumRequests(w, &s));
  PRESCALE_RETURN_IF_ERROR(Validate(s));
  return std::optional<Service>(std::move(s));
}

}  // namespace prescale::aggregator
