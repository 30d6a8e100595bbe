// The steps of one DecisionLoop::Run that need none of the loop's state, as
// free functions (internal to aggregator_scaling; tests include it by path):
//   ListAll          every stored object of a kind, page by page;
//   SpecErrors       stored specs that do not parse: logged once per version, counted;
//   ReadTenants      the tenants' weights and quotas;
//   CurrentUse       each demand series' use now;
//   IndexForecasts   the forecasts worth acting on, by demand key;
//   AddDemand        a service's policy and demand (use, forecast upper bound);
//   TenantUseOf      what each tenant holds after the decisions;
//   ActionOf, ActionAudit, OutboxEntryFor   an action's records.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "prescale/aggregator/actions/actions.h"
#include "prescale/aggregator/actions/executor.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/decide/decision.h"

namespace prescale::aggregator::decision_steps {

// A forecaster with less than this many minutes of history has an interval
// too wide to act on (one point: 3.8x the value at 5 minutes): such a service
// is scaled on its use alone until then.
constexpr size_t kMinForecastMinutes = 15;
// The horizon of services without a policy (the default policy's).
constexpr int64_t kDefaultHorizonSeconds = 900;

// Every object of a kind, page by page (without references).
Result<std::vector<StoredObject>> ListAll(ControlStore* store, ObjectKind kind);

// Stored objects whose spec does not parse. Each is logged (a warning) once
// per version, not at every pass, and counted by kind until it parses again
// or is deleted. One pass per kind: Begin, Report each bad one, End.
class SpecErrors {
 public:
  void Begin(ObjectKind kind);
  // `error` says what does not parse ("service acme/web: replicas.max: ...").
  void Report(const StoredObject& object, const std::string& error);
  // Forgets the objects of `kind` not reported since Begin (fixed or deleted).
  void End(ObjectKind kind);
  // Objects of `kind` that did not parse at its last pass.
  size_t Count(ObjectKind kind) const;
  // Log lines written so far.
  size_t logged() const { return logged_; }

 private:
  struct Entry {
    int64_t version = 0;
    bool reported = false;
  };
  std::map<std::tuple<ObjectKind, std::string, std::string>, Entry> entries_;
  size_t logged_ = 0;
};

// As ObjectKindName, which lives in aggregator_control with code that needs
// OpenSSL: calling this one keeps OpenSSL out of programs that need neither.
const char* KindName(ObjectKind kind);

// The service's demand key: its selector's tenant and service labels, else its own names.
DemandKey KeyOf(const Service& s, const std::string& resource);

struct DemandKeyHash {
  size_t operator()(const DemandKey& k) const {
    const std::hash<std::string> h;
    return (h(k.tenant) * 31 + h(k.service)) * 31 + h(k.resource);
  }
};
using UseIndex = std::unordered_map<DemandKey, double, DemandKeyHash>;
using ForecastIndex = std::unordered_map<DemandKey, const SeriesForecast*, DemandKeyHash>;
using PolicyIndex = std::map<std::string, std::shared_ptr<const ScalingPolicy>>;

// The tenants that parse (the others are reported to `errors`, which may be null).
std::vector<AllocationTenant> ReadTenants(const std::vector<StoredObject>& tenants, SpecErrors* errors);

// Current use: the last 30 s of each demand series (10 s for its agents to
// push it whole), else its newest final minute.
UseIndex CurrentUse(const DemandRollups& demand);

// The forecasts with at least kMinForecastMinutes of history and a horizon,
// by key; the pointers point into `forecasts`.
ForecastIndex IndexForecasts(const std::vector<SeriesForecast>& forecasts);

// What AddDemand reads.
struct DemandContext {
  const UseIndex& use;
  const ForecastIndex& forecasts;
  const PolicyIndex& policies;
  int64_t now_ms = 0;
};

// Sets in->policy (from in->spec.policy) and appends in->demand for cpu and
// memory (keys `cpu` and `memory`) when they have a current use: the use,
// and the forecasts' largest upper bound whose target minute falls between
// the last minute and now + the policy's horizon (the forecasts start from
// the newest final minute, a few minutes back), else the nearest one's.
void AddDemand(const DemandKey& cpu, const DemandKey& memory, const DemandContext& context, ServiceInput* in);

// What each tenant holds after the decisions (decisions[i] is services[i]'s),
// for quota utilisation; in the order of `tenants`.
std::vector<AllocationResult::TenantUse> TenantUseOf(const std::vector<AllocationTenant>& tenants,
                                                     const std::vector<ServiceInput>& services,
                                                     const std::vector<Decision>& decisions);

// The action of a decision, with id `id`, decided at now_ms.
ScaleAction ActionOf(const Decision& d, std::string id, int64_t now_ms);

// The audit record of an action: "scale" (or "recommend" when the decision is
// not executed), by "decision-engine", with what it was decided from as its
// after_json. `tenant_use`: the service's tenant's, when the tenant exists.
// `hold`: why the service only recommends, when its executor refuses to act
// (after_json's "hold": {reason, by, message, since}). `approval_seq`: the
// "approve" audit record the action carries out (after_json's
// "approval_seq"), 0 when it carries out none.
AuditRecord ActionAudit(const ScaleAction& action, const Decision& d, const ServiceInput& input,
                        const AllocationResult::TenantUse* tenant_use, const ServiceHold* hold = nullptr,
                        int64_t approval_seq = 0);

// The outbox entry that takes the action to the service's executor; nullopt
// when it has none that acts (only "webhook" and "kubernetes" do).
std::optional<OutboxEntry> OutboxEntryFor(const ScaleAction& action, const std::string& executor_type);

}  // namespace prescale::aggregator::decision_steps
