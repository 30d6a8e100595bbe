// Scaling end to end with real parts (issue 6, "Tests"): the built
// prescale-aggregator and prescale-agent on 127.0.0.1, real cgroups with
// prescale-test-burner as the load, a real Alertmanager (Debian's 0.25), and a
// webhook receiver inside the test that verifies every signature and drops
// repeated action ids, as the documentation asks receivers to.
//   (a) a CPU ramp in a critical service's cgroup brings a signed scale-up
//       webhook within two ticks of the load reaching the aggregator (plus the
//       demand's 10 s bucket and 10 s lag);
//   (b) a quota squeeze: the critical service scales up, the low-priority one
//       is constrained and the agent writes its CPU cap into the real cgroup
//       file; when the critical load goes, the original value comes back;
//   (c) an alert fired through Alertmanager brings an evaluation and an action
//       at once (the tick is 60 s), counted on /metrics;
//   (d) the receiver down for 30 s with an aggregator restart in between:
//       every action the audit log lists arrives, each id handled once.
// Measured figures are printed ([ figures ] lines).
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "prescale/aggregator/actions/webhook_signature.h"
#include "prescale/http/http_server.h"
#include "tests/integration/cgroup_load.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/integration/webhook_receiver.h"
#include "tests/support/alertmanager.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/curl.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using testing::BinDir;
using testing::CgroupLoad;
using testing::Curl;
using testing::CurlReply;
using testing::Delivery;
using testing::FindProgram;
using testing::MetricValue;
using testing::NowMs;
using testing::PollUntil;
using testing::ReadFileOrEmpty;
using testing::Seconds;
using testing::StopProcess;
using testing::Subprocess;
using testing::Tail;
using testing::TempDir;
using testing::WebhookReceiver;

constexpr char kSecret[] = "e2e-webhook-secret";
constexpr char kNode[] = "e2e-node";
// The decision engine's current use: 10 s demand buckets, read 10 s late (DemandRollups::Recent).
constexpr auto kDemandBucket = 10s;
constexpr auto kDemandLag = 10s;

std::string Rfc3339(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

struct ServiceSpec {
  std::string tenant = "acme";
  std::string name;
  std::string priority = "critical";
  int current = 1, min = 1, max = 20;
  double request_cpu_cores = 0.05;
  double target_cpu = 0.8;  // target utilisation of the CPU request
  std::string policy;       // "" : the default policy
};

// A service of tenant acme (min 1 replica).
ServiceSpec Service(std::string name, std::string priority = "critical", int current = 1, int max = 20,
                    double request_cpu_cores = 0.05, double target_cpu = 0.8, std::string policy = "") {
  ServiceSpec s;
  s.name = std::move(name);
  s.priority = std::move(priority);
  s.current = current;
  s.max = max;
  s.request_cpu_cores = request_cpu_cores;
  s.target_cpu = target_cpu;
  s.policy = std::move(policy);
  return s;
}

class ScalingE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    for (const char* name : {"prescale-aggregator", "prescale-agent", "prescale-test-burner"}) {
      const std::string path = BinDir() + "/" + name;
      ASSERT_EQ(::access(path.c_str(), X_OK), 0) << path << " is missing: build the " << name << " target";
    }
    secret_file_ = dir_.Write("webhook-secret", std::string(kSecret) + "\n");  // the trailing newline is not key
    const std::string error = receiver_.Start();
    ASSERT_TRUE(error.empty()) << "webhook receiver: " << error;
  }

  void TearDown() override {
    // The agent first, gracefully: it puts back every CPU limit it changed before the cgroups go.
    StopProcess(agent_.get(), "agent");
    StopProcess(aggregator_.get(), "aggregator");
    receiver_.Stop();
    if (HasFailure()) {
      if (aggregator_ != nullptr) std::printf("--- aggregator log:\n%s\n", aggregator_->Stderr().c_str());
      if (agent_ != nullptr) {
        const std::string log = agent_->Stderr();
        std::printf("--- agent log (head):\n%s\n--- agent log (tail):\n%s\n", log.substr(0, 3000).c_str(),
                    Tail(log, 2000).c_str());
      }
    }
  }

  // Real cgroups (skips when there are none, or no CPU controller).
  void NeedCgroups() { ASSERT_NO_FATAL_FAILURE(load_.Init()); }
  std::string QuotaFile(const std::string& cgroup) const { return load_.QuotaFile(cgroup); }
  static std::optional<double> CapCores(const std::string& quota_file) { return CgroupLoad::CapCores(quota_file); }
  std::string MakeServiceCgroup(const std::string& tenant, const std::string& service) {
    return load_.MakeServiceCgroup(tenant, service);
  }
  void SetLoad(const std::string& service_cgroup, double cores) {
    ASSERT_NO_FATAL_FAILURE(load_.SetLoad(service_cgroup, cores));
  }
  std::unique_ptr<Subprocess> StartBurner(const std::string& service_cgroup) {
    return load_.StartBurner(service_cgroup);
  }

  std::string ServiceYaml(const ServiceSpec& s) const {
    std::string yaml = "  - tenant: " + s.tenant + "\n    name: " + s.name + "\n    priority: " + s.priority +
                       "\n    replicas: {current: " + std::to_string(s.current) + ", min: " + std::to_string(s.min) +
                       ", max: " + std::to_string(s.max) +
                       "}\n    requests: {cpu_cores: " + std::to_string(s.request_cpu_cores) +
                       "}\n    target_utilization: {cpu: " + std::to_string(s.target_cpu) + "}\n";
    if (!s.policy.empty()) yaml += "    policy: " + s.policy + "\n";
    yaml += "    executor: {type: webhook, url: \"" + receiver_.url() + "\", secret_file: \"" + secret_file_ + "\"}\n";
    return yaml;
  }
  // The aggregator's YAML: 127.0.0.1:0, a data directory, the agent token
  // (testing::kTestToken: pushes, raw reads, alerts), one tenant, the given
  // services and extra top-level keys (tick_interval, policies, ...).
  std::string WriteAggregatorConfig(const std::vector<ServiceSpec>& services, const std::string& extra) {
    std::string yaml = "listen: 127.0.0.1:0\ndata_dir: \"" + dir_.path() + "/aggregator\"\nwebhook_timeout: 2s\n" +
                       "tokens:\n  - {name: agent, role: agent, sha256: \"" + testing::kTestTokenSha256 + "\"}\n" +
                       testing::kTestMonitorTokenYaml + extra +
                       "tenants:\n  - name: acme\n    quotas: {cpu_cores: 64}\nservices:\n";
    for (const ServiceSpec& s : services) yaml += ServiceYaml(s);
    return dir_.Write("aggregator.yaml", yaml);
  }
  void StartAggregator(const std::string& config) {
    aggregator_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(aggregator_->Start({BinDir() + "/prescale-aggregator", "--config", config}));
    std::string log;
    const int port = testing::WaitForServingPort(*aggregator_, 20s, &log);
    ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
    base_ = "http://127.0.0.1:" + std::to_string(port);
  }
  // A file holding testing::kTestToken (the agent's and Alertmanager's token_file).
  std::string TokenFile() const { return dir_.Write("agent.token", std::string(testing::kTestToken) + "\n"); }
  void StartAgent() {
    const std::string config = dir_.Write(
        "agent.yaml", "listen: 127.0.0.1:0\ninterval: 1s\ndiscovery_interval: 1s\nnode: " + std::string(kNode) +
                          "\naggregator_url: " + base_ + "/api/v1/write\ntoken_file: \"" + TokenFile() +
                          "\"\ndirectives: true\ndirective_interval: 1s\ndata_dir: \"" + dir_.path() +
                          "/agent\"\nmapping:\n  - match: '" + load_.sandbox().MappingPattern() +
                          "'\n    labels: {tenant: $1, service: $2}\n");
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start({BinDir() + "/prescale-agent", "--config", config}));
  }

  // The aggregator's raw container_cpu_usage_seconds_total samples of a cgroup: (unix ms, seconds).
  std::vector<std::pair<int64_t, double>> CpuSamples(const std::string& tenant, const std::string& service,
                                                     const std::string& cgroup) const {
    std::vector<std::pair<int64_t, double>> out;
    const CurlReply r = Curl(
        "GET", base_ + "/api/v1/raw?match=container_cpu_usage_seconds_total&tenant=" + tenant + "&service=" + service,
        "", {std::string("Authorization: Bearer ") + testing::kTestToken});
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    if (r.status != 200 || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsArray()) return out;
    for (const auto& s : doc["data"].GetArray()) {
      if (!s["labels"].HasMember("id") || std::string(s["labels"]["id"].GetString()) != cgroup) continue;
      for (const auto& sample : s["samples"].GetArray()) {
        out.emplace_back(sample[0].GetInt64(), std::strtod(sample[1].GetString(), nullptr));
      }
      break;
    }
    return out;
  }
  // When the first sample showing at least `cores` of use (against the one before) was taken; 0 when none.
  int64_t FirstLoadedSampleMs(const std::string& tenant, const std::string& service, const std::string& cgroup,
                              double cores) const {
    const auto samples = CpuSamples(tenant, service, cgroup);
    for (size_t i = 1; i < samples.size(); ++i) {
      const double dt = static_cast<double>(samples[i].first - samples[i - 1].first) / 1000.0;
      if (dt > 0 && (samples[i].second - samples[i - 1].second) / dt >= cores) return samples[i].first;
    }
    return 0;
  }
  // Waits until the aggregator holds `n` more samples of the cgroup than it did.
  bool WaitForSamples(const std::string& tenant, const std::string& service, const std::string& cgroup, size_t n,
                      std::chrono::milliseconds timeout) const {
    const size_t before = CpuSamples(tenant, service, cgroup).size();
    return PollUntil([&] { return CpuSamples(tenant, service, cgroup).size() >= before + n; }, timeout, 200ms);
  }

  std::string Metrics() const {
    return Curl("GET", base_ + "/metrics", "", {std::string("Authorization: Bearer ") + testing::kTestMonitorToken})
        .body;
  }

  // An Alertmanager version-4 webhook body with one alert, as Alertmanager posts it.
  static std::string AlertBody(const std::string& fingerprint, const std::string& tenant, const std::string& service,
                               const std::string& status) {
    return R"({"version":"4","groupKey":"{}:{tenant=\")" + tenant + R"(\"}","status":")" + status +
           R"(","receiver":"prescale","groupLabels":{},"commonLabels":{},"commonAnnotations":{},)"
           R"("externalURL":"http://alertmanager.invalid","alerts":[{"status":")" +
           status + R"(","labels":{"alertname":"E2eLatency","tenant":")" + tenant + R"(","service":")" + service +
           R"(","prescale_action":"scale_up"},"annotations":{},"startsAt":")" + Rfc3339(NowMs() - 1000) +
           R"(","endsAt":"0001-01-01T00:00:00Z","fingerprint":")" + fingerprint + R"("}]})";
  }

  TempDir dir_{"prescale-scaling-e2e"};  // declared first: removed after every process is gone
  CgroupLoad load_;                      // destroyed after the processes: kills the burners, removes cgroups
  std::string secret_file_;
  WebhookReceiver receiver_{kSecret};
  std::unique_ptr<Subprocess> aggregator_;
  std::unique_ptr<Subprocess> agent_;
  std::string base_;
};

// (a) A ramp in web's cgroup (0.2, 0.4, then 0.6 cores) reaches the aggregator
// through the agent's pushes; the decision loop (2 s ticks) sees it once the
// demand's 10 s bucket is complete and 10 s old, and a signed scale-up webhook follows.
TEST_F(ScalingE2eTest, CpuRampBringsSignedScaleUpWebhookWithinTwoTicks) {
  ASSERT_NO_FATAL_FAILURE(NeedCgroups());
  constexpr auto kTick = 2s;
  const std::string web = MakeServiceCgroup("acme", "web");
  const std::string config =
      WriteAggregatorConfig({Service("web")}, "tick_interval: 2s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  // Idle first: a few pushes of web at rest, and no action for an idle service at its minimum.
  ASSERT_TRUE(WaitForSamples("acme", "web", web, 3, 30s))
      << "web's cgroup did not reach the aggregator; agent: " << Tail(agent_->Stderr(), 2000);
  EXPECT_TRUE(receiver_.Handled().empty());

  SetLoad(web, 0.2);
  auto burner = StartBurner(web);
  const int64_t burner_started_ms = NowMs();
  for (double cores : {0.4, 0.6}) {
    ASSERT_TRUE(WaitForSamples("acme", "web", web, 2, 20s));
    SetLoad(web, cores);
  }
  const auto budget = 2 * kTick + kDemandBucket + kDemandLag + 10s;  // the slack: a loaded shared machine
  auto up = receiver_.WaitFor(
      "acme", "web", [](const Delivery& d) { return d.to_replicas > d.from_replicas; }, 90s);
  ASSERT_TRUE(up.has_value()) << "no scale-up webhook within 90 s of the burner starting; metrics:\n" << Metrics();
  const int64_t load_seen_ms = FirstLoadedSampleMs("acme", "web", web, 0.1);
  ASSERT_GT(load_seen_ms, 0) << "no pushed sample shows the load";
  const int64_t latency_ms = up->received_ms - load_seen_ms;
  // When the decision loop could first see it: the 10 s bucket holding that sample complete and 10 s old.
  const int64_t bucket_ms = std::chrono::milliseconds(kDemandBucket).count();
  const int64_t visible_ms =
      load_seen_ms / bucket_ms * bucket_ms + bucket_ms + std::chrono::milliseconds(kDemandLag).count();
  std::printf(
      "[ figures  ] (a) first pushed sample with load -> scale-up webhook: %s (budget %s: 2 ticks of %s + %s bucket + "
      "%s lag + 10 s slack); from when its bucket was complete and %s old: %s; from the burner's start: %s; "
      "%lld -> %lld\n",
      Seconds(latency_ms).c_str(), Seconds(std::chrono::milliseconds(budget).count()).c_str(),
      Seconds(std::chrono::milliseconds(kTick).count()).c_str(), Seconds(bucket_ms).c_str(),
      Seconds(std::chrono::milliseconds(kDemandLag).count()).c_str(),
      Seconds(std::chrono::milliseconds(kDemandLag).count()).c_str(), Seconds(up->received_ms - visible_ms).c_str(),
      Seconds(up->received_ms - burner_started_ms).c_str(), static_cast<long long>(up->from_replicas),
      static_cast<long long>(up->to_replicas));
  EXPECT_LE(latency_ms, std::chrono::milliseconds(budget).count());
  EXPECT_GT(up->to_replicas, up->from_replicas);
  EXPECT_EQ(up->from_replicas, 1);
  EXPECT_EQ(up->trigger, "tick");
  EXPECT_EQ(up->idempotency_key, up->id);
  EXPECT_TRUE(up->id.starts_with("act_")) << up->id;
  const long long sent_s = std::atoll(up->timestamp_header.c_str());
  EXPECT_LE(std::llabs(sent_s - up->received_ms / 1000), 60) << "X-Prescale-Timestamp " << up->timestamp_header;
  EXPECT_EQ(receiver_.bad_signatures(), 0u);
  EXPECT_EQ(receiver_.bad_bodies(), 0u);
}

// (b) Cluster capacity 0.4 cores, no reserve. api (critical, 1 to 3 replicas
// of 0.1 core at 30%) and batch (low, 2 replicas of 0.1 at 10%, its own steady
// load of at most 0.09 cores) fit until api's load (0.3 cores) asks for its 3
// replicas: batch is cut to 1 and capped at 0.1 cores, which the agent writes
// into batch's cgroup. batch still wants its max of 2, so the cap holds while
// api's load lasts. When api's burner stops, api scales down, batch is granted
// 2 again and, after the engine's release hysteresis (3 evaluations), its
// original limit comes back while its own load still runs. The targets are
// low so that neither side's wish depends on how much CPU the burners get on a
// busy machine (their measured use varies by 2x): api wants 3 from 0.06 cores
// of use, batch 2 from 0.011. batch's load is held below the cap: on cgroup v1
// the kernel refuses (EINVAL) a parent's quota below a child's.
TEST_F(ScalingE2eTest, QuotaSqueezeCapsLowPriorityCgroupUntilTheLoadGoes) {
  ASSERT_NO_FATAL_FAILURE(NeedCgroups());
  const std::string api = MakeServiceCgroup("acme", "api");
  const std::string batch = MakeServiceCgroup("acme", "batch");
  const std::string batch_quota = QuotaFile(batch);
  ASSERT_FALSE(batch_quota.empty());
  const std::string original = ReadFileOrEmpty(batch_quota);
  ASSERT_FALSE(CapCores(batch_quota).has_value()) << "a new cgroup has no CPU limit: " << original;
  const std::string config = WriteAggregatorConfig(
      {Service("api", "critical", 1, 3, 0.1, 0.3, "fast"), Service("batch", "low", 2, 2, 0.1, 0.1)},
      "tick_interval: 2s\ndirective_lease: 10s\ncluster_cpu_cores: 0.4\ncapacity_reserve: 0\n"
      "policies:\n  - name: fast\n    mode: reactive\n    behavior:\n"
      "      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 10, periodSeconds: 1}]}\n"
      "      scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 100, periodSeconds: 1}]}\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  SetLoad(batch, 0.09);
  auto batch_burner = StartBurner(batch);
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  // batch's own load settles (2 replicas, its max: no change) before api's starts.
  ASSERT_TRUE(WaitForSamples("acme", "batch", batch, 3, 30s))
      << "batch's cgroup did not reach the aggregator; agent: " << Tail(agent_->Stderr(), 2000);
  EXPECT_EQ(ReadFileOrEmpty(batch_quota), original);

  SetLoad(api, 0.3);
  auto api_burner = StartBurner(api);
  const auto load_started = std::chrono::steady_clock::now();
  std::optional<double> cap;
  const bool capped = PollUntil(
      [&] {
        cap = CapCores(batch_quota);
        return cap.has_value();
      },
      90s, 100ms);
  const auto capped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(capped) << "no CPU cap in " << batch_quota << " within 90 s of api's load; metrics:\n" << Metrics();
  EXPECT_NEAR(*cap, 0.1, 0.001) << "batch is granted 1 replica of 0.1 cores: " << ReadFileOrEmpty(batch_quota);
  // The webhooks: api scaled up past what fits beside batch's two replicas; batch cut to 1, throttled.
  const auto api_up = receiver_.WaitFor(
      "acme", "api", [](const Delivery& d) { return d.to_replicas == 3 && d.to_replicas > d.from_replicas; }, 10s);
  EXPECT_TRUE(api_up.has_value()) << "no api scale-up to 3 replicas";
  const auto batch_down = receiver_.WaitFor(
      "acme", "batch", [](const Delivery& d) { return d.constrained && d.to_replicas < d.from_replicas; }, 10s);
  ASSERT_TRUE(batch_down.has_value()) << "no constrained batch scale-down";
  ASSERT_TRUE(batch_down->throttle.has_value());
  EXPECT_NEAR(*batch_down->throttle, 0.1, 1e-9);
  const std::string metrics = Metrics();
  EXPECT_EQ(MetricValue(metrics, R"(prescale_throttled{service="batch",tenant="acme"})"), 0.1) << metrics;
  EXPECT_EQ(MetricValue(metrics, R"(prescale_throttled{service="api",tenant="acme"})"), 0.0) << metrics;

  // The cap holds while api's load lasts: a few more evaluations and directive polls.
  ASSERT_TRUE(WaitForSamples("acme", "batch", batch, 4, 20s));
  EXPECT_NEAR(CapCores(batch_quota).value_or(0), 0.1, 0.001) << ReadFileOrEmpty(batch_quota);

  api_burner->Signal(SIGKILL);
  api_burner->Wait(10s);
  const auto load_stopped = std::chrono::steady_clock::now();
  const bool restored = PollUntil([&] { return ReadFileOrEmpty(batch_quota) == original; }, 90s, 100ms);
  const auto restored_at = std::chrono::steady_clock::now();
  const int64_t restored_ms = NowMs();
  ASSERT_TRUE(restored) << "batch's limit is still " << ReadFileOrEmpty(batch_quota) << " (original " << original
                        << ") 90 s after api's load stopped; metrics:\n"
                        << Metrics();
  ASSERT_TRUE(batch_burner->running()) << "batch's own load still runs: the cap went because capacity freed";
  const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  // The cap went because capacity freed: api scaled down and batch was granted its 2 replicas again, before.
  const auto api_down = receiver_.WaitFor(
      "acme", "api", [](const Delivery& d) { return d.to_replicas < d.from_replicas; }, 10s);
  const auto batch_up = receiver_.WaitFor(
      "acme", "batch", [&](const Delivery& d) { return d.received_ms > batch_down->received_ms && d.to_replicas == 2; },
      10s);
  ASSERT_TRUE(api_down.has_value()) << "api did not scale down";
  ASSERT_TRUE(batch_up.has_value()) << "batch was not granted 2 replicas again";
  EXPECT_LE(api_down->received_ms, restored_ms);
  EXPECT_LE(batch_up->received_ms, restored_ms);
  std::printf(
      "[ figures  ] (b) api's load start -> cap %.3f cores in batch's %s: %s; api's load stop -> original "
      "value back: %s (batch granted 2 again -> original back: %s; release after 3 evaluations, tick 2 s)\n",
      *cap, batch_quota.substr(batch_quota.rfind('/') + 1).c_str(), Seconds(ms(capped_at - load_started)).c_str(),
      Seconds(ms(restored_at - load_stopped)).c_str(), Seconds(restored_ms - batch_up->received_ms).c_str());
  EXPECT_EQ(receiver_.bad_signatures(), 0u);
}

// (c) Alertmanager 0.25 groups by [tenant, service] and posts to the
// aggregator; a firing alert with prescale_action scale_up evaluates web at
// once (the tick is 60 s, so only the trigger can explain the action) and
// holds one more replica; the resolved alert is counted too.
TEST_F(ScalingE2eTest, AlertThroughAlertmanagerBringsEvaluationAndAction) {
  if (testing::FindAlertmanager().empty()) {
    GTEST_SKIP() << "Alertmanager is not installed (Debian package prometheus-alertmanager)";
  }
  const std::string config = WriteAggregatorConfig({Service("web", "critical", 2)},
                                                   "tick_interval: 60s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  Subprocess alertmanager;
  int am_port = 0;
  std::string error;
  testing::AlertmanagerOptions options;
  options.config_yaml =
      testing::AlertmanagerWebhookConfig(base_ + "/api/v1/alerts/alertmanager", "1s", "1s", TokenFile());
  ASSERT_TRUE(testing::StartAlertmanager(dir_, options, &alertmanager, &am_port, &error)) << error;
  const std::string am = "http://127.0.0.1:" + std::to_string(am_port);
  const std::string alert =
      R"([{"labels":{"alertname":"E2eLatencyHigh","tenant":"acme","service":"web","prescale_action":"scale_up"},)"
      R"("annotations":{"summary":"p99 latency over budget"},"generatorURL":"http://prometheus.invalid/graph"}])";
  const int64_t fired_ms = NowMs();
  const CurlReply posted = Curl("POST", am + "/api/v2/alerts", alert, {"Content-Type: application/json"});
  ASSERT_EQ(posted.status, 200) << posted.body << posted.error;
  const auto action = receiver_.WaitFor(
      "acme", "web", [](const Delivery& d) { return d.trigger.starts_with("alertmanager:"); }, 30s);
  ASSERT_TRUE(action.has_value()) << "no action triggered by the alert within 30 s; alertmanager: "
                                  << alertmanager.Stderr() << "\nmetrics:\n"
                                  << Metrics();
  std::printf(
      "[ figures  ] (c) alert posted to Alertmanager -> action webhook: %s (group_wait 1s, tick 60 s); "
      "%lld -> %lld, trigger %s\n",
      Seconds(action->received_ms - fired_ms).c_str(), static_cast<long long>(action->from_replicas),
      static_cast<long long>(action->to_replicas), action->trigger.c_str());
  EXPECT_LT(action->received_ms - fired_ms, 20'000) << "the trigger evaluates at once, not at the 60 s tick";
  EXPECT_EQ(action->from_replicas, 2);
  EXPECT_EQ(action->to_replicas, 3);
  std::string metrics = Metrics();
  EXPECT_GE(MetricValue(metrics, R"(prescale_alertmanager_alerts_total{outcome="triggered"})").value_or(0), 1)
      << metrics;
  EXPECT_GE(MetricValue(metrics, R"(prescale_triggers_total{source="alertmanager"})").value_or(0), 1) << metrics;

  // Resolved (endsAt now): Alertmanager sends it (send_resolved), and the aggregator counts it as a trigger too.
  std::string resolved = alert;
  resolved.insert(resolved.size() - 2, R"(,"endsAt":")" + Rfc3339(NowMs()) + "\"");
  ASSERT_EQ(Curl("POST", am + "/api/v2/alerts", resolved, {"Content-Type: application/json"}).status, 200);
  EXPECT_TRUE(PollUntil(
      [&] {
        metrics = Metrics();
        return MetricValue(metrics, R"(prescale_alertmanager_alerts_total{outcome="triggered"})").value_or(0) >= 2;
      },
      30s, 200ms))
      << metrics;
  EXPECT_GE(MetricValue(metrics, R"(prescale_triggers_total{source="alertmanager"})").value_or(0), 2) << metrics;
  EXPECT_EQ(receiver_.bad_signatures(), 0u);
  alertmanager.Signal(SIGTERM);
  alertmanager.Wait(10s);
}

// (d) Actions decided while the receiver is down, before and after an
// aggregator restart (SIGTERM, same data directory), all arrive once it is
// back: nothing the audit log lists as a 'scale' action is missing, no id is
// handled twice, and each service's actions arrive in the order decided.
TEST_F(ScalingE2eTest, ActionsSurviveReceiverOutageAndAggregatorRestart) {
  const std::string data_dir = dir_.path() + "/aggregator";
  ASSERT_EQ(::mkdir(data_dir.c_str(), 0750), 0);
  const auto token = testing::RunCommand({BinDir() + "/prescale-aggregator", "token", "create", "--role", "admin",
                                          "--name", "e2e", "--data-dir", data_dir},
                                         60s);
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string admin = token.out.substr(0, token.out.find('\n'));
  const std::string config = WriteAggregatorConfig({Service("web"), Service("api")},
                                                   "tick_interval: 2s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\n");
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  int fingerprint = 0;
  auto fire = [&](const std::string& service) {
    const CurlReply r = Curl("POST", base_ + "/api/v1/alerts/alertmanager",
                             AlertBody("e2e" + std::to_string(++fingerprint), "acme", service, "firing"),
                             {"Content-Type: application/json", "Authorization: Bearer " + admin});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_NE(r.body.find(R"("triggered":1)"), std::string::npos) << r.body;
  };
  // Every 'scale' record of the audit log: (service, action id), oldest first.
  auto audited = [&] {
    std::vector<std::pair<std::string, std::string>> out;
    std::string page;
    do {
      const CurlReply r =
          Curl("GET", base_ + "/api/v1/audit?kind=service&limit=1000" + page, "", {"Authorization: Bearer " + admin});
      rapidjson::Document doc;
      doc.Parse(r.body.c_str());
      if (r.status != 200 || !doc.IsObject() || !doc.HasMember("items")) {
        ADD_FAILURE() << "GET /api/v1/audit: " << r.status << " " << r.body;
        return out;
      }
      for (const auto& item : doc["items"].GetArray()) {
        if (std::string(item["action"].GetString()) == "scale") {
          out.emplace_back(item["name"].GetString(), item["request_id"].GetString());
        }
      }
      const std::string next = doc["next_page_token"].GetString();
      page = next.empty() ? "" : "&page_token=" + next;
    } while (!page.empty());
    return out;
  };

  // Up: the first action arrives.
  ASSERT_NO_FATAL_FAILURE(fire("web"));
  ASSERT_TRUE(receiver_
                  .WaitFor(
                      "acme", "web", [](const Delivery&) { return true; }, 20s)
                  .has_value());

  // Down for 30 s: two actions decided, tried and retried.
  receiver_.Stop();
  const auto down_at = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(fire("web"));
  ASSERT_NO_FATAL_FAILURE(fire("api"));
  ASSERT_TRUE(PollUntil([&] { return audited().size() == 3; }, 20s, 200ms)) << "audited: " << audited().size();
  ASSERT_TRUE(PollUntil(
      [&] {
        return MetricValue(Metrics(), R"(prescale_action_deliveries_total{executor="webhook",result="retry"})")
                   .value_or(0) >= 2;
      },
      20s, 200ms))
      << Metrics();

  // The aggregator restarts (SIGTERM, same data directory) while the receiver is still down; one more action.
  aggregator_->Signal(SIGTERM);
  ASSERT_TRUE(aggregator_->Wait(20s).has_value()) << "the aggregator did not stop on SIGTERM";
  const std::string first_log = aggregator_->Stderr();
  ASSERT_NO_FATAL_FAILURE(StartAggregator(config));
  ASSERT_NO_FATAL_FAILURE(fire("web"));
  ASSERT_TRUE(PollUntil([&] { return audited().size() == 4; }, 20s, 200ms)) << "audited: " << audited().size();
  EXPECT_EQ(receiver_.Handled().size(), 1u) << "nothing arrives while the receiver is down";

  // Back after 30 s, on the same port (the services' url).
  std::this_thread::sleep_until(down_at + 30s);  // the outage's length, not a wait for an outcome
  const std::string error = receiver_.Restart();
  ASSERT_TRUE(error.empty()) << "the receiver cannot listen on its port again: " << error;
  const auto up_at = std::chrono::steady_clock::now();
  const int64_t up_ms = NowMs();
  const auto audit = audited();
  std::set<std::string> expected;
  for (const auto& [service, id] : audit) expected.insert(id);
  auto got_all = [&] {
    std::set<std::string> got;
    for (const Delivery& d : receiver_.Handled()) got.insert(d.id);
    return std::includes(got.begin(), got.end(), expected.begin(), expected.end());
  };
  const bool all = PollUntil(got_all, 90s, 200ms);
  const auto all_at = std::chrono::steady_clock::now();
  const std::vector<Delivery> handled = receiver_.Handled();
  for (const auto& [service, id] : audit) {
    EXPECT_TRUE(std::any_of(handled.begin(), handled.end(), [&want = id](const Delivery& d) { return d.id == want; }))
        << "action " << id << " (" << service << ") is audited but never reached the receiver";
  }
  ASSERT_TRUE(all) << "first aggregator:\n" << first_log;
  std::set<std::string> handled_ids;
  for (size_t i = 1; i < handled.size(); ++i) {
    EXPECT_GE(handled[i].received_ms, up_ms) << handled[i].id << " arrived while the receiver was down";
  }
  for (const Delivery& d : handled) {
    EXPECT_TRUE(handled_ids.insert(d.id).second) << d.id << " handled twice";
    EXPECT_TRUE(expected.contains(d.id)) << d.id << " arrived but is not in the audit log";
  }
  // In the order decided, per service: the audit's order.
  for (const char* service : {"web", "api"}) {
    std::vector<std::string> decided, arrived;
    for (const auto& [s, id] : audit) {
      if (s == service) decided.push_back(id);
    }
    for (const Delivery& d : handled) {
      if (d.service == service) arrived.push_back(d.id);
    }
    EXPECT_EQ(arrived, decided) << service;
  }
  const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf(
      "[ figures  ] (d) %zu actions audited, %zu handled, %zu requests (%zu repeats dropped by id), %zu bad "
      "signatures; receiver down %s, all delivered %s after it came back\n",
      audit.size(), handled.size(), receiver_.requests(), receiver_.repeats(), receiver_.bad_signatures(),
      Seconds(ms(up_at - down_at)).c_str(), Seconds(ms(all_at - up_at)).c_str());
  EXPECT_EQ(audit.size(), 4u);
  EXPECT_EQ(receiver_.bad_signatures(), 0u);
  std::string metrics;
  EXPECT_TRUE(PollUntil(
      [&] {
        metrics = Metrics();
        return MetricValue(metrics, "prescale_action_outbox_size") == 0.0;
      },
      10s, 200ms))
      << metrics;
}

}  // namespace
}  // namespace prescale
