// Allocate: the decision engine's arbitration step (issue 6). Given every
// service's desired replicas (after its policy's behaviour) and per-replica
// requests, grant replicas so that each tenant's quotas (CPU, memory, replicas)
// and, over all tenants, the cluster's capacity are never exceeded:
//   1. minimums first, in priority order (critical first);
//   2. then the rest of each service's desired replicas, priority level by
//      level: within a level, replica by replica to the tenant with the lowest
//      weighted dominant share (weighted max-min fairness over CPU and memory,
//      as DRF), and within a tenant to the service least served relative to
//      its demand.
// A lower priority level is only served from what the higher ones left, so it
// never keeps capacity a higher one is short of. Services granted less than
// they want are constrained. A pure function of its input; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prescale/decide/control_model.h"

namespace prescale::aggregator {

struct AllocationTenant {
  std::string name;
  double weight = 1;
  TenantQuotas quotas;  // unset members: no quota
};

struct AllocationService {
  std::string tenant;
  std::string name;
  Priority priority = Priority::kNormal;
  double cpu_cores_per_replica = 0;  // the per-replica request (0: not counted)
  double memory_bytes_per_replica = 0;
  int64_t min_replicas = 0;
  int64_t desired_replicas = 0;  // what the policy wants (clamped to >= min)
};

struct AllocationInput {
  double capacity_cpu_cores = 0;  // the cluster's, less the reserve; <= 0: unlimited
  double capacity_memory_bytes = 0;
  std::vector<AllocationTenant> tenants;
  std::vector<AllocationService> services;
};

struct AllocationGrant {
  int64_t replicas = 0;
  bool constrained = false;  // granted < desired
  // What stopped it: "tenant quota cpu", "cluster capacity memory", ... ("" when not constrained).
  std::string limited_by;
};

struct AllocationResult {
  std::vector<AllocationGrant> grants;  // one per input service, same order
  // Usage of each tenant after the grants (same order as the input tenants).
  struct TenantUse {
    double cpu_cores = 0;
    double memory_bytes = 0;
    int64_t replicas = 0;
  };
  std::vector<TenantUse> tenant_use;
  double cpu_cores = 0;  // over all tenants
  double memory_bytes = 0;
};

// Services of unknown tenants get nothing (constrained, "unknown tenant").
AllocationResult Allocate(const AllocationInput& input);

}  // namespace prescale::aggregator
