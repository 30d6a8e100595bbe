// What prescale-sim writes: the score table for people, the per-forecast CSV
// (origin_ts,horizon_s,target_ts,actual,model,point,lower,upper, Unix seconds)
// so anyone can recompute the errors, a one-row-per-model summary CSV for
// scripts, and the plot of one model's forecasts against the actuals (SVG
// drawn here; PNG through python3's matplotlib). Pure or file-writing
// functions; thread-safe on distinct files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prescale/base/status.h"
#include "prescale/sim/evaluation.h"

namespace prescale::sim {

// Unix seconds as text: an integer when whole, else with milliseconds.
std::string FormatUnixSeconds(int64_t timestamp_ms);

// An aligned table: model, forecasts, MASE, sMAPE %, RMSE, coverage, fit s, us/forecast.
std::string FormatScoreTable(const EvalResult& result);

// IoError naming the path when it cannot be written.
Status WriteForecastCsv(const std::string& path, const EvalResult& result, const EvalOptions& options);
// model,answering,forecasts,mase,smape,rmse,coverage,fit_s (coverage empty without intervals).
Status WriteSummaryCsv(const std::string& path, const EvalResult& result);

// Actual against `model`'s forecasts (by target time) with its interval band.
// ".svg" is written directly; ".png" pipes the data to python3 with
// matplotlib (Unavailable when that fails); anything else is InvalidArgument.
Status WritePlot(const std::string& path, const EvalResult& result, const EvalOptions& options,
                 const std::string& model, const std::string& title);

// One named line of a WriteLinesPlot: values[k] is at start_ms + k * step_ms.
struct PlotLine {
  std::string name;
  std::vector<double> values;
};

// Named lines over one time axis (the first drawn black); ".svg" or ".png" as WritePlot.
Status WriteLinesPlot(const std::string& path, const std::string& title, int64_t start_ms, int64_t step_ms,
                      const std::vector<PlotLine>& lines);

}  // namespace prescale::sim
