// Kubernetes-native end to end (issue "Kubernetes-native"): two pods of
// Deployment shop/web burn CPU in real cgroups laid out as the kubelet's
// cgroupfs driver lays them out (<sandbox>/kubepods/burstable/pod<uid>/<id>);
// the built prescale-agent labels their series with namespace, pod, container
// and workload from the pod list and pushes them by remote write to the built
// prescale-aggregator, whose workload discovery turns the annotated Deployment
// into a service (its pod template's requests included) and whose kubernetes
// executor patches the Deployment's scale subresource.
//
// The API server and the kubelet are stand-ins: real HTTP servers on
// 127.0.0.1 inside this test that speak the real wire format (apps/v1
// DeploymentList and StatefulSetList, autoscaling/v1 Scale with GET and
// merge-patch PATCH, autoscaling/v2 HorizontalPodAutoscalerList, metav1.Status
// errors, bearer tokens; the kubelet's core/v1 PodList, from
// tests/agent/kubelet_stand_in.h), shaped as the Kubernetes API reference
// shows them. None of the real ones can run here: no cluster, no
// kube-apiserver, etcd or kubelet binaries, and no container runtime.
//   NoHpa: a PATCH {"spec":{"replicas":N}}, N > 2, reaches
//     /apis/apps/v1/namespaces/shop/deployments/web/scale within two ticks
//     (plus the demand's 10 s bucket, its 10 s lag and the push lag) of the
//     first pushed sample showing the load; the audit log and /metrics show it.
//   WithHpa: an autoscaling/v2 HPA targets Deployment web: the decision is
//     made, the action is refused (not failed) and says why (audit log,
//     /metrics), the service's decision as GET /api/v1/decisions reports it
//     is recommend-only and names the HPA, later decisions are recorded as
//     recommendations, and no PATCH is ever sent.
// Measured figures are printed ([ figures ] lines).
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "prescale/http/http_server.h"
#include "tests/agent/kubelet_stand_in.h"
#include "tests/aggregator/kubernetes_stand_in.h"
#include "tests/integration/e2e_helpers.h"
#include "tests/support/cgroup_sandbox.h"
#include "tests/support/curl.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace prescale {
namespace {

using namespace std::chrono_literals;
using aggregator::k8s_stand_in::Json;
using aggregator::k8s_stand_in::StatusBody;
using testing::BinDir;
using testing::CgroupSandbox;
using testing::Curl;
using testing::CurlReply;
using testing::FindProgram;
using testing::MetricValue;
using testing::NowMs;
using testing::PollUntil;
using testing::Seconds;
using testing::StopProcess;
using testing::Subprocess;
using testing::Tail;
using testing::TempDir;

constexpr char kApiToken[] = "e2e-service-account-token";
constexpr char kScalePath[] = "/apis/apps/v1/namespaces/shop/deployments/web/scale";
constexpr int64_t kCurrentReplicas = 2;
// The decision loop's tick, and the demand it reads: 10 s buckets, read 10 s late (DemandRollups::Recent).
constexpr auto kTick = 2s;
constexpr auto kDemandBucket = 10s;
constexpr auto kDemandLag = 10s;
constexpr auto kPushLag = 2s;  // the agent's 1 s interval: a sample waits at most that for its push, plus the send
constexpr auto kDeadline = 90s;

int64_t Ms(std::chrono::milliseconds d) { return d.count(); }

// Deployment shop/web as the API server lists it: annotated for prescale, two
// replicas, its pod template's one container requesting what the pods' own
// spec (kubelet_stand_in.h's PodJson) requests: 250m CPU and 128Mi.
std::string WebDeploymentJson() {
  return R"({"metadata":{"name":"web","namespace":"shop","uid":"5f0c6a0e-1b7d-4f7e-8d0e-3c2b1a0f9e8d",)"
         R"("resourceVersion":"60231","generation":2,"creationTimestamp":"2026-11-20T08:14:03Z",)"
         R"("labels":{"app":"web"},"annotations":{"deployment.kubernetes.io/revision":"2",)"
         R"("prescale.io/enabled":"true","prescale.io/min-replicas":"2","prescale.io/max-replicas":"20"}},)"
         R"("spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":)"
         R"({"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"app",)"
         R"("image":"registry.example/shop/web:1.4","ports":[{"containerPort":8080,"protocol":"TCP"}],)"
         R"("resources":{"requests":{"cpu":"250m","memory":"128Mi"},"limits":{"memory":"256Mi"}}}],)"
         R"("restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst"}},)"
         R"("strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}},)"
         R"("status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"readyReplicas":2,)"
         R"("availableReplicas":2}})";
}

// An autoscaling/v2 HorizontalPodAutoscaler of shop whose scaleTargetRef is apps/v1 Deployment web.
std::string WebHpaJson() {
  return R"({"metadata":{"name":"web-hpa","namespace":"shop","uid":"0b8b7e54-3c1f-4f0e-9a55-1a8e6b2f9d10",)"
         R"("resourceVersion":"51877","creationTimestamp":"2026-11-21T09:00:00Z"},"spec":{"scaleTargetRef":)"
         R"({"kind":"Deployment","name":"web","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":10,)"
         R"("metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization",)"
         R"("averageUtilization":70}}}]},"status":{"currentReplicas":2,"desiredReplicas":2,)"
         R"("currentMetrics":null,"conditions":[{"type":"AbleToScale","status":"True",)"
         R"("lastTransitionTime":"2026-11-21T09:00:15Z","reason":"SucceededGetScale",)"
         R"("message":"the HPA controller was able to get the target's current scale"}]}})";
}

// A PATCH of web's scale subresource, as it arrived.
struct ScalePatch {
  std::string body, content_type, authorization;
  int64_t replicas = -1;  // spec.replicas of the merge patch; -1 when the body is not {"spec":{"replicas":N}}
  int64_t received_ms = 0;
};

// The API server stand-in: workload lists for discovery, the HPA list and the
// scale subresource (GET, PATCH) of Deployment shop/web for the executor.
// Every request must carry the service account's bearer token. Thread-safe.
class ApiServerStandIn {
 public:
  void Start() {
    std::vector<http::Route> routes;
    routes.push_back({"GET", "/apis/apps/v1/deployments",
                      [this](const http::HttpRequest& r) { return List(r, "DeploymentList", WebDeploymentJson()); }});
    routes.push_back({"GET", "/apis/apps/v1/statefulsets",
                      [this](const http::HttpRequest& r) { return List(r, "StatefulSetList", ""); }});
    routes.push_back({"GET", "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                      [this](const http::HttpRequest& r) { return Hpas(r); }});
    for (const char* method : {"GET", "PATCH"}) {
      routes.push_back({method, "/apis/apps/v1/namespaces/{namespace}/{resource}/{name}/scale",
                        [this](const http::HttpRequest& r) { return Scale(r); }});
    }
    auto server = http::HttpServer::Start(http::HttpServerOptions{}, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void Stop() {
    if (server_ != nullptr) server_->Stop();
  }
  // Stops the server before the members its handlers read are destroyed.
  ~ApiServerStandIn() { Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void AddWebHpa() {
    std::lock_guard lock(mu_);
    hpa_ = true;
  }
  std::vector<ScalePatch> patches() const {
    std::lock_guard lock(mu_);
    return patches_;
  }
  int Count(const std::string& what) const {
    std::lock_guard lock(mu_);
    auto it = counts_.find(what);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  // Counts the request; a 401 Status unless it carries the token.
  std::optional<http::HttpResponse> Admit(const http::HttpRequest& r, const std::string& what) {
    ++counts_[what];
    if (r.Header("Authorization") == std::string("Bearer ") + kApiToken) return std::nullopt;
    ++counts_["unauthorized"];
    return Json(401, StatusBody(401, "Unauthorized", "Unauthorized"));
  }

  http::HttpResponse List(const http::HttpRequest& r, const std::string& kind, const std::string& item) {
    std::lock_guard lock(mu_);
    if (auto refused = Admit(r, kind)) return *refused;
    return Json(200, R"({"kind":")" + kind +
                         R"(","apiVersion":"apps/v1","metadata":{"resourceVersion":"60300"},)"
                         R"("items":[)" +
                         item + "]}");
  }

  http::HttpResponse Hpas(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto refused = Admit(r, "HorizontalPodAutoscalerList")) return *refused;
    const bool listed = hpa_ && r.PathParam("namespace") == "shop";
    return Json(200, R"({"kind":"HorizontalPodAutoscalerList","apiVersion":"autoscaling/v2",)"
                     R"("metadata":{"resourceVersion":"51901"},"items":[)" +
                         (listed ? WebHpaJson() : "") + "]}");
  }

  http::HttpResponse Scale(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    if (auto refused = Admit(r, r.method + " scale")) return *refused;
    if (r.path != kScalePath) {
      const std::string name(r.PathParam("name"));
      return Json(404, StatusBody(404, "NotFound", "deployments.apps \\\"" + name + "\\\" not found",
                                  R"({"name":")" + name + R"(","group":"apps","kind":"deployments"})"));
    }
    if (r.method == "PATCH") {
      ScalePatch p{r.body, std::string(r.Header("Content-Type")), std::string(r.Header("Authorization")), -1, NowMs()};
      rapidjson::Document doc;
      doc.Parse(r.body.data(), r.body.size());
      if (!doc.HasParseError() && doc.IsObject() && doc.MemberCount() == 1 && doc.HasMember("spec") &&
          doc["spec"].IsObject() && doc["spec"].MemberCount() == 1 && doc["spec"].HasMember("replicas") &&
          doc["spec"]["replicas"].IsInt64()) {
        p.replicas = doc["spec"]["replicas"].GetInt64();
      }
      std::printf("[ api      ] PATCH %s %s (%s)\n", r.path.c_str(), r.body.c_str(), p.content_type.c_str());
      std::fflush(stdout);
      patches_.push_back(p);
      if (p.content_type != "application/merge-patch+json") {
        return Json(415, StatusBody(415, "UnsupportedMediaType", "the body of the request was in an unknown format"));
      }
      if (p.replicas < 0) return Json(400, StatusBody(400, "BadRequest", "error decoding patch"));
      spec_replicas_ = p.replicas;  // status.replicas follows once the controller has acted: not yet
    }
    return Json(200, R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"shop",)"
                     R"("uid":"5f0c6a0e-1b7d-4f7e-8d0e-3c2b1a0f9e8d","resourceVersion":"60231",)"
                     R"("creationTimestamp":"2026-11-20T08:14:03Z"},"spec":{"replicas":)" +
                         std::to_string(spec_replicas_) + R"(},"status":{"replicas":)" +
                         std::to_string(kCurrentReplicas) + R"(,"selector":"app=web"}})");
  }

  mutable std::mutex mu_;
  std::unique_ptr<http::HttpServer> server_;
  bool hpa_ = false;
  int64_t spec_replicas_ = kCurrentReplicas;
  std::vector<ScalePatch> patches_;
  std::map<std::string, int> counts_;
};

// One series the aggregator holds: its labels and raw samples (unix ms, value).
struct RawSeries {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<int64_t, double>> samples;
};

// One record of the aggregator's audit log.
struct AuditItem {
  std::string action, tenant, name, message;
  int64_t time_ms = 0;
};

// Service shop/web's decision as GET /api/v1/decisions reports it.
struct WebDecision {
  bool execute = true;
  int64_t from_replicas = -1, to_replicas = -1;
  std::string reason;
  bool held = false;  // "hold" is an object (not null)
  std::string hold_reason, hold_by, hold_message, hold_since;
};

class KubernetesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (FindProgram("curl").empty()) GTEST_SKIP() << "the curl program is missing (Debian package curl)";
    const std::string reason = CgroupSandbox::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << "needs real cgroups (and root): " << reason;
    for (const char* name : {"prescale-aggregator", "prescale-agent", "prescale-test-burner"}) {
      const std::string path = BinDir() + "/" + name;
      ASSERT_EQ(::access(path.c_str(), X_OK), 0) << path << " is missing: build the " << name << " target";
    }
    auto sandbox = CgroupSandbox::Create();
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    sandbox_ = std::move(sandbox).value();
    ASSERT_NO_FATAL_FAILURE(api_.Start());
    ASSERT_NO_FATAL_FAILURE(kubelet_.Start());
    kubelet_.Answer(200, agent::testing::PodListJson(pods_));
  }

  void TearDown() override {
    StopProcess(agent_.get(), "agent");
    StopProcess(aggregator_.get(), "aggregator");
    for (auto& b : burners_) b->Signal(SIGKILL);
    kubelet_.Stop();
    api_.Stop();
    if (HasFailure()) {
      if (aggregator_ != nullptr) std::printf("--- aggregator log:\n%s\n", Tail(aggregator_->Stderr(), 6000).c_str());
      if (agent_ != nullptr) std::printf("--- agent log (tail):\n%s\n", Tail(agent_->Stderr(), 3000).c_str());
    }
  }

  // The aggregator's data directory with an admin token for the audit log and the raw series
  // and an agent token for the agent's pushes (both in the control store: the config names
  // none), then the aggregator: discovery every 5 s and the executor against the stand-in API
  // server, a 2 s tick.
  void StartAggregator() {
    const std::string data_dir = dir_.path() + "/aggregator";
    ASSERT_EQ(::mkdir(data_dir.c_str(), 0750), 0);
    const auto token = testing::RunCommand({BinDir() + "/prescale-aggregator", "token", "create", "--role", "admin",
                                            "--name", "e2e", "--data-dir", data_dir},
                                           60s);
    ASSERT_EQ(token.exit_code, 0) << token.err;
    admin_ = token.out.substr(0, token.out.find('\n'));
    const auto agent_token = testing::RunCommand({BinDir() + "/prescale-aggregator", "token", "create", "--role",
                                                  "agent", "--name", "e2e-agent", "--data-dir", data_dir},
                                                 60s);
    ASSERT_EQ(agent_token.exit_code, 0) << agent_token.err;
    // The scraper's token: GET /metrics only.
    const auto monitor_token = testing::RunCommand({BinDir() + "/prescale-aggregator", "token", "create", "--role",
                                                    "monitor", "--name", "e2e-monitor", "--data-dir", data_dir},
                                                   60s);
    ASSERT_EQ(monitor_token.exit_code, 0) << monitor_token.err;
    monitor_ = monitor_token.out.substr(0, monitor_token.out.find('\n'));
    agent_token_file_ = dir_.Write("agent.token", agent_token.out);
    const std::string config = dir_.Write(
        "aggregator.yaml",
        "listen: 127.0.0.1:0\ndata_dir: \"" + data_dir +
            "\"\nwebhook_timeout: 2s\ntick_interval: 2s\ncluster_cpu_cores: 64\ncapacity_reserve: 0\n"
            "kubernetes_api_server: " +
            api_.url() + "\nkubernetes_token_file: \"" + dir_.Write("k8s-token", std::string(kApiToken) + "\n") +
            "\"\nkubernetes_discovery: true\nkubernetes_discovery_interval: 5s\n");
    aggregator_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(aggregator_->Start({BinDir() + "/prescale-aggregator", "--config", config}));
    std::string log;
    const int port = testing::WaitForServingPort(*aggregator_, 20s, &log);
    ASSERT_NE(port, 0) << "the aggregator did not start: " << log;
    base_ = "http://127.0.0.1:" + std::to_string(port);
    std::string metrics;
    ASSERT_TRUE(PollUntil(
        [&] {
          metrics = Metrics();
          return MetricValue(metrics, "prescale_kubernetes_discovery_services") == 1.0;
        },
        30s, 200ms))
        << "discovery did not keep a service for Deployment shop/web; metrics:\n"
        << metrics;
  }

  // The pods' containers in the kubelet's cgroupfs layout, each burning CPU under a 0.5-CPU quota.
  void StartPods() {
    for (const auto& pod : pods_) {
      auto cg = sandbox_->MakeCgroup("kubepods/burstable/pod" + pod.uid + "/" + pod.container_id);
      ASSERT_TRUE(cg.ok()) << cg.status().ToString();
      ASSERT_TRUE(sandbox_->SetCpuQuota(*cg, 50'000, 100'000).ok());
      cgroups_.push_back(*cg);
      burners_.push_back(std::make_unique<Subprocess>());
      ASSERT_TRUE(
          burners_.back()->Start({BinDir() + "/prescale-test-burner", "cpu", "1", "0"}, sandbox_->ProcsFiles(*cg)));
    }
  }

  // The agent with its default rules (the kubernetes preset) and the kubelet stand-in's pod list.
  void StartAgent() {
    const std::string config =
        dir_.Write("agent.yaml",
                   "listen: 127.0.0.1:0\ninterval: 1s\ndiscovery_interval: 1s\nnode: e2e-node\n"
                   "aggregator_url: " +
                       base_ + "/api/v1/write\ntoken_file: \"" + agent_token_file_ +
                       "\"\ndirectives: true\ndirective_interval: 1s\ndata_dir: \"" + dir_.path() +
                       "/agent\"\npod_metadata:\n  source: kubelet-read-only\n  url: " + kubelet_.base() + "/pods\n");
    agent_ = std::make_unique<Subprocess>();
    ASSERT_TRUE(agent_->Start({BinDir() + "/prescale-agent", "--config", config}));
  }

  // The aggregator's container_cpu_usage_seconds_total series of tenant shop, service web.
  std::vector<RawSeries> CpuSeries() const {
    std::vector<RawSeries> out;
    const CurlReply r =
        Curl("GET", base_ + "/api/v1/raw?match=container_cpu_usage_seconds_total&tenant=shop&service=web", "",
             {"Authorization: Bearer " + admin_});
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    if (r.status != 200 || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsArray()) return out;
    for (const auto& s : doc["data"].GetArray()) {
      RawSeries series;
      for (const auto& l : s["labels"].GetObject()) series.labels[l.name.GetString()] = l.value.GetString();
      for (const auto& sample : s["samples"].GetArray()) {
        series.samples.emplace_back(sample[0].GetInt64(), std::strtod(sample[1].GetString(), nullptr));
      }
      out.push_back(std::move(series));
    }
    return out;
  }
  // When the first pushed sample of a pod's container showing at least `cores` (against the one before) was taken.
  int64_t FirstLoadedSampleMs(double cores) const {
    int64_t first = 0;
    for (const RawSeries& s : CpuSeries()) {
      if (std::find(cgroups_.begin(), cgroups_.end(), s.labels.count("id") ? s.labels.at("id") : "") ==
          cgroups_.end()) {
        continue;
      }
      for (size_t i = 1; i < s.samples.size(); ++i) {
        const double dt = static_cast<double>(s.samples[i].first - s.samples[i - 1].first) / 1000.0;
        if (dt <= 0 || (s.samples[i].second - s.samples[i - 1].second) / dt < cores) continue;
        if (first == 0 || s.samples[i].first < first) first = s.samples[i].first;
        break;
      }
    }
    return first;
  }

  // The pods' CPU use (cores, summed) over the samples of the last `window` before `until_ms`.
  double LoadCores(int64_t until_ms, std::chrono::milliseconds window) const {
    double cores = 0;
    for (const RawSeries& s : CpuSeries()) {
      if (std::find(cgroups_.begin(), cgroups_.end(), s.labels.count("id") ? s.labels.at("id") : "") ==
          cgroups_.end()) {
        continue;
      }
      std::optional<std::pair<int64_t, double>> first, last;
      for (const auto& sample : s.samples) {
        if (sample.first > until_ms || sample.first < until_ms - window.count()) continue;
        if (!first) first = sample;
        last = sample;
      }
      if (first && last && last->first > first->first) {
        cores += (last->second - first->second) / (static_cast<double>(last->first - first->first) / 1000.0);
      }
    }
    return cores;
  }

  // The audit log's records for service shop/web whose action is `action`.
  std::vector<AuditItem> Audit(const std::string& action) const {
    std::vector<AuditItem> out;
    const CurlReply r =
        Curl("GET", base_ + "/api/v1/audit?kind=service&limit=1000", "", {"Authorization: Bearer " + admin_});
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    if (r.status != 200 || !doc.IsObject() || !doc.HasMember("items") || !doc["items"].IsArray()) {
      ADD_FAILURE() << "GET /api/v1/audit: " << r.status << " " << r.body;
      return out;
    }
    for (const auto& item : doc["items"].GetArray()) {
      AuditItem a{item["action"].GetString(), item["tenant"].GetString(), item["name"].GetString(),
                  item["message"].GetString(), item["time_ms"].GetInt64()};
      if (a.action == action && a.tenant == "shop" && a.name == "web") out.push_back(std::move(a));
    }
    return out;
  }

  std::string Metrics() const {
    return Curl("GET", base_ + "/metrics", "", {"Authorization: Bearer " + monitor_}).body;
  }

  // Service shop/web's latest decision; nullopt (with the answer in *body) until there is one.
  std::optional<WebDecision> Decision(std::string* body) const {
    const CurlReply r = Curl("GET", base_ + "/api/v1/decisions?tenant=shop", "", {"Authorization: Bearer " + admin_});
    *body = std::to_string(r.status) + " " + r.body;
    rapidjson::Document doc;
    doc.Parse(r.body.c_str());
    if (r.status != 200 || !doc.IsObject() || !doc.HasMember("data") || !doc["data"].IsArray()) return std::nullopt;
    for (const auto& d : doc["data"].GetArray()) {
      if (std::string(d["service"].GetString()) != "web") continue;
      WebDecision out;
      out.execute = d["execute"].GetBool();
      out.from_replicas = d["from_replicas"].GetInt64();
      out.to_replicas = d["to_replicas"].GetInt64();
      out.reason = d["reason"].GetString();
      if (d.HasMember("hold") && d["hold"].IsObject()) {
        const auto& h = d["hold"];
        out.held = true;
        out.hold_reason = h["reason"].GetString();
        out.hold_by = h["by"].GetString();
        out.hold_message = h["message"].GetString();
        out.hold_since = h["since"].GetString();
      }
      return out;
    }
    return std::nullopt;
  }

  // Each pod's container's series carries the pod's metadata, as cAdvisor's would, and the preset's tenant/service.
  void ExpectPodLabels() const {
    const std::vector<RawSeries> series = CpuSeries();
    for (size_t i = 0; i < pods_.size(); ++i) {
      auto it = std::find_if(series.begin(), series.end(), [&](const RawSeries& s) {
        return s.labels.count("id") && s.labels.at("id") == cgroups_[i];
      });
      ASSERT_NE(it, series.end()) << "no series of " << cgroups_[i] << " for tenant shop, service web";
      const std::map<std::string, std::string> want = {
          {"namespace", "shop"},           {"pod", pods_[i].name}, {"container", "app"}, {"workload", "web"},
          {"workload_kind", "Deployment"}, {"tenant", "shop"},     {"service", "web"},   {"image", pods_[i].image}};
      for (const auto& [key, value] : want) {
        EXPECT_EQ(it->labels.count(key) ? it->labels.at(key) : "<absent>", value) << key << " of " << cgroups_[i];
      }
    }
  }

  TempDir dir_{"prescale-k8s-e2e"};         // declared first: removed after every process is gone
  std::unique_ptr<CgroupSandbox> sandbox_;  // destroyed after the processes: kills the burners, removes cgroups
  ApiServerStandIn api_;
  agent::testing::KubeletStandIn kubelet_;
  const std::vector<agent::testing::TestPod> pods_ = {
      {"3b1f0c2e-8a4d-4e6b-9f1a-2c3d4e5f6a7b", "shop", "web-5f7c9d8b4-abcde", "web", "5f7c9d8b4", "app",
       "registry.example/shop/web:1.4", std::string(63, 'a') + "1"},
      {"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "shop", "web-5f7c9d8b4-fghij", "web", "5f7c9d8b4", "app",
       "registry.example/shop/web:1.4", std::string(63, 'b') + "2"}};
  std::vector<std::string> cgroups_;
  std::vector<std::unique_ptr<Subprocess>> burners_;
  std::unique_ptr<Subprocess> aggregator_;
  std::unique_ptr<Subprocess> agent_;
  std::string base_, admin_, monitor_;
  std::string agent_token_file_;  // the agent's token (role agent, made in the control store)
};

// No HPA: discovery keeps shop/web (2 replicas of 250m), the pods' load
// (about 1 CPU) asks for more, and the executor patches the scale subresource.
TEST_F(KubernetesE2eTest, NoHpaPatchesTheDeploymentsScaleUpwards) {
  ASSERT_NO_FATAL_FAILURE(StartAggregator());
  ASSERT_NO_FATAL_FAILURE(StartPods());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const int64_t started_ms = NowMs();
  std::optional<ScalePatch> patch;
  const bool patched = PollUntil(
      [&] {
        for (const ScalePatch& p : api_.patches()) {
          if (p.replicas > kCurrentReplicas) patch = p;
        }
        return patch.has_value();
      },
      kDeadline, 100ms);
  ASSERT_TRUE(patched) << "no PATCH of " << kScalePath << " above " << kCurrentReplicas << " replicas within "
                       << Seconds(Ms(kDeadline)) << "; metrics:\n"
                       << Metrics();
  ASSERT_NO_FATAL_FAILURE(ExpectPodLabels());
  const int64_t load_seen_ms = FirstLoadedSampleMs(0.2);
  ASSERT_GT(load_seen_ms, 0) << "no pushed sample shows the load";
  const auto budget = 2 * kTick + kDemandBucket + kDemandLag + kPushLag + 10s;  // the slack: a loaded shared machine
  const int64_t latency_ms = patch->received_ms - load_seen_ms;
  std::printf(
      "[ figures  ] no HPA: first pushed sample with load -> PATCH %s {\"spec\":{\"replicas\":%lld}}: %s (budget %s: "
      "2 ticks of %s + %s bucket + %s lag + %s push lag + 10 s slack); from the agent's start: %s; the pods' load "
      "over the 20 s before: %.2f cores against 2 replicas of 0.25\n",
      kScalePath, static_cast<long long>(patch->replicas), Seconds(latency_ms).c_str(), Seconds(Ms(budget)).c_str(),
      Seconds(Ms(kTick)).c_str(), Seconds(Ms(kDemandBucket)).c_str(), Seconds(Ms(kDemandLag)).c_str(),
      Seconds(Ms(kPushLag)).c_str(), Seconds(patch->received_ms - started_ms).c_str(),
      LoadCores(patch->received_ms, 20s));
  std::fflush(stdout);
  EXPECT_LE(latency_ms, Ms(budget));
  EXPECT_EQ(patch->body, R"({"spec":{"replicas":)" + std::to_string(patch->replicas) + "}}");
  EXPECT_EQ(patch->content_type, "application/merge-patch+json");
  EXPECT_EQ(patch->authorization, std::string("Bearer ") + kApiToken);
  EXPECT_LE(patch->replicas, 20) << "prescale.io/max-replicas";
  EXPECT_GE(api_.Count("HorizontalPodAutoscalerList"), 1) << "the executor looks for an HPA before patching";
  EXPECT_EQ(api_.Count("unauthorized"), 0);
  // The audit log records the delivered action, and /metrics counts it.
  const std::string want = "set Deployment shop/web to " + std::to_string(patch->replicas) + " replicas";
  std::vector<AuditItem> delivered;
  EXPECT_TRUE(PollUntil(
      [&] {
        delivered = Audit("scale.delivered");
        return std::any_of(delivered.begin(), delivered.end(), [&](const AuditItem& a) { return a.message == want; });
      },
      10s, 200ms))
      << "no scale.delivered record \"" << want << "\" for shop/web (" << delivered.size() << " others)";
  const std::string metrics = Metrics();
  EXPECT_GE(
      MetricValue(metrics, R"(prescale_action_deliveries_total{executor="kubernetes",result="delivered"})").value_or(0),
      1)
      << metrics;
  EXPECT_EQ(metrics.find("prescale_kubernetes_hpa_conflicts{"), std::string::npos) << metrics;
}

// An autoscaling/v2 HPA targets Deployment web: prescale decides, refuses to
// act and says why, in the audit log, on /metrics and in the service's
// decision; the scale subresource is read but never patched.
TEST_F(KubernetesE2eTest, WithHpaSendsNoPatchAndReportsWhy) {
  api_.AddWebHpa();
  ASSERT_NO_FATAL_FAILURE(StartAggregator());
  ASSERT_NO_FATAL_FAILURE(StartPods());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string conflict = R"(prescale_kubernetes_hpa_conflicts{hpa="shop/web-hpa",service="web",tenant="shop"})";
  const std::string why = "HorizontalPodAutoscaler shop/web-hpa scales this Deployment; prescale recommends only";
  std::vector<AuditItem> refused;
  std::string metrics;
  const bool was_refused = PollUntil(
      [&] {
        refused = Audit("scale.refused");
        if (!std::any_of(refused.begin(), refused.end(), [&](const AuditItem& a) { return a.message == why; })) {
          return false;
        }
        metrics = Metrics();
        return MetricValue(metrics, conflict) == 1.0;
      },
      kDeadline, 200ms);
  ASSERT_TRUE(was_refused) << "no refused action naming the HPA within " << Seconds(Ms(kDeadline)) << " ("
                           << refused.size() << " scale.refused records, " << Audit("scale.failed").size()
                           << " scale.failed); metrics:\n"
                           << Metrics();
  ASSERT_NO_FATAL_FAILURE(ExpectPodLabels());
  const int64_t load_seen_ms = FirstLoadedSampleMs(0.2);
  ASSERT_GT(load_seen_ms, 0) << "no pushed sample shows the load";
  // The service's decision, as the API reports it: recommend-only, naming the HPA (from the tick after the refusal).
  std::optional<WebDecision> decision;
  std::string body;
  ASSERT_TRUE(PollUntil(
      [&] {
        decision = Decision(&body);
        return decision.has_value() && decision->held;
      },
      kDeadline, 200ms))
      << "GET /api/v1/decisions?tenant=shop never held web: " << body;
  const int64_t held_ms = NowMs();
  EXPECT_FALSE(decision->execute) << body;
  EXPECT_EQ(decision->hold_reason, "hpa_conflict") << body;
  EXPECT_EQ(decision->hold_by, "HorizontalPodAutoscaler shop/web-hpa") << body;
  EXPECT_EQ(decision->hold_message, why) << body;
  EXPECT_FALSE(decision->hold_since.empty()) << body;
  EXPECT_TRUE(decision->reason.ends_with("; " + why)) << body;
  EXPECT_EQ(decision->from_replicas, kCurrentReplicas) << "what the Deployment runs, read back after the refusal";
  EXPECT_GT(decision->to_replicas, kCurrentReplicas) << "prescale still recommends more: " << body;
  // A window of later decisions, measured by the aggregator's own schedule: two more discovery
  // rounds (5 s each) span at least two ticks, whose decisions are recommendations, never actions.
  const size_t scale_records = Audit("scale").size();
  const std::string rounds = "prescale_kubernetes_discovery_runs_total{result=\"ok\"}";
  const double rounds_before = MetricValue(Metrics(), rounds).value_or(0);
  ASSERT_TRUE(
      PollUntil([&] { return MetricValue(Metrics(), rounds).value_or(0) >= rounds_before + 2; }, kDeadline, 200ms))
      << "the aggregator ran no further discovery rounds";
  metrics = Metrics();
  const std::vector<AuditItem> recommend = Audit("recommend");
  std::printf(
      "[ figures  ] with HPA: first pushed sample with load -> refused action in the audit log: %s, -> decision held "
      "in the API: at most %s; %zu scale records, %zu scale.refused, %zu recommend, %.0f refused actions, %zu PATCHes, "
      "%d HPA lists, %d scale GETs\n",
      Seconds(refused.front().time_ms - load_seen_ms).c_str(), Seconds(held_ms - load_seen_ms).c_str(),
      Audit("scale").size(), Audit("scale.refused").size(), recommend.size(),
      MetricValue(metrics, "prescale_kubernetes_hpa_refused_actions_total").value_or(-1), api_.patches().size(),
      api_.Count("HorizontalPodAutoscalerList"), api_.Count("GET scale"));
  std::fflush(stdout);
  EXPECT_TRUE(api_.patches().empty()) << "PATCH sent despite the HPA: " << api_.patches().front().body;
  EXPECT_EQ(Audit("scale").size(), scale_records) << "a held service queues no actions";
  EXPECT_TRUE(Audit("scale.failed").empty()) << "a refusal is no failure";
  EXPECT_TRUE(Audit("scale.delivered").empty());
  EXPECT_TRUE(std::any_of(recommend.begin(), recommend.end(),
                          [&](const AuditItem& a) { return a.message.ends_with("; " + why); }))
      << recommend.size() << " recommend records, none naming the HPA";
  decision = Decision(&body);
  ASSERT_TRUE(decision.has_value()) << body;
  EXPECT_TRUE(decision->held) << "still held while the HPA is there: " << body;
  EXPECT_GE(MetricValue(metrics, "prescale_kubernetes_hpa_refused_actions_total").value_or(0), 1) << metrics;
  EXPECT_GE(
      MetricValue(metrics, R"(prescale_action_deliveries_total{executor="kubernetes",result="refused"})").value_or(0),
      1)
      << metrics;
  EXPECT_FALSE(
      MetricValue(metrics, R"(prescale_action_deliveries_total{executor="kubernetes",result="failed"})").has_value())
      << "the failed-actions alert must not fire";
  EXPECT_EQ(MetricValue(metrics, "prescale_action_outbox_size"), 0.0);
  EXPECT_EQ(MetricValue(metrics, conflict), 1.0) << metrics;
  // prescale recommends: its grant for web is still above the 2 replicas the Deployment runs.
  EXPECT_GT(MetricValue(metrics, R"(prescale_desired_replicas{service="web",tenant="shop"})").value_or(0),
            kCurrentReplicas)
      << metrics;
  EXPECT_GE(api_.Count("HorizontalPodAutoscalerList"), 1);
  EXPECT_EQ(api_.Count("unauthorized"), 0);
}

}  // namespace
}  // namespace prescale
