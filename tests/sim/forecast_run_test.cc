// `prescale-sim forecast` end to end on small traces written by the test:
// the table, the per-forecast CSV, the SVG, and exit code 2 naming the problem.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "prescale/sim/forecast_command.h"
#include "tests/support/test_env.h"

namespace prescale::sim {
namespace {

using testing::ReadFileOrEmpty;
using testing::TempDir;

// A day and a half of a line at 5 minutes: 2014-01-01 00:00 UTC is 1388534400.
std::string LineTrace() {
  std::string text = "unix_s,cpu_usage_mhz,net_rx_kbps\n";
  for (int i = 0; i < 432; ++i) {
    text += std::to_string(1388534400 + i * 300) + "," + std::to_string(100 + i) + ",7\n";
  }
  return text;
}

struct RunOutput {
  int code = 0;
  std::string out, err;
};

RunOutput RunWith(const std::vector<const char*>& args) {
  std::vector<const char*> argv = {"forecast"};
  for (const char* a : args) argv.push_back(a);
  auto command = ParseForecastCommandLine(static_cast<int>(argv.size()), argv.data(), AllModelNames());
  EXPECT_TRUE(command.ok()) << command.status().ToString();
  if (!command.ok()) return {};
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  RunOutput r;
  r.code = RunForecast(*command, out, err);
  for (auto [f, s] : {std::pair{out, &r.out}, std::pair{err, &r.err}}) {
    std::rewind(f);
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s->append(buf, n);
    std::fclose(f);
  }
  return r;
}

TEST(ForecastRun, WritesTheTableTheForecastsAndThePlot) {
  TempDir dir("prescale-sim-test");
  const std::string trace = dir.Write("line.csv", LineTrace());
  const std::string csv = dir.path() + "/out.csv", svg = dir.path() + "/plot.svg";
  const RunOutput r = RunWith({"--trace", trace.c_str(), "--horizon", "15m", "--models", "naive,prom_predict_linear",
                               "--output-csv", csv.c_str(), "--plot", svg.c_str(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("horizon 15m, step 5m: 141 origins"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prom_predict_linear"), std::string::npos);
  const std::string written = ReadFileOrEmpty(csv);
  // The first origin is a day in (row 288), its target 3 steps later.
  // naive's interval comes from the library's calibrator: only its point is fixed here.
  EXPECT_TRUE(
      written.starts_with("origin_ts,horizon_s,target_ts,actual,model,point,lower,upper\n"
                          "1388620800,900,1388621700,391,naive,388,"))
      << written.substr(0, 200);
  EXPECT_NE(written.find("1388620800,900,1388621700,391,prom_predict_linear,391,391,391\n"), std::string::npos);
  EXPECT_NE(ReadFileOrEmpty(svg).find("<polyline"), std::string::npos);
}

TEST(ForecastRun, BadInputExitsTwoNamingTheFileAndLine) {
  TempDir dir("prescale-sim-test");
  const std::string trace = dir.Write("bad.csv", "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,x\n");
  RunOutput r = RunWith({"--trace", trace.c_str(), "--horizon", "5m", "--quiet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(trace + " line 3: bad number 'x'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: prescale-sim forecast"), std::string::npos);
  r = RunWith({"--trace", (dir.path() + "/missing.csv").c_str(), "--horizon", "5m"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos);
  const std::string line = dir.Write("line.csv", LineTrace());
  r = RunWith({"--trace", line.c_str(), "--horizon", "7m", "--quiet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--horizon 7m is not a positive multiple of the step 5m"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace prescale::sim
