// Running `prescale-sim forecast`: trace -> grid -> rolling-origin evaluation
// -> table, CSVs and plot.
#include <algorithm>
#include <chrono>

#include "prescale/base/duration.h"
#include "prescale/forecast/forecaster.h"
#include "prescale/sim/forecast_command.h"
#include "prescale/sim/grid.h"
#include "prescale/sim/prom_grid.h"
#include "prescale/sim/report.h"

namespace prescale::sim {
namespace {

int BadInput(std::FILE* err, const std::string& message) {
  std::fprintf(err, "prescale-sim forecast: %s\n\n%s", message.c_str(), ForecastUsage().c_str());
  return 2;
}

int Failure(std::FILE* err, const std::string& message) {
  std::fprintf(err, "prescale-sim forecast: %s\n", message.c_str());
  return 1;
}

// Prometheus baselines by their names, everything else from the forecaster
// library, each on the evaluation grid and asked for the same coverage.
ModelFactory MakeFactory(const ForecastCommand& c, int64_t step_ms) {
  return [&c, step_ms](const std::string& name) -> Result<std::unique_ptr<forecast::Forecaster>> {
    forecast::ForecastSpec spec;
    spec.model = name;
    spec.options.step = std::chrono::milliseconds(step_ms);
    spec.options.coverage = c.coverage;
    if (const PromGridMember* member = FindPromGridMember(name); member != nullptr) {
      forecast::ForecastSpec grid_spec = PromGridSpec(*member);
      grid_spec.options = spec.options;
      return forecast::MakePromBaseline(grid_spec, c.prom);
    }
    const std::vector<std::string> prom = forecast::PromBaselineNames();
    if (std::find(prom.begin(), prom.end(), name) != prom.end()) return forecast::MakePromBaseline(spec, c.prom);
    // The horizon being evaluated is the one planned for: auto selects by MASE
    // at it and linear picks its window by the error at it.
    spec.params["horizon_s"] = static_cast<double>(c.eval.horizon.count()) / 1e3;
    return forecast::MakeForecaster(spec);
  };
}

// A progress line on stderr, at most twice a second, only for runs longer than a second.
ProgressFn MakeProgress(std::FILE* err, bool quiet) {
  if (quiet) return nullptr;
  const auto start = std::chrono::steady_clock::now();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(start);
  return [err, start, last](size_t done, size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done < total && (now - start < std::chrono::seconds(1) || now - *last < std::chrono::milliseconds(500))) {
      return;
    }
    if (done == total && now - start < std::chrono::seconds(1)) return;
    *last = now;
    std::fprintf(err, "\rprescale-sim: %3zu%% (%zu/%zu steps, %.0f s)%s", done * 100 / total, done, total,
                 std::chrono::duration<double>(now - start).count(), done == total ? "\n" : "");
    std::fflush(err);
  };
}

Status WriteOutputs(const ForecastCommand& c, const EvalResult& result, const std::string& title) {
  if (!c.output_csv.empty()) PRESCALE_RETURN_IF_ERROR(WriteForecastCsv(c.output_csv, result, c.eval));
  if (!c.summary_csv.empty()) PRESCALE_RETURN_IF_ERROR(WriteSummaryCsv(c.summary_csv, result));
  if (c.plot_path.empty()) return Status::Ok();
  std::string model = c.plot_model;
  if (model.empty()) {
    const auto& m = c.eval.models;
    model = std::find(m.begin(), m.end(), "auto") != m.end() ? "auto" : m.front();
  }
  return WritePlot(c.plot_path, result, c.eval, model, title + ", model " + model);
}

// Which origins were scored, when not all of them.
std::string ScoreWindowText(const EvalOptions& o) {
  if (o.score_from == 0 && o.score_until == 1) return "";
  if (o.score_from == 0 && o.score_until == 0.5) return " in the first half (targets too)";
  if (o.score_from == 0.5 && o.score_until == 1) return " in the second half";
  char buf[96];
  std::snprintf(buf, sizeof buf, " in [%g, %g) of the span", o.score_from, o.score_until);
  return buf;
}

}  // namespace

std::vector<std::string> AllModelNames() {
  std::vector<std::string> names = forecast::ModelNames();
  for (const std::string& p : PromGridNames()) names.push_back(p);
  for (const std::string& p : forecast::PromBaselineNames()) names.push_back(p);
  return names;
}

int RunForecast(const ForecastCommand& c, std::FILE* out, std::FILE* err) {
  auto trace = LoadTraceCsv(c.trace_path, c.trace);
  if (!trace.ok()) return BadInput(err, trace.status().message());
  if (trace->repeated_times_dropped > 0) {
    std::fprintf(err, "prescale-sim: %s: %zu rows repeating the previous row's time dropped\n", c.trace_path.c_str(),
                 trace->repeated_times_dropped);
  }
  const int64_t step_ms = c.step.count() > 0 ? c.step.count() : MedianIntervalMs(*trace);
  if (step_ms <= 0) return BadInput(err, c.trace_path + ": one sample is not enough; give --step");
  auto grid = Regrid(*trace, step_ms);
  if (!grid.ok()) return BadInput(err, grid.status().message());
  auto result = Evaluate(*grid, c.eval, MakeFactory(c, step_ms), MakeProgress(err, c.quiet));
  if (!result.ok()) return BadInput(err, c.trace_path + ": " + result.status().message());
  for (ModelScore& s : result->scores) {
    // A grid member answers with its function's name; its own name says more.
    if (FindPromGridMember(s.model) != nullptr) s.answering = s.model;
  }
  AddPromBest(&*result);
  const std::string title = c.trace_path + " [" + trace->value_column + "], horizon " + FormatDuration(c.eval.horizon) +
                            ", step " + FormatDuration(std::chrono::milliseconds(step_ms));
  std::fprintf(out, "%s: %zu origins%s, MASE scale (one-step naive MAE) %.6g\n%s", title.c_str(), result->origins,
               ScoreWindowText(c.eval).c_str(), result->naive_scale, FormatScoreTable(*result).c_str());
  if (result->scores.back().model == kPromBestName) {
    std::fprintf(out,
                 "prom_best: per series, the prom_* grid member with the lowest MAE over these origins, "
                 "chosen in hindsight (%s)\n",
                 result->scores.back().answering.c_str());
  }
  if (Status s = WriteOutputs(c, *result, title); !s.ok()) {
    return s.code() == StatusCode::kInvalidArgument ? BadInput(err, s.message()) : Failure(err, s.message());
  }
  return 0;
}

}  // namespace prescale::sim
