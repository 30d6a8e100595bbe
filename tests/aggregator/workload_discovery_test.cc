// WorkloadDiscovery against an API server stand-in inside the test: a real
// shared/http HttpServer on 127.0.0.1:0 speaking the API server's wire format
// for GET /apis/apps/v1/deployments and /apis/apps/v1/statefulsets (all
// namespaces, limit/continue paging, a bearer token, metav1.Status errors),
// and a real control store of each kind (Stores/...*/sqlite: SQLite in a
// temporary directory, /postgres: a PostgreSQL database). Workload JSON follows the
// Kubernetes API reference (apps/v1 Deployment and StatefulSet, with fields
// discovery ignores); no real API server can run on this machine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <mutex>

#include "prescale/aggregator/aggregator.h"
#include "prescale/aggregator/control/objects.h"
#include "prescale/aggregator/kubernetes/workload_discovery.h"
#include "prescale/http/http_server.h"
#include "tests/aggregator/kubernetes_stand_in.h"
#include "tests/support/control_stores.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// An apps/v1 workload as the API server lists it. `annotations` is the JSON
// members of metadata.annotations; `containers` the JSON of the template's containers.
std::string WorkloadJson(const std::string& ns, const std::string& name, const std::string& annotations,
                         const std::string& containers) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
         R"(","uid":"5f0c6a0e-1b7d-4f7e-8d0e-3c2b1a0f9e8d","resourceVersion":"60231","generation":4,)"
         R"("creationTimestamp":"2026-11-20T08:14:03Z","labels":{"app":")" +
         name + R"("},"annotations":{)" +
         R"("deployment.kubernetes.io/revision":"4","kubectl.kubernetes.io/last-applied-configuration":")" +
         std::string(3000, 'x') + "\"" + (annotations.empty() ? "" : "," + annotations) +
         R"(}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":")" + name +
         R"("}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":")" + name +
         R"("}},"spec":{"containers":)" + containers +
         R"(,"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst"}}},)"
         R"("status":{"observedGeneration":4,"replicas":3,"readyReplicas":3}})";
}

constexpr const char* kContainers =
    R"([{"name":"app","image":"registry.example/web:1.4","ports":[{"containerPort":8080,"protocol":"TCP"}],)"
    R"("resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"1","memory":"512Mi"}}},)"
    R"({"name":"sidecar","image":"registry.example/proxy:2","resources":{"requests":{"cpu":"50m",)"
    R"("memory":"64Mi","ephemeral-storage":"1Gi"}}}])";

using k8s_stand_in::Json;
using k8s_stand_in::StatusBody;

class FakeAppsApi {
 public:
  FakeAppsApi() {
    std::vector<http::Route> routes;
    for (const char* resource : {"deployments", "statefulsets"}) {
      routes.push_back({"GET", std::string("/apis/apps/v1/") + resource,
                        [this, resource](const http::HttpRequest& r) { return Handle(resource, r); }});
    }
    auto server = http::HttpServer::Start(http::HttpServerOptions{}, std::move(routes));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void Put(const std::string& resource, const std::string& ns, const std::string& name, std::string json) {
    std::lock_guard lock(mu_);
    objects_[resource][ns + "/" + name] = std::move(json);
  }
  void Remove(const std::string& resource, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    objects_[resource].erase(ns + "/" + name);
  }
  void Answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    answers_.emplace_back(status, std::move(body));
  }
  std::vector<std::string> queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }

 private:
  // Pages of one item when more than one is listed, to exercise continue.
  http::HttpResponse Handle(const std::string& resource, const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    queries_.push_back(resource + "?" + r.query);
    if (!answers_.empty()) {
      auto [status, body] = answers_.front();
      answers_.pop_front();
      return Json(status, body);
    }
    if (r.Header("Authorization") != "Bearer token-1") {
      return Json(401, StatusBody(401, "Unauthorized", "Unauthorized"));
    }
    const auto& objects = objects_[resource];
    size_t start = 0;
    if (auto at = r.query.find("continue=page-"); at != std::string::npos) start = std::stoul(r.query.substr(at + 14));
    std::string items, next;
    size_t i = 0;
    for (const auto& [key, json] : objects) {
      if (i++ != start) continue;
      items = json;
      if (start + 1 < objects.size()) next = "page-" + std::to_string(start + 1);
    }
    const std::string kind = resource == "deployments" ? "DeploymentList" : "StatefulSetList";
    std::string meta = R"({"resourceVersion":"60300")";
    if (!next.empty()) meta += R"(,"continue":")" + next + R"(","remainingItemCount":1)";
    return Json(200, R"({"kind":")" + kind + R"(","apiVersion":"apps/v1","metadata":)" + meta + R"(},"items":[)" +
                         items + "]}");
  }

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> objects_;  // resource -> ns/name -> JSON
  std::deque<std::pair<int, std::string>> answers_;
  std::vector<std::string> queries_;
  std::unique_ptr<http::HttpServer> server_;
};

class WorkloadDiscoveryTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    store_ = stores_.OpenNew();
    if (store_ == nullptr) return;  // skipped, or failed saying why
    KubernetesOptions options;
    options.api_server = api_.url();
    options.token_file = dir_.Write("token", "token-1\n");
    options.ca_file = "";
    options.timeout = std::chrono::milliseconds(3000);
    discovery_ = std::make_unique<WorkloadDiscovery>(store_.get(), http::NewCurlHttpClient(), options, clock_);
  }

  DiscoveryReport Run() {
    auto report = discovery_->RunOnce();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : DiscoveryReport{};
  }
  std::optional<Service> StoredService(const std::string& tenant, const std::string& name) {
    auto o = store_->Get({ObjectKind::kService, tenant, name});
    if (!o.ok()) return std::nullopt;
    auto s = ParseService(o->spec_json);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::optional<Service>(*s) : std::nullopt;
  }
  std::vector<std::string> AuditActions() {
    auto page =
        store_->ListAudit(AuditQuery{.tenant = std::nullopt, .kind = std::nullopt, .after_seq = 0, .limit = 1000});
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const AuditRecord& a : page->items) out.push_back(a.actor + " " + a.action + " " + a.kind + " " + a.name);
    return out;
  }

  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-discovery"};
  testing::TestControlStores stores_{GetParam()};
  FakeAppsApi api_;
  std::unique_ptr<ControlStore> store_;
  std::unique_ptr<WorkloadDiscovery> discovery_;
};

INSTANTIATE_TEST_SUITE_P(Stores, WorkloadDiscoveryTest, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(WorkloadDiscoveryTest, AnAnnotatedDeploymentBecomesAServiceInItsNamespacesTenant) {
  api_.Put(
      "deployments", "shop", "web",
      WorkloadJson("shop", "web",
                   R"("prescale.io/enabled":"true","prescale.io/min-replicas":"2","prescale.io/max-replicas":"20",)"
                   R"("prescale.io/priority":"high","prescale.io/mode":"recommend-only")",
                   kContainers));
  api_.Put("deployments", "shop", "plain", WorkloadJson("shop", "plain", "", kContainers));  // not annotated
  const DiscoveryReport report = Run();
  EXPECT_EQ(report.workloads, 2);
  EXPECT_EQ(report.created, 1);
  EXPECT_EQ(report.tenants_created, 1);
  EXPECT_TRUE(report.skipped.empty());
  auto s = StoredService("shop", "web");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->executor.type, "kubernetes");
  EXPECT_EQ(s->executor.k8s_namespace, "shop");
  EXPECT_EQ(s->executor.k8s_kind, "Deployment");
  EXPECT_EQ(s->executor.k8s_name, "web");
  EXPECT_EQ(s->executor.mode, "recommend-only");
  EXPECT_DOUBLE_EQ(s->request_cpu_cores, 0.3);
  EXPECT_DOUBLE_EQ(s->request_memory_bytes, 320.0 * 1024 * 1024);
  EXPECT_EQ(s->replicas.min, 2);
  EXPECT_EQ(s->replicas.max, 20);
  EXPECT_EQ(s->priority, Priority::kHigh);
  EXPECT_EQ(s->selector, (std::map<std::string, std::string>{{"service", "web"}, {"tenant", "shop"}}));
  EXPECT_EQ(s->labels.at(kManagedByLabel), kManagedByDiscovery);
  EXPECT_FALSE(StoredService("shop", "plain").has_value());
  EXPECT_TRUE(store_->Get({ObjectKind::kTenant, "", "shop"}).ok());
  EXPECT_THAT(AuditActions(), ElementsAre("discovery create tenant shop", "discovery create service web"));
  auto verified = store_->VerifyAudit();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok);
  // Nothing changed: nothing written.
  EXPECT_EQ(Run().unchanged, 1);
  EXPECT_EQ(AuditActions().size(), 2u);
}

TEST_P(WorkloadDiscoveryTest, PagesAreFollowedAndStatefulSetsCount) {
  for (const char* name : {"a", "b", "c"}) {
    api_.Put("deployments", "shop", name, WorkloadJson("shop", name, R"("prescale.io/enabled":"true")", "[]"));
  }
  api_.Put("statefulsets", "data", "db", WorkloadJson("data", "db", R"("prescale.io/enabled":"true")", "[]"));
  const DiscoveryReport report = Run();
  EXPECT_EQ(report.workloads, 4);
  EXPECT_EQ(report.created, 4);
  EXPECT_EQ(StoredService("data", "db")->executor.k8s_kind, "StatefulSet");
  EXPECT_THAT(api_.queries(), ElementsAre("deployments?limit=500", "deployments?limit=500&continue=page-1",
                                          "deployments?limit=500&continue=page-2", "statefulsets?limit=500"));
}

TEST_P(WorkloadDiscoveryTest, AnnotationChangesUpdateAndRemovalDeletes) {
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  ASSERT_EQ(Run().created, 1);
  api_.Put("deployments", "shop", "web",
           WorkloadJson("shop", "web", R"("prescale.io/enabled":"true","prescale.io/max-replicas":"4")", "[]"));
  EXPECT_EQ(Run().updated, 1);
  EXPECT_EQ(StoredService("shop", "web")->replicas.max, 4);
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"false")", "[]"));
  EXPECT_EQ(Run().deleted, 1);
  EXPECT_FALSE(StoredService("shop", "web").has_value());
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  ASSERT_EQ(Run().created, 1);
  api_.Remove("deployments", "shop", "web");  // the workload is deleted
  EXPECT_EQ(Run().deleted, 1);
  EXPECT_FALSE(StoredService("shop", "web").has_value());
  EXPECT_THAT(AuditActions(), ElementsAre("discovery create tenant shop", "discovery create service web",
                                          "discovery replace service web", "discovery delete service web",
                                          "discovery create service web", "discovery delete service web"));
}

TEST_P(WorkloadDiscoveryTest, ServicesDefinedThroughTheApiWinAndAreNeverTouched) {
  auto built = BuildObject(ObjectKind::kTenant, R"({"name":"shop"})", {ObjectKind::kTenant, "", "shop"});
  ASSERT_TRUE(built.ok());
  AuditRecord actor;
  actor.actor = "tok_admin";
  ASSERT_TRUE(store_->Put(built->object, WriteMode::kCreate, std::nullopt, actor).ok());
  built = BuildObject(ObjectKind::kService, R"({"tenant":"shop","name":"web","replicas":{"min":1,"max":3}})",
                      {ObjectKind::kService, "shop", "web"});
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_TRUE(store_->Put(built->object, WriteMode::kCreate, std::nullopt, actor).ok());
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  DiscoveryReport report = Run();
  EXPECT_EQ(report.created + report.updated, 0);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_THAT(report.skipped[0], HasSubstr("was defined through the API or a bootstrap file"));
  EXPECT_EQ(StoredService("shop", "web")->replicas.max, 3);
  api_.Remove("deployments", "shop", "web");
  report = Run();
  EXPECT_EQ(report.deleted, 0);
  EXPECT_TRUE(StoredService("shop", "web").has_value());
}

TEST_P(WorkloadDiscoveryTest, BadWorkloadsAreSkippedWithTheirReasonAndKeepTheirService) {
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  ASSERT_EQ(Run().created, 1);
  api_.Put("deployments", "shop", "web",
           WorkloadJson("shop", "web", R"("prescale.io/enabled":"true","prescale.io/max-replicas":"many")", "[]"));
  api_.Put("deployments", "shop", "web.v2", WorkloadJson("shop", "web.v2", R"("prescale.io/enabled":"true")", "[]"));
  api_.Put("deployments", "shop", "cpu",
           WorkloadJson("shop", "cpu", R"("prescale.io/enabled":"true")",
                        R"([{"name":"a","resources":{"requests":{"cpu":"1"}}},)"
                        R"({"name":"b","resources":{"requests":{"cpu":"lots"}}}])"));
  api_.Put("deployments", "shop", "pol",
           WorkloadJson("shop", "pol", R"("prescale.io/enabled":"true","prescale.io/policy":"missing")", "[]"));
  const DiscoveryReport report = Run();
  EXPECT_EQ(report.deleted, 0);
  EXPECT_EQ(report.unchanged, 0);
  EXPECT_EQ(report.created, 0);
  ASSERT_EQ(report.skipped.size(), 4u);
  const std::string all =
      report.skipped[0] + "\n" + report.skipped[1] + "\n" + report.skipped[2] + "\n" + report.skipped[3];
  EXPECT_THAT(all, HasSubstr("Deployment shop/web: prescale.io/max-replicas: \"many\" is not a whole number"));
  EXPECT_THAT(all, HasSubstr("Deployment shop/web.v2: metadata.name: \"web.v2\" is not a DNS label"));
  EXPECT_THAT(all, HasSubstr("Deployment shop/cpu: spec.template.spec.containers[1].resources.requests.cpu"));
  EXPECT_THAT(all, HasSubstr("Deployment shop/pol: prescale.io/policy"));
  EXPECT_TRUE(StoredService("shop", "web").has_value());  // a typo does not delete it
  std::string metrics;
  discovery_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_discovery_skipped_workloads 4"));
}

TEST_P(WorkloadDiscoveryTest, AFailedListChangesNothing) {
  api_.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  ASSERT_EQ(Run().created, 1);
  api_.Remove("deployments", "shop", "web");
  api_.Answer(403, StatusBody(403, "Forbidden",
                              R"(deployments.apps is forbidden: User \"system:serviceaccount:prescale:)"
                              R"(prescale-aggregator\" cannot list resource \"deployments\" in API group \"apps\" at )"
                              R"(the cluster scope)"));
  auto report = discovery_->RunOnce();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr(R"(cannot list resource "deployments")"));
  api_.Answer(200, R"({"kind":"DeploymentList","items":[{"metadata":{"name":"web"}}]})");
  report = discovery_->RunOnce();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("items[0].metadata.namespace"));
  EXPECT_TRUE(StoredService("shop", "web").has_value());
  std::string metrics;
  discovery_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr(R"(prescale_kubernetes_discovery_runs_total{result="error"} 2)"));
  EXPECT_EQ(Run().deleted, 1);  // the next good list
}

kube::WorkloadInfo Workload(std::map<std::string, std::string> annotations,
                            std::vector<kube::ContainerRequests> containers = {}) {
  kube::WorkloadInfo w;
  w.kind = "StatefulSet";
  w.namespace_name = "data";
  w.name = "db";
  w.annotations = std::move(annotations);
  w.containers = std::move(containers);
  return w;
}

TEST(ServiceFromWorkload, OnlyEnabledTrueMakesAService) {
  for (const char* v : {"false", "True", "yes", ""}) {
    auto s = ServiceFromWorkload(Workload({{"prescale.io/enabled", v}}));
    ASSERT_TRUE(s.ok()) << v;
    EXPECT_FALSE(s->has_value()) << v;
  }
  auto none = ServiceFromWorkload(Workload({}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto s = ServiceFromWorkload(
      Workload({{"prescale.io/enabled", "true"}}, {{"a", "1500m", "1Gi"}, {"b", "", "512Mi"}, {"c", "0.5", ""}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(s->has_value());
  const Service& svc = **s;
  EXPECT_EQ(svc.tenant, "data");
  EXPECT_EQ(svc.name, "db");
  EXPECT_EQ(svc.executor.k8s_kind, "StatefulSet");
  EXPECT_DOUBLE_EQ(svc.request_cpu_cores, 2.0);
  EXPECT_DOUBLE_EQ(svc.request_memory_bytes, 1.5 * 1024 * 1024 * 1024);
  EXPECT_EQ(svc.replicas.min, 1);
  EXPECT_EQ(svc.replicas.max, 10);
  EXPECT_EQ(svc.priority, Priority::kNormal);
  EXPECT_EQ(svc.policy, "");
  EXPECT_EQ(svc.executor.mode, "act");
}

TEST(ServiceFromWorkload, ABadAnnotationOrQuantityIsNamed) {
  struct Case {
    std::map<std::string, std::string> annotations;
    std::vector<kube::ContainerRequests> containers;
    std::string field;
  };
  for (const Case& c : {
           Case{{{"prescale.io/min-replicas", "-1"}}, {}, "prescale.io/min-replicas"},
           Case{{{"prescale.io/max-replicas", "1e3"}}, {}, "prescale.io/max-replicas"},
           Case{{{"prescale.io/min-replicas", "5"}, {"prescale.io/max-replicas", "3"}}, {}, "prescale.io/min-replicas"},
           Case{{{"prescale.io/priority", "urgent"}}, {}, "prescale.io/priority"},
           Case{{{"prescale.io/policy", "Not_A_Name"}}, {}, "prescale.io/policy"},
           Case{{{"prescale.io/mode", "dry-run"}}, {}, "prescale.io/mode"},
           // Text that is not UTF-8 (a lone surrogate; ParseWorkloadList refuses its
           // escape, so only a caller of its own can pass it): the annotations are named.
           Case{{{"prescale.io/policy", "web\xed\xb5\x9e"}}, {}, "metadata.annotations"},
           Case{{{"prescale.io/mode", "\xed\xb5\x9e"}}, {}, "metadata.annotations"},
           Case{{},
                {{"a", "1", "1Gi"}, {"b", "1", "lots"}},
                "spec.template.spec.containers[1].resources.requests.memory"},
           Case{{}, {{"a", "-1", ""}}, "spec.template.spec.containers[0].resources.requests.cpu"},
       }) {
    auto annotations = c.annotations;
    annotations["prescale.io/enabled"] = "true";
    auto s = ServiceFromWorkload(Workload(annotations, c.containers));
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.status().field(), c.field) << s.status().ToString();
  }
  kube::WorkloadInfo w = Workload({{"prescale.io/enabled", "true"}});
  w.name = std::string(64, 'a');
  auto s = ServiceFromWorkload(w);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().field(), "metadata.name");
}

TEST(ServiceFromWorkload, AnEscapedLoneSurrogateStopsAtTheListDecoder) {
  // The fuzzer's find (tests/fuzz/corpus/fuzz_workload_list/invalid_utf8_policy.json),
  // as the API server's JSON would carry it: refused before any service is made.
  const std::string list =
      R"({"kind":"DeploymentList","items":[{"metadata":{"name":"web","namespace":"shop","annotations":)"
      R"({"prescale.io/enabled":"true","prescale.io/policy":"web\udc5e"}},"spec":{"template":{"spec":{}}}}]})";
  auto parsed = kube::ParseWorkloadList(list, "Deployment");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr("\\udc5e at byte"));
  // The same list without the escape decodes.
  std::string valid = list;
  valid.replace(valid.find("web\\udc5e"), 9, "web");
  auto ok = kube::ParseWorkloadList(valid, "Deployment");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->items.size(), 1u);
  EXPECT_EQ(ok->items[0].annotations.at("prescale.io/policy"), "web");
}

std::map<std::string, std::unique_ptr<Executor>> NoExecutors(const AggregatorConfig&, const Clock&) { return {}; }

std::vector<std::string> JobNames(const Scheduler& s) {
  std::vector<std::string> names;
  for (const Scheduler::JobStats& j : s.Stats()) names.push_back(j.name);
  return names;
}

class WorkloadDiscoveryWiring : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  testing::TestControlStores stores_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Stores, WorkloadDiscoveryWiring, testing::AllStoreBackends(), testing::StoreBackendName);

TEST_P(WorkloadDiscoveryWiring, RunsOnTheDeliverySchedulerOnlyWhenTurnedOn) {
  std::unique_ptr<ControlStore> store = stores_.OpenNew("on");
  if (store == nullptr) return;  // skipped, or failed saying why
  testing::FakeClock clock;
  testing::TempDir dir("prescale-discovery-wiring");
  FakeAppsApi api;
  api.Put("deployments", "shop", "web", WorkloadJson("shop", "web", R"("prescale.io/enabled":"true")", "[]"));
  AggregatorConfig config;
  config.kubernetes_api_server = api.url();
  config.kubernetes_token_file = dir.Write("token", "token-1");
  config.kubernetes_discovery = true;
  config.kubernetes_discovery_interval = std::chrono::seconds(30);
  Aggregator aggregator(config, clock, NoExecutors);
  aggregator.UseControlStore(std::move(store));
  ASSERT_NE(aggregator.discovery(), nullptr);
  Scheduler work(clock), delivery(clock);
  ASSERT_TRUE(aggregator.Schedule(&work, &delivery).ok());
  EXPECT_THAT(JobNames(work), Not(Contains("kubernetes_discovery")));
  EXPECT_THAT(delivery.RunDue(), Contains("kubernetes_discovery")) << "a first round at start";
  EXPECT_TRUE(aggregator.control_store()->Get({ObjectKind::kService, "shop", "web"}).ok());
  EXPECT_THAT(aggregator.MetricsText(), HasSubstr("prescale_kubernetes_discovery_services 1"));
  clock.Advance(std::chrono::seconds(30));
  EXPECT_THAT(delivery.RunDue(), Contains("kubernetes_discovery"));

  Aggregator off(AggregatorConfig{}, clock, NoExecutors);
  std::unique_ptr<ControlStore> store2 = stores_.OpenNew("off");
  ASSERT_NE(store2, nullptr);
  off.UseControlStore(std::move(store2));
  EXPECT_EQ(off.discovery(), nullptr);
  Scheduler work2(clock), delivery2(clock);
  ASSERT_TRUE(off.Schedule(&work2, &delivery2).ok());
  EXPECT_THAT(JobNames(delivery2), Not(Contains("kubernetes_discovery")));
}

}  // namespace
}  // namespace prescale::aggregator
