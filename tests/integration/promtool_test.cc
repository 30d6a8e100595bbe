// The built prescale-agent's --once exposition, with real cgroups and a
// scraped service, must pass Prometheus's own linter, `promtool check metrics`,
// but for the complaints about names cAdvisor and node_exporter use (allowed below).
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/http/http_server.h"
#include "prescale/metrics/text_parser.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::CgroupSandbox;
using testing::FindProgram;
using testing::PollUntil;
using testing::RunCommand;
using testing::Subprocess;
using testing::TempDir;

// What the scraped service exposes: a counter, a histogram and a gauge, one
// counter with its own `service` label (which the agent keeps as exported_service).
constexpr const char* kServiceMetrics = R"(# HELP web_requests_total Requests served.
# TYPE web_requests_total counter
web_requests_total{code="200",service="frontend"} 1027
web_requests_total{code="500",service="frontend"} 3
# HELP web_request_duration_seconds Request latency.
# TYPE web_request_duration_seconds histogram
web_request_duration_seconds_bucket{le="0.1"} 900
web_request_duration_seconds_bucket{le="1"} 1020
web_request_duration_seconds_bucket{le="+Inf"} 1030
web_request_duration_seconds_sum 87.5
web_request_duration_seconds_count 1030
# HELP web_queue_depth Requests waiting.
# TYPE web_queue_depth gauge
web_queue_depth 4
)";

// The value of the one sample of family `name` carrying all of `match`.
std::optional<double> FindValue(const std::vector<metrics::MetricFamily>& families, std::string_view name,
                                const metrics::Labels& match) {
  std::optional<double> found;
  for (const auto& f : families) {
    for (const auto& s : f.samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& m : match) {
        bool has = false;
        for (const auto& l : s.labels) has = has || l == m;
        all = all && has;
      }
      if (!all) continue;
      EXPECT_FALSE(found.has_value()) << name << " has several samples with the given labels";
      found = s.value;
    }
  }
  return found;
}

TEST(PromtoolTest, AgentOnceExpositionPassesCheckMetrics) {
  const std::string promtool = FindProgram("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  const std::string reason = CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  const std::string agent = BinDir() + "/prescale-agent";
  const std::string burner = BinDir() + "/prescale-test-burner";
  ASSERT_EQ(::access(agent.c_str(), X_OK), 0) << agent << " is missing: build the prescale-agent target";
  ASSERT_EQ(::access(burner.c_str(), X_OK), 0) << burner << " is missing: build the prescale-test-burner target";

  auto sandbox = CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  auto cpu_cg = (*sandbox)->MakeCgroup("acme/batch");
  auto mem_cg = (*sandbox)->MakeCgroup("acme/cache");
  ASSERT_TRUE(cpu_cg.ok() && mem_cg.ok()) << cpu_cg.status().ToString() << mem_cg.status().ToString();
  Subprocess cpu_burner;
  ASSERT_TRUE(cpu_burner.Start({burner, "cpu", "1", "0.3"}, (*sandbox)->ProcsFiles(*cpu_cg)));
  ASSERT_EQ(cpu_burner.Wait(30s), 0) << cpu_burner.Stderr();
  Subprocess mem_burner;
  ASSERT_TRUE(mem_burner.Start({burner, "mem", std::to_string(16 << 20)}, (*sandbox)->ProcsFiles(*mem_cg)));
  ASSERT_TRUE(PollUntil([&] { return mem_burner.Stdout().find("touched") != std::string::npos; }, 20s));

  std::vector<http::Route> routes;
  routes.push_back({"GET", "/metrics", [](const http::HttpRequest&) {
                      http::HttpResponse r;
                      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                      r.body = kServiceMetrics;
                      return r;
                    }});
  auto server = http::HttpServer::Start({}, std::move(routes));
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  TempDir dir("prescale-promtool");
  std::string yaml = R"(node: promtool-node
mapping:
  - match: 'PATTERN'
    labels: {tenant: '$1', service: '$2'}
scrape_targets:
  - url: http://127.0.0.1:PORT/metrics
    tenant: acme
    service: web
)";
  yaml.replace(yaml.find("PATTERN"), 7, (*sandbox)->MappingPattern());
  yaml.replace(yaml.find("PORT"), 4, std::to_string((*server)->port()));
  const std::string config = dir.Write("agent.yaml", yaml);
  const testing::RunResult once = RunCommand({agent, "--once", "--config", config}, 30s);
  ASSERT_EQ(once.exit_code, 0) << once.err;

  // The exposition holds what it should before it is linted.
  auto parsed = metrics::ParseTextExposition(once.out);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const auto usage = FindValue(*parsed, "container_cpu_usage_seconds_total", {{"id", *cpu_cg}, {"service", "batch"}});
  ASSERT_TRUE(usage.has_value()) << "no CPU series for " << *cpu_cg;
  EXPECT_GE(*usage, 0.3 * 0.9);
  const auto working_set = FindValue(*parsed, "container_memory_working_set_bytes", {{"id", *mem_cg}});
  ASSERT_TRUE(working_set.has_value()) << "no memory series for " << *mem_cg;
  EXPECT_GE(*working_set, 16 << 20);
  EXPECT_EQ(FindValue(*parsed, "web_requests_total",
                      {{"tenant", "acme"}, {"service", "web"}, {"exported_service", "frontend"}, {"code", "200"}}),
            1027.0);
  EXPECT_EQ(FindValue(*parsed, "web_request_duration_seconds_count", {{"service", "web"}}), 1030.0);
  EXPECT_EQ(FindValue(*parsed, "prescale_agent_scrape_target_up", {{"service", "web"}}), 1.0);
  // Node series under node_exporter's names (which the linter is then given).
  EXPECT_TRUE(FindValue(*parsed, "node_memory_MemAvailable_bytes", {{"node", "promtool-node"}}).has_value());

  // The linter sees its input: a name with an abbreviated unit and no HELP draws complaints.
  const testing::RunResult bad = RunCommand({promtool, "check", "metrics"}, 30s, "request_latency_ms 1\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("request_latency_ms"), std::string::npos) << bad.out << bad.err;

  // Every complaint must be one of these: names the peers export, kept so that
  // the dashboards and rules written for them (kubernetes-mixin, node-mixin)
  // work on the agent's series. Lint problems exit 3; anything else (a parse
  // error exits 1) fails.
  const std::set<std::string> allowed = {
      // cAdvisor's counter has no _total suffix (google/cadvisor metrics/prometheus.go).
      R"(container_memory_failcnt counter metrics should have "_total" suffix)",
      // node_exporter's meminfo collector keeps /proc/meminfo's field names.
      "node_memory_MemTotal_bytes metric names should be written in 'snake_case' not 'camelCase'",
      "node_memory_MemAvailable_bytes metric names should be written in 'snake_case' not 'camelCase'",
  };
  const testing::RunResult check = RunCommand({promtool, "check", "metrics"}, 30s, once.out);
  EXPECT_TRUE(check.exit_code == 0 || check.exit_code == 3) << check.exit_code << check.out << check.err;
  std::istringstream complaints(check.out + check.err);
  int lines = 0;
  for (std::string line; std::getline(complaints, line);) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_TRUE(allowed.contains(line)) << "promtool's complaint about the agent's exposition: " << line;
  }
  EXPECT_EQ(check.exit_code == 0, lines == 0) << check.out << check.err;
}

}  // namespace
}  // namespace prescale
