// The arbitration step of a decision tick (Allocate): 10,000 services in 100
// tenants over five priority levels, per-replica requests of 0.25-2 cores and
// 0.5-4 GiB, desired replicas of 1-40. Two clusters: one where everything fits,
// one at half the demand (every level contended: the progressive filling does
// all its work). Goal (issue 6): a whole decision tick over 10,000 services in
// 100 tenants within 50 ms on one core; this is its arbitration part.
//   build/bin/prescale-bench-allocate --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "prescale/decide/allocator.h"

namespace prescale::aggregator {
namespace {

AllocationInput Fleet(double capacity_share) {
  std::mt19937 rng(42);
  AllocationInput in;
  for (int t = 0; t < 100; ++t) {
    AllocationTenant tenant{"tenant-" + std::to_string(t), 1.0 + t % 4, {}};
    if (t % 3 == 0) tenant.quotas.cpu_cores = 400;
    in.tenants.push_back(tenant);
  }
  double cpu = 0, memory = 0;
  for (int s = 0; s < 10'000; ++s) {
    AllocationService v;
    v.tenant = "tenant-" + std::to_string(s % 100);
    v.name = "service-" + std::to_string(s);
    v.priority = static_cast<Priority>(s % 5);
    v.cpu_cores_per_replica = 0.25 * std::uniform_int_distribution<int>(1, 8)(rng);
    v.memory_bytes_per_replica = 0.5e9 * std::uniform_int_distribution<int>(1, 8)(rng);
    v.min_replicas = 1;
    v.desired_replicas = std::uniform_int_distribution<int>(1, 40)(rng);
    cpu += v.cpu_cores_per_replica * static_cast<double>(v.desired_replicas);
    memory += v.memory_bytes_per_replica * static_cast<double>(v.desired_replicas);
    in.services.push_back(v);
  }
  in.capacity_cpu_cores = cpu * capacity_share;
  in.capacity_memory_bytes = memory * capacity_share;
  return in;
}

void BM_Allocate(benchmark::State& state) {
  const AllocationInput in = Fleet(static_cast<double>(state.range(0)) / 100);
  int64_t granted = 0;
  for (auto _ : state) {
    const AllocationResult r = Allocate(in);
    granted = 0;
    for (const AllocationGrant& g : r.grants) granted += g.replicas;
    benchmark::DoNotOptimize(granted);
  }
  state.counters["replicas_granted"] = static_cast<double>(granted);
}
// Arg: cluster capacity as a percentage of the total demand.
BENCHMARK(BM_Allocate)->Arg(200)->Arg(50)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace prescale::aggregator

BENCHMARK_MAIN();
