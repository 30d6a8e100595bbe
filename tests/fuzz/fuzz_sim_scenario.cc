// Fuzzes the scenario YAML decoder of `prescale-sim replay` (files users
// write and share), and checks what it accepts: at least one tenant and one
// service, every service in a known tenant, replica bounds in order, a
// positive per-replica CPU and a target in (0, 1], a named trace file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/sim/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::sim;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scenario = ParseScenario(text, "fuzz.yaml");
  if (!scenario.ok()) {
    if (scenario.status().message().empty()) std::abort();
    return 0;
  }
  if (scenario->tenants.empty() || scenario->services.empty() || scenario->tick.count() <= 0) std::abort();
  for (const ScenarioService& s : scenario->services) {
    bool known = false;
    for (const auto& t : scenario->tenants) known = known || t.name == s.spec.tenant;
    const auto& r = s.spec.replicas;
    const double target = s.spec.target_utilization.at("cpu");
    if (!known || r.min > r.max || r.current < r.min || r.current > r.max) std::abort();
    if (!(s.spec.request_cpu_cores > 0) || !(target > 0 && target <= 1) || s.demand.file.empty()) std::abort();
  }
  return 0;
}
