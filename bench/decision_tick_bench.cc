// One decision tick over 10,000 services in 100 tenants (issue 6's goal: at
// most 50 ms on one core; issue 17's for PostgreSQL: under 100 ms). Measured:
//   BM_EngineEvaluate  DecisionEngine::Evaluate alone: desired replicas with
//                      forecasts, HPA behaviour, arbitration, throttling;
//   BM_DecisionLoopRun the whole tick as the aggregator runs it: tenants,
//                      policies, services and their status read from the
//                      control store, current use from the demand rollups
//                      (pushed as agents push), Evaluate, and the actions of
//                      what changed recorded (audit + outbox), once per
//                      control store, side by side:
//     /sqlite          the embedded store as the aggregator opens it: a file
//                      (here in $TMPDIR), synchronous=FULL;
//     /sqlite_memory   SQLite in memory (no file I/O: the loop and the store's
//                      SQL without the disk);
//     /postgresql      PostgresStore on the server of $PRESCALE_BENCH_POSTGRES_URL
//                      (a database of it the benchmark creates and drops;
//                      bench/decision_tick.sh starts a server and sets it),
//                      skipped, saying why, when it is unset.
// The loop takes the lease first, as the aggregator's leader does, so its action
// writes are fenced. Time moves 10 s a tick (the aggregator's tick_interval) on
// a clock of the benchmark's, whatever a tick costs. Each store is seeded once
// for all repetitions; its first tick (an action for most services: 9,465
// records, one transaction each) and the ticks until the services have
// converged (no action recorded; HPA behaviour's windows) run before the
// measured ones and are reported as counters (first_tick_ms, settle_ticks;
// records_per_tick for the measured ones). Between changes the tick asks the
// store only for its objects' generation and the services' status. With a
// store in another process the wall time ("Time") is the figure: "CPU" leaves
// out the server's.
// Half the cluster's capacity is demanded twice over, so arbitration and
// throttling do their work; five priorities; a third of the tenants with a CPU quota.
//   bench/decision_tick.sh     # starts PostgreSQL, runs this with repetitions, prints the table
//   build/bin/prescale-bench-decision-tick --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/objects.h"
#include "prescale/aggregator/control/postgres_store.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "prescale/aggregator/scaling/decision_loop.h"
#include "prescale/decide/control_model.h"
#include "prescale/decide/decision.h"

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

enum class StoreKind { kSqlite, kSqliteMemory, kPostgres };

// Runs one SQL command on `url` (CREATE/DROP DATABASE: no transaction).
Status ExecSql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status =
        Status::Unavailable(std::string("cannot connect to $PRESCALE_BENCH_POSTGRES_URL: ") + PQerrorMessage(conn));
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = Status::Internal(sql + ": " + PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return status;
}

// `url` with its database name replaced by `database` (its parameters kept).
std::string WithDatabase(const std::string& url, const std::string& database) {
  const size_t authority = url.find("://") + 3;
  const size_t query = url.find('?', authority);
  const size_t end = std::min(url.find('/', authority), query);
  return url.substr(0, end) + "/" + database + (query == std::string::npos ? "" : url.substr(query));
}

// A fresh, empty control store of one kind, removed (file or database) on destruction.
// Seeding opens it with cheap commits (SQLite synchronous=NORMAL, PostgreSQL
// synchronous_commit=off): 10,100 durable commits would only make the run longer;
// Reopen then opens it as the aggregator does (SQLite synchronous=FULL, PostgreSQL's defaults).
class BenchStore {
 public:
  explicit BenchStore(StoreKind kind) : kind_(kind) {}
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;
  ~BenchStore() {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!database_.empty()) (void)ExecSql(server_url_, "DROP DATABASE IF EXISTS \"" + database_ + "\"");
  }

  // Makes the place and opens it for seeding; kFailedPrecondition when the
  // store cannot be measured here (no PostgreSQL URL).
  Status Create() {
    if (kind_ == StoreKind::kSqlite) {
      std::string dir_template = std::filesystem::temp_directory_path() / "prescale-bench-tick.XXXXXX";
      if (::mkdtemp(dir_template.data()) == nullptr) return Status::IoError("mkdtemp " + dir_template);
      dir_ = dir_template;
    } else if (kind_ == StoreKind::kPostgres) {
      const char* url = std::getenv("PRESCALE_BENCH_POSTGRES_URL");
      if (url == nullptr || *url == '\0') {
        return Status::FailedPrecondition(
            "PRESCALE_BENCH_POSTGRES_URL is not set (bench/decision_tick.sh starts a server and sets it)");
      }
      server_url_ = url;
      const std::string name = "prescale_tick_" + std::to_string(::getpid()) + "_" + std::to_string(++database_count_);
      PRESCALE_RETURN_IF_ERROR(ExecSql(server_url_, "CREATE DATABASE \"" + name + "\""));
      database_ = name;
    }
    return Open(/*seeding=*/true);
  }
  // Closes the store and opens it again with the aggregator's options.
  Status Reopen() {
    if (kind_ == StoreKind::kSqliteMemory) return Status::Ok();  // in memory: nothing to reopen, nothing durable
    store_.reset();
    return Open(/*seeding=*/false);
  }
  ControlStore* get() const { return store_.get(); }

 private:
  Status Open(bool seeding) {
    Result<std::unique_ptr<ControlStore>> opened = Status::Internal("unset");
    switch (kind_) {
      case StoreKind::kSqlite:
        opened = OpenSqliteStore(dir_ + "/control.db", SqliteStoreOptions{.synchronous_full = !seeding});
        break;
      case StoreKind::kSqliteMemory: opened = OpenSqliteStore(":memory:", SqliteStoreOptions{}); break;
      case StoreKind::kPostgres: {
        std::string url = WithDatabase(server_url_, database_);
        if (seeding) {
          url += url.find('?') == std::string::npos ? "?" : "&";
          url += "options=-c%20synchronous_commit%3Doff";
        }
        opened = OpenPostgresStore(url, PostgresStoreOptions{});
        break;
      }
    }
    if (!opened.ok()) return opened.status();
    store_ = std::move(opened).value();
    return Status::Ok();
  }

  StoreKind kind_;
  std::string dir_;
  std::string server_url_, database_;
  std::unique_ptr<ControlStore> store_;
  static inline int database_count_ = 0;
};

// The highest audit seq (the number of records: seq has no gaps).
Result<int64_t> AuditRecords(ControlStore* store) {
  AuditQuery query;
  query.limit = 1000;
  int64_t last = 0;
  for (;;) {
    query.after_seq = last;
    PRESCALE_ASSIGN_OR_RETURN(const Page<AuditRecord> page, store->ListAudit(query));
    if (page.items.empty()) return last;
    last = page.items.back().seq;
  }
}

// The aggregator's time as the benchmark moves it: 10 s a tick, as its tick_interval, whatever
// the tick costs (a first tick that writes 10,000 durable records takes a minute on a disk; on
// the system clock the loop would then see a minute pass and scale services on).
class TickClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return wall_; }
  std::chrono::steady_clock::time_point Monotonic() const override { return mono_; }
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, std::stop_token) const override {
    return mono_ >= deadline;  // nothing waits on it
  }
  void Advance(std::chrono::milliseconds d) {
    wall_ += d;
    mono_ += d;
  }

 private:
  std::chrono::system_clock::time_point wall_ = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point mono_ = std::chrono::steady_clock::now();
};

// What the aggregator holds for the tick: the control store's objects, the
// agents' pushes in the raw series and the demand rollups, and a forecast of
// every demand series.
struct Cluster {
  static ForecastSettings Holt() {
    ForecastSettings settings;
    settings.model = "holt";
    return settings;
  }

  explicit Cluster(StoreKind kind) : store(kind) {}

  TickClock clock;
  BenchStore store;
  DemandRollups demand{DemandOptions{}, clock};
  // Forecasts as the aggregator keeps them (holt: a quick setup; the model does not matter to the tick).
  ForecastEngine forecasts{Holt(), demand, clock};
  SeriesStore series{SeriesStoreOptions{}, clock, &demand};
  std::vector<remote_write::TimeSeries> push;  // one CPU counter per service
  std::vector<double> rates;                   // cores each service uses
  double demanded = 0;                         // cores wanted at the target utilisation

  // Stores an object from its JSON as the API would (BuildObject), audited as "apply".
  Status Put(ObjectKind kind, const std::string& json, const std::string& tenant, int64_t now_ms) {
    PRESCALE_ASSIGN_OR_RETURN(BuiltObject built, BuildObject(kind, json, ObjectKey{kind, tenant, ""}));
    AuditRecord audit;
    audit.time_ms = now_ms;
    audit.actor = "bench";
    audit.action = "apply";
    audit.kind = std::string(ObjectKindName(kind));
    audit.tenant = built.object.owner;
    audit.name = built.object.key.name;
    return store.get()->Put(std::move(built.object), WriteMode::kUpsert, std::nullopt, std::move(audit)).status();
  }

  // Stores the tenants and services; then pushes their use as an agent pushes
  // it (samples of a CPU counter 10 s apart, up to 10 s ago) and an hour of
  // history per service (as a backfill would give).
  Status Seed() {
    PRESCALE_RETURN_IF_ERROR(store.Create());
    std::mt19937 rng(42);
    const int64_t seed_ms = ToUnixMillis(clock.Now());
    for (int t = 0; t < kTenants; ++t) {
      const std::string quota = t % 3 == 0 ? R"(,"quotas":{"cpu_cores":150})" : "";
      PRESCALE_RETURN_IF_ERROR(
          Put(ObjectKind::kTenant, R"({"name":")" + TenantName(t) + "\"" + quota + "}", "", seed_ms));
    }
    std::vector<std::pair<std::string, std::string>> names;  // tenant, service
    for (int s = 0; s < kServices; ++s) {
      const Service v = MakeService(s, rng);
      const std::string json = std::string(R"({"name":")") + v.name + R"(","priority":")" +
                               std::string(PriorityName(v.priority)) + R"(","replicas":{"current":)" +
                               std::to_string(v.replicas.current) + R"(,"min":1,"max":60},"requests":{"cpu_cores":)" +
                               std::to_string(v.request_cpu_cores) + R"(},"target_utilization":{"cpu":0.7}})";
      PRESCALE_RETURN_IF_ERROR(Put(ObjectKind::kService, json, v.tenant, seed_ms));
      const double use = v.request_cpu_cores * std::uniform_real_distribution<double>(0.5, 25)(rng);
      demanded += use / 0.7;
      rates.push_back(use);
      names.emplace_back(v.tenant, v.name);
    }
    PRESCALE_RETURN_IF_ERROR(store.Reopen());
    const int64_t now_ms = ToUnixMillis(clock.Now());
    for (size_t i = 0; i < names.size(); ++i) {
      const double use = rates[i];
      push.push_back({{{"__name__", "container_cpu_usage_seconds_total"},
                       {"service", names[i].second},
                       {"tenant", names[i].first}},
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

  // 10 s pass; the agents push again: each service's counter moves on at its
  // rate, stamped 10 s ago; the forecasts are brought up to date (as the
  // aggregator's own tick does; not part of the decision tick).
  void NextTick() {
    clock.Advance(std::chrono::seconds(10));
    const int64_t t = ToUnixMillis(clock.Now()) - 10'000;
    for (size_t i = 0; i < push.size(); ++i) {
      const remote_write::Sample last = push[i].samples.back();
      push[i].samples = {{last.value + rates[i] * static_cast<double>(t - last.timestamp_ms) / 1000.0, t}};
    }
    AppendStats pushed;
    (void)series.Append(push, &pushed);
    forecasts.Tick();
  }
};

// One store's cluster and decision loop, seeded, past its first tick and
// settled, kept for every repetition of its benchmark: seeding 10,100 objects
// and the first tick's 9,465 durable records take seconds to a minute here.
struct Fixture {
  explicit Fixture(StoreKind kind) : cluster(kind) {}

  Status Prepare() {
    const auto seed_start = std::chrono::steady_clock::now();
    if (Status s = cluster.Seed(); !s.ok()) return Status::Internal("seeding failed: " + s.message());
    seed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - seed_start).count();
    ControlStore* store = cluster.store.get();
    forecast_series = cluster.forecasts.Tick();
    loop = std::make_unique<DecisionLoop>(
        store, &cluster.demand, &cluster.forecasts, &cluster.series, cluster.clock,
        DecisionLoopOptions{.cluster_cpu_cores = cluster.demanded / 2, .capacity_reserve = 0}, [this] {
          // Action ids from a counter (the aggregator's come from OpenSSL's generator).
          char id[32];
          std::snprintf(id, sizeof id, "act_%024llx", static_cast<unsigned long long>(++actions));
          return std::string(id);
        });
    // As the leader does before it acts: from now on the action writes are fenced.
    if (auto lease = store->AcquireLease("bench", ToUnixMillis(cluster.clock.Now()), int64_t{24} * 3'600'000);
        !lease.ok()) {
      return Status::Internal("taking the lease failed: " + lease.status().message());
    }
    // The first tick records an action for every service that changes.
    PRESCALE_ASSIGN_OR_RETURN(int64_t records, AuditRecords(store));
    const int64_t seeded_records = records;
    const auto first_start = std::chrono::steady_clock::now();
    PRESCALE_RETURN_IF_ERROR(loop->Run());
    first_tick_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first_start).count();
    PRESCALE_ASSIGN_OR_RETURN(records, AuditRecords(store));
    first_tick_records = records - seeded_records;
    // Then services converge, 10 s a tick (HPA behaviour's rate limits and
    // stabilisation windows: here waves of actions 20 s and 190 s after the
    // first tick): the ticks measured are the steady state after 5 minutes
    // (the longest default window) without an action.
    int quiet_ticks = 0;
    for (settle_ticks = 0; settle_ticks < kMaxSettleTicks && quiet_ticks < kQuietTicks; ++settle_ticks) {
      cluster.NextTick();
      PRESCALE_RETURN_IF_ERROR(loop->Run());
      PRESCALE_ASSIGN_OR_RETURN(const int64_t now_records, AuditRecords(store));
      quiet_ticks = now_records == records ? quiet_ticks + 1 : 0;
      settle_records += now_records - records;
      records = now_records;
    }
    return Status::Ok();
  }

  static constexpr int kMaxSettleTicks = 120;
  static constexpr int kQuietTicks = 30;
  Cluster cluster;
  std::unique_ptr<DecisionLoop> loop;
  uint64_t actions = 0;
  size_t forecast_series = 0;
  double seed_s = 0, first_tick_ms = 0;
  int64_t first_tick_records = 0;
  int settle_ticks = 0;
  int64_t settle_records = 0;
  Status prepared = Status::Internal("not prepared");
};

void BM_DecisionLoopRun(benchmark::State& state, StoreKind kind) {
  static std::map<StoreKind, std::unique_ptr<Fixture>> fixtures;
  std::unique_ptr<Fixture>& fixture = fixtures[kind];
  if (fixture == nullptr) {
    fixture = std::make_unique<Fixture>(kind);
    fixture->prepared = fixture->Prepare();
  }
  if (!fixture->prepared.ok()) {
    state.SkipWithError(fixture->prepared.message().c_str());
    return;
  }
  Fixture& f = *fixture;
  ControlStore* store = f.cluster.store.get();
  const Result<int64_t> before = AuditRecords(store);
  for (auto _ : state) {
    state.PauseTiming();  // 10 s pass and the agents push (not timed)
    f.cluster.NextTick();
    state.ResumeTiming();
    if (Status s = f.loop->Run(); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
  }
  size_t constrained = 0;
  for (const Decision& d : f.loop->Latest("")) constrained += d.constrained ? 1 : 0;
  const Result<int64_t> after = AuditRecords(store);
  state.counters["services"] = kServices;
  state.counters["constrained"] = static_cast<double>(constrained);
  state.counters["seed_s"] = f.seed_s;
  state.counters["first_tick_ms"] = f.first_tick_ms;
  state.counters["first_tick_records"] = static_cast<double>(f.first_tick_records);
  state.counters["settle_ticks"] = f.settle_ticks;
  state.counters["settle_records"] = static_cast<double>(f.settle_records);
  state.counters["forecasts"] = static_cast<double>(f.forecast_series);
  state.counters["keys"] = static_cast<double>(f.cluster.demand.Keys({}).size());
  if (before.ok() && after.ok()) {
    // Actions the measured ticks recorded, per tick.
    state.counters["records_per_tick"] =
        static_cast<double>(*after - *before) / static_cast<double>(state.iterations());
  }
}
BENCHMARK_CAPTURE(BM_DecisionLoopRun, sqlite, StoreKind::kSqlite)->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK_CAPTURE(BM_DecisionLoopRun, sqlite_memory, StoreKind::kSqliteMemory)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_DecisionLoopRun, postgresql, StoreKind::kPostgres)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace prescale::aggregator

BENCHMARK_MAIN();
