// The arbitration step: quotas and capacity are never exceeded, critical
// services are served first, equal-priority tenants share by weight, services
// within a tenant in proportion to demand; and the invariants hold over
// thousands of random scenarios.
#include "prescale/decide/allocator.h"

#include <gtest/gtest.h>

#include <random>

namespace prescale::aggregator {
namespace {

AllocationService Svc(const std::string& tenant, const std::string& name, Priority p, double cpu, int64_t min,
                      int64_t desired, double memory = 0) {
  return {tenant, name, p, cpu, memory, min, desired};
}

TEST(Allocate, GrantsEverythingWhenItFits) {
  AllocationInput in{100,
                     0,
                     {{"a", 1, {}}, {"b", 1, {}}},
                     {Svc("a", "web", Priority::kCritical, 1, 1, 10), Svc("b", "db", Priority::kLow, 2, 1, 5)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 10);
  EXPECT_EQ(r.grants[1].replicas, 5);
  EXPECT_FALSE(r.grants[0].constrained || r.grants[1].constrained);
  EXPECT_DOUBLE_EQ(r.cpu_cores, 20);
}

TEST(Allocate, CriticalFirstAndLowerPrioritiesKeepOnlyTheirMinimum) {
  AllocationInput in{10,
                     0,
                     {{"a", 1, {}}, {"b", 1, {}}},
                     {Svc("b", "batch", Priority::kLow, 1, 1, 6), Svc("a", "web", Priority::kCritical, 1, 1, 8)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[1].replicas, 8);  // critical: all it wants
  EXPECT_FALSE(r.grants[1].constrained);
  EXPECT_EQ(r.grants[0].replicas, 2);  // low: its minimum, then what is left
  EXPECT_TRUE(r.grants[0].constrained);
  EXPECT_EQ(r.grants[0].limited_by, "cluster capacity cpu");
  // Squeeze harder: critical wants all 10; low keeps its minimum of 1, critical gets 9.
  in.services[1].desired_replicas = 10;
  const AllocationResult squeezed = Allocate(in);
  EXPECT_EQ(squeezed.grants[0].replicas, 1);
  EXPECT_EQ(squeezed.grants[1].replicas, 9);
}

TEST(Allocate, EqualPriorityTenantsShareByWeight) {
  AllocationInput in{10,
                     0,
                     {{"a", 1, {}}, {"b", 1, {}}},
                     {Svc("a", "x", Priority::kNormal, 1, 0, 10), Svc("b", "y", Priority::kNormal, 1, 0, 10)}};
  AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 5);
  EXPECT_EQ(r.grants[1].replicas, 5);
  in.tenants[0].weight = 3;
  r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas + r.grants[1].replicas, 10);
  EXPECT_GE(r.grants[0].replicas, 7);  // 3:1 of 10 is 7.5
  EXPECT_LE(r.grants[0].replicas, 8);
  // A tenant that wants less than its share leaves the rest to the other.
  in.tenants[0].weight = 1;
  in.services[0].desired_replicas = 2;
  r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 2);
  EXPECT_EQ(r.grants[1].replicas, 8);
}

TEST(Allocate, WithinATenantInProportionToDemand) {
  AllocationInput in{12,
                     0,
                     {{"a", 1, {}}},
                     {Svc("a", "big", Priority::kNormal, 1, 0, 16), Svc("a", "small", Priority::kNormal, 1, 0, 8)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 8);  // 12 split 2:1
  EXPECT_EQ(r.grants[1].replicas, 4);
}

TEST(Allocate, TenantQuotasBindBeforeTheCluster) {
  TenantQuotas q;
  q.cpu_cores = 4;
  TenantQuotas r2;
  r2.replicas = 3;
  AllocationInput in{100,
                     0,
                     {{"a", 1, q}, {"b", 1, r2}},
                     {Svc("a", "web", Priority::kCritical, 0.5, 1, 20), Svc("b", "db", Priority::kCritical, 1, 1, 9)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 8);
  EXPECT_EQ(r.grants[0].limited_by, "tenant quota cpu");
  EXPECT_EQ(r.grants[1].replicas, 3);
  EXPECT_EQ(r.grants[1].limited_by, "tenant quota replicas");
  EXPECT_DOUBLE_EQ(r.tenant_use[0].cpu_cores, 4);
}

// With room in the cluster for the whole level, each tenant is filled on its
// own (at once when its quota has room too): the same grants as sharing the
// cluster a replica at a time.
TEST(Allocate, WithRoomInTheClusterEachTenantIsFilledOnItsOwn) {
  TenantQuotas twelve;
  twelve.cpu_cores = 12;
  TenantQuotas exact;
  exact.cpu_cores = 1.0;
  AllocationInput in{100,
                     0,
                     {{"a", 1, twelve}, {"b", 1, {}}, {"c", 1, exact}},
                     {Svc("a", "big", Priority::kNormal, 1, 0, 16), Svc("b", "web", Priority::kNormal, 2, 1, 20),
                      Svc("a", "small", Priority::kNormal, 1, 0, 8), Svc("c", "job", Priority::kNormal, 0.1, 0, 10)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 8);  // a's quota of 12 split 2:1, as the cluster's would be
  EXPECT_EQ(r.grants[2].replicas, 4);
  EXPECT_EQ(r.grants[0].limited_by, "tenant quota cpu");
  EXPECT_EQ(r.grants[1].replicas, 20);  // b: no quota, all of it
  EXPECT_FALSE(r.grants[1].constrained);
  EXPECT_EQ(r.grants[3].replicas, 10);  // 0.1 x 10 fits a quota of 1.0 exactly
  EXPECT_FALSE(r.grants[3].constrained);
  EXPECT_DOUBLE_EQ(r.cpu_cores, 12 + 40 + 1);
}

TEST(Allocate, MemoryCountsAsMuchAsCpuAndUnknownTenantsGetNothing) {
  AllocationInput in{0,
                     8e9,
                     {{"a", 1, {}}},
                     {Svc("a", "cache", Priority::kHigh, 0, 0, 10, 1e9), Svc("ghost", "x", Priority::kHigh, 1, 1, 1)}};
  const AllocationResult r = Allocate(in);
  EXPECT_EQ(r.grants[0].replicas, 8);
  EXPECT_EQ(r.grants[0].limited_by, "cluster capacity memory");
  EXPECT_EQ(r.grants[1].replicas, 0);
  EXPECT_TRUE(r.grants[1].constrained);
  EXPECT_EQ(r.grants[1].limited_by, "unknown tenant");
}

// Random scenarios: every invariant, for thousands of seeds.
TEST(Allocate, InvariantsHoldForRandomScenarios) {
  int cluster_bound = 0, quota_bound = 0;  // how often each kind of limit was checked
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    AllocationInput in;
    in.capacity_cpu_cores = pick(0, 3) == 0 ? 0 : uniform(1, 200);
    in.capacity_memory_bytes = pick(0, 3) == 0 ? 0 : uniform(1e9, 400e9);
    const int tenants = pick(1, 6);
    for (int t = 0; t < tenants; ++t) {
      AllocationTenant tenant{"t" + std::to_string(t), uniform(0.5, 4), {}};
      if (pick(0, 1)) tenant.quotas.cpu_cores = uniform(0, 80);
      if (pick(0, 2) == 0) tenant.quotas.memory_bytes = uniform(0, 100e9);
      if (pick(0, 2) == 0) tenant.quotas.replicas = pick(0, 60);
      in.tenants.push_back(tenant);
    }
    const int services = pick(1, 30);
    for (int s = 0; s < services; ++s) {
      in.services.push_back(Svc("t" + std::to_string(pick(0, tenants - 1)), "s" + std::to_string(s),
                                static_cast<Priority>(pick(0, 4)), uniform(0, 4), pick(0, 3), pick(0, 40),
                                uniform(0, 8e9)));
    }
    const AllocationResult r = Allocate(in);
    ASSERT_EQ(r.grants.size(), in.services.size());
    // Quotas and capacity hold.
    for (size_t t = 0; t < in.tenants.size(); ++t) {
      const TenantQuotas& q = in.tenants[t].quotas;
      const auto& use = r.tenant_use[t];
      if (q.cpu_cores) {
        ASSERT_LE(use.cpu_cores, *q.cpu_cores + 1e-6);
      }
      if (q.memory_bytes) {
        ASSERT_LE(use.memory_bytes, *q.memory_bytes + 1e-3);
      }
      if (q.replicas) {
        ASSERT_LE(use.replicas, *q.replicas);
      }
    }
    if (in.capacity_cpu_cores > 0) {
      ASSERT_LE(r.cpu_cores, in.capacity_cpu_cores + 1e-6);
    }
    if (in.capacity_memory_bytes > 0) {
      ASSERT_LE(r.memory_bytes, in.capacity_memory_bytes + 1e-3);
    }
    for (size_t s = 0; s < in.services.size(); ++s) {
      const AllocationService& v = in.services[s];
      const AllocationGrant& g = r.grants[s];
      const int64_t desired = std::max(v.desired_replicas, v.min_replicas);
      ASSERT_LE(g.replicas, desired);
      ASSERT_EQ(g.constrained, g.replicas < desired);
      ASSERT_EQ(g.constrained, !g.limited_by.empty());
      // Nothing is left unused that a constrained service could take: its next
      // replica would break the limit it names.
      if (!g.constrained) continue;
      size_t t = 0;
      while (t < in.tenants.size() && in.tenants[t].name != v.tenant) ++t;
      const auto& use = r.tenant_use[t];
      const TenantQuotas& q = in.tenants[t].quotas;
      const std::string& why = g.limited_by;
      if (why == "tenant quota cpu") {
        ASSERT_GT(use.cpu_cores + v.cpu_cores_per_replica, *q.cpu_cores + 1e-9);
      }
      if (why == "tenant quota memory") {
        ASSERT_GT(use.memory_bytes + v.memory_bytes_per_replica, *q.memory_bytes + 1e-9);
      }
      if (why == "tenant quota replicas") {
        ASSERT_GE(use.replicas, *q.replicas);
      }
      if (why == "cluster capacity cpu") {
        ASSERT_GT(r.cpu_cores + v.cpu_cores_per_replica, in.capacity_cpu_cores + 1e-9);
      }
      if (why == "cluster capacity memory") {
        ASSERT_GT(r.memory_bytes + v.memory_bytes_per_replica, in.capacity_memory_bytes + 1e-9);
      }
      // Priority: when the cluster is what constrains it, what less important
      // services hold above their minimum, with what is left free, would not
      // make one more replica of it.
      ++(why.starts_with("cluster") ? cluster_bound : quota_bound);
      if (why.starts_with("cluster")) {
        const bool cpu = why == "cluster capacity cpu";
        double freed = cpu ? in.capacity_cpu_cores - r.cpu_cores : in.capacity_memory_bytes - r.memory_bytes;
        for (size_t o = 0; o < in.services.size(); ++o) {
          if (in.services[o].priority <= v.priority) continue;
          const int64_t above = r.grants[o].replicas - std::min(r.grants[o].replicas, in.services[o].min_replicas);
          freed += static_cast<double>(above) *
                   (cpu ? in.services[o].cpu_cores_per_replica : in.services[o].memory_bytes_per_replica);
        }
        ASSERT_LT(freed, (cpu ? v.cpu_cores_per_replica : v.memory_bytes_per_replica) + 1e-6);
      }
    }
  }
  // The scenarios reach both kinds of limit often enough to mean something.
  EXPECT_GT(cluster_bound, 1000);
  EXPECT_GT(quota_bound, 1000);
}

}  // namespace
}  // namespace prescale::aggregator
