// Forecast engine benchmarks (goals from issue 4; figures are printed, not asserted):
//   BM_Observe<Model>       one sample into a warm forecaster, parameters fixed
//                           so no refit runs (goal: <= 200 ns for ewma, holt,
//                           holt_winters, auto); *WithRefits: fitted, periodic refits
//                           (and auto's backtests) amortised in, on 2 days of history
//   BM_RefitHoltWinters     a full refit on 2 days at 1-minute steps (goal: <= 5 ms),
//                           season detected by autocorrelation or configured
//   BM_Replay*              2 days of history into a new auto forecaster:
//                           Observe per sample then Refit, or ObserveBatch
//   BM_Tick                 one evaluation tick over 10,000 series: a new sample
//                           and a 15-minute forecast each (goal: <= 100 ms, one core)
//   BM_Memory<Model>/H      heap bytes one forecaster holds after 2 days of
//                           1-minute history, planned for horizon H s (counter
//                           "bytes"; goal: <= 64 KiB a series)
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <chrono>
#include <cmath>
#include <memory>
#include <numbers>
#include <random>
#include <vector>

#include "prescale/forecast/forecaster.h"

// Live heap bytes, for BM_Memory*: every allocation of the process counted by
// its usable size (what it really occupies), so the figure includes vector slack.
std::atomic<int64_t> g_live_bytes{0};

void* operator new(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  g_live_bytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
// GCC sees free() of a pointer new returned; here new is malloc, so it matches.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
#pragma GCC diagnostic pop

namespace prescale::forecast {
namespace {

constexpr int64_t kStepMs = 60'000;
constexpr size_t kTwoDays = 2UL * 24 * 60;

// A daily cycle with noise, like a service's CPU demand, at 1-minute steps.
std::vector<double> DailySeries(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 3);
  std::vector<double> y(n);
  for (size_t t = 0; t < n; ++t) {
    y[t] = 100 + 40 * std::sin(2 * std::numbers::pi * static_cast<double>(t) / 1440.0) + noise(rng);
  }
  return y;
}

std::unique_ptr<Forecaster> Make(const std::string& model, std::map<std::string, double> params) {
  ForecastSpec spec;
  spec.model = model;
  spec.params = std::move(params);
  auto f = MakeForecaster(spec);
  if (!f.ok()) std::abort();
  return std::move(f).value();
}

void RunObserve(benchmark::State& state, const std::string& model, const std::map<std::string, double>& params) {
  const std::vector<double> y = DailySeries(4 * kTwoDays, 1);
  std::unique_ptr<Forecaster> f = Make(model, params);
  int64_t t = 0;
  for (size_t i = 0; i < kTwoDays; ++i) f->Observe(++t * kStepMs, y[i]);
  // The next periodic refit is then a full history (2 days) of points away.
  f->Refit();
  size_t i = 0;
  for (auto _ : state) {
    f->Observe(++t * kStepMs, y[i]);
    if (++i == y.size()) i = 0;
  }
  benchmark::DoNotOptimize(f->Forecast(std::chrono::minutes(15)));
  state.SetItemsProcessed(state.iterations());
}

// Fixed parameters and no periodic refit: the incremental path alone.
constexpr double kNever = 1e9;
void BM_ObserveEwma(benchmark::State& s) { RunObserve(s, "ewma", {{"alpha", 0.3}, {"refit_every_steps", kNever}}); }
void BM_ObserveHolt(benchmark::State& s) {
  RunObserve(s, "holt", {{"alpha", 0.3}, {"beta", 0.05}, {"refit_every_steps", kNever}});
}
void BM_ObserveHoltWinters(benchmark::State& s) {
  RunObserve(s, "holt_winters",
             {{"alpha", 0.3}, {"beta", 0.05}, {"gamma", 0.1}, {"season_steps", 1440}, {"refit_every_steps", kNever}});
}
// auto between refits: every candidate's update, their forecasts and scoring,
// the reweighting (goal: <= 200 ns). Its candidates' parameters cannot all
// be fixed, so it runs fewer points than the 2 days after which even
// refit_every_steps = kNever refits (the history's length, see Refit).
void BM_ObserveAuto(benchmark::State& s) { RunObserve(s, "auto", {{"refit_every_steps", kNever}}); }
void BM_ObserveEwmaWithRefits(benchmark::State& s) { RunObserve(s, "ewma", {}); }
void BM_ObserveHoltWithRefits(benchmark::State& s) { RunObserve(s, "holt", {}); }
void BM_ObserveHoltWintersWithRefits(benchmark::State& s) { RunObserve(s, "holt_winters", {}); }
void BM_ObserveAutoWithRefits(benchmark::State& s) { RunObserve(s, "auto", {}); }
BENCHMARK(BM_ObserveEwma);
BENCHMARK(BM_ObserveHolt);
BENCHMARK(BM_ObserveHoltWinters);
BENCHMARK(BM_ObserveAuto)->Iterations(2000)->Repetitions(20)->ReportAggregatesOnly(true);
BENCHMARK(BM_ObserveEwmaWithRefits);
BENCHMARK(BM_ObserveHoltWithRefits);
BENCHMARK(BM_ObserveHoltWintersWithRefits);
BENCHMARK(BM_ObserveAutoWithRefits);

void RunRefit(benchmark::State& state, std::map<std::string, double> params) {
  const std::vector<double> y = DailySeries(kTwoDays, 2);
  params["refit_every_steps"] = 1e9;  // only the benchmark's own refits
  std::unique_ptr<Forecaster> f = Make("holt_winters", params);
  for (size_t i = 0; i < y.size(); ++i) f->Observe(static_cast<int64_t>(i + 1) * kStepMs, y[i]);
  for (auto _ : state) f->Refit();
  benchmark::DoNotOptimize(f->Forecast(std::chrono::minutes(15)));
}
void BM_RefitHoltWintersDetectedSeason(benchmark::State& s) { RunRefit(s, {}); }
void BM_RefitHoltWintersConfiguredSeason(benchmark::State& s) { RunRefit(s, {{"season_steps", 1440}}); }
BENCHMARK(BM_RefitHoltWintersDetectedSeason)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RefitHoltWintersConfiguredSeason)->Unit(benchmark::kMillisecond);

// One forecaster's heap after 3 days of a daily cycle at 1-minute steps (it
// holds 2 days; the third lets auto's candidates, refitted in turn, all find
// the daily season), planned for state.range(0) seconds ahead: the history
// ring, the model(s) with their seasons, the interval calibrator.
void RunMemory(benchmark::State& state, const std::string& model) {
  const std::vector<double> y = DailySeries(kTwoDays * 3 / 2, 5);
  int64_t bytes = 0;
  for (auto _ : state) {
    const int64_t before = g_live_bytes.load();
    std::unique_ptr<Forecaster> f = Make(model, {{"horizon_s", static_cast<double>(state.range(0))}});
    for (size_t i = 0; i < y.size(); ++i) f->Observe(static_cast<int64_t>(i + 1) * kStepMs, y[i]);
    benchmark::DoNotOptimize(f->Forecast(std::chrono::minutes(15)));
    bytes = g_live_bytes.load() - before;
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
void BM_MemoryAuto(benchmark::State& s) { RunMemory(s, "auto"); }
void BM_MemoryHoltWinters(benchmark::State& s) { RunMemory(s, "holt_winters"); }
BENCHMARK(BM_MemoryAuto)->Arg(900)->Arg(3600)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_MemoryHoltWinters)->Arg(900)->Unit(benchmark::kMillisecond)->Iterations(1);

// A restart: 2 days at 1-minute steps replayed into a new forecaster, sample
// by sample (with every periodic refit on the way) or with ObserveBatch.
void RunReplay(benchmark::State& state, const std::string& model, bool batch) {
  const std::vector<double> y = DailySeries(kTwoDays, 3);
  std::vector<int64_t> ts(y.size());
  for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<int64_t>(i + 1) * kStepMs;
  for (auto _ : state) {
    std::unique_ptr<Forecaster> f = Make(model, {});
    if (batch) {
      f->ObserveBatch(ts, y);
    } else {
      for (size_t i = 0; i < y.size(); ++i) f->Observe(ts[i], y[i]);
      f->Refit();
    }
    benchmark::DoNotOptimize(f->Forecast(std::chrono::minutes(15)));
  }
}
void BM_ReplayAutoObserve(benchmark::State& s) { RunReplay(s, "auto", false); }
void BM_ReplayAutoObserveBatch(benchmark::State& s) { RunReplay(s, "auto", true); }
BENCHMARK(BM_ReplayAutoObserve)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplayAutoObserveBatch)->Unit(benchmark::kMillisecond);

// 10,000 series warmed with `warm` points each; every iteration is one tick.
// Periodic refits (and for auto, re-selections) fall inside ticks as they
// would in the aggregator, so the figure is their amortised cost too;
// *NoRefits is the tick's own work: a sample and a forecast per series.
void RunTick(benchmark::State& state, const std::string& model, size_t warm,
             const std::map<std::string, double>& params = {}) {
  constexpr size_t kSeries = 10'000;
  std::vector<std::unique_ptr<Forecaster>> series;
  std::vector<std::vector<double>> ys;
  for (size_t s = 0; s < kSeries; ++s) {
    series.push_back(Make(model, params));
    ys.push_back(DailySeries(warm + 64, static_cast<uint32_t>(s)));
    for (size_t i = 0; i < warm; ++i) series[s]->Observe(static_cast<int64_t>(i + 1) * kStepMs, ys[s][i]);
  }
  size_t tick = warm;
  for (auto _ : state) {
    const int64_t now_ms = static_cast<int64_t>(++tick) * kStepMs;
    for (size_t s = 0; s < kSeries; ++s) {
      series[s]->Observe(now_ms, ys[s][tick % ys[s].size()]);
      benchmark::DoNotOptimize(series[s]->Forecast(std::chrono::minutes(15)));
    }
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
void BM_TickHoltNoRefits(benchmark::State& s) { RunTick(s, "holt", 240, {{"refit_every_steps", kNever}}); }
void BM_TickHolt(benchmark::State& s) { RunTick(s, "holt", 240); }
void BM_TickHoltWinters(benchmark::State& s) { RunTick(s, "holt_winters", 240); }
void BM_TickAuto(benchmark::State& s) { RunTick(s, "auto", 240); }
BENCHMARK(BM_TickHoltNoRefits)->Unit(benchmark::kMillisecond)->Iterations(120);
BENCHMARK(BM_TickHolt)->Unit(benchmark::kMillisecond)->Iterations(120);
BENCHMARK(BM_TickHoltWinters)->Unit(benchmark::kMillisecond)->Iterations(120);
BENCHMARK(BM_TickAuto)->Unit(benchmark::kMillisecond)->Iterations(120);

}  // namespace
}  // namespace prescale::forecast

BENCHMARK_MAIN();
