// `prescale-sim forecast`: its flags and its run. Parsing is pure; running
// reads the trace, evaluates, prints and writes files. Single-threaded.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/forecast/prom_functions.h"
#include "prescale/sim/evaluation.h"
#include "prescale/sim/trace.h"

namespace prescale::sim {

struct ForecastCommand {
  bool help = false;
  bool quiet = false;  // no progress line
  std::string trace_path;
  TraceOptions trace;
  std::chrono::milliseconds step{0};  // 0: the trace's median sample interval
  EvalOptions eval;                   // horizon, models, warmup, max_origins, score window
  double coverage = 0.9;              // the interval the models are asked for
  forecast::PromBaselineOptions prom;
  std::string output_csv;
  std::string summary_csv;
  std::string plot_path;
  std::string plot_model;  // "" : auto when evaluated, else the first model
};

std::string ForecastUsage();

// argv[0] is "forecast". InvalidArgument naming the flag: unknown flags, a
// missing --trace or --horizon, bad durations or numbers, unknown models
// (`known_models` lists the accepted names; "all" means all of them).
Result<ForecastCommand> ParseForecastCommandLine(int argc, const char* const* argv,
                                                 const std::vector<std::string>& known_models);

// The model names `--models` accepts: the forecaster library's, the PromQL grid
// (prom_grid.h) and the two single-setting Prometheus baselines. The default and
// `--models all` are all but the last two (the grid holds their default settings).
std::vector<std::string> AllModelNames();

// Runs the evaluation; the table goes to `out`, progress and errors to `err`.
// Returns the exit code: 0 done, 2 bad input (the message names the flag,
// file or line), 1 another failure (e.g. an output file cannot be written).
int RunForecast(const ForecastCommand& command, std::FILE* out, std::FILE* err);

}  // namespace prescale::sim
