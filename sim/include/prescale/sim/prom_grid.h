// The grid of PromQL forecasts prescale-sim compares its models with: the
// settings an operator could plausibly pick for predict_linear and holt_winters
// (double_exponential_smoothing), each a model name of `prescale-sim forecast`,
// and `prom_best`, the member with the lowest MAE per series over the scored
// origins, chosen in hindsight (no operator could pick it in advance, which
// makes it the strictest PromQL baseline). Pure data and functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prescale/forecast/forecaster.h"
#include "prescale/sim/evaluation.h"

namespace prescale::sim {

// One setting of one of the two functions of prom_functions.h.
struct PromGridMember {
  std::string name;      // e.g. "prom_lin_3h", "prom_hw_3h_sf0.1_tf0.6"
  std::string function;  // "prom_predict_linear" or "prom_double_exponential_smoothing"
  int64_t range_ms = 0;  // v[range]
  double sf = 0.5;       // holt_winters' smoothing factor (unused by predict_linear)
  double tf = 0.5;       // holt_winters' trend factor
};

inline constexpr char kPromBestName[] = "prom_best";

// predict_linear over 1h, 3h and 12h; holt_winters over 3h with sf and tf
// each in {0.1, 0.3, 0.6}: 12 members, in this order.
const std::vector<PromGridMember>& PromGrid();
std::vector<std::string> PromGridNames();
// nullptr when `name` is not a grid member.
const PromGridMember* FindPromGridMember(const std::string& name);

// The spec MakePromBaseline builds the member from (its function and range, sf, tf as params).
forecast::ForecastSpec PromGridSpec(const PromGridMember& member);

// Appends the `prom_best` score to result->scores when they hold at least one
// grid member: a copy of the member's score with the lowest MAE (the first on
// a tie; NaN MAE never wins unless all are NaN), `answering` naming it and
// `fit_seconds` the whole grid's (choosing in hindsight needs every member run).
void AddPromBest(EvalResult* result);

}  // namespace prescale::sim
