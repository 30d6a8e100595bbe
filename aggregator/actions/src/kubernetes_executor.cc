#include "prescale/aggregator/actions/kubernetes_executor.h"

#include <rapidjson/document.h>

#include <limits>

#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {
namespace {

using Outcome = ExecutionResult::Outcome;

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Iterative parsing: deep nesting in an answer cannot exhaust the stack.
bool ParseObject(std::string_view json, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  return !doc->HasParseError() && doc->IsObject();
}

// A replicas field: an int32 that is not negative, as the API defines it.
bool ReadReplicas(const rapidjson::Value& v, int64_t* out) {
  if (!v.IsInt64()) return false;
  const int64_t n = v.GetInt64();
  if (n < 0 || n > std::numeric_limits<int32_t>::max()) return false;
  *out = n;
  return true;
}

std::string StringMember(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsString()) return {};
  return std::string(View(object[key]));
}

bool Retryable(long status) { return status == 408 || status == 409 || status == 429 || status >= 500; }

std::string Target(const ExecutorSpec& e) {
  return (e.k8s_kind.empty() ? std::string("Deployment") : e.k8s_kind) + " " + e.k8s_namespace + "/" + e.k8s_name;
}

std::string HpaName(const kube::HpaInfo& hpa) { return hpa.namespace_name + "/" + hpa.name; }

Refusal HpaRefusal(const kube::HpaInfo& hpa) {
  Refusal r;
  r.reason = "hpa_conflict";
  r.by = "HorizontalPodAutoscaler " + HpaName(hpa);
  r.message = r.by + " scales this " + hpa.target_kind + "; prescale recommends only";
  return r;
}

}  // namespace

Result<KubernetesScale> ParseKubernetesScale(std::string_view json) {
  rapidjson::Document doc;
  if (!ParseObject(json, &doc)) return Status::ParseError("the Scale answer is not a JSON object");
  const rapidjson::Value& o = doc;
  if (o.HasMember("kind") && (!o["kind"].IsString() || View(o["kind"]) != "Scale")) {
    return Status::ParseError("the answer's kind is not Scale");
  }
  KubernetesScale scale;
  if (o.HasMember("metadata")) {
    const rapidjson::Value& meta = o["metadata"];
    scale.name = StringMember(meta, "name");
    scale.namespace_name = StringMember(meta, "namespace");
  }
  if (!o.HasMember("spec") || !o["spec"].IsObject()) return Status::ParseError("the Scale has no spec object");
  const rapidjson::Value& spec = o["spec"];
  if (spec.HasMember("replicas") && !ReadReplicas(spec["replicas"], &scale.spec_replicas)) {
    return Status::ParseError("the Scale's spec.replicas is not an integer in [0, 2^31)");
  }
  if (o.HasMember("status") && o["status"].IsObject()) {
    const rapidjson::Value& status = o["status"];
    if (status.HasMember("replicas")) {
      int64_t replicas = 0;
      if (!ReadReplicas(status["replicas"], &replicas)) {
        return Status::ParseError("the Scale's status.replicas is not an integer in [0, 2^31)");
      }
      scale.status_replicas = replicas;
    }
    scale.selector = StringMember(status, "selector");
  }
  return scale;
}

Result<std::string> KubernetesScalePath(const ExecutorSpec& e) {
  std::string resource;
  if (e.k8s_kind.empty() || e.k8s_kind == "Deployment") {
    resource = "deployments";
  } else if (e.k8s_kind == "StatefulSet") {
    resource = "statefulsets";
  } else {
    return Status::InvalidArgument("executor.kind \"" + e.k8s_kind + "\" is neither Deployment nor StatefulSet");
  }
  if (!IsDnsLabel(e.k8s_namespace)) {
    return Status::InvalidArgument("executor.namespace \"" + e.k8s_namespace + "\" is not a DNS label");
  }
  if (!IsDnsSubdomain(e.k8s_name)) {
    return Status::InvalidArgument("executor.name \"" + e.k8s_name + "\" is not a DNS subdomain name");
  }
  return "/apis/apps/v1/namespaces/" + e.k8s_namespace + "/" + resource + "/" + e.k8s_name + "/scale";
}

std::string KubernetesHpaListPath(const std::string& namespace_name) {
  return "/apis/autoscaling/v2/namespaces/" + namespace_name + "/horizontalpodautoscalers";
}

KubernetesExecutor::KubernetesExecutor(std::unique_ptr<http::HttpClient> client, KubernetesOptions options,
                                       const Clock& clock)
    : api_(std::move(client), std::move(options)), clock_(clock) {}

Result<std::vector<kube::HpaInfo>> KubernetesExecutor::ListHpas(const std::string& namespace_name) {
  const auto now = clock_.Monotonic();
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(namespace_name);
    if (it != cache_.end() && now - it->second.fetched < api_.options().hpa_cache_ttl) return it->second.hpas;
  }
  const std::string path = KubernetesHpaListPath(namespace_name);
  auto response = api_.Get(path, kube::kMaxHpaListBytes);
  if (!response.ok()) return Status::Unavailable("GET " + path + ": " + response.status().message());
  if (response->status < 200 || response->status >= 300) {
    return Status::Unavailable("GET " + path + ": " + std::to_string(response->status) + " " +
                               KubernetesStatusMessage(response->body));
  }
  auto hpas = kube::ParseHpaList(response->body);
  if (!hpas.ok()) return Status::Unavailable("GET " + path + ": " + hpas.status().message());
  // Only good lists are kept: a failed one is asked for again on the next action.
  std::lock_guard lock(cache_mu_);
  cache_[namespace_name] = CachedHpas{now, *hpas};
  return std::move(hpas).value();
}

Result<std::optional<kube::HpaInfo>> KubernetesExecutor::FindHpa(const ExecutorSpec& e) {
  PRESCALE_ASSIGN_OR_RETURN(std::vector<kube::HpaInfo> hpas, ListHpas(e.k8s_namespace));
  const std::string kind = e.k8s_kind.empty() ? std::string("Deployment") : e.k8s_kind;
  for (kube::HpaInfo& hpa : hpas) {
    if (kube::HpaScales(hpa, kind, e.k8s_name)) return std::optional<kube::HpaInfo>(std::move(hpa));
  }
  return std::optional<kube::HpaInfo>();
}

void KubernetesExecutor::NoteConflict(const Service& spec, const std::string& hpa) {
  std::lock_guard lock(metrics_mu_);
  if (hpa.empty()) {
    conflicts_.erase({spec.tenant, spec.name});
  } else {
    conflicts_[{spec.tenant, spec.name}] = hpa;
  }
}

Result<std::optional<Refusal>> KubernetesExecutor::WouldRefuse(const Service& spec) {
  // A bad block names no namespace worth listing.
  PRESCALE_RETURN_IF_ERROR(KubernetesScalePath(spec.executor).status());
  PRESCALE_ASSIGN_OR_RETURN(std::optional<kube::HpaInfo> hpa, FindHpa(spec.executor));
  NoteConflict(spec, hpa ? HpaName(*hpa) : std::string());
  if (!hpa) return std::optional<Refusal>();
  return std::optional<Refusal>(HpaRefusal(*hpa));
}

ExecutionResult KubernetesExecutor::Execute(const Service& spec, const ScaleAction& action) {
  ExecutionResult r;
  auto path = KubernetesScalePath(spec.executor);
  if (!path.ok()) {
    r.message = path.status().message();
    return r;
  }
  if (action.to_replicas < 0 || action.to_replicas > std::numeric_limits<int32_t>::max()) {
    r.message = "to_replicas " + std::to_string(action.to_replicas) + " is outside a Kubernetes replica count";
    return r;
  }
  const std::string what = "PATCH " + Target(spec.executor) + " scale";
  auto hpa = FindHpa(spec.executor);
  if (!hpa.ok()) {
    {
      std::lock_guard lock(metrics_mu_);
      ++list_errors_;
    }
    r.outcome = Outcome::kRetry;
    r.message =
        what + " not sent: cannot tell whether a HorizontalPodAutoscaler scales it (" + hpa.status().message() + ")";
    return r;
  }
  if (hpa->has_value()) {
    NoteConflict(spec, HpaName(**hpa));
    {
      std::lock_guard lock(metrics_mu_);
      ++refused_;
    }
    r.outcome = Outcome::kRefused;
    r.message = HpaRefusal(**hpa).message;
    return r;
  }
  NoteConflict(spec, "");
  auto response = api_.Patch(*path, R"({"spec":{"replicas":)" + std::to_string(action.to_replicas) + "}}");
  if (!response.ok()) {
    // A network error, or the token (mounted and rotated by the kubelet): worth another try.
    r.outcome = Outcome::kRetry;
    r.message = what + ": " + response.status().message();
    return r;
  }
  r.http_status = response->status;
  if (response->status >= 200 && response->status < 300) {
    r.outcome = Outcome::kDone;
    r.message = "set " + Target(spec.executor) + " to " + std::to_string(action.to_replicas) + " replicas";
    auto scale = ParseKubernetesScale(response->body);
    if (scale.ok()) {
      // spec.replicas, what the target is now set to, as CurrentReplicas reads it and HPA takes
      // it: status.replicas lags while pods start, and the next tick would patch again.
      r.current_replicas = scale->spec_replicas;
    } else {
      r.message += " (" + scale.status().message() + ")";
    }
    return r;
  }
  r.outcome = Retryable(response->status) ? Outcome::kRetry : Outcome::kFailed;
  r.message = what + ": " + std::to_string(response->status) + " " + KubernetesStatusMessage(response->body);
  return r;
}

std::optional<int64_t> KubernetesExecutor::CurrentReplicas(const Service& spec, std::string* error) {
  auto fail = [error](std::string message) -> std::optional<int64_t> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  auto path = KubernetesScalePath(spec.executor);
  if (!path.ok()) return fail(path.status().message());
  const std::string what = "GET " + Target(spec.executor) + " scale";
  auto response = api_.Get(*path);
  if (!response.ok()) return fail(what + ": " + response.status().message());
  if (response->status < 200 || response->status >= 300) {
    return fail(what + ": " + std::to_string(response->status) + " " + KubernetesStatusMessage(response->body));
  }
  auto scale = ParseKubernetesScale(response->body);
  if (!scale.ok()) return fail(what + ": " + scale.status().message());
  return scale->spec_replicas;
}

void KubernetesExecutor::AppendMetrics(std::string* out) const {
  std::lock_guard lock(metrics_mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_kubernetes_hpa_conflicts",
           "1 for each service held to recommend-only because that HorizontalPodAutoscaler scales its workload",
           metrics::MetricType::kGauge);
  for (const auto& [key, hpa] : conflicts_) {
    w.Sample("prescale_kubernetes_hpa_conflicts", {{"hpa", hpa}, {"service", key.second}, {"tenant", key.first}}, 1);
  }
  w.Family("prescale_kubernetes_hpa_refused_actions_total",
           "Scaling actions not carried out because a HorizontalPodAutoscaler scales the workload",
           metrics::MetricType::kCounter);
  w.Sample("prescale_kubernetes_hpa_refused_actions_total", {}, refused_);
  w.Family("prescale_kubernetes_hpa_list_errors_total",
           "Scaling actions delayed because the namespace's HorizontalPodAutoscalers could not be listed",
           metrics::MetricType::kCounter);
  w.Sample("prescale_kubernetes_hpa_list_errors_total", {}, list_errors_);
}

}  // namespace prescale::aggregator
