// DecisionLoop: the decision engine run on the aggregator's own data at every
// tick. It reads tenants, services and policies from the ControlStore, each
// service's current use from the demand rollups and its forecast's upper bound
// at the policy's horizon from the forecast engine, and the cluster's capacity
// from a CapacitySource (configured, or the agents' machine_cpu_cores /
// machine_memory_bytes; less a reserve). It runs DecisionEngine and keeps the
// latest decisions for GET /api/v1/decisions and /metrics. Every change it
// decides becomes an action: an audit record ("scale", with the decision's
// inputs) and, for services with a webhook or kubernetes executor, an entry of
// the store's outbox (ActionDispatcher delivers it), in one transaction;
// recommend-only services get a "recommend" record when the recommendation
// changes. An approval of a recommendation (ControlStore::Approve) is carried
// out once by the next Run that acts, as an action through the service's
// executor with trigger "approval:<actor>", when the recommendation is still
// the one approved; else it is used up with an "approve.skipped" record. A
// service whose executor refuses to act (ServiceHolds, from the
// ActionDispatcher: an HPA scales its workload) is decided as a recommend-only
// one while the hold lasts: "recommend" records naming the refusal, no
// outbox entries, and its decision's reason ends with the refusal's message.
// A service's replicas are the last action's target, or what an executor or
// a report said runs, else its spec's. A stored tenant, service or policy
// whose spec does not parse is skipped (the others are decided), logged
// once per version and counted in prescale_decision_unparsable_specs. Run from
// one thread (the tick); Latest and AppendMetrics from any.
//
// One Run, step by step (each a method below or a function of decision_steps.h):
// TakeTriggers, RefreshObjects (ParseServices), BuildInputs (ReadTenants,
// ReadPolicies, CurrentUse, IndexForecasts, ApplyServiceState, AddDemand), the
// capacity, DecisionEngine::Evaluate, ExplainHolds, TenantUseOf, RecordActions
// (WantsAction, RecordAction), UseApprovals (ApprovalRefusal, SkipApproval).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/aggregator/scaling/capacity.h"
#include "prescale/aggregator/scaling/policy_factory.h"
#include "prescale/aggregator/scaling/triggers.h"
#include "prescale/base/clock.h"
#include "prescale/decide/decision.h"

namespace prescale::aggregator {

namespace decision_steps {
class SpecErrors;
}  // namespace decision_steps

struct DecisionLoopOptions {
  double cluster_cpu_cores = 0;     // 0: the sum of the agents' machine_cpu_cores
  double cluster_memory_bytes = 0;  // 0: the sum of the agents' machine_memory_bytes
  double capacity_reserve = 0.1;    // the share of the capacity kept out of arbitration
};

class DecisionLoop {
 public:
  // None of the pointers is owned; all outlive the loop. Action ids are
  // "act_" + 24 random hex digits (OpenSSL's generator).
  DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
               const SeriesStore* series, const Clock& clock, DecisionLoopOptions options);
  // The same with the action ids `new_action_id` makes (unique ones): tests
  // get known ids, and a program that passes its own links no OpenSSL for them.
  DecisionLoop(ControlStore* store, const DemandRollups* demand, const ForecastEngine* forecasts,
               const SeriesStore* series, const Clock& clock, DecisionLoopOptions options,
               std::function<std::string()> new_action_id);
  ~DecisionLoop();

  // One evaluation of every service; fails only when the store cannot be read.
  // `events` (from the trigger bus) name the services they started it for;
  // a "scale_up" event holds its service one replica above what it ran until
  // the event resolves.
  // `act` false (a replica that does not lead): the same evaluation, kept
  // for Latest, with no action recorded.
  Status Run(const std::vector<TriggerEvent>& events = {}, bool act = true);

  // The replica deciding, among several sharing the store: its actions'
  // audit records name it ("decision-engine@REPLICA"). Unnamed: "decision-engine".
  void NameReplica(std::string replica) { replica_ = std::move(replica); }
  // Scaling events (docs/events.md): with sinks named ("amqp"), every action,
  // recommendation change and trigger (of a Run that acts) also queues an
  // event for each sink, in the transaction of its audit record
  // (ControlStore::RecordAndQueue). None by default.
  void PublishEventsTo(std::vector<std::string> sinks) { sinks_ = std::move(sinks); }
  // Called after actions were queued (wakes the dispatcher).
  void OnActionsQueued(std::function<void()> notify) { notify_ = std::move(notify); }
  // Where the services held to recommend-only come from (ActionDispatcher::Holds),
  // read once per Run; without it no service is held.
  void ReadHoldsFrom(std::function<ServiceHolds()> holds) { holds_ = std::move(holds); }
  // The latest decisions (one tenant's when `tenant` is not empty); `held`
  // (may be null) gets the holds those decisions were made under, by service.
  std::vector<Decision> Latest(const std::string& tenant, ServiceHolds* held = nullptr) const;
  // prescale_desired_replicas, prescale_current_replicas, prescale_constrained,
  // prescale_throttled, prescale_quota_utilization, prescale_cluster_capacity,
  // prescale_scaling_actions_total, prescale_decision_unparsable_specs, and the
  // loop's own: prescale_decision_loop_runs_total{result},
  // prescale_decision_loop_last_success_timestamp_seconds,
  // prescale_decision_loop_duration_seconds (the last run's).
  void AppendMetrics(std::string* out) const;

 private:
  // Run's work; Run counts and times it.
  Status RunTick(const std::vector<TriggerEvent>& events, bool act);
  using ServiceKey = std::pair<std::string, std::string>;
  // The events of one Run: the services they name, and the scale_up floors they start.
  struct Triggers {
    std::map<ServiceKey, std::string> label;  // service -> the trigger's label
    std::vector<const TriggerEvent*> new_floors;
  };
  // A service held to recommend-only for one evaluation, and the executor its spec names.
  struct Held {
    ServiceHold hold;
    std::string executor;
  };
  // What one evaluation is decided from.
  struct Inputs {
    std::vector<AllocationTenant> tenants;
    std::vector<ServiceInput> services;                     // the services that parse, in store order
    std::map<ServiceKey, std::optional<int64_t>> observed;  // replicas reported to run
    std::map<ServiceKey, Held> held;                        // decided as recommend-only
  };
  struct ParsedService {
    int64_t version = 0;
    std::optional<Service> spec;  // nullopt: the stored spec does not parse
    DemandKey cpu_key, memory_key;
    bool seen = false;
  };

  // Ends the floors of resolved events; collects the others.
  Triggers TakeTriggers(const std::vector<TriggerEvent>& events);
  // Reads the objects again when the store's generation changed.
  Status RefreshObjects();
  // Parses the services' specs (once per version); forgets deleted services.
  void ParseServices();
  Result<Inputs> BuildInputs(const Triggers& triggers, const ServiceHolds& holds);
  // The stored policies that parse, by name.
  std::map<std::string, std::shared_ptr<const ScalingPolicy>> ReadPolicies();
  // What is known of the service by name: the replicas it runs (its status),
  // the trigger that started the evaluation, the scale_up floors in force,
  // and its hold: a held service goes to the engine as a recommend-only one.
  void ApplyServiceState(const Triggers& triggers, const std::map<ServiceKey, const ServiceStatus*>& status_of,
                         const ServiceHolds& holds, ServiceInput* in, Inputs* out);
  // After the evaluation: gives the held services their executor back and
  // ends their decisions' reasons with why they only recommend.
  static void ExplainHolds(Inputs* inputs, std::vector<Decision>* decisions);
  // Records the actions of one evaluation; returns how many were queued.
  size_t RecordActions(const Inputs& inputs, const std::vector<Decision>& decisions,
                       const std::vector<AllocationResult::TenantUse>& tenant_use);
  // Whether decision `d` makes an action: a change, or for recommend-only
  // services a recommendation other than the last one recorded.
  bool WantsAction(const Decision& d);
  // Records one action (an audit record, and its outbox entry when queued);
  // `hold` (may be null): why the service only recommends.
  // `approval` (may be null): the approval the action carries out, used in its transaction.
  bool RecordAction(const Decision& d, const ServiceInput& input, const AllocationResult::TenantUse* tenant_use,
                    const ServiceHold* hold, int64_t now_ms, const Approval* approval = nullptr);
  // The pending approvals (read when the store's generation changed): each is
  // carried out as one action when its service's decision still recommends
  // what was approved, else used up with an "approve.skipped" record saying
  // why. A decision carried out starts from its new replicas in `latest`
  // (nothing pending any more). Returns how many entries were queued.
  size_t UseApprovals(const Inputs& inputs, const std::vector<AllocationResult::TenantUse>& tenant_use,
                      std::vector<Decision>* latest);
  // Why `approval` cannot be carried out by decision `d` ("" when it can).
  static std::string ApprovalRefusal(const Approval& approval, const Decision& d, const ServiceInput& input,
                                     const Inputs& inputs);
  // Uses `approval` up with an "approve.skipped" record saying `why`.
  void SkipApproval(const Approval& approval, const std::string& why, int64_t now_ms);
  // With event sinks: an event of each trigger of the Run; returns how many were queued.
  size_t RecordTriggerEvents(const std::vector<TriggerEvent>& events);
  // The events' outbox entries of action `a` (kind action or recommendation), one per sink.
  std::vector<OutboxEntry> ActionEvents(const ScaleAction& a, std::string_view kind, const std::string& executor);
  // A new event id: "evt_" and the rest of a new action id.
  std::string NewEventId();
  // unparsable_ from spec_errors_ (mu_ held).
  void CountSpecErrorsLocked();

  ControlStore* store_;
  const DemandRollups* demand_;
  const ForecastEngine* forecasts_;
  const Clock& clock_;
  DecisionLoopOptions options_;
  std::function<std::string()> new_action_id_;
  std::string replica_;
  std::unique_ptr<CapacitySource> capacity_source_;
  DecisionEngine engine_;
  PolicyFactory policies_;
  std::unique_ptr<decision_steps::SpecErrors> spec_errors_;
  std::function<void()> notify_;
  std::vector<std::string> sinks_;  // event sinks
  std::function<ServiceHolds()> holds_;
  std::map<ServiceKey, std::map<std::string, int64_t>> floors_;  // scale_up triggers in force: label -> floor
  std::map<ServiceKey, int64_t> recommended_;                    // recommend-only: the last one recorded
  bool objects_read_ = false;                                    // the store's objects as of objects_generation_
  std::string objects_generation_;
  std::string generation_now_;   // the store's generation as this Run read it
  bool approvals_read_ = false;  // PendingApprovals read as of approvals_generation_
  bool approvals_left_ = false;  // an approval could not be used or skipped: read again
  std::string approvals_generation_;
  std::vector<StoredObject> tenant_objects_, policy_objects_, service_objects_;
  std::map<ServiceKey, ParsedService> parsed_services_;  // node-based: parsed_list_ points into it
  std::vector<const ParsedService*> parsed_list_;        // the services that parse, in store order

  mutable std::mutex mu_;  // guards what follows
  std::vector<Decision> latest_;
  ServiceHolds latest_held_;  // the holds latest_ was decided under
  std::vector<AllocationTenant> tenants_;
  std::vector<AllocationResult::TenantUse> tenant_use_;
  double capacity_cpu_ = 0, capacity_memory_ = 0;
  std::map<ServiceKey, std::optional<int64_t>> observed_;  // replicas reported to run
  // (tenant, service, direction, driver) -> actions
  std::map<std::tuple<std::string, std::string, std::string, std::string>, double> actions_;
  std::array<double, 3> unparsable_{};  // by ObjectKind: stored specs skipped because they do not parse
  double runs_ok_ = 0, runs_failed_ = 0;
  double last_success_s_ = 0;   // Unix seconds of the last run that succeeded; 0: none yet
  double last_duration_s_ = 0;  // the last run's, by the monotonic clock
};

}  // namespace prescale::aggregator
