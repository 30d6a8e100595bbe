// The PromQL grid of `prescale-sim forecast`, prom_best (the grid's best in
// hindsight) and the score window (--half) that keeps tuning off the scored half.
#include "prescale/sim/prom_grid.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "prescale/forecast/prom_functions.h"
#include "prescale/sim/forecast_command.h"
#include "tests/sim/grid_series_util.h"
#include "tests/support/test_env.h"

namespace prescale::sim {
namespace {

using testing::Line;

using namespace std::chrono_literals;
using testing::ReadFileOrEmpty;
using testing::TempDir;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(PromGrid, HoldsTheIssuesTwelveSettings) {
  const std::vector<std::string> expected = {"prom_lin_1h",
                                             "prom_lin_3h",
                                             "prom_lin_12h",
                                             "prom_hw_3h_sf0.1_tf0.1",
                                             "prom_hw_3h_sf0.1_tf0.3",
                                             "prom_hw_3h_sf0.1_tf0.6",
                                             "prom_hw_3h_sf0.3_tf0.1",
                                             "prom_hw_3h_sf0.3_tf0.3",
                                             "prom_hw_3h_sf0.3_tf0.6",
                                             "prom_hw_3h_sf0.6_tf0.1",
                                             "prom_hw_3h_sf0.6_tf0.3",
                                             "prom_hw_3h_sf0.6_tf0.6"};
  EXPECT_EQ(PromGridNames(), expected);
  const PromGridMember* lin = FindPromGridMember("prom_lin_12h");
  ASSERT_NE(lin, nullptr);
  EXPECT_EQ(lin->function, "prom_predict_linear");
  EXPECT_EQ(lin->range_ms, 12 * 3'600'000);
  const PromGridMember* hw = FindPromGridMember("prom_hw_3h_sf0.3_tf0.6");
  ASSERT_NE(hw, nullptr);
  EXPECT_EQ(hw->function, "prom_double_exponential_smoothing");
  EXPECT_EQ(hw->range_ms, 3 * 3'600'000);
  EXPECT_EQ(hw->sf, 0.3);
  EXPECT_EQ(hw->tf, 0.6);
  EXPECT_EQ(FindPromGridMember("prom_best"), nullptr);
  EXPECT_EQ(FindPromGridMember("prom_predict_linear"), nullptr);
  // Every member is buildable from its spec.
  for (const PromGridMember& m : PromGrid()) EXPECT_TRUE(forecast::MakePromBaseline(PromGridSpec(m)).ok()) << m.name;
}

ModelScore Score(const std::string& model, double mae, double fit_seconds = 1) {
  ModelScore s;
  s.model = model;
  s.answering = model;
  s.forecasts = 10;
  s.mae = mae;
  s.mase = mae / 2;
  s.fit_seconds = fit_seconds;
  return s;
}

TEST(PromBest, TakesTheGridMemberWithTheLowestMaeAndNothingElse) {
  EvalResult r;
  r.scores = {Score("naive", 0.1),
              Score("prom_lin_1h", kNaN),
              Score("prom_lin_3h", 3, 2),
              Score("prom_hw_3h_sf0.3_tf0.1", 2, 4),
              Score("prom_hw_3h_sf0.6_tf0.6", 2, 8),
              Score("prom_predict_linear", 0.5)};
  AddPromBest(&r);
  ASSERT_EQ(r.scores.size(), 7u);
  const ModelScore& best = r.scores.back();
  EXPECT_EQ(best.model, "prom_best");
  // naive and the single-setting baseline are not grid members; the first of a tie wins; NaN never.
  EXPECT_EQ(best.answering, "prom_hw_3h_sf0.3_tf0.1");
  EXPECT_EQ(best.mae, 2);
  EXPECT_EQ(best.mase, 1);
  EXPECT_EQ(best.forecasts, 10u);
  EXPECT_EQ(best.fit_seconds, 1 + 2 + 4 + 8);  // the whole grid ran to find it

  EvalResult none;
  none.scores = {Score("naive", 1), Score("auto", 1)};
  AddPromBest(&none);
  EXPECT_EQ(none.scores.size(), 2u);
}

// A triangle wave at 5 minutes: 2 h up, 2 h down. predict_linear over 1 h sees
// a straight line except near the turns; over 3 h it always straddles one,
// over 12 h it sees a flat average; holt_winters over 3 h lags. So prom_lin_1h
// is the grid's best in hindsight.
std::string TriangleTrace() {
  std::string text = "timestamp,value\n";
  for (int i = 0; i < 3 * 288; ++i) {
    const int phase = i % 48;
    const int v = 100 + 10 * (phase < 24 ? phase : 48 - phase);
    text += std::to_string(1388534400 + i * 300) + "," + std::to_string(v) + "\n";
  }
  return text;
}

std::map<std::string, std::pair<std::string, double>> ReadSummary(const std::string& path) {
  std::map<std::string, std::pair<std::string, double>> rows;  // model -> (answering, mase)
  std::istringstream in(ReadFileOrEmpty(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "model,answering,forecasts,mase,smape,rmse,coverage,fit_s");
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream cell_in(line);
    std::string cell;
    while (std::getline(cell_in, cell, ',')) cells.push_back(cell);
    if (cells.size() < 4) continue;
    rows[cells[0]] = {cells[1], std::stod(cells[3])};
  }
  return rows;
}

int RunSim(const std::vector<const char*>& args, std::string* out) {
  std::vector<const char*> argv = {"forecast"};
  for (const char* a : args) argv.push_back(a);
  auto command = ParseForecastCommandLine(static_cast<int>(argv.size()), argv.data(), AllModelNames());
  EXPECT_TRUE(command.ok()) << command.status().ToString();
  if (!command.ok()) return -1;
  std::FILE* o = std::tmpfile();
  std::FILE* e = std::tmpfile();
  const int code = RunForecast(*command, o, e);
  std::rewind(o);
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, o)) > 0) out->append(buf, n);
  std::fclose(o);
  std::fclose(e);
  return code;
}

TEST(PromBest, RunsTheWholeGridByDefaultAndPicksTheBestInHindsight) {
  TempDir dir("prescale-prom-grid-test");
  const std::string trace = dir.Write("triangle.csv", TriangleTrace());
  const std::string summary = dir.path() + "/summary.csv";
  std::string out;
  ASSERT_EQ(RunSim({"--trace", trace.c_str(), "--horizon", "15m", "--models", "all", "--summary-csv", summary.c_str(),
                    "--max-origins", "200", "--quiet"},
                   &out),
            0);
  EXPECT_NE(out.find("chosen in hindsight (prom_lin_1h)"), std::string::npos) << out;
  const auto rows = ReadSummary(summary);
  for (const std::string& name : PromGridNames()) ASSERT_TRUE(rows.count(name)) << name;
  EXPECT_FALSE(rows.count("prom_predict_linear"));  // the grid's prom_lin_1h is the same function
  ASSERT_TRUE(rows.count("auto"));
  ASSERT_TRUE(rows.count("prom_best"));
  EXPECT_EQ(rows.at("prom_best").first, "prom_lin_1h");
  for (const std::string& name : PromGridNames()) {
    EXPECT_LE(rows.at("prom_best").second, rows.at(name).second) << name;
    if (name != "prom_lin_1h") {
      EXPECT_LT(rows.at("prom_lin_1h").second, rows.at(name).second) << name;
    }
  }
  EXPECT_EQ(rows.at("prom_best").second, rows.at("prom_lin_1h").second);
}

TEST(PromBest, TheLegacyBaselineEqualsItsGridMember) {
  TempDir dir("prescale-prom-grid-test");
  const std::string trace = dir.Write("triangle.csv", TriangleTrace());
  const std::string summary = dir.path() + "/summary.csv";
  std::string out;
  ASSERT_EQ(RunSim({"--trace", trace.c_str(), "--horizon", "1h", "--models", "prom_predict_linear,prom_lin_1h",
                    "--summary-csv", summary.c_str(), "--quiet"},
                   &out),
            0);
  const auto rows = ReadSummary(summary);
  EXPECT_EQ(rows.at("prom_predict_linear").second, rows.at("prom_lin_1h").second);
}

Result<std::unique_ptr<forecast::Forecaster>> LinearFactory(const std::string& name) {
  forecast::ForecastSpec spec;
  spec.model = name;
  return forecast::MakePromBaseline(spec);
}

TEST(ScoreWindow, HalvesScoreDisjointOriginsAndTargets) {
  EvalOptions o;
  o.horizon = 3min;
  o.warmup = 60min;
  o.models = {"prom_predict_linear"};
  const GridSeries line = Line(200);  // halves: grid points 0..99 and 100..199
  o.score_until = 0.5;
  auto first = Evaluate(line, o, LinearFactory);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->origins, 97u - 60);  // origins 60..96: every target before point 100
  for (const ForecastRecord& r : first->records) EXPECT_LT(r.target_ms, line.TimeAt(100));
  EXPECT_EQ(first->records.back().target_ms, line.TimeAt(99));
  o.score_from = 0.5;
  o.score_until = 1;
  auto second = Evaluate(line, o, LinearFactory);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->origins, 197u - 100);  // origins 100..196
  EXPECT_EQ(second->records.front().origin_ms, line.TimeAt(100));
  // max-origins spreads within the window.
  o.max_origins = 10;
  auto some = Evaluate(line, o, LinearFactory);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->origins, 10u);
  for (const ForecastRecord& r : some->records) EXPECT_GE(r.origin_ms, line.TimeAt(100));
  // The warm-up still holds inside the window.
  o.max_origins = 0;
  o.score_from = 0;
  o.score_until = 0.25;  // points 0..49, all warm-up
  auto empty = Evaluate(line, o, LinearFactory);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("inside the score window"), std::string::npos);
  o.score_from = 0.7;
  o.score_until = 0.6;
  EXPECT_FALSE(Evaluate(line, o, LinearFactory).ok());
}

TEST(ScoreWindow, HalfFlagReachesTheRun) {
  TempDir dir("prescale-prom-grid-test");
  const std::string trace = dir.Write("triangle.csv", TriangleTrace());  // 864 points: halves of 432
  std::string out;
  ASSERT_EQ(
      RunSim({"--trace", trace.c_str(), "--horizon", "15m", "--models", "naive", "--half", "first", "--quiet"}, &out),
      0);
  // Origins 288..428 (warm-up one day; targets before point 432).
  EXPECT_NE(out.find("141 origins in the first half"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(
      RunSim({"--trace", trace.c_str(), "--horizon", "15m", "--models", "naive", "--half", "second", "--quiet"}, &out),
      0);
  EXPECT_NE(out.find("429 origins in the second half"), std::string::npos) << out;  // 432..860
}

}  // namespace
}  // namespace prescale::sim
