// The control plane's objects: tenants (quotas, fair-share weight), services
// (priority, selector, replicas, per-replica requests, targets, policy,
// executor) and scaling policies (mode, forecaster, horizon, HPA-compatible
// behavior, cooldowns), with their JSON form. Parsing validates everything and
// names the failing field by its path ("behavior.scaleUp.policies[0].value");
// Render writes the canonical JSON the store keeps. Value types; no state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::aggregator {

// Unix milliseconds as RFC 3339 UTC with milliseconds ("2026-11-28T10:00:00.000Z").
std::string FormatRfc3339(int64_t ms);

enum class Priority { kCritical, kHigh, kNormal, kLow, kBestEffort };  // most important first
std::string_view PriorityName(Priority p);  // "critical", "high", "normal", "low", "best-effort"

enum class PolicyMode { kPredictive, kReactive, kRecommendOnly, kOff };
std::string_view PolicyModeName(PolicyMode m);  // "predictive", "reactive", "recommend-only", "off"

struct TenantQuotas {
  std::optional<double> cpu_cores;     // unset: no quota
  std::optional<double> memory_bytes;  // unset: no quota
  std::optional<int64_t> replicas;     // unset: no quota
};

struct Tenant {
  std::string name;  // a DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63
  std::string display_name;
  TenantQuotas quotas;
  double weight = 1;  // share of contended capacity among tenants of one priority
  std::map<std::string, std::string> labels;
};

struct ReplicaSpec {
  int64_t current = 1;
  int64_t min = 1;
  int64_t max = 10;
};

struct ExecutorSpec {
  std::string type = "recommend-only";  // "webhook", "kubernetes", "recommend-only"
  // What the service's decisions do, whatever its policy says (the stricter of
  // the two wins): "act" (the executor scales), "recommend-only" (decisions are
  // recorded and can be approved once through the executor, which is kept),
  // "off" (the replicas are kept; nothing is recommended).
  std::string mode = "act";
  // webhook
  std::string url;
  // The file holding the HMAC key (a mounted Secret): keys stay out of the
  // store, the API and the audit log; read when a delivery is signed.
  std::string secret_file;
  // kubernetes: the scale subresource of namespace/kind/name
  std::string k8s_namespace;
  std::string k8s_kind = "Deployment";  // or "StatefulSet"
  std::string k8s_name;
};

struct Service {
  std::string tenant;
  std::string name;  // DNS label, unique within the tenant
  Priority priority = Priority::kNormal;
  // Label equalities that tie the service to the agents' series; default
  // {tenant: <tenant>, service: <name>}.
  std::map<std::string, std::string> selector;
  ReplicaSpec replicas;
  double request_cpu_cores = 0;                      // per replica; 0: not set
  double request_memory_bytes = 0;                   // per replica; 0: not set
  std::map<std::string, double> target_utilization;  // resource ("cpu", "memory", ...) -> (0, 1]
  std::string policy;                                // a policy's name; "" uses the default behaviour
  ExecutorSpec executor;
  std::map<std::string, std::string> labels;
};

// HPA's HPAScalingPolicy and HPAScalingRules (autoscaling/v2), same names in JSON.
struct HpaScalingPolicy {
  std::string type;  // "Pods" or "Percent"
  int64_t value = 0;
  int64_t period_seconds = 15;
};

struct HpaScalingRules {
  std::optional<int64_t> stabilization_window_seconds;  // HPA default: 0 up, 300 down
  std::string select_policy = "Max";                    // "Max", "Min", "Disabled"
  std::vector<HpaScalingPolicy> policies;               // empty: HPA's defaults
};

struct Policy {
  std::string name;
  std::string tenant;  // the owning tenant; "" for a global policy (admins only)
  PolicyMode mode = PolicyMode::kPredictive;
  std::string forecaster = "auto";  // a model of prescale/forecast (ModelNames())
  int64_t horizon_seconds = 900;
  HpaScalingRules scale_up;
  HpaScalingRules scale_down;
  int64_t cooldown_up_seconds = 0;
  int64_t cooldown_down_seconds = 0;  // 0 by default, as HPA: its stabilization windows already damp
};

// Metadata the API adds and accepts back: a GET's body can be PUT as it is.
struct ObjectMeta {
  std::optional<int64_t> version;  // on input: the expected version (409 when stale)
};

// Parses a whole object. A body that is not a JSON object is InvalidArgument
// (HTTP 400); a wrong field is Unprocessable (422) with field() its path
// ("behavior.scaleUp.policies[0].value") and the message "path: what".
// Read-only members (version, created_at, updated_at) are accepted; version
// goes to *meta when given. Unknown members are errors.
Result<Tenant> ParseTenant(std::string_view json, ObjectMeta* meta = nullptr);
Result<Service> ParseService(std::string_view json, ObjectMeta* meta = nullptr);
Result<Policy> ParsePolicy(std::string_view json, ObjectMeta* meta = nullptr);

// Canonical compact JSON (fixed member order, defaults written out) without metadata.
std::string RenderTenant(const Tenant& t);
std::string RenderService(const Service& s);
std::string RenderPolicy(const Policy& p);

// The stored JSON plus metadata, for API answers: {...spec, "version": N,
// "created_at": RFC 3339, "updated_at": RFC 3339}.
std::string WithMetadata(std::string_view spec_json, int64_t version, int64_t created_ms, int64_t updated_ms);

// JSON Merge Patch (RFC 7386) of `patch` onto `target`; both JSON texts. A
// patch that is not a JSON object is InvalidArgument (400).
Result<std::string> MergePatch(std::string_view target, std::string_view patch);

bool IsValidObjectName(std::string_view name);

}  // namespace prescale::aggregator
