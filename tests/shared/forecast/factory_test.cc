// MakeForecaster's validation: errors name the model or parameter at fault.
#include <gtest/gtest.h>

#include <cmath>

#include "prescale/forecast/forecaster.h"

namespace prescale::forecast {
namespace {

Status Build(const std::string& model, std::map<std::string, double> params, ForecastOptions options = {}) {
  ForecastSpec spec;
  spec.model = model;
  spec.params = std::move(params);
  spec.options = options;
  auto f = MakeForecaster(spec);
  return f.ok() ? Status::Ok() : f.status();
}

TEST(MakeForecaster, BuildsEveryModelWithDefaults) {
  for (const std::string& name : ModelNames()) EXPECT_TRUE(Build(name, {}).ok()) << name;
  EXPECT_EQ(ModelNames().back(), "auto");
}

TEST(MakeForecaster, RejectsAnUnknownModelNamingIt) {
  Status s = Build("prophet", {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'prophet'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("holt_winters"), std::string::npos) << "lists the known models: " << s.message();
}

TEST(MakeForecaster, RejectsParametersOutOfRange) {
  EXPECT_EQ(Build("holt", {{"alpha", 1.5}}).message(), "holt: alpha must be in (0,1), got 1.5");
  EXPECT_EQ(Build("ewma", {{"alpha", 0}}).message(), "ewma: alpha must be in (0,1), got 0");
  EXPECT_EQ(Build("holt_winters", {{"multiplicative", 2}}).message(),
            "holt_winters: multiplicative must be 0 or 1, got 2");
  EXPECT_EQ(Build("holt", {{"phi", 1.2}}).message(), "holt: phi must be in (0,1], got 1.2");
  EXPECT_EQ(Build("sma", {{"window_steps", 2.5}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Build("linear", {{"fourier_daily", 9}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Build("auto", {{"hysteresis", 1}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Build("naive", {{"horizon_s", -5}}).message(), "naive: horizon_s must be > 0, got -5");
  EXPECT_EQ(Build("ewma", {{"alpha", std::nan("")}}).message(), "ewma: alpha must be finite, got nan");
}

TEST(MakeForecaster, RejectsUnknownParametersListingTheAccepted) {
  Status s = Build("holt", {{"gama", 0.1}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("holt: unknown parameter 'gama'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("alpha, beta"), std::string::npos) << s.message();
  // gamma belongs to holt_winters only.
  EXPECT_FALSE(Build("holt", {{"gamma", 0.1}}).ok());
  EXPECT_TRUE(Build("holt_winters", {{"gamma", 0.1}}).ok());
}

TEST(MakeForecaster, RejectsSeasonsLongerThanTheHistoryHolds) {
  ForecastOptions options;
  options.max_history = 100;
  Status s = Build("holt_winters", {{"season_steps", 60}}, options);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("max_history is 100"), std::string::npos) << s.message();
  EXPECT_TRUE(Build("seasonal_naive", {{"season_steps", 60}}, options).ok());
  EXPECT_FALSE(Build("seasonal_naive", {{"season_s", 30}}).ok()) << "half a step";
}

TEST(MakeForecaster, RejectsBadOptions) {
  ForecastOptions options;
  options.coverage = 1.0;
  EXPECT_EQ(Build("naive", {}, options).message(), "naive: coverage must be in (0,1), got 1");
  options = {};
  options.step = std::chrono::milliseconds(0);
  EXPECT_FALSE(Build("naive", {}, options).ok());
  options = {};
  options.max_history = 1;
  EXPECT_FALSE(Build("naive", {}, options).ok());
}

TEST(ModelParams, ListsOwnAndCommonParametersWithDefaults) {
  auto names = [](std::string_view model) {
    std::vector<std::string> out;
    for (const ModelParam& p : ModelParams(model)) out.push_back(p.name);
    return out;
  };
  EXPECT_EQ(names("ewma"), (std::vector<std::string>{"alpha", "refit_every_steps", "refit_offset_steps", "interp_gap_s",
                                                     "horizon_s"}));
  EXPECT_EQ(names("naive"),
            (std::vector<std::string>{"refit_every_steps", "refit_offset_steps", "interp_gap_s", "horizon_s"}));
  EXPECT_TRUE(ModelParams("prophet").empty());
  for (const std::string& model : ModelNames()) {
    for (const ModelParam& p : ModelParams(model)) {
      EXPECT_FALSE(p.default_value.empty()) << model << "." << p.name;
      EXPECT_FALSE(p.description.empty()) << model << "." << p.name;
    }
  }
}

}  // namespace
}  // namespace prescale::forecast
