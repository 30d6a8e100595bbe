// ScalingApi: the decision engine's routes:
//   GET  /api/v1/decisions[?tenant=T]           the latest decision of every service, with
//                                               its hold when its executor refuses to act
//   GET  /api/v1/directives?node=NAME[&tenant=T] the CPU caps an agent applies on its node
//                                               (on a follower: the caps the leader published)
//   POST /api/v1/alerts/alertmanager            Alertmanager's webhook (version 4): triggers
//   POST /api/v1/tenants/{t}/services/{s}/replicas  the replicas a service runs now
//   POST /api/v1/tenants/{t}/services/{s}/approve   {"replicas": N}: approves the pending
//                                               recommendation N once (202; 409 when it is not
//                                               the current one, the service is held or its
//                                               executor is recommend-only); audited, refusals too
// Tenant-bound tokens (operators, viewers) get only their tenant's decisions
// and caps: no tenant given is theirs, another one a 403 naming `tenant`.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "prescale/aggregator/api/front.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/aggregator/scaling/alertmanager.h"
#include "prescale/aggregator/scaling/decision_loop.h"
#include "prescale/aggregator/scaling/triggers.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

struct ScalingApiOptions {
  // How long a CPU cap the agents read holds without being read again.
  std::chrono::milliseconds directive_lease{60'000};
};

class ScalingApi {
 public:
  // Not owned; they outlive the API.
  ScalingApi(const DecisionLoop* decisions, const SeriesStore* series, ControlStore* control, TriggerBus* triggers,
             const Clock& clock, ScalingApiOptions options);

  std::vector<RouteSpec> Routes();
  // Where the caps of /api/v1/directives come from when this replica does
  // not lead: `published` answers the caps the leader published, or nullopt
  // while this replica leads (its own decisions' caps are served then).
  // Without it, always the decisions'.
  void ReadCapsFrom(std::function<std::optional<std::vector<PublishedCap>>()> published) {
    published_ = std::move(published);
  }
  // prescale_alertmanager_alerts_total{outcome}.
  void AppendMetrics(std::string* out) const;

  Result<http::HttpResponse> Decisions(Call& call);
  Result<http::HttpResponse> Directives(Call& call);
  Result<http::HttpResponse> Alertmanager(Call& call);
  Result<http::HttpResponse> ReplicasReport(Call& call);
  Result<http::HttpResponse> Approve(Call& call);

 private:
  const DecisionLoop* decisions_;
  const SeriesStore* series_;
  ControlStore* control_;
  TriggerBus* triggers_;
  const Clock& clock_;
  ScalingApiOptions options_;
  std::function<std::optional<std::vector<PublishedCap>>()> published_;
  void AuditRefusedApproval(const Call& call, const http::HttpResponse& r);
  AlertDeduplicator alerts_;
  mutable std::mutex alerts_mu_;                   // alerts_received_
  std::map<std::string, double> alerts_received_;  // by outcome
};

}  // namespace prescale::aggregator
