#include "prescale/sim/prom_grid.h"

#include <cmath>
#include <cstdio>

namespace prescale::sim {
namespace {

constexpr int64_t kHourMs = 3'600'000;

std::vector<PromGridMember> BuildGrid() {
  std::vector<PromGridMember> grid;
  for (int hours : {1, 3, 12}) {
    grid.push_back({"prom_lin_" + std::to_string(hours) + "h", "prom_predict_linear", hours * kHourMs, 0.5, 0.5});
  }
  // 3h: long enough to smooth over a burst, short enough to follow a daily ramp;
  // the factors span slow, middling and fast reactions.
  for (double sf : {0.1, 0.3, 0.6}) {
    for (double tf : {0.1, 0.3, 0.6}) {
      char name[64];
      std::snprintf(name, sizeof name, "prom_hw_3h_sf%g_tf%g", sf, tf);
      grid.push_back({name, "prom_double_exponential_smoothing", 3 * kHourMs, sf, tf});
    }
  }
  return grid;
}

}  // namespace

const std::vector<PromGridMember>& PromGrid() {
  static const std::vector<PromGridMember>* const kGrid = new std::vector<PromGridMember>(BuildGrid());
  return *kGrid;
}

std::vector<std::string> PromGridNames() {
  std::vector<std::string> names;
  for (const PromGridMember& m : PromGrid()) names.push_back(m.name);
  return names;
}

const PromGridMember* FindPromGridMember(const std::string& name) {
  for (const PromGridMember& m : PromGrid()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

forecast::ForecastSpec PromGridSpec(const PromGridMember& member) {
  forecast::ForecastSpec spec;
  spec.model = member.function;
  spec.params["range_s"] = static_cast<double>(member.range_ms) / 1e3;
  spec.params["sf"] = member.sf;
  spec.params["tf"] = member.tf;
  return spec;
}

void AddPromBest(EvalResult* result) {
  const ModelScore* best = nullptr;
  double grid_seconds = 0;
  for (const ModelScore& s : result->scores) {
    if (FindPromGridMember(s.model) == nullptr) continue;
    grid_seconds += s.fit_seconds;
    // MAE, not MASE: the same order within a series, and defined on a constant series too.
    const bool better = best == nullptr || (std::isfinite(s.mae) && !(s.mae >= best->mae));
    if (better) best = &s;
  }
  if (best == nullptr) return;
  ModelScore row = *best;
  row.model = kPromBestName;
  row.answering = best->model;
  row.fit_seconds = grid_seconds;
  result->scores.push_back(std::move(row));
}

}  // namespace prescale::sim
