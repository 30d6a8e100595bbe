// The aggregator's forecast tick (ForecastEngine::Tick) over N demand series
// with 2 days of 1-minute history each, on one thread, as the main loop runs it:
//   BM_ForecastTickNewMinute/N  every series got one new final minute (the
//                               busiest tick: once a minute), then forecasts 5m, 15m, 1h
//   BM_ForecastTickIdle/N       no new minute: forecasts only (the other five ticks a minute)
//   BM_ForecastReplay/N         the first tick after a restart: 2 days replayed per series
// Goal (issue 4): one tick forecasting 10,000 series within 100 ms on one core.
#include <benchmark/benchmark.h>

#include <cmath>

#include "prescale/aggregator/history/forecasts.h"

namespace {

using prescale::aggregator::DemandKey;
using prescale::aggregator::DemandOptions;
using prescale::aggregator::DemandPoint;
using prescale::aggregator::DemandRollups;
using prescale::aggregator::ForecastEngine;
using prescale::aggregator::ForecastSettings;

constexpr int64_t kMinute = 60'000;

// A clock the benchmark moves by hand.
class StepClock final : public prescale::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now_; }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  std::chrono::system_clock::time_point now_{std::chrono::minutes(29'000'000)};
};

// A daily cycle with noise, different per series.
double Demand(int series, int64_t minute) {
  const double phase = static_cast<double>(minute % 1440) / 1440.0 * 6.283185307179586;
  const double noise = static_cast<double>((minute * 7919L + series * 104729L) % 1000) / 1000.0;
  return 2.0 + std::sin(phase + series * 0.1) + 0.3 * noise + 0.01 * (series % 50);
}

struct World {
  StepClock clock;
  DemandRollups demand{DemandOptions{}, clock};
  std::vector<DemandKey> keys;
  explicit World(int n) {
    for (int i = 0; i < n; ++i) keys.push_back({"tenant" + std::to_string(i / 100), "svc" + std::to_string(i), "cpu"});
    const int64_t now_min = std::chrono::duration_cast<std::chrono::minutes>(clock.Now().time_since_epoch()).count();
    for (int i = 0; i < n; ++i) {
      for (int64_t m = now_min - 2880; m < now_min - 1; ++m) {
        const double v = Demand(i, m);
        demand.Backfill(keys[static_cast<size_t>(i)], false, DemandPoint{m * kMinute, v, v});
      }
    }
  }
  void NewMinute() {
    clock.Advance(std::chrono::minutes(1));
    const int64_t m = std::chrono::duration_cast<std::chrono::minutes>(clock.Now().time_since_epoch()).count() - 2;
    for (size_t i = 0; i < keys.size(); ++i) {
      const double v = Demand(static_cast<int>(i), m);
      demand.Backfill(keys[i], false, DemandPoint{m * kMinute, v, v});
    }
  }
};

void BM_ForecastReplay(benchmark::State& state) {
  World world(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    ForecastEngine engine(ForecastSettings{}, world.demand, world.clock);
    benchmark::DoNotOptimize(engine.Tick());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ForecastTick(benchmark::State& state, bool new_minute) {
  World world(static_cast<int>(state.range(0)));
  ForecastEngine engine(ForecastSettings{}, world.demand, world.clock);
  // A tick replays new series' histories for at most 2 s; the steady tick is
  // the one after every series has been replayed (else each timed tick would
  // be that budget).
  while (engine.Tick() < static_cast<size_t>(state.range(0))) {
  }
  for (auto _ : state) {
    if (new_minute) {
      state.PauseTiming();
      world.NewMinute();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(engine.Tick());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ForecastTickNewMinute(benchmark::State& state) { BM_ForecastTick(state, true); }
void BM_ForecastTickIdle(benchmark::State& state) { BM_ForecastTick(state, false); }

BENCHMARK(BM_ForecastTickNewMinute)->Arg(10'000)->Unit(benchmark::kMillisecond)->Iterations(30);
BENCHMARK(BM_ForecastTickIdle)->Arg(10'000)->Unit(benchmark::kMillisecond)->Iterations(30);
BENCHMARK(BM_ForecastReplay)->Arg(1'000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
