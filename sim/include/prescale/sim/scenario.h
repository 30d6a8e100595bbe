// A replay scenario for `prescale-sim replay`: tenants with quotas, services
// with their priority, per-replica CPU, replica bounds, start-up delay and
// scaling policy, each service's demand taken from a CSV trace (scaled and
// time-compressed), and the cluster's capacity. Parsed from YAML; every error
// names the file, the line and the key ("s.yaml:12: services[0].priority: ...").
// Value types and pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/decide/allocator.h"
#include "prescale/decide/control_model.h"

namespace prescale::sim {

// Where a service's demand comes from: a column of a CSV trace, in cores
// after `scale`, regridded to `step` and replayed `step` -> `replay_step`.
struct DemandSource {
  std::string file;                                 // relative to the traces directory (or absolute)
  std::string column;                               // "" : the trace decoder's default column
  double scale = 1;                                 // value x scale = cores
  std::chrono::milliseconds row_interval{300'000};  // files without a time column
  std::chrono::milliseconds step{0};                // trace grid; 0: the trace's median interval
  std::chrono::milliseconds replay_step{0};         // virtual time per step; 0: no compression
  std::chrono::milliseconds start{0};               // offset into the trace (trace time)
  std::chrono::milliseconds duration{0};            // trace time replayed; 0: to the end
};

struct ScenarioService {
  aggregator::Service spec;  // tenant, name, priority, replicas (min/max/current), request_cpu_cores, target
  aggregator::Policy policy;
  std::chrono::milliseconds startup_delay{0};  // a new replica serves only after this
  DemandSource demand;
};

struct ScenarioForecast {
  std::string model = "auto";  // overridden per service by policy.forecaster when not "auto"
  std::vector<std::chrono::milliseconds> horizons = {std::chrono::minutes(5), std::chrono::minutes(15),
                                                     std::chrono::hours(1)};
  double coverage = 0.9;
};

struct Scenario {
  std::string name;
  std::chrono::milliseconds tick{10'000};        // the decision engine's evaluation period
  std::chrono::milliseconds warmup{0};           // virtual time run but not measured (forecasters learn)
  std::chrono::milliseconds metric_lag{15'000};  // how old the use every policy sees is
  double cluster_cpu_cores = 0;                  // <= 0: unlimited
  ScenarioForecast forecast;
  std::vector<aggregator::AllocationTenant> tenants;
  std::vector<ScenarioService> services;
};

// Parses scenario YAML; `file_name` prefixes errors.
Result<Scenario> ParseScenario(std::string_view yaml_text, const std::string& file_name);
// Reads and parses a file.
Result<Scenario> LoadScenario(const std::string& path);

}  // namespace prescale::sim
