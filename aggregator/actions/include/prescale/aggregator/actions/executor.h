// Executors: what acts on the decision engine's scaling actions (issue 6). One
// interface, chosen per service by its `executor.type`:
//   webhook         POSTs the action, signed (WebhookExecutor);
//   kubernetes      PATCHes the scale subresource (KubernetesExecutor);
//   recommend-only  decides and records, changes nothing (no executor runs).
// Actions wait in the store's durable outbox; the ActionDispatcher hands each
// to its executor and retries by the outcome. An executor may refuse to act on
// a service while something outside prescale owns its target (kubernetes: a
// HorizontalPodAutoscaler): the service then runs recommend-only until
// WouldRefuse says the executor acts again. An executor is called from one
// thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "prescale/base/status.h"
#include "prescale/decide/control_model.h"

namespace prescale::aggregator {

// One scaling action, as the outbox keeps it and the webhook body carries it.
struct ScaleAction {
  std::string id;  // unique; receivers drop repeats by it (also the Idempotency-Key)
  std::string tenant, service;
  int64_t from_replicas = 0;
  int64_t to_replicas = 0;
  std::string reason;              // what drove it ("cpu forecast 7.2 cores > ...")
  std::string trigger;             // "tick", "alert:<fingerprint>", "threshold:<rule>", ...
  std::optional<double> forecast;  // the demand's forecast upper bound that drove it (its resource's unit)
  bool constrained = false;        // granted less than desired
  std::optional<double> throttle;  // the service's CPU cap (cores) in force, if any
  int64_t created_ms = 0;          // when the decision was taken (Unix ms)
};

// Why an executor will not act on a service: something outside prescale owns
// its target. Not an error: prescale recommends, the other one acts.
struct Refusal {
  std::string reason;   // one word, for programs: "hpa_conflict"
  std::string by;       // what owns the target: "HorizontalPodAutoscaler shop/web-hpa"
  std::string message;  // for people: "HorizontalPodAutoscaler shop/web-hpa scales this Deployment; ..."
};

// What one attempt came to.
struct ExecutionResult {
  enum class Outcome {
    kDone,    // acted on (2xx)
    kRetry,   // try again later: network error, timeout, 5xx, 429
    kFailed,  // will never work as is: 4xx other than 408/429, bad configuration
    // Not acted on, on purpose: something else owns the target (WouldRefuse
    // says what). Neither retried nor a failure: the service recommends only.
    kRefused,
  };
  Outcome outcome = Outcome::kFailed;
  long http_status = 0;  // 0: no HTTP answer
  std::string message;   // for the audit log and the logs
  // The replicas the target runs, when the executor learns it (feedback).
  std::optional<int64_t> current_replicas;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Carries out `action` for the service `spec` (its executor block says where).
  virtual ExecutionResult Execute(const Service& spec, const ScaleAction& action) = 0;
  // The replicas the target runs now, when the executor can read them back
  // (kubernetes); nullopt otherwise or on error (`error` says why, may be null).
  virtual std::optional<int64_t> CurrentReplicas(const Service& spec, std::string* error) {
    (void)spec;
    (void)error;
    return std::nullopt;
  }
  // Whether the executor would refuse to act on the service now, and why;
  // nullopt when it would act. An error when it cannot tell (the caller keeps
  // what it knew). Asked after a kRefused outcome and while the service is
  // held to recommend-only. By default an executor never refuses.
  virtual Result<std::optional<Refusal>> WouldRefuse(const Service& spec) {
    (void)spec;
    return std::optional<Refusal>();
  }
  // Appends the executor's own self metrics in the text format (none by default).
  virtual void AppendMetrics(std::string* out) const { (void)out; }
};

}  // namespace prescale::aggregator
