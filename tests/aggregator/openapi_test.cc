// docs/openapi.yaml against what the aggregator really serves: every route of
// Aggregator::Routes() (with a control store attached) is described, and every
// described path and method is served. Every operation has a summary and a
// response, the API's operations (but the two receivers, which take pushes
// without a token under allow_anonymous_push) need the bearer scheme, and path
// parameters match the path templates.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/sqlite_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

// (method in upper case, path template), e.g. ("GET", "/api/v1/tenants/{tenant}").
using Route = std::pair<std::string, std::string>;

constexpr const char* kOpenApiMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string Describe(const Route& r) { return r.first + " " + r.second; }

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// The {name} segments of a path template, in order.
std::vector<std::string> TemplateParams(const std::string& path) {
  std::vector<std::string> out;
  for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    const size_t close = path.find('}', open);
    if (close == std::string::npos) break;
    out.push_back(path.substr(open + 1, close - open - 1));
  }
  return out;
}

// One operation of the description, read into plain values.
struct Operation {
  Route route;
  std::string summary;
  size_t responses = 0;
  // Its own `security`: whether it lists the bearer scheme; nullopt when it inherits the global one.
  std::optional<bool> bearer;
  std::set<std::string> path_params;  // declared `in: path` (path-level and its own)
};

struct Description {
  std::string openapi;
  std::string title;
  bool global_bearer = false;
  std::string bearer_type;    // components.securitySchemes.bearer.type
  std::string bearer_scheme;  // ... .scheme
  std::vector<Operation> operations;
};

bool ListsBearer(const YAML::Node& security) {
  for (const YAML::Node& requirement : security) {
    if (requirement.IsMap() && requirement["bearer"]) return true;
  }
  return false;
}

// A parameter, following a "#/components/parameters/NAME" reference.
YAML::Node ResolveParameter(const YAML::Node& root, const YAML::Node& parameter) {
  if (!parameter["$ref"]) return parameter;
  const std::string ref = parameter["$ref"].as<std::string>();
  constexpr std::string_view kPrefix = "#/components/parameters/";
  if (ref.rfind(kPrefix, 0) != 0) return YAML::Node();
  return root["components"]["parameters"][ref.substr(kPrefix.size())];
}

void AddPathParams(const YAML::Node& root, const YAML::Node& parameters, std::set<std::string>* out) {
  for (const YAML::Node& p : parameters) {
    const YAML::Node resolved = ResolveParameter(root, p);
    if (resolved.IsMap() && resolved["in"] && resolved["in"].as<std::string>() == "path") {
      out->insert(resolved["name"].as<std::string>());
    }
  }
}

// Reads docs/openapi.yaml; yaml-cpp's exceptions end here, as an error naming the file.
std::optional<Description> LoadDescription(std::string* error) {
  const std::string file = testing::SourceDir() + "/docs/openapi.yaml";
  try {
    const YAML::Node root = YAML::LoadFile(file);
    Description d;
    d.openapi = root["openapi"].as<std::string>(std::string());
    d.title = root["info"]["title"].as<std::string>(std::string());
    d.global_bearer = root["security"] && ListsBearer(root["security"]);
    const YAML::Node scheme = root["components"]["securitySchemes"]["bearer"];
    if (scheme) {
      d.bearer_type = scheme["type"].as<std::string>(std::string());
      d.bearer_scheme = scheme["scheme"].as<std::string>(std::string());
    }
    for (const auto& path_item : root["paths"]) {
      const std::string path = path_item.first.as<std::string>();
      const YAML::Node item = path_item.second;
      std::set<std::string> shared_params;
      if (item["parameters"]) AddPathParams(root, item["parameters"], &shared_params);
      for (const char* method : kOpenApiMethods) {
        const YAML::Node op = item[method];
        if (!op) continue;
        Operation o;
        o.route = {Upper(method), path};
        o.summary = op["summary"].as<std::string>(std::string());
        o.responses = op["responses"] && op["responses"].IsMap() ? op["responses"].size() : 0;
        if (op["security"]) o.bearer = ListsBearer(op["security"]);
        o.path_params = shared_params;
        if (op["parameters"]) AddPathParams(root, op["parameters"], &o.path_params);
        d.operations.push_back(std::move(o));
      }
    }
    return d;
  } catch (const YAML::Exception& e) {
    *error = file + ": " + e.what();
    return std::nullopt;
  }
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    auto description = LoadDescription(&error);
    ASSERT_TRUE(description.has_value()) << error;
    description_ = std::move(*description);
    for (const Operation& o : description_.operations) described_.insert(o.route);

    // The routes a real aggregator serves, control API included.
    AggregatorConfig config;
    Aggregator aggregator(config, clock_);
    auto store = OpenSqliteStore(dir_.path() + "/control.db", SqliteStoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    aggregator.UseControlStore(std::move(store).value());
    for (const http::Route& r : aggregator.Routes()) {
      EXPECT_TRUE(served_.insert({r.method, r.path}).second) << Describe({r.method, r.path}) << " is routed twice";
    }
  }

  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-openapi"};
  Description description_;
  std::set<Route> described_;
  std::set<Route> served_;
};

TEST_F(OpenApiTest, IsAnOpenApi303DescriptionOfTheAggregator) {
  EXPECT_EQ(description_.openapi, "3.0.3");
  EXPECT_EQ(description_.title, "prescale aggregator API");
  EXPECT_EQ(description_.bearer_type, "http") << "components.securitySchemes.bearer";
  EXPECT_EQ(description_.bearer_scheme, "bearer") << "components.securitySchemes.bearer";
}

TEST_F(OpenApiTest, DescribesEveryServedRoute) {
  ASSERT_FALSE(served_.empty());
  for (const Route& r : served_) {
    EXPECT_TRUE(described_.contains(r)) << Describe(r) << " is served but missing from docs/openapi.yaml";
  }
}

TEST_F(OpenApiTest, ServesEveryDescribedRoute) {
  ASSERT_FALSE(described_.empty()) << "docs/openapi.yaml describes no operation";
  for (const Route& r : described_) {
    EXPECT_TRUE(served_.contains(r)) << Describe(r) << " is in docs/openapi.yaml but the aggregator does not serve it";
  }
}

TEST_F(OpenApiTest, EveryOperationHasASummaryAndAResponse) {
  for (const Operation& o : description_.operations) {
    EXPECT_FALSE(o.summary.empty()) << Describe(o.route) << " has no summary";
    EXPECT_GT(o.responses, 0u) << Describe(o.route) << " declares no response";
  }
}

TEST_F(OpenApiTest, ApiOperationsNeedTheBearerScheme) {
  // The receivers may take pushes without a token (allow_anonymous_push); everything else under /api/v1/
  // declares the bearer scheme, its own or the global one.
  const std::set<std::string> receivers = {"/api/v1/write", "/api/v1/ingest"};
  for (const Operation& o : description_.operations) {
    const std::string& path = o.route.second;
    if (path.rfind("/api/v1/", 0) != 0 || receivers.contains(path)) continue;
    EXPECT_TRUE(o.bearer.value_or(description_.global_bearer))
        << Describe(o.route) << " does not declare the bearer security scheme";
  }
}

TEST_F(OpenApiTest, PathParametersMatchThePathTemplates) {
  for (const Operation& o : description_.operations) {
    const std::vector<std::string> names = TemplateParams(o.route.second);
    const std::set<std::string> in_template(names.begin(), names.end());
    for (const std::string& name : in_template) {
      EXPECT_TRUE(o.path_params.contains(name)) << Describe(o.route) << " does not declare path parameter " << name;
    }
    for (const std::string& name : o.path_params) {
      EXPECT_TRUE(in_template.contains(name))
          << Describe(o.route) << " declares path parameter " << name << ", which its path does not have";
    }
  }
}

}  // namespace
}  // namespace prescale::aggregator
