// End to end with the real peer: the built prescale-agent serves /metrics,
// Debian's Prometheus scrapes it every second, and the CPU rate Prometheus
// computes for a burner in a sandbox cgroup must match the burner's own CPU
// time (from /proc/<pid>/stat) over the same window.
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
#include "tests/agent/kubelet_stand_in.h"
#include "tests/integration/prometheus_api.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/prometheus.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::CgroupSandbox;
using testing::FindProgram;
using testing::FreeLoopbackPort;
using testing::PollUntil;
using testing::ProcessCpuSeconds;
using testing::PrometheusApi;
using testing::Subprocess;
using testing::TempDir;
using testing::UrlEncode;

constexpr const char* kJob = "prescale-agent";
constexpr double kWindowSeconds = 5;

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Prometheus scraping the agent every second.
std::string ScrapeConfig(int agent_port) {
  return std::string(
             "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: ") +
         kJob + "\n    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(agent_port) + "']\n";
}

// Starts the agent binary with `config` on a free port, collecting every second; *port is the
// port it logged.
void StartAgent(const std::string& agent_bin, const std::string& config, Subprocess* agent, int* port) {
  ASSERT_TRUE(agent->Start(
      {agent_bin, "--config", config, "--listen", "127.0.0.1:0", "--interval", "1s", "--node", "prometheus-test"}));
  static const std::regex kPortLine("serving /metrics on port ([0-9]+)");
  std::smatch m;
  std::string agent_log;
  ASSERT_TRUE(PollUntil(
      [&] {
        agent_log = agent->Stderr();
        return std::regex_search(agent_log, m, kPortLine) || !agent->running();
      },
      20s))
      << agent_log;
  ASSERT_TRUE(agent->running()) << "the agent exited: " << agent_log;
  *port = std::stoi(m[1].str());
}

// Starts Prometheus scraping the agent on agent_port every second; *port is its own.
void StartScraper(const TempDir& dir, int agent_port, Subprocess* prometheus, int* port) {
  std::string error;
  testing::PrometheusOptions options;
  options.config_yaml = ScrapeConfig(agent_port);
  ASSERT_TRUE(testing::StartPrometheus(dir, options, prometheus, port, &error)) << error;
}

TEST(PrometheusScrapeTest, RateOfAgentCpuMatchesTheBurnersOwnCpuTime) {
  const std::string prometheus_bin = FindProgram("prometheus");
  if (prometheus_bin.empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  const std::string reason = CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  const std::string agent_bin = BinDir() + "/prescale-agent";
  const std::string burner_bin = BinDir() + "/prescale-test-burner";
  ASSERT_EQ(::access(agent_bin.c_str(), X_OK), 0) << agent_bin << " is missing: build the prescale-agent target";
  ASSERT_EQ(::access(burner_bin.c_str(), X_OK), 0) << burner_bin << " is missing: build prescale-test-burner";

  TempDir dir("prescale-prometheus");  // declared first: removed after every process is gone
  auto sandbox = CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  auto cg = (*sandbox)->MakeCgroup("acme/burner");
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();

  std::string yaml = R"(mapping:
  - match: 'PATTERN'
    labels: {tenant: '$1', service: '$2'}
)";
  yaml.replace(yaml.find("PATTERN"), 7, (*sandbox)->MappingPattern());
  const std::string agent_config = dir.Write("agent.yaml", yaml);
  Subprocess agent;
  int agent_port = 0;
  StartAgent(agent_bin, agent_config, &agent, &agent_port);
  if (HasFatalFailure()) return;

  // One busy thread: on two cores it leaves room for Prometheus and the agent.
  Subprocess burner;
  ASSERT_TRUE(burner.Start({burner_bin, "cpu", "1", "0"}, (*sandbox)->ProcsFiles(*cg)));

  Subprocess prometheus;
  int port = 0;
  StartScraper(dir, agent_port, &prometheus, &port);
  if (HasFatalFailure()) return;
  PrometheusApi api(port);

  // The burner's own CPU time, sampled while waiting, to compare over the same window.
  struct CpuSample {
    double unix_seconds;
    double cpu_seconds;
  };
  std::deque<CpuSample> history;
  const std::string selector = "container_cpu_usage_seconds_total{service=\"burner\"}";
  const std::string window = "[" + std::to_string(static_cast<int>(kWindowSeconds)) + "s]";
  // The cores the burner really used over the window ending at `end`, from its own /proc/<pid>/stat.
  auto true_cores_until = [&](const CpuSample& end) {
    CpuSample start = history.front();
    for (const CpuSample& h : history) {
      if (std::abs(h.unix_seconds - (end.unix_seconds - kWindowSeconds)) <
          std::abs(start.unix_seconds - (end.unix_seconds - kWindowSeconds))) {
        start = h;
      }
    }
    return (end.cpu_seconds - start.cpu_seconds) / (end.unix_seconds - start.unix_seconds);
  };
  // The agent collects every second and Prometheus scrapes every second with a
  // fixed phase between them: now and then a window's first or last scrape
  // catches the cycle before, moving a 5 s rate by up to a fifth. So up to
  // three comparisons at least a second apart are made; one must be within
  // 15%. An agent that is wrong is wrong in all three.
  struct Attempt {
    double rate;
    double true_cores;
  };
  std::vector<Attempt> attempts;
  double last_attempt_at = 0;
  const bool matched = PollUntil(
      [&] {
        const auto cpu = ProcessCpuSeconds(burner.pid());
        if (!cpu) return false;
        history.push_back({UnixSeconds(std::chrono::system_clock::now()), *cpu});
        const double at = history.back().unix_seconds;
        if (at - history.front().unix_seconds < kWindowSeconds || at - last_attempt_at < 1.1) return false;
        // Only once Prometheus holds a full window (a sample a second), so rate() need not extrapolate.
        const auto count = api.Values("count_over_time(" + selector + window + ")", at);
        if (!count || count->size() != 1 || count->front() < kWindowSeconds) return false;
        const auto values = api.Values("rate(" + selector + window + ")", at);
        if (!values || values->size() != 1) return false;
        last_attempt_at = at;
        attempts.push_back({values->front(), true_cores_until(history.back())});
        const Attempt& a = attempts.back();
        std::printf("measured: Prometheus rate %.4f cores, burner /proc/<pid>/stat %.4f cores\n", a.rate, a.true_cores);
        return std::abs(a.rate - a.true_cores) <= 0.15 * a.true_cores || attempts.size() >= 3;
      },
      75s, 200ms);
  ASSERT_TRUE(matched && !attempts.empty()) << "no rate from Prometheus within the deadline: " << api.last_error()
                                            << "\nprometheus: " << prometheus.Stderr() << "\nagent: " << agent.Stderr();
  const Attempt& last = attempts.back();
  // Unthrottled it gets most of a core, less beside other tests' burners (ctest -j2 on 2 cores).
  EXPECT_GT(last.true_cores, 0.1) << "the burner hardly ran";
  EXPECT_NEAR(last.rate, last.true_cores, 0.15 * last.true_cores) << "in all " << attempts.size() << " comparisons";

  const auto up = api.Values("up{job=\"" + std::string(kJob) + "\"}", UnixSeconds(std::chrono::system_clock::now()));
  ASSERT_TRUE(up.has_value()) << api.last_error();
  EXPECT_EQ(*up, std::vector<double>{1.0}) << "Prometheus does not report the agent target as up";
}

// The kubernetes-mixin's pod and namespace panels, on the agent's series: the
// expressions of its recording rules (node_namespace_pod_container:
// container_cpu_usage_seconds_total:sum_rate5m and ...:container_memory_working_set_bytes)
// with the mixin's cadvisorSelector set to job="prescale-agent", over a 10 s window
// instead of 5 min. Three pods of namespace shop run in real cgroups in the kubelet's
// cgroupfs layout: two of Deployment web burn CPU under a 0.3-CPU quota each, one of
// Deployment cache holds 64 MiB. A stand-in kubelet (tests/agent/kubelet_stand_in.h; no
// kubelet runs here) lists them. The panels must answer with each pod's own CPU and memory.
TEST(PrometheusScrapeTest, KubernetesMixinPanelsAnswerWithThePodsOwnCpuAndMemory) {
  if (FindProgram("prometheus").empty()) GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
  const std::string reason = CgroupSandbox::SkipReason();
  if (!reason.empty()) GTEST_SKIP() << "needs real cgroups: " << reason;
  const std::string agent_bin = BinDir() + "/prescale-agent";
  const std::string burner_bin = BinDir() + "/prescale-test-burner";
  TempDir dir("prescale-mixin");
  auto sandbox = CgroupSandbox::Create();
  ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
  const std::string image = "registry.example/shop/web:1.4";
  const std::vector<agent::testing::TestPod> pods = {
      {"3b1f0c2e-8a4d-4e6b-9f1a-2c3d4e5f6a7b", "shop", "web-5f7c9d8b4-abcde", "web", "5f7c9d8b4", "app", image,
       std::string(63, 'a') + "1"},
      {"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "shop", "web-5f7c9d8b4-fghij", "web", "5f7c9d8b4", "app", image,
       std::string(63, 'b') + "2"},
      {"1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", "shop", "cache-6c8d7e9f5-klmno", "cache", "6c8d7e9f5", "redis",
       "registry.example/redis:7", std::string(63, 'd') + "3"}};
  agent::testing::KubeletStandIn kubelet;
  kubelet.Start();
  kubelet.Answer(200, agent::testing::PodListJson(pods));
  std::vector<std::unique_ptr<Subprocess>> burners;
  for (const auto& pod : pods) {
    auto cg = (*sandbox)->MakeCgroup("kubepods/burstable/pod" + pod.uid + "/" + pod.container_id);
    ASSERT_TRUE(cg.ok()) << cg.status().ToString();
    burners.push_back(std::make_unique<Subprocess>());
    if (pod.deployment == "web") {
      ASSERT_TRUE((*sandbox)->SetCpuQuota(*cg, 30'000, 100'000).ok());
      ASSERT_TRUE(burners.back()->Start({burner_bin, "cpu", "1", "0"}, (*sandbox)->ProcsFiles(*cg)));
    } else {
      ASSERT_TRUE(burners.back()->Start({burner_bin, "mem", std::to_string(64 << 20)}, (*sandbox)->ProcsFiles(*cg)));
    }
  }
  const std::string config =
      dir.Write("agent.yaml", "pod_metadata:\n  source: kubelet-read-only\n  url: " + kubelet.base() + "/pods\n");
  Subprocess agent;
  int agent_port = 0;
  StartAgent(agent_bin, config, &agent, &agent_port);
  if (HasFatalFailure()) return;
  Subprocess prometheus;
  int port = 0;
  StartScraper(dir, agent_port, &prometheus, &port);
  if (HasFatalFailure()) return;
  PrometheusApi api(port);

  const std::string cpu = "rate(container_cpu_usage_seconds_total{job=\"prescale-agent\", image!=\"\"}[10s])";
  const std::string pod_cpu = "sum by (namespace, pod, container) (" + cpu + ")";
  const std::string namespace_cpu = "sum by (namespace) (" + cpu + ")";
  const std::string pod_memory =
      "sum by (namespace, pod) (container_memory_working_set_bytes{job=\"prescale-agent\", image!=\"\", "
      "container!=\"\"})";
  // Each web burner's own CPU over the window, from /proc/<pid>/stat sampled while waiting.
  std::vector<std::deque<std::pair<double, double>>> history(2);
  auto own_cores = [&](size_t i) {
    const auto& h = history[i];
    const double end = h.back().first;
    auto start = h.front();
    for (const auto& sample : h) {
      if (std::abs(sample.first - (end - 10)) < std::abs(start.first - (end - 10))) start = sample;
    }
    return (h.back().second - start.second) / (end - start.first);
  };
  int attempts = 0;
  bool within = false;
  double last_at = 0;
  std::string report;
  PollUntil(
      [&] {
        const double at = UnixSeconds(std::chrono::system_clock::now());
        for (size_t i = 0; i < 2; ++i) {
          const auto used = ProcessCpuSeconds(burners[i]->pid());
          if (used) history[i].emplace_back(at, *used);
        }
        if (history[0].empty() || at - history[0].front().first < 10 || at - last_at < 1.1) return false;
        const auto count = api.Values(
            "count_over_time(container_cpu_usage_seconds_total{pod=\"" + pods[0].name + "\", container=\"app\"}[10s])",
            at);
        if (!count || count->size() != 1 || count->front() < 10) return false;
        const auto by_pod = api.Query(pod_cpu, at);
        const auto by_namespace = api.Query(namespace_cpu, at);
        const auto memory = api.Query(pod_memory, at);
        if (!by_pod || !by_namespace || !memory) return false;
        last_at = at;
        ++attempts;
        within = true;
        report.clear();
        double sum = 0;
        for (size_t i = 0; i < 2; ++i) {
          double panel = -1;
          for (const auto& series : *by_pod) {
            if (series.labels.at("pod") == pods[i].name && series.labels.at("container") == "app") panel = series.value;
          }
          const double own = own_cores(i);
          sum += own;
          report += pods[i].name + ": panel " + std::to_string(panel) + " cores, own " + std::to_string(own) + "\n";
          within = within && std::abs(panel - own) <= 0.10 * own;
        }
        const double shop = by_namespace->size() == 1 ? by_namespace->front().value : -1;
        report += "namespace shop: panel " + std::to_string(shop) + " cores, own " + std::to_string(sum) + "\n";
        within = within && by_namespace->front().labels.at("namespace") == "shop" && std::abs(shop - sum) <= 0.10 * sum;
        double cache_bytes = -1;
        for (const auto& series : *memory) {
          if (series.labels.at("pod") == pods[2].name) cache_bytes = series.value;
        }
        report += pods[2].name + ": working set " + std::to_string(cache_bytes) + " bytes of 67108864 touched\n";
        within = within && std::abs(cache_bytes - (64 << 20)) <= 0.10 * (64 << 20);
        std::printf("measured (attempt %d):\n%s", attempts, report.c_str());
        return within || attempts >= 3;
      },
      90s, 200ms);
  ASSERT_GT(attempts, 0) << "no answer from Prometheus within the deadline: " << api.last_error()
                         << "\nprometheus: " << prometheus.Stderr() << "\nagent: " << agent.Stderr();
  EXPECT_TRUE(within) << "in all " << attempts << " attempts; the last:\n" << report;
}

}  // namespace
}  // namespace prescale
