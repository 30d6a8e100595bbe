#include <gtest/gtest.h>

#include "prescale/sim/forecast_command.h"

namespace prescale::sim {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kKnown = {"naive", "auto", "prom_predict_linear"};

// argv as main passes it on: "forecast" first (built without vector::insert,
// which trips GCC 12's -Wnull-dereference).
Result<ForecastCommand> Parse(const std::vector<const char*>& args) {
  std::vector<const char*> argv = {"forecast"};
  for (const char* a : args) argv.push_back(a);
  return ParseForecastCommandLine(static_cast<int>(argv.size()), argv.data(), kKnown);
}

TEST(ForecastFlags, ParsesEveryFlag) {
  auto c = Parse({"--trace",
                  "t.csv",
                  "--column",
                  "avg_cpu",
                  "--time-column=ts",
                  "--horizon",
                  "15m",
                  "--models",
                  "naive,prom_predict_linear",
                  "--step",
                  "5m",
                  "--warmup",
                  "2d",
                  "--max-origins",
                  "500",
                  "--coverage",
                  "0.8",
                  "--prom-range",
                  "30m",
                  "--prom-sf",
                  "0.3",
                  "--prom-tf",
                  "0.1",
                  "--output-csv",
                  "o.csv",
                  "--summary-csv",
                  "s.csv",
                  "--plot",
                  "p.svg",
                  "--plot-model",
                  "naive",
                  "--quiet"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->trace_path, "t.csv");
  EXPECT_EQ(c->trace.column, "avg_cpu");
  EXPECT_EQ(c->trace.time_column, "ts");
  EXPECT_EQ(c->eval.horizon, 15min);
  EXPECT_EQ(c->eval.models, (std::vector<std::string>{"naive", "prom_predict_linear"}));
  EXPECT_EQ(c->step, 5min);
  EXPECT_EQ(c->eval.warmup, 48h);
  EXPECT_EQ(c->eval.max_origins, 500u);
  EXPECT_EQ(c->coverage, 0.8);
  EXPECT_EQ(c->prom.range_ms, 1'800'000);
  EXPECT_EQ(c->prom.sf, 0.3);
  EXPECT_EQ(c->prom.tf, 0.1);
  EXPECT_EQ(c->output_csv, "o.csv");
  EXPECT_EQ(c->summary_csv, "s.csv");
  EXPECT_EQ(c->plot_path, "p.svg");
  EXPECT_EQ(c->plot_model, "naive");
  EXPECT_TRUE(c->quiet);
}

TEST(ForecastFlags, DefaultsToAllModelsButTheSingleSettingPromBaselines) {
  // prom_predict_linear stays accepted by name (ParsesEveryFlag); the grid stands in for it by default.
  const std::vector<std::string> expected = {"naive", "auto"};
  auto c = Parse({"--trace", "t.csv", "--horizon", "1h"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->eval.models, expected);
  EXPECT_EQ(Parse({"--trace", "t.csv", "--horizon", "1h", "--models", "all"})->eval.models, expected);
  EXPECT_EQ(c->eval.score_from, 0);
  EXPECT_EQ(c->eval.score_until, 1);
}

TEST(ForecastFlags, HalfAndScoreWindow) {
  auto first = Parse({"--trace", "t.csv", "--horizon", "1h", "--half", "first"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->eval.score_from, 0);
  EXPECT_EQ(first->eval.score_until, 0.5);
  auto second = Parse({"--trace", "t.csv", "--horizon", "1h", "--half=second"});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->eval.score_from, 0.5);
  EXPECT_EQ(second->eval.score_until, 1);
  auto window = Parse({"--trace", "t.csv", "--horizon", "1h", "--score-from", "0.25", "--score-until", "0.75"});
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_EQ(window->eval.score_from, 0.25);
  EXPECT_EQ(window->eval.score_until, 0.75);
}

void ExpectError(const std::vector<const char*>& args, const std::string& needle) {
  auto c = Parse(args);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(needle), std::string::npos) << c.status().message();
}

TEST(ForecastFlags, ErrorsNameTheFlag) {
  ExpectError({"--horizon", "1h"}, "--trace is required");
  ExpectError({"--trace", "t.csv"}, "--horizon is required");
  ExpectError({"--trace", "t.csv", "--horizon", "soon"}, "--horizon: invalid duration 'soon'");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--models", "naive,magic"}, "--models: unknown model 'magic'");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--coverage", "1.5"}, "--coverage '1.5'");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--max-origins", "-3"}, "--max-origins '-3'");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--models", "naive", "--plot-model", "auto"},
              "--plot-model auto is not among --models");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--bogus", "1"}, "unknown flag --bogus");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--half", "third"}, "--half 'third': expected first or second");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--score-from", "1.5"}, "--score-from '1.5'");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--score-from", "0.6", "--score-until", "0.4"},
              "--score-from must be below --score-until");
  ExpectError({"--trace", "t.csv", "--horizon", "1h", "--half", "first", "--score-from", "0.1"},
              "--half and --score-from/--score-until exclude each other");
}

TEST(ForecastFlags, HelpNeedsNothingElse) {
  auto c = Parse({"--help"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->help);
  EXPECT_NE(ForecastUsage().find("--horizon"), std::string::npos);
}

}  // namespace
}  // namespace prescale::sim
