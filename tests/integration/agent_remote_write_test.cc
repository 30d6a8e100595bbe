// Interop, sender side: Debian's Prometheus 2.42 runs as a remote-write
// receiver (--web.enable-remote-write-receiver) and the built prescale-agent,
// on the cgroup v2 fixture tree, pushes to it every second. The agent's series
// must show up in Prometheus's query API with the right labels and values.
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::FindProgram;
using testing::FreeLoopbackPort;
using testing::PollUntil;
using testing::ReadFileOrEmpty;
using testing::Subprocess;
using testing::TempDir;
using testing::TestDataDir;
using testing::UrlEncode;

constexpr char kNode[] = "remote-write-node";

class PrometheusApi {
 public:
  explicit PrometheusApi(int port) : base_("http://127.0.0.1:" + std::to_string(port)) {
    options_.timeout = 5s;
    options_.accept = "application/json";
  }
  bool Ready() {
    auto r = client_->Get(base_ + "/-/ready", options_);
    return r.ok() && r->status == 200;
  }
  // The raw JSON of an instant query, or nullopt when it failed.
  std::optional<std::string> Query(const std::string& promql) {
    auto r = client_->Get(base_ + "/api/v1/query?query=" + UrlEncode(promql), options_);
    if (!r.ok() || r->status != 200 || r->body.find("\"status\":\"success\"") == std::string::npos) {
      last_error_ = r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
      return std::nullopt;
    }
    return r->body;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  std::string base_;
  http::GetOptions options_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
  std::string last_error_;
};

// The values of an instant-vector result ("value":[t,"v"]).
std::vector<double> Values(const std::string& json) {
  static const std::regex kValue(R"re("value":\[[-+0-9.eE]+,"([^"]*)"\])re");
  std::vector<double> out;
  for (std::sregex_iterator it(json.begin(), json.end(), kValue), end; it != end; ++it) {
    out.push_back(std::strtod((*it)[1].str().c_str(), nullptr));
  }
  return out;
}

TEST(AgentRemoteWriteTest, PrometheusReceivesTheAgentsSeriesWithLabelsAndValues) {
  const std::string prometheus_bin = FindProgram("prometheus");
  if (prometheus_bin.empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  const std::string agent_bin = BinDir() + "/prescale-agent";
  ASSERT_EQ(::access(agent_bin.c_str(), X_OK), 0) << agent_bin << " is missing: build the prescale-agent target";

  TempDir dir("prescale-remote-write");  // declared first: removed after every process is gone
  Subprocess prometheus;
  int port = 0;
  std::string error;
  testing::PrometheusOptions options;
  options.extra_flags = {"--web.enable-remote-write-receiver"};
  ASSERT_TRUE(testing::StartPrometheus(dir, options, &prometheus, &port, &error)) << error;

  Subprocess agent;
  ASSERT_TRUE(
      agent.Start({agent_bin, "--listen", "127.0.0.1:0", "--interval", "1s", "--node", kNode, "--cgroup-root",
                   TestDataDir() + "/cgroup_v2", "--proc-root", TestDataDir() + "/proc", "--aggregator",
                   "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write", "--data-dir", dir.path() + "/agent"}));

  PrometheusApi api(port);
  const std::string web =
      "{node=\"" + std::string(kNode) + "\",tenant=\"acme\",service=\"web\",id=\"/prescale/acme/web\"}";
  std::string json;
  const bool found = PollUntil(
      [&] {
        auto r = api.Query("container_cpu_usage_seconds_total" + web);
        if (!r || Values(*r).size() != 1) return false;
        json = *r;
        return true;
      },
      30s, 200ms);
  ASSERT_TRUE(found) << "the agent's series did not reach Prometheus within 30s: " << api.last_error()
                     << "\nagent: " << agent.Stderr() << "\nprometheus: " << prometheus.Stderr();
  ASSERT_TRUE(agent.running()) << agent.Stderr();

  // Values as the fixture files give them (cpu.stat usage_usec, memory.current).
  const std::string fixture = TestDataDir() + "/cgroup_v2/prescale/acme/web/";
  std::istringstream cpu_stat(ReadFileOrEmpty(fixture + "cpu.stat"));
  std::string key;
  double usage_usec = -1;
  while (cpu_stat >> key) {
    double v = 0;
    cpu_stat >> v;
    if (key == "usage_usec") usage_usec = v;
  }
  ASSERT_GE(usage_usec, 0);
  EXPECT_NEAR(Values(json).at(0), usage_usec * 1e-6, 1e-9) << json;
  EXPECT_NE(json.find("\"__name__\":\"container_cpu_usage_seconds_total\""), std::string::npos) << json;

  const double memory_current = std::strtod(ReadFileOrEmpty(fixture + "memory.current").c_str(), nullptr);
  auto memory = api.Query("container_memory_usage_bytes" + web);
  ASSERT_TRUE(memory) << api.last_error();
  EXPECT_EQ(Values(*memory), std::vector<double>{memory_current}) << *memory;

  // Every mapped service of the fixture and the node's own series arrive.
  auto services =
      api.Query("count by (tenant, service) (container_cpu_usage_seconds_total{node=\"" + std::string(kNode) + "\"})");
  ASSERT_TRUE(services) << api.last_error();
  EXPECT_NE(services->find("\"service\":\"batch\""), std::string::npos) << *services;
  EXPECT_NE(services->find("\"service\":\"nginx\""), std::string::npos) << *services;
  auto cores = api.Query("machine_cpu_cores{node=\"" + std::string(kNode) + "\"}");
  ASSERT_TRUE(cores) << api.last_error();
  ASSERT_EQ(Values(*cores).size(), 1u) << *cores;
  EXPECT_GE(Values(*cores)[0], 1);

  // More than one push made it: the series has several samples.
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = api.Query("count_over_time(container_cpu_usage_seconds_total" + web + "[1m])");
        return r && !Values(*r).empty() && Values(*r)[0] >= 2;
      },
      15s, 200ms))
      << api.last_error();
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(10s), 0) << agent.Stderr();
}

}  // namespace
}  // namespace prescale
