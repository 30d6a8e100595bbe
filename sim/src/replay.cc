#include "prescale/sim/replay.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <numeric>
#include <optional>

#include "prescale/decide/decision.h"
#include "prescale/decide/scaling_policy.h"
#include "prescale/forecast/forecaster.h"
#include "prescale/sim/grid.h"
#include "prescale/sim/trace.h"

namespace prescale::sim {
namespace {

using aggregator::Priority;
using std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHpaSyncMs = 15'000;
constexpr int64_t kKedaPollMs = 30'000;
// The aggregator's demand rollups close a minute this long after it ends (DemandOptions::settle).
constexpr int64_t kSettleMs = 60'000;
// Virtual time starts here (2026-01-05 00:00 UTC, a Monday): any fixed, minute-aligned instant would do.
constexpr int64_t kEpochMs = 1'767'571'200'000;
constexpr double kEpsilon = 1e-9;
enum PolicyIndex : size_t { kPrescale = 0, kHpa = 1, kKeda = 2, kStatic = 3 };

// A service's demand in cores on the virtual timeline: each trace grid point
// holds for replay_step; after the replayed window the last value holds.
struct DemandSeries {
  std::vector<double> values;
  int64_t replay_step_ms = 0;
  double At(int64_t t_ms) const {
    if (t_ms < 0) t_ms = 0;
    const size_t k = static_cast<size_t>(t_ms / replay_step_ms);
    return values[std::min(k, values.size() - 1)];
  }
  int64_t length_ms() const { return static_cast<int64_t>(values.size()) * replay_step_ms; }
};

Result<DemandSeries> LoadDemand(const ScenarioService& s, size_t index, const std::string& traces_dir) {
  const DemandSource& d = s.demand;
  const std::string where = "services[" + std::to_string(index) + "].demand";
  const std::string path = d.file.starts_with("/") ? d.file : traces_dir + "/" + d.file;
  TraceOptions topt;
  topt.column = d.column;
  topt.row_interval_ms = d.row_interval.count();
  auto trace = LoadTraceCsv(path, topt);
  if (!trace.ok()) return Status(trace.status().code(), where + ": " + trace.status().message());
  const int64_t step = d.step.count() > 0 ? d.step.count() : MedianIntervalMs(*trace);
  if (step <= 0) return Status::InvalidArgument(where + ": " + path + " has too few samples for a step");
  auto grid = Regrid(*trace, step);
  if (!grid.ok()) return Status(grid.status().code(), where + ": " + grid.status().message());
  const size_t first = static_cast<size_t>((d.start.count() + step - 1) / step);
  size_t count = grid->values.size() > first ? grid->values.size() - first : 0;
  if (d.duration.count() > 0) count = std::min(count, static_cast<size_t>(d.duration.count() / step));
  DemandSeries out;
  out.replay_step_ms = d.replay_step.count() > 0 ? d.replay_step.count() : step;
  // Gaps are forward-filled (the last known value holds); leading gaps take the first known value.
  double last = NAN;
  for (size_t k = first; k < first + count; ++k) {
    const double v = grid->values[k];
    if (std::isfinite(v)) last = v;
    out.values.push_back(last);
  }
  auto known = std::find_if(out.values.begin(), out.values.end(), [](double v) { return std::isfinite(v); });
  if (known == out.values.end()) {
    return Status::InvalidArgument(where + ": no data in " + path + " within start and duration");
  }
  for (auto it = out.values.begin(); it != known; ++it) *it = *known;
  for (double& v : out.values) v = std::max(0.0, v * d.scale);
  return out;
}

// The replicas of one service under one policy: the count asked for, of which
// `ready` serve and the rest are starting (ready at the times held).
struct Pods {
  int64_t ready = 0;
  std::deque<int64_t> starting;  // ready_at_ms, oldest first
  int64_t total() const { return ready + static_cast<int64_t>(starting.size()); }
  void Advance(int64_t now_ms) {
    while (!starting.empty() && starting.front() <= now_ms) {
      starting.pop_front();
      ++ready;
    }
  }
  // Starting replicas are removed first (newest first), as a ReplicaSet deletes unready pods first.
  void Set(int64_t n, int64_t now_ms, int64_t delay_ms) {
    while (total() < n) starting.push_back(now_ms + delay_ms);
    while (total() > n && !starting.empty()) starting.pop_back();
    if (total() > n) ready = n;
    Advance(now_ms);
  }
};

// Which shared limit left a service short: none, its tenant's quota, the cluster.
enum class Scope { kNone, kTenant, kCluster };

struct PolicyService {
  Pods pods;
  Scope constrained = Scope::kNone;
  std::optional<double> cap_cores;  // prescale's CPU cap in force
  aggregator::ScalingState hpa_state;
  double polled_use = 0;  // keda: the last polled value
};

// A service's forecaster fed as the aggregator's ForecastEngine feeds it:
// 1-minute averages of demand, each once the minute is final.
struct ServiceForecast {
  std::unique_ptr<forecast::Forecaster> model;
  std::optional<double> upper;  // the largest upper bound over the horizons up to the policy's
};

class Replay {
 public:
  Replay(const Scenario& sc, std::vector<DemandSeries> demand, const ReplayOptions& options)
      : sc_(sc),
        demand_(std::move(demand)),
        options_(options),
        engine_(aggregator::DecisionOptions{0.1, 3, sc.cluster_cpu_cores, 0}),
        hpa_policy_(aggregator::DefaultPolicy()) {}

  Result<ReplayResult> Run();

 private:
  Status Setup();
  void Step(int64_t t);
  void RunPrescale(int64_t t);
  void RunHpa(size_t policy, int64_t t);
  void FeedForecasts(int64_t t);
  int64_t FirstCome(size_t policy, size_t i, int64_t want, Scope* scope) const;
  void Measure(int64_t t, int64_t dt);
  void Record(int64_t t, int64_t dt);
  double Provided(size_t p, size_t i) const;
  void CountAction(size_t p, size_t i, int64_t t) {
    if (t < sc_.warmup.count()) return;
    ++result_.totals[p].actions;
    ++result_.services[i].totals[p].actions;
  }
  double Use(size_t i, int64_t t) const { return demand_[i].At(t - sc_.metric_lag.count()); }
  size_t TenantIndex(const std::string& name) const {
    for (size_t k = 0; k < sc_.tenants.size(); ++k) {
      if (sc_.tenants[k].name == name) return k;
    }
    return 0;
  }

  const Scenario& sc_;
  std::vector<DemandSeries> demand_;
  const ReplayOptions& options_;
  aggregator::DecisionEngine engine_;
  aggregator::ScalingPolicy hpa_policy_;
  std::vector<std::shared_ptr<const aggregator::ScalingPolicy>> policies_;
  std::vector<ServiceForecast> forecasts_;
  std::vector<std::vector<double>> minute_sum_;  // per service: demand summed per virtual minute
  std::vector<int64_t> minute_n_;
  std::array<std::vector<PolicyService>, kPolicies> state_;
  std::vector<size_t> tenant_of_;
  ReplayResult result_;
  // Per-minute accumulation for the tracks.
  std::vector<double> acc_demand_;
  std::array<std::vector<double>, kPolicies> acc_provided_;
  int64_t acc_n_ = 0;
};

Status Replay::Setup() {
  const size_t n = sc_.services.size();
  for (size_t i = 0; i < n; ++i) {
    const ScenarioService& s = sc_.services[i];
    tenant_of_.push_back(TenantIndex(s.spec.tenant));
    policies_.push_back(std::make_shared<const aggregator::ScalingPolicy>(s.policy));
    forecast::ForecastSpec spec;
    spec.model = s.policy.forecaster;
    spec.params["horizon_s"] = static_cast<double>(s.policy.horizon_seconds);
    spec.options.step = milliseconds(kMinuteMs);
    spec.options.coverage = sc_.forecast.coverage;
    spec.options.max_history = 2 * 24 * 60;
    auto made = forecast::MakeForecaster(spec);
    if (!made.ok()) {
      return Status::InvalidArgument("services[" + std::to_string(i) +
                                     "].policy.forecaster: " + made.status().message());
    }
    forecasts_.push_back({std::move(made).value(), std::nullopt});
    ServiceTrack track;
    track.tenant = s.spec.tenant;
    track.service = s.spec.name;
    track.priority = s.spec.priority;
    result_.services.push_back(std::move(track));
  }
  minute_sum_.assign(n, {});
  acc_demand_.assign(n, 0);
  for (size_t p = 0; p < kPolicies; ++p) {
    state_[p].resize(n);
    acc_provided_[p].assign(n, 0);
    for (size_t i = 0; i < n; ++i) state_[p][i].pods.ready = sc_.services[i].spec.replicas.current;
  }
  // Static: sized once for the peak of the whole replayed window, first-come.
  for (size_t i = 0; i < n; ++i) {
    const aggregator::Service& spec = sc_.services[i].spec;
    const double peak = *std::max_element(demand_[i].values.begin(), demand_[i].values.end());
    const double per_replica = spec.request_cpu_cores * spec.target_utilization.at("cpu");
    int64_t want = static_cast<int64_t>(std::ceil(peak / per_replica - kEpsilon));
    want = std::clamp(want, spec.replicas.min, spec.replicas.max);
    state_[kStatic][i].pods.ready = 0;
    Scope scope = Scope::kNone;
    state_[kStatic][i].pods.ready = FirstCome(kStatic, i, want, &scope);
    state_[kStatic][i].constrained = scope;
    if (scope != Scope::kNone) {
      result_.notes.push_back("static: " + spec.tenant + "/" + spec.name + " granted " +
                              std::to_string(state_[kStatic][i].pods.ready) + " of " + std::to_string(want) +
                              " replicas (quota or capacity)");
    }
  }
  return Status::Ok();
}

// How many of `want` replicas service i may hold under policy p when capacity
// is first-come: growth beyond the tenant's quotas or the cluster is cut.
int64_t Replay::FirstCome(size_t p, size_t i, int64_t want, Scope* scope) const {
  const aggregator::Service& spec = sc_.services[i].spec;
  const int64_t have = state_[p][i].pods.total();
  *scope = Scope::kNone;
  if (want <= have) return want;
  const double cpu = spec.request_cpu_cores;
  double cluster_used = 0, tenant_cpu = 0;
  int64_t tenant_replicas = 0;
  for (size_t k = 0; k < sc_.services.size(); ++k) {
    const double c = static_cast<double>(state_[p][k].pods.total()) * sc_.services[k].spec.request_cpu_cores;
    cluster_used += c;
    if (tenant_of_[k] == tenant_of_[i]) {
      tenant_cpu += c;
      tenant_replicas += state_[p][k].pods.total();
    }
  }
  int64_t room = want - have;
  const aggregator::TenantQuotas& q = sc_.tenants[tenant_of_[i]].quotas;
  auto fit = [&](double left, Scope s) {
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::floor(left / cpu + kEpsilon)));
    if (n < room) room = n, *scope = s;
  };
  if (q.cpu_cores) fit(*q.cpu_cores - tenant_cpu, Scope::kTenant);
  if (q.replicas && *q.replicas - tenant_replicas < room) {
    room = std::max<int64_t>(0, *q.replicas - tenant_replicas);
    *scope = Scope::kTenant;
  }
  if (sc_.cluster_cpu_cores > 0) fit(sc_.cluster_cpu_cores - cluster_used, Scope::kCluster);
  return have + room;
}

void Replay::FeedForecasts(int64_t t) {
  // At t (a minute boundary) the minute that ended kSettleMs ago is final.
  const int64_t minute = (t - kSettleMs) / kMinuteMs - 1;
  if (t < kSettleMs + kMinuteMs || (t - kSettleMs) % kMinuteMs != 0) return;
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    if (static_cast<size_t>(minute) >= minute_sum_[i].size()) continue;
    const double avg = minute_sum_[i][static_cast<size_t>(minute)] / static_cast<double>(minute_n_[minute]);
    ServiceForecast& f = forecasts_[i];
    f.model->Observe(kEpochMs + minute * kMinuteMs, avg);
    // As the aggregator's DecisionLoop: the upper bound over every forecast
    // whose target minute falls between the last minute and now + the
    // policy's horizon (the forecasts start from the newest final minute),
    // else the nearest one.
    const int64_t horizon_ms = sc_.services[i].policy.horizon_seconds * 1000;
    f.upper.reset();
    for (const auto& h : sc_.forecast.horizons) {
      const int64_t target = minute * kMinuteMs + h.count();
      if (target >= t - kMinuteMs && target <= t + horizon_ms) {
        const double u = f.model->Forecast(h).upper;
        f.upper = std::max(f.upper.value_or(u), u);
      }
    }
    if (!f.upper && !sc_.forecast.horizons.empty()) f.upper = f.model->Forecast(sc_.forecast.horizons.front()).upper;
  }
}

void Replay::RunPrescale(int64_t t) {
  std::vector<aggregator::ServiceInput> inputs;
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    aggregator::ServiceInput in;
    in.spec = sc_.services[i].spec;
    in.spec.replicas.current = state_[kPrescale][i].pods.total();
    in.policy = policies_[i];
    in.demand.push_back({"cpu", Use(i, t), forecasts_[i].upper});
    in.models["cpu"] = forecasts_[i].model->model();
    inputs.push_back(std::move(in));
  }
  engine_.SetCapacity(sc_.cluster_cpu_cores, 0);
  const std::vector<aggregator::Decision> decisions =
      engine_.Evaluate(sc_.tenants, inputs, TimePoint(milliseconds(kEpochMs + t)));
  for (size_t i = 0; i < decisions.size(); ++i) {
    const aggregator::Decision& d = decisions[i];
    PolicyService& ps = state_[kPrescale][i];
    if (d.execute && d.to_replicas != ps.pods.total()) {
      ps.pods.Set(d.to_replicas, t, sc_.services[i].startup_delay.count());
      CountAction(kPrescale, i, t);
    }
    ps.constrained = !d.constrained                        ? Scope::kNone
                     : d.limited_by.starts_with("tenant")  ? Scope::kTenant
                     : d.limited_by.starts_with("cluster") ? Scope::kCluster
                                                           : Scope::kNone;
    ps.cap_cores = d.cpu_cap_cores;
  }
}

void Replay::RunHpa(size_t p, int64_t t) {
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    const ScenarioService& s = sc_.services[i];
    PolicyService& ps = state_[p][i];
    if (p == kKeda && t % kKedaPollMs == 0) ps.polled_use = Use(i, t);
    const double use = p == kKeda ? ps.polled_use : Use(i, t);
    aggregator::Service spec = s.spec;
    spec.replicas.current = ps.pods.total();
    std::string reason;
    const int64_t raw = aggregator::DesiredReplicas(spec, aggregator::PolicyMode::kReactive,
                                                    {{"cpu", use, std::nullopt}}, 0.1, &reason);
    const TimePoint now(milliseconds(kEpochMs + t));
    const int64_t want =
        hpa_policy_.Decide(spec.replicas.current, raw, spec.replicas.min, spec.replicas.max, now, &ps.hpa_state);
    Scope scope = Scope::kNone;
    const int64_t granted = FirstCome(p, i, want, &scope);
    ps.constrained = scope;
    if (granted != ps.pods.total()) {
      hpa_policy_.Record(ps.pods.total(), granted, now, &ps.hpa_state);
      ps.pods.Set(granted, t, s.startup_delay.count());
      CountAction(p, i, t);
    }
  }
}

double Replay::Provided(size_t p, size_t i) const {
  const PolicyService& ps = state_[p][i];
  double provided = static_cast<double>(ps.pods.ready) * sc_.services[i].spec.request_cpu_cores;
  if (ps.cap_cores) provided = std::min(provided, *ps.cap_cores);
  return provided;
}

// Priority inversion: service A is short (demand above what it is provided)
// while its last allocation was cut by a shared limit (its tenant's quota or
// the cluster's capacity), and a service of lower priority under the same
// limit (the same tenant for a quota, any tenant for the cluster) holds more
// than its minimum replicas.
void Replay::Measure(int64_t t, int64_t dt) {
  const double minutes = static_cast<double>(dt) / kMinuteMs;
  const double hours = static_cast<double>(dt) / 3'600'000.0;
  for (size_t p = 0; p < kPolicies; ++p) {
    for (size_t i = 0; i < sc_.services.size(); ++i) {
      const aggregator::Service& spec = sc_.services[i].spec;
      const PolicyService& ps = state_[p][i];
      const size_t prio = static_cast<size_t>(spec.priority);
      const double demand = demand_[i].At(t);
      const double provisioned = static_cast<double>(ps.pods.total()) * spec.request_cpu_cores;
      const bool short_now = demand > Provided(p, i) + kEpsilon;
      bool inverted = false;
      if (short_now && ps.constrained != Scope::kNone) {
        for (size_t k = 0; k < sc_.services.size() && !inverted; ++k) {
          const aggregator::Service& other = sc_.services[k].spec;
          inverted = other.priority > spec.priority && state_[p][k].pods.total() > other.replicas.min &&
                     (ps.constrained == Scope::kCluster || tenant_of_[k] == tenant_of_[i]);
        }
      }
      for (ReplayTotals* tot : {&result_.totals[p], &result_.services[i].totals[p]}) {
        if (short_now) tot->under_minutes[prio] += minutes;
        if (short_now && ps.constrained != Scope::kNone) tot->under_limited_minutes += minutes;
        if (ps.cap_cores) tot->throttled_minutes[prio] += minutes;
        if (inverted) tot->inversion_minutes += minutes;
        tot->provisioned_core_hours += provisioned * hours;
        tot->over_core_hours += std::max(0.0, provisioned - demand) * hours;
        tot->demand_core_hours += demand * hours;
      }
    }
  }
  result_.measured_minutes += minutes;
}

void Replay::Record(int64_t t, int64_t dt) {
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    acc_demand_[i] += demand_[i].At(t);
    for (size_t p = 0; p < kPolicies; ++p) acc_provided_[p][i] += Provided(p, i);
  }
  ++acc_n_;
  if ((t + dt) % kMinuteMs != 0) return;
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    ServiceTrack& track = result_.services[i];
    track.demand_cores.push_back(acc_demand_[i] / static_cast<double>(acc_n_));
    acc_demand_[i] = 0;
    for (size_t p = 0; p < kPolicies; ++p) {
      track.provided_cores[p].push_back(acc_provided_[p][i] / static_cast<double>(acc_n_));
      acc_provided_[p][i] = 0;
    }
  }
  acc_n_ = 0;
}

void Replay::Step(int64_t t) {
  const size_t minute = static_cast<size_t>(t / kMinuteMs);
  if (minute_n_.size() <= minute) minute_n_.resize(minute + 1, 0);
  ++minute_n_[minute];
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    if (minute_sum_[i].size() <= minute) minute_sum_[i].resize(minute + 1, 0);
    minute_sum_[i][minute] += demand_[i].At(t);
  }
  for (size_t p = 0; p < kPolicies; ++p) {
    for (PolicyService& ps : state_[p]) ps.pods.Advance(t);
  }
  if (t % kMinuteMs == 0) FeedForecasts(t);
  if (t % sc_.tick.count() == 0) RunPrescale(t);
  if (t % kHpaSyncMs == 0) {
    RunHpa(kHpa, t);
    RunHpa(kKeda, t);
  }
}

Result<ReplayResult> Replay::Run() {
  PRESCALE_RETURN_IF_ERROR(Setup());
  int64_t length = 0;
  for (const DemandSeries& d : demand_) length = std::max(length, d.length_ms());
  // The base step divides every period in play: the tick, HPA's 15 s, KEDA's 30 s, the minute.
  const int64_t dt = std::gcd(sc_.tick.count(), int64_t{5'000});
  length = (length + kMinuteMs - 1) / kMinuteMs * kMinuteMs;
  if (length <= sc_.warmup.count()) {
    return Status::InvalidArgument("warmup " + std::to_string(sc_.warmup.count() / 1000) +
                                   " s is not shorter than the replay (" + std::to_string(length / 1000) + " s)");
  }
  result_.start_ms = kEpochMs;
  const int64_t report_every = std::max<int64_t>(dt, length / 100 / dt * dt);
  for (int64_t t = 0; t < length; t += dt) {
    Step(t);
    if (t >= sc_.warmup.count()) Measure(t, dt);
    Record(t, dt);
    if (options_.progress && t % report_every == 0) options_.progress(t, length);
  }
  for (size_t i = 0; i < sc_.services.size(); ++i) {
    const ScenarioService& s = sc_.services[i];
    if (s.policy.mode == aggregator::PolicyMode::kPredictive) {
      result_.notes.push_back(s.spec.tenant + "/" + s.spec.name + ": forecaster " + s.policy.forecaster +
                              " answering with " + forecasts_[i].model->model());
    }
  }
  return std::move(result_);
}

}  // namespace

Result<ReplayResult> RunReplay(const Scenario& scenario, const ReplayOptions& options) {
  if (scenario.tick.count() <= 0 || scenario.tick.count() % 1000 != 0) {
    return Status::InvalidArgument("tick must be a positive whole number of seconds");
  }
  std::vector<DemandSeries> demand;
  for (size_t i = 0; i < scenario.services.size(); ++i) {
    auto d = LoadDemand(scenario.services[i], i, options.traces_dir);
    if (!d.ok()) return d.status();
    demand.push_back(std::move(d).value());
  }
  Replay replay(scenario, std::move(demand), options);
  return replay.Run();
}

}  // namespace prescale::sim
