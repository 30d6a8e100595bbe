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
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "prescale/http/http_client.h"
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
using testing::ReadFileOrEmpty;
using testing::Subprocess;
using testing::TempDir;
using testing::UrlEncode;

constexpr const char* kJob = "prescale-agent";
constexpr double kWindowSeconds = 5;

// CPU seconds (user + system, all threads) a process has used, from /proc/<pid>/stat.
std::optional<double> ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3 (state) to 15 (stime): utime and stime are the 12th and 13th after the ')'.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

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

  // The values of an instant vector query evaluated at unix time `at`; nullopt when the query failed.
  std::optional<std::vector<double>> Query(const std::string& promql, double at) {
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", at);
    auto r = client_->Get(base_ + "/api/v1/query?query=" + UrlEncode(promql) + "&time=" + time, options_);
    if (!r.ok() || r->status != 200 || r->body.find("\"status\":\"success\"") == std::string::npos) {
      last_error_ = r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString();
      return std::nullopt;
    }
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[<time>,"<value>"]}]}}
    static const std::regex kValue(R"re("value":\[[-+0-9.eE]+,"([^"]*)"\])re");
    std::vector<double> values;
    for (std::sregex_iterator it(r->body.begin(), r->body.end(), kValue), end; it != end; ++it) {
      values.push_back(std::strtod((*it)[1].str().c_str(), nullptr));
    }
    return values;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  std::string base_;
  http::GetOptions options_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient();
  std::string last_error_;
};

// Prometheus scraping the agent every second.
std::string ScrapeConfig(int agent_port) {
  return std::string(
             "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
             "scrape_configs:\n  - job_name: ") +
         kJob + "\n    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(agent_port) + "']\n";
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
  ASSERT_TRUE(agent.Start({agent_bin, "--config", agent_config, "--listen", "127.0.0.1:0", "--interval", "1s", "--node",
                           "prometheus-test"}));
  static const std::regex kPortLine("serving /metrics on port ([0-9]+)");
  std::smatch m;
  std::string agent_log;
  ASSERT_TRUE(PollUntil(
      [&] {
        agent_log = agent.Stderr();
        return std::regex_search(agent_log, m, kPortLine) || !agent.running();
      },
      20s))
      << agent_log;
  ASSERT_TRUE(agent.running()) << "the agent exited: " << agent_log;
  const int agent_port = std::stoi(m[1].str());

  // One busy thread: on two cores it leaves room for Prometheus and the agent.
  Subprocess burner;
  ASSERT_TRUE(burner.Start({burner_bin, "cpu", "1", "0"}, (*sandbox)->ProcsFiles(*cg)));

  Subprocess prometheus;
  int port = 0;
  std::string error;
  testing::PrometheusOptions options;
  options.config_yaml = ScrapeConfig(agent_port);
  ASSERT_TRUE(testing::StartPrometheus(dir, options, &prometheus, &port, &error)) << error;
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
        const auto count = api.Query("count_over_time(" + selector + window + ")", at);
        if (!count || count->size() != 1 || count->front() < kWindowSeconds) return false;
        const auto values = api.Query("rate(" + selector + window + ")", at);
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
  EXPECT_GT(last.true_cores, 0.3) << "the burner hardly ran";
  EXPECT_NEAR(last.rate, last.true_cores, 0.15 * last.true_cores) << "in all " << attempts.size() << " comparisons";

  const auto up = api.Query("up{job=\"" + std::string(kJob) + "\"}", UnixSeconds(std::chrono::system_clock::now()));
  ASSERT_TRUE(up.has_value()) << api.last_error();
  EXPECT_EQ(*up, std::vector<double>{1.0}) << "Prometheus does not report the agent target as up";
}

}  // namespace
}  // namespace prescale
