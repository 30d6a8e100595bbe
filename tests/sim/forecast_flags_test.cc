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

TEST(ForecastFlags, DefaultsToAllModels) {
  auto c = Parse({"--trace", "t.csv", "--horizon", "1h"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->eval.models, kKnown);
  EXPECT_EQ(Parse({"--trace", "t.csv", "--horizon", "1h", "--models", "all"})->eval.models, kKnown);
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
}

TEST(ForecastFlags, HelpNeedsNothingElse) {
  auto c = Parse({"--help"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->help);
  EXPECT_NE(ForecastUsage().find("--horizon"), std::string::npos);
}

}  // namespace
}  // namespace prescale::sim
