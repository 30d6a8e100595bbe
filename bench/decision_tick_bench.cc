// One decision tick over 10,000 services in 100 tenants (issue 6's goal: at
// most 50 ms on one core). Two measurements:
//   BM_EngineEvaluate  DecisionEngine::Evaluate alone: desired replicas with
//                      forecasts, HPA behaviour, arbitration, throttling;
//   BM_DecisionLoopRun the whole tick as the aggregator runs it: tenants,
//                      policies, services and their status read from the
//                      control store, current use from the demand rollups
//                      (pushed as agents push), Evaluate, and the actions of
//                      what changed recorded (audit + outbox). The store is
//                      the in-memory FakeControlStore (tests/support) and the
//                      action ids come from a counter, so the program links
//                      no SQLite, OpenSSL or HTTP server. (Between changes the
//                      tick asks the store only for its objects' generation
//                      and the services' status; until 2026-12 it ran over
//                      SQLite in memory.)
// Half the cluster's capacity is demanded twice over, so arbitration and
// throttling do their work; five priorities; a third of the tenants with a CPU quota.
//   build/bin/prescale-bench-decision-tick --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "prescale/aggregator/scaling/decision_loop.h"
#include "prescale/decide/control_model.h"
#include "prescale/decide/decision.h"
#include "tests/support/aggregator/fake_control_store.h"

namespace prescale::aggregator {
namespace {

constexpr int kTenants = 100;
constexpr int kServices = 10'000;

std::string TenantName(int t) { return "tenant-" + std::to_string(t); }

Service MakeService(int s, std::mt19937& rng) {
  Service v;
  v.tenant = TenantName(s % kTenants);
  v.name = "service-" + std::to_string(s);
  v.priority = static_cast<Priority>(s % 5);
  v.replicas = {std::uniform_int_distribution<int>(1, 20)(rng), 1, 60};
  v.request_cpu_cores = 0.25 * std::uniform_int_distribution<int>(1, 8)(rng);
  v.request_memory_bytes = 0.5e9 * std::uniform_int_distribution<int>(1, 8)(rng);
  v.target_utilization = {{"cpu", 0.7}};
  return v;
}

void BM_EngineEvaluate(benchmark::State& state) {
  std::mt19937 rng(42);
  std::vector<AllocationTenant> tenants;
  for (int t = 0; t < kTenants; ++t) {
    AllocationTenant tenant{TenantName(t), 1.0 + t % 4, {}};
    if (t % 3 == 0) tenant.quotas.cpu_cores = 150;
    tenants.push_back(tenant);
  }
  std::vector<ServiceInput> inputs;
  double demanded = 0;
  for (int s = 0; s < kServices; ++s) {
    ServiceInput in;
    in.spec = MakeService(s, rng);
    const double use = in.spec.request_cpu_cores * std::uniform_real_distribution<double>(0.5, 25)(rng);
    in.demand.push_back({"cpu", use, use * 1.2});
    demanded += use * 1.2 / 0.7;
    inputs.push_back(std::move(in));
  }
  DecisionEngine engine(DecisionOptions{0.1, 3, demanded / 2, 0});
  auto now = std::chrono::system_clock::now();
  int64_t constrained = 0;
  for (auto _ : state) {
    now += std::chrono::seconds(10);
    const std::vector<Decision> d = engine.Evaluate(tenants, inputs, now);
    constrained = 0;
    for (const Decision& x : d) constrained += x.constrained ? 1 : 0;
    benchmark::DoNotOptimize(constrained);
  }
  state.counters["services"] = kServices;
  state.counters["constrained"] = static_cast<double>(constrained);
}
BENCHMARK(BM_EngineEvaluate)->Unit(benchmark::kMillisecond);

// What the aggregator holds for the tick: the control store's objects, the
// agents' pushes in the raw series and the demand rollups, and a forecast of
// every demand series.
struct Cluster {
  static ForecastSettings Holt() {
    ForecastSettings settings;
    settings.model = "holt";
    return settings;
  }

  SystemClock& clock = SystemClock::Instance();
  testing::FakeControlStore store;
  DemandRollups demand{DemandOptions{}, clock};
  // Forecasts as the aggregator keeps them (holt: a quick setup; the model does not matter to the tick).
  ForecastEngine forecasts{Holt(), demand, clock};
  SeriesStore series{SeriesStoreOptions{}, clock, &demand};
  std::vector<remote_write::TimeSeries> push;  // one CPU counter per service
  std::vector<double> rates;                   // cores each service uses
  double demanded = 0;                         // cores wanted at the target utilisation

  // Stores the tenants and services; pushes their use as an agent pushes it
  // (samples of a CPU counter 10 s apart, up to 10 s ago) and an hour of
  // history per service (as a backfill would give).
  Status Seed() {
    std::mt19937 rng(42);
    for (int t = 0; t < kTenants; ++t) {
      const std::string quota = t % 3 == 0 ? R"(,"quotas":{"cpu_cores":150})" : "";
      PRESCALE_RETURN_IF_ERROR(
          store.PutJson(ObjectKind::kTenant, R"({"name":")" + TenantName(t) + "\"" + quota + "}", "", "bench")
              .status());
    }
    const int64_t now_ms = ToUnixMillis(clock.Now());
    for (int s = 0; s < kServices; ++s) {
      const Service v = MakeService(s, rng);
      const std::string json = std::string(R"({"name":")") + v.name + R"(","priority":")" +
                               std::string(PriorityName(v.priority)) + R"(","replicas":{"current":)" +
                               std::to_string(v.replicas.current) + R"(,"min":1,"max":60},"requests":{"cpu_cores":)" +
                               std::to_string(v.request_cpu_cores) + R"(},"target_utilization":{"cpu":0.7}})";
      PRESCALE_RETURN_IF_ERROR(store.PutJson(ObjectKind::kService, json, v.tenant, "bench").status());
      const double use = v.request_cpu_cores * std::uniform_real_distribution<double>(0.5, 25)(rng);
      demanded += use / 0.7;
      rates.push_back(use);
      push.push_back({{{"__name__", "container_cpu_usage_seconds_total"}, {"service", v.name}, {"tenant", v.tenant}},
                      {{0, now_ms - 30'000}, {use * 10, now_ms - 20'000}, {use * 20, now_ms - 10'000}}});
    }
    AppendStats stats;
    PRESCALE_RETURN_IF_ERROR(series.Append(push, &stats));
    const int64_t minute_now = now_ms / 60'000 * 60'000;
    for (size_t i = 0; i < push.size(); ++i) {
      const DemandKey key{push[i].labels[2].value, push[i].labels[1].value, "cpu"};
      for (int m = 60; m >= 3; --m) {
        const double wave = 1 + 0.2 * std::sin(static_cast<double>(m) / 10);
        demand.Backfill(key, false,
                        DemandPoint{minute_now - int64_t{m} * 60'000, rates[i] * wave, rates[i] * wave * 1.1});
      }
    }
    return Status::Ok();
  }

  // The agents push again: each service's counter moves on at its rate, stamped 10 s ago.
  void PushAgain() {
    const int64_t t = ToUnixMillis(clock.Now()) - 10'000;
    for (size_t i = 0; i < push.size(); ++i) {
      const remote_write::Sample last = push[i].samples.back();
      push[i].samples = {{last.value + rates[i] * static_cast<double>(t - last.timestamp_ms) / 1000.0, t}};
    }
    AppendStats pushed;
    (void)series.Append(push, &pushed);
  }
};

void BM_DecisionLoopRun(benchmark::State& state) {
  Cluster cluster;
  if (Status s = cluster.Seed(); !s.ok()) {
    state.SkipWithError(("seeding failed: " + s.message()).c_str());
    return;
  }
  const size_t forecast_series = cluster.forecasts.Tick();
  // Action ids from a counter (the aggregator's come from OpenSSL's generator).
  uint64_t actions = 0;
  auto new_action_id = [&actions] {
    char id[32];
    std::snprintf(id, sizeof id, "act_%024llx", static_cast<unsigned long long>(++actions));
    return std::string(id);
  };
  DecisionLoop loop(&cluster.store, &cluster.demand, &cluster.forecasts, &cluster.series, cluster.clock,
                    DecisionLoopOptions{.cluster_cpu_cores = cluster.demanded / 2, .capacity_reserve = 0},
                    new_action_id);
  // The first tick records an action for every service that changes; the
  // ones measured are the steady state that follows.
  const auto first_start = std::chrono::steady_clock::now();
  if (Status s = loop.Run(); !s.ok()) {
    state.SkipWithError(s.message().c_str());
    return;
  }
  const double first_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first_start).count();
  for (auto _ : state) {
    state.PauseTiming();  // the agents keep pushing (not timed)
    cluster.PushAgain();
    state.ResumeTiming();
    if (Status s = loop.Run(); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  size_t constrained = 0;
  for (const Decision& d : loop.Latest("")) constrained += d.constrained ? 1 : 0;
  state.counters["services"] = kServices;
  state.counters["constrained"] = static_cast<double>(constrained);
  state.counters["first_tick_ms"] = first_ms;
  state.counters["forecasts"] = static_cast<double>(forecast_series);
  state.counters["keys"] = static_cast<double>(cluster.demand.Keys({}).size());
  state.counters["audit_records"] = static_cast<double>(cluster.store.audit().size());
}
BENCHMARK(BM_DecisionLoopRun)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace prescale::aggregator

BENCHMARK_MAIN();
