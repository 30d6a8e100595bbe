// The CPU caps an agent applies on its node: every throttled service's cap
// shared among the nodes in proportion to the service's cgroups there, as the
// agents' own container_cpu_usage_seconds_total series show them. The caps
// come from the decision loop's latest decisions on the leader, and from
// those the leader published in the control store on the other replicas.
// Pure functions over the stores; thread-safe as they are.
#pragma once

#include <string>
#include <vector>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/history/series_store.h"
#include "prescale/decide/decision.h"

namespace prescale::aggregator {

struct NodeDirective {
  std::string tenant;
  std::string service;
  double cpu_cores = 0;  // this node's share of the service's cap
};

// The caps of the decisions that throttle, in the decisions' order.
std::vector<PublishedCap> CapsOf(const std::vector<Decision>& decisions);

std::vector<NodeDirective> DirectivesForNode(const std::vector<PublishedCap>& caps, const SeriesStore& store,
                                             const std::string& node);

}  // namespace prescale::aggregator
