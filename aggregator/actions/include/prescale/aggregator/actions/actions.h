// Scaling actions from decision to delivery (issue 6).
//   - ActionJson: the action as the webhook body carries it and the outbox keeps it.
//   - ActionDispatcher: hands every queued action of the store's durable
//     outbox to its service's executor, oldest first; retries network errors,
//     timeouts, 408, 429 and 5xx with exponential backoff; audits the result;
//     takes replicas the executor reports as the service's current ones;
//     holds a service to recommend-only while its executor refuses to act
//     (Holds; the decision loop reads them), until WouldRefuse says otherwise.
// Delivery is at least once: a crash between a delivery and its removal from
// the outbox sends it again, and receivers drop repeats by the action id.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "prescale/aggregator/actions/events.h"
#include "prescale/aggregator/actions/executor.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/base/clock.h"
#include "prescale/base/status.h"

namespace prescale::aggregator {

// {id, tenant, service, from_replicas, to_replicas, reason, trigger, forecast,
//  constrained, throttle, timestamp}; forecast and throttle are null when absent,
// timestamp is RFC 3339.
std::string ActionJson(const ScaleAction& action);
Result<ScaleAction> ParseActionJson(std::string_view json);

// A service held to recommend-only: its executor refused an action and says
// why. The decision loop queues no actions for it, only recommendations,
// until the dispatcher finds the refusal gone.
struct ServiceHold {
  Refusal refusal;
  int64_t since_ms = 0;  // when the refusal was first seen (Unix ms)
};
// By (tenant, service).
using ServiceHolds = std::map<std::pair<std::string, std::string>, ServiceHold>;

struct DispatcherOptions {
  std::chrono::milliseconds initial_backoff{1000};  // doubled per attempt
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds give_up_after = std::chrono::hours(24);  // then the action is audited as failed
  size_t batch = 100;                                                // actions read per round
};

class ActionDispatcher {
 public:
  ActionDispatcher(ControlStore* store, const Clock& clock, DispatcherOptions options);
  // The executor for services whose executor.type is `type`.
  void AddExecutor(const std::string& type, std::unique_ptr<Executor> executor);
  // The sink for outbox entries whose executor is `type` (scaling events,
  // events.h). A sink's entries are ordered per service among themselves (a
  // broker outage does not hold back the service's actions), retried until
  // published (never given up on), and taken out of the outbox without an
  // audit record once published; one the sink fails for good is audited
  // ("event.failed").
  void AddEventSink(const std::string& type, std::unique_ptr<EventSink> sink);

  // The replica delivering, among several sharing the store: the delivery
  // results' audit records name it ("executor@REPLICA"). Unnamed: "executor".
  void NameReplica(std::string replica) { replica_ = std::move(replica); }
  // Acts only while `acting` says so (the replica leads): RunOnce and
  // RefreshReplicas do nothing otherwise, and RunOnce asks again before each
  // attempt. Without it, always.
  void ActOnlyWhile(std::function<bool()> acting) { acting_ = std::move(acting); }
  // One round: every due action attempted once, in queue order; a service's
  // later actions wait while an earlier one waits for a retry. Returns how
  // many were attempted. One thread at a time.
  size_t RunOnce();
  // Reads back the replicas of every service whose executor can tell
  // (kubernetes: the scale subresource) and records them as its current ones;
  // services with actions still queued are left alone. Asks the executor of
  // every held service whether it still refuses, and lifts the hold when it
  // does not (or the service is gone, or has no executor any more). Returns
  // how many replicas were read.
  size_t RefreshReplicas();
  // The services held to recommend-only now. Any thread.
  ServiceHolds Holds() const;
  // Wakes a thread blocked in WaitForWork (new actions were queued, or stop).
  void Notify();
  // Blocks until Notify or `timeout`.
  void WaitForWork(std::chrono::milliseconds timeout);

  // prescale_action_deliveries_total{executor,result}, prescale_action_delivery_duration_seconds{executor},
  // prescale_action_outbox_size, prescale_action_outbox_oldest_age_seconds,
  // then each executor's own (Executor::AppendMetrics).
  void AppendMetrics(std::string* out) const;

 private:
  // The queued entries of one round: the oldest `batch` actions, then the
  // oldest `batch` events of each sink (read apart: a backlog of events
  // while a broker is down never hides the actions, nor the reverse).
  Result<std::vector<OutboxEntry>> Queued();
  // One attempt at a due action: its payload, its service's spec and its
  // executor. *seconds is how long the executor took, -1 when none ran.
  ExecutionResult Attempt(const OutboxEntry& e, double* seconds);
  // Reschedules an action whose attempt asked for a retry, after a backoff
  // that doubles with each attempt.
  void Retry(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms);
  // Takes a delivered or failed action out of the outbox with its audit
  // record, and records the replicas its executor reported.
  void Finish(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms, bool expired);
  // Takes a refused action out of the outbox ("scale.refused", naming why),
  // holds its service, and reads back what runs: a refused action set nothing,
  // so the next decision starts from the replicas the target has.
  void FinishRefused(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms);
  // Holds a service with `refusal` (keeping since_ms while held), or lifts its
  // hold (nullopt); logs the change.
  void SetHold(const std::string& tenant, const std::string& service, const std::optional<Refusal>& refusal,
               int64_t now_ms);
  // The service's spec and its executor, when both exist (nullptr otherwise).
  Executor* ExecutorOf(const std::string& tenant, const std::string& service, Service* spec);
  void Observe(const std::string& executor, const char* result, double seconds);
  // Takes a published event out of the outbox, or audits one its sink failed for good.
  void FinishEvent(const OutboxEntry& e, const ExecutionResult& result, double seconds, int64_t now_ms);
  void AppendDeliveryMetrics(std::string* out) const;

  ControlStore* store_;
  const Clock& clock_;
  DispatcherOptions options_;
  std::map<std::string, std::unique_ptr<Executor>> executors_;
  std::map<std::string, std::unique_ptr<EventSink>> sinks_;
  std::function<bool()> acting_;
  std::string replica_;

  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool woken_ = false;

  mutable std::mutex holds_mu_;  // guards holds_
  ServiceHolds holds_;

  mutable std::mutex mu_;                                             // guards the metrics below
  std::map<std::pair<std::string, std::string>, double> deliveries_;  // (executor, result) -> count
  struct Latency {
    std::array<double, 10> buckets{};
    double count = 0, sum = 0;
  };
  std::map<std::string, Latency> latency_;
  int64_t backlog_ = 0, oldest_ms_ = 0;
  int64_t last_run_ms_ = 0;  // when RunOnce last read the outbox; 0: never (a follower)
};

}  // namespace prescale::aggregator
