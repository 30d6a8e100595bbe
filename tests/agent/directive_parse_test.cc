// ParseDirectives: the aggregator's answer decoded strictly, with errors that
// name the field; DescribeDirectiveError for error bodies.
#include <gtest/gtest.h>

#include "prescale/agent/directives.h"

namespace prescale::agent {
namespace {

using namespace std::chrono_literals;

TEST(DirectiveParse, DecodesNodeLeaseAndDirectives) {
  auto set = ParseDirectives(R"({"node":"n1","lease_seconds":30,"directives":[
      {"tenant":"a","service":"web","cpu_cores":1.5},
      {"tenant":"b","service":"batch","cpu_cores":2,"reason":"quota","priority":"low"}],
      "generated_at":"2026-11-28T10:00:00Z"})",
                             "n1");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->node, "n1");
  EXPECT_EQ(set->lease, 30s);
  ASSERT_EQ(set->directives.size(), 2u);
  EXPECT_EQ(set->directives[0].tenant, "a");
  EXPECT_EQ(set->directives[0].service, "web");
  EXPECT_DOUBLE_EQ(set->directives[0].cpu_cores, 1.5);
  EXPECT_EQ(set->directives[1].tenant, "b");
  EXPECT_DOUBLE_EQ(set->directives[1].cpu_cores, 2);
}

TEST(DirectiveParse, AcceptsAnEmptyListAFractionalLeaseAndAnyNodeWhenNoneIsExpected) {
  auto set = ParseDirectives(R"({"node":"other","lease_seconds":0.25,"directives":[]})", "");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->lease, 250ms);
  EXPECT_TRUE(set->directives.empty());
}

struct BadBody {
  const char* body;
  const char* expected;  // a substring of the error
};

class DirectiveParseErrors : public ::testing::TestWithParam<BadBody> {};

TEST_P(DirectiveParseErrors, NameTheField) {
  auto set = ParseDirectives(GetParam().body, "n1");
  ASSERT_FALSE(set.ok()) << GetParam().body;
  EXPECT_EQ(set.status().code(), StatusCode::kParseError);
  EXPECT_NE(set.status().message().find(GetParam().expected), std::string::npos) << set.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    DirectiveBodies, DirectiveParseErrors,
    ::testing::Values(
        BadBody{"", "invalid JSON at offset 0"}, BadBody{"{\"node\":", "invalid JSON"},
        BadBody{"[]", "expected an object"}, BadBody{"\"\xff\"", "invalid JSON"},
        BadBody{R"({"node":"n1\udc00","lease_seconds":30,"directives":[]})", "lone surrogate"},
        BadBody{R"({"lease_seconds":30,"directives":[]})", "node: required field is missing"},
        BadBody{R"({"node":7,"lease_seconds":30,"directives":[]})", "node: expected a string"},
        BadBody{R"({"node":"n2","lease_seconds":30,"directives":[]})", "node: the answer is for node 'n2'"},
        BadBody{R"({"node":"n1","directives":[]})", "lease_seconds: required field is missing"},
        BadBody{R"({"node":"n1","lease_seconds":"30","directives":[]})", "lease_seconds: expected a number"},
        BadBody{R"({"node":"n1","lease_seconds":0,"directives":[]})", "lease_seconds: expected a number > 0"},
        BadBody{R"({"node":"n1","lease_seconds":-5,"directives":[]})", "lease_seconds: expected a number > 0"},
        BadBody{R"({"node":"n1","lease_seconds":1e9,"directives":[]})", "at most 86400"},
        BadBody{R"({"node":"n1","lease_seconds":30})", "directives: required field is missing"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":{}})", "directives: expected an array"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[1]})", "directives[0]: expected an object"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"service":"w","cpu_cores":1}]})",
                "directives[0].tenant: required field is missing"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"tenant":"","service":"w","cpu_cores":1}]})",
                "directives[0].tenant: must not be empty"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"tenant":"a","service":null,"cpu_cores":1}]})",
                "directives[0].service: expected a string"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"tenant":"a","service":"w"}]})",
                "directives[0].cpu_cores: required field is missing"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[
                  {"tenant":"a","service":"w","cpu_cores":1},{"tenant":"a","service":"x","cpu_cores":0}]})",
                "directives[1].cpu_cores: expected a number > 0"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"tenant":"a","service":"w","cpu_cores":"1"}]})",
                "directives[0].cpu_cores: expected a number"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[{"tenant":"a","service":"w","cpu_cores":1e300}]})",
                "directives[0].cpu_cores: expected a number > 0 and at most"},
        BadBody{R"({"node":"n1","lease_seconds":30,"directives":[
                  {"tenant":"a","service":"w","cpu_cores":1},{"tenant":"a","service":"w","cpu_cores":2}]})",
                "directives[1]: a second directive for tenant 'a' service 'w'"}));

TEST(DirectiveParse, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(ParseDirectives(deep, "n1").ok());
  const std::string nested = R"({"node":"n1","lease_seconds":30,"directives":[],"x":)" + std::string(50000, '[') +
                             std::string(50000, ']') + "}";
  EXPECT_TRUE(ParseDirectives(nested, "n1").ok());  // an unknown field, however deep, is ignored
}

TEST(DirectiveParse, DescribesErrorBodies) {
  EXPECT_EQ(DescribeDirectiveError(
                403, R"({"error":"forbidden","message":"the token's role is not agent","field":"Authorization"})"),
            "HTTP 403 forbidden: the token's role is not agent (field Authorization)");
  EXPECT_EQ(DescribeDirectiveError(400, R"({"error":"invalid_argument","message":"node is required","field":""})"),
            "HTTP 400 invalid_argument: node is required");
  EXPECT_EQ(DescribeDirectiveError(502, "<html>bad\ngateway</html>"), "HTTP 502: <html>bad?gateway</html>");
  EXPECT_EQ(DescribeDirectiveError(500, ""), "HTTP 500");
  EXPECT_EQ(DescribeDirectiveError(500, std::string(300, 'x')), "HTTP 500: " + std::string(200, 'x') + "...");
}

}  // namespace
}  // namespace prescale::agent
