// KubernetesExecutor against an API server stand-in inside the test
// (k8s_stand_in::FakeApiServer, kubernetes_stand_in.h): a real shared/http
// HttpServer on 127.0.0.1:0 speaking the API server's wire format for the
// scale subresource and the autoscaling/v2 HPA list.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>

#include "prescale/aggregator/actions/kubernetes_executor.h"
#include "prescale/http/http_server.h"
#include "tests/aggregator/kubernetes_stand_in.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_env.h"

namespace prescale::aggregator {
namespace {

using Outcome = ExecutionResult::Outcome;
using ::testing::HasSubstr;
using ::testing::Not;

using k8s_stand_in::FakeApiServer;
using k8s_stand_in::StatusBody;

class KubernetesExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = dir_.Write("token", "token-1\n");
    api_.Add("deployments", "acme", "web", {3, 3, "app=web"});
    api_.Add("statefulsets", "acme", "db", {2, 2, "app=db"});
    KubernetesOptions options;
    options.api_server = api_.url() + "/";  // a trailing slash is tolerated
    options.token_file = token_file_;
    options.ca_file = "";
    options.timeout = std::chrono::milliseconds(3000);
    executor_ = std::make_unique<KubernetesExecutor>(http::NewCurlHttpClient(), options, clock_);
  }

  static Service Spec(const std::string& kind, const std::string& ns, const std::string& name) {
    Service s;
    s.tenant = "acme";
    s.name = name;
    s.executor.type = "kubernetes";
    s.executor.k8s_kind = kind;
    s.executor.k8s_namespace = ns;
    s.executor.k8s_name = name;
    return s;
  }

  static ScaleAction Action(int64_t from, int64_t to) {
    ScaleAction a;
    a.id = "a-1";
    a.tenant = "acme";
    a.service = "web";
    a.from_replicas = from;
    a.to_replicas = to;
    return a;
  }

  testing::FakeClock clock_;
  testing::TempDir dir_{"prescale-k8s-executor"};
  std::string token_file_;
  FakeApiServer api_;
  std::unique_ptr<KubernetesExecutor> executor_;
};

TEST_F(KubernetesExecutorTest, ExecutePatchesTheDeploymentScaleWithAMergePatch) {
  const ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(r.http_status, 200);
  // What the target is set to now (spec.replicas), not the pods observed when the patch landed
  // (status.replicas, 3: the controller has not acted yet), or the next tick would patch again.
  EXPECT_EQ(r.current_replicas, 5);
  EXPECT_EQ(api_.Get("deployments", "acme", "web")->spec_replicas, 5);
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "PATCH");
  EXPECT_EQ(requests[0].path, "/apis/apps/v1/namespaces/acme/deployments/web/scale");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer token-1");
  EXPECT_EQ(requests[0].body, R"({"spec":{"replicas":5}})");
}

TEST_F(KubernetesExecutorTest, ExecuteScalesAStatefulSetAndToZero) {
  ExecutionResult r = executor_->Execute(Spec("StatefulSet", "acme", "db"), Action(2, 4));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(api_.Get("statefulsets", "acme", "db")->spec_replicas, 4);
  EXPECT_EQ(api_.requests().back().path, "/apis/apps/v1/namespaces/acme/statefulsets/db/scale");
  r = executor_->Execute(Spec("StatefulSet", "acme", "db"), Action(4, 0));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(api_.Get("statefulsets", "acme", "db")->spec_replicas, 0);
  std::string error;
  EXPECT_EQ(executor_->CurrentReplicas(Spec("StatefulSet", "acme", "db"), &error), 0) << error;
}

TEST_F(KubernetesExecutorTest, NotFoundFailsWithTheApiServersMessage) {
  const ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "gone"), Action(1, 2));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_THAT(r.message, HasSubstr(R"(deployments.apps "gone" not found)"));
  EXPECT_THAT(r.message, HasSubstr("acme/gone"));
}

TEST_F(KubernetesExecutorTest, ForbiddenAndInvalidFailWithTheApiServersMessage) {
  api_.Answer(403, StatusBody(403, "Forbidden",
                              R"(deployments.apps \"web\" is forbidden: User \"system:serviceaccount:prescale:)"
                              R"(prescale-aggregator\" cannot patch resource \"deployments/scale\" in API group )"
                              R"(\"apps\" in the namespace \"acme\")"));
  ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_THAT(r.message, HasSubstr(R"(cannot patch resource "deployments/scale")"));
  api_.Answer(422, StatusBody(422, "Invalid",
                              R"(Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: 5: )"
                              R"(exceeds the namespace's limit)"));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.message, HasSubstr("spec.replicas: Invalid value"));
}

TEST_F(KubernetesExecutorTest, ConflictTooManyRequestsAndUnavailableAreRetried) {
  api_.Answer(409, StatusBody(409, "Conflict",
                              R"(Operation cannot be fulfilled on deployments.apps \"web\": the object has been )"
                              R"(modified; please apply your changes to the latest version and try again)"));
  api_.Answer(429, StatusBody(429, "TooManyRequests", "Too many requests, please try again later."));
  api_.Answer(503, StatusBody(503, "ServiceUnavailable", "the server is currently unable to handle the request"));
  ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.http_status, 409);
  EXPECT_THAT(r.message, HasSubstr("the object has been modified"));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.http_status, 429);
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_THAT(r.message, HasSubstr("unable to handle the request"));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
}

TEST_F(KubernetesExecutorTest, NetworkErrorsAreRetried) {
  api_.Stop();
  const ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_THAT(r.message, HasSubstr("PATCH Deployment acme/web scale"));
}

TEST_F(KubernetesExecutorTest, TheTokenIsReadAgainForEveryRequest) {
  ASSERT_EQ(executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 4)).outcome, Outcome::kDone);
  // The kubelet rotates the projected token: the old one stops working.
  api_.AcceptToken("token-2");
  dir_.Write("token", "token-2\n");
  ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(4, 6));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(api_.requests().back().Header("Authorization"), "Bearer token-2");
  std::string error;
  EXPECT_EQ(executor_->CurrentReplicas(Spec("Deployment", "acme", "web"), &error), 6) << error;
  // A token the API server does not take: 401 fails with its message.
  api_.AcceptToken("token-3");
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(6, 7));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_THAT(r.message, HasSubstr("Unauthorized"));
}

TEST_F(KubernetesExecutorTest, AMissingTokenFileIsRetriedWithoutARequest) {
  ASSERT_EQ(std::remove(token_file_.c_str()), 0);
  const ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr(token_file_));
  std::string error;
  EXPECT_FALSE(executor_->CurrentReplicas(Spec("Deployment", "acme", "web"), &error));
  EXPECT_THAT(error, HasSubstr(token_file_));
  EXPECT_TRUE(api_.requests().empty());
}

TEST_F(KubernetesExecutorTest, ABadExecutorBlockFailsNamingTheFieldWithoutARequest) {
  ExecutionResult r = executor_->Execute(Spec("DaemonSet", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.message, HasSubstr("executor.kind"));
  r = executor_->Execute(Spec("Deployment", "acme", "../../../api/v1/secrets"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.message, HasSubstr("executor.name"));
  r = executor_->Execute(Spec("Deployment", "", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.message, HasSubstr("executor.namespace"));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, int64_t{1} << 31));
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_THAT(r.message, HasSubstr("to_replicas"));
  EXPECT_TRUE(api_.requests().empty());
}

TEST_F(KubernetesExecutorTest, CurrentReplicasReadsSpecReplicasOfTheScale) {
  api_.Add("deployments", "acme", "web", {7, 5, "app=web"});  // scaling up: 5 of 7 pods exist
  std::string error;
  EXPECT_EQ(executor_->CurrentReplicas(Spec("Deployment", "acme", "web"), &error), 7) << error;
  auto requests = api_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/apis/apps/v1/namespaces/acme/deployments/web/scale");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer token-1");
  EXPECT_EQ(requests[0].Header("Accept"), "application/json");
  // Scaled to zero: the API server omits spec.replicas.
  api_.Add("deployments", "acme", "web", {0, 0, ""});
  EXPECT_EQ(executor_->CurrentReplicas(Spec("Deployment", "acme", "web"), &error), 0) << error;
}

TEST_F(KubernetesExecutorTest, CurrentReplicasSaysWhyItHasNone) {
  std::string error;
  EXPECT_FALSE(executor_->CurrentReplicas(Spec("Deployment", "acme", "gone"), &error));
  EXPECT_THAT(error, HasSubstr(R"(deployments.apps "gone" not found)"));
  api_.Answer(200, R"({"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":-1},"status":{"replicas":0}})");
  EXPECT_FALSE(executor_->CurrentReplicas(Spec("Deployment", "acme", "web"), &error));
  EXPECT_THAT(error, HasSubstr("spec.replicas"));
  EXPECT_FALSE(executor_->CurrentReplicas(Spec("Deployment", "acme", "gone"), nullptr));  // error may be null
}

TEST_F(KubernetesExecutorTest, AnHpaOnTheWorkloadRefusesThePatchAndNamesIt) {
  api_.AddHpa("acme", "web-hpa", "Deployment", "web");
  api_.AddHpa("acme", "other-hpa", "Deployment", "api");  // another workload: no matter
  const ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRefused) << "neither retried nor a failure";
  EXPECT_EQ(r.message, "HorizontalPodAutoscaler acme/web-hpa scales this Deployment; prescale recommends only");
  EXPECT_TRUE(api_.requests().empty());  // no PATCH
  EXPECT_EQ(api_.Get("deployments", "acme", "web")->spec_replicas, 3);
  auto hpa_requests = api_.hpa_requests();
  ASSERT_EQ(hpa_requests.size(), 1u);
  EXPECT_EQ(hpa_requests[0].path, "/apis/autoscaling/v2/namespaces/acme/horizontalpodautoscalers");
  EXPECT_EQ(hpa_requests[0].Header("Authorization"), "Bearer token-1");
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics,
              HasSubstr(R"(prescale_kubernetes_hpa_conflicts{hpa="acme/web-hpa",service="web",tenant="acme"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_hpa_refused_actions_total 1"));
}

TEST_F(KubernetesExecutorTest, AnHpaOnAnotherKindOrNameDoesNotStopThePatch) {
  api_.AddHpa("acme", "db-hpa", "Deployment", "db");  // a Deployment db, not the StatefulSet
  api_.AddHpa("acme", "web2-hpa", "Deployment", "web2");
  ExecutionResult r = executor_->Execute(Spec("StatefulSet", "acme", "db"), Action(2, 4));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 4));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(api_.requests().size(), 2u);
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, Not(HasSubstr("prescale_kubernetes_hpa_conflicts{")));
}

TEST_F(KubernetesExecutorTest, TheHpaListIsCachedPerNamespaceForTheTtl) {
  ASSERT_EQ(executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 4)).outcome, Outcome::kDone);
  ASSERT_EQ(executor_->Execute(Spec("StatefulSet", "acme", "db"), Action(2, 3)).outcome, Outcome::kDone);
  EXPECT_EQ(api_.hpa_requests().size(), 1u);  // one namespace, one list
  // An HPA created meanwhile is seen once the cached list is 30 s old.
  api_.AddHpa("acme", "web-hpa", "Deployment", "web");
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_EQ(executor_->Execute(Spec("Deployment", "acme", "web"), Action(4, 5)).outcome, Outcome::kDone);
  clock_.Advance(std::chrono::seconds(1));
  ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(5, 6));
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_THAT(r.message, HasSubstr("acme/web-hpa"));
  EXPECT_EQ(api_.hpa_requests().size(), 2u);
  // The HPA is deleted: the conflict ends with the next list.
  api_.RemoveHpas("acme");
  clock_.Advance(std::chrono::seconds(30));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(5, 6));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, Not(HasSubstr("prescale_kubernetes_hpa_conflicts{")));
}

TEST_F(KubernetesExecutorTest, AnHpaListThatFailsIsRetriedWithoutAPatchAndNotCached) {
  api_.AnswerHpas(403, StatusBody(403, "Forbidden",
                                  R"(horizontalpodautoscalers.autoscaling is forbidden: User \"system:serviceaccount:)"
                                  R"(prescale:prescale-aggregator\" cannot list resource \"horizontalpodautoscalers\" )"
                                  R"(in API group \"autoscaling\" in the namespace \"acme\")"));
  ExecutionResult r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("cannot tell whether a HorizontalPodAutoscaler scales it"));
  EXPECT_THAT(r.message, HasSubstr(R"(cannot list resource "horizontalpodautoscalers")"));
  api_.AnswerHpas(503, StatusBody(503, "ServiceUnavailable", "the server is currently unable to handle the request"));
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("503"));
  // A list that does not decode is no better than none.
  api_.AnswerHpas(200, R"({"kind":"HorizontalPodAutoscalerList","items":[{"metadata":{"name":"h","namespace":)"
                       R"("acme"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","name":"web"}}}]})");
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("items[0].spec.scaleTargetRef.kind"));
  EXPECT_TRUE(api_.requests().empty());
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_hpa_list_errors_total 3"));
  // Failures are not cached: the next action lists again, and patches.
  r = executor_->Execute(Spec("Deployment", "acme", "web"), Action(3, 5));
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.message;
  EXPECT_EQ(api_.hpa_requests().size(), 4u);
}

TEST_F(KubernetesExecutorTest, WouldRefuseNamesTheHpaUntilItIsGone) {
  api_.AddHpa("acme", "web-hpa", "Deployment", "web");
  auto refusal = executor_->WouldRefuse(Spec("Deployment", "acme", "web"));
  ASSERT_TRUE(refusal.ok()) << refusal.status().ToString();
  ASSERT_TRUE(refusal->has_value());
  EXPECT_EQ((*refusal)->reason, "hpa_conflict");
  EXPECT_EQ((*refusal)->by, "HorizontalPodAutoscaler acme/web-hpa");
  EXPECT_EQ((*refusal)->message,
            "HorizontalPodAutoscaler acme/web-hpa scales this Deployment; prescale recommends only");
  // The StatefulSet db has no HPA: it would act.
  auto db = executor_->WouldRefuse(Spec("StatefulSet", "acme", "db"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_FALSE(db->has_value());
  EXPECT_EQ(api_.hpa_requests().size(), 1u) << "one cached list for the namespace";
  EXPECT_TRUE(api_.requests().empty()) << "asking sends no PATCH";
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics,
              HasSubstr(R"(prescale_kubernetes_hpa_conflicts{hpa="acme/web-hpa",service="web",tenant="acme"} 1)"));
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_hpa_refused_actions_total 0")) << "no action was refused";
  // The HPA is deleted: once the cached list is stale, the executor would act again.
  api_.RemoveHpas("acme");
  clock_.Advance(std::chrono::seconds(30));
  refusal = executor_->WouldRefuse(Spec("Deployment", "acme", "web"));
  ASSERT_TRUE(refusal.ok()) << refusal.status().ToString();
  EXPECT_FALSE(refusal->has_value());
  metrics.clear();
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, Not(HasSubstr("prescale_kubernetes_hpa_conflicts{")));
}

TEST_F(KubernetesExecutorTest, WouldRefuseSaysWhenItCannotTell) {
  api_.AnswerHpas(403,
                  StatusBody(403, "Forbidden",
                             R"(horizontalpodautoscalers.autoscaling is forbidden: User \"system:serviceaccount:)"
                             R"(prescale:prescale-aggregator\" cannot list resource \"horizontalpodautoscalers\")"));
  auto refusal = executor_->WouldRefuse(Spec("Deployment", "acme", "web"));
  ASSERT_FALSE(refusal.ok());
  EXPECT_EQ(refusal.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refusal.status().message(), HasSubstr(R"(cannot list resource "horizontalpodautoscalers")"));
  // A bad executor block is named, and nothing is asked of the API server.
  refusal = executor_->WouldRefuse(Spec("Deployment", "../secrets", "web"));
  ASSERT_FALSE(refusal.ok());
  EXPECT_THAT(refusal.status().message(), HasSubstr("executor.namespace"));
  EXPECT_EQ(api_.hpa_requests().size(), 1u);
  std::string metrics;
  executor_->AppendMetrics(&metrics);
  EXPECT_THAT(metrics, HasSubstr("prescale_kubernetes_hpa_list_errors_total 0")) << "only delayed actions count";
}

TEST(KubernetesScaleParse, DecodesTheApiServersScale) {
  auto scale = ParseKubernetesScale(
      R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"acme",)"
      R"("uid":"6c1e2f0a","resourceVersion":"48213","creationTimestamp":"2026-11-20T08:14:03Z"},)"
      R"("spec":{"replicas":4},"status":{"replicas":3,"selector":"app=web,tier=front"}})");
  ASSERT_TRUE(scale.ok()) << scale.status().ToString();
  EXPECT_EQ(scale->name, "web");
  EXPECT_EQ(scale->namespace_name, "acme");
  EXPECT_EQ(scale->spec_replicas, 4);
  EXPECT_EQ(scale->status_replicas, 3);
  EXPECT_EQ(scale->selector, "app=web,tier=front");
  auto zero = ParseKubernetesScale(R"({"kind":"Scale","spec":{},"status":{"replicas":0}})");
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  EXPECT_EQ(zero->spec_replicas, 0);
  EXPECT_EQ(zero->status_replicas, 0);
}

TEST(KubernetesScaleParse, RefusesWhatIsNotAScale) {
  for (const char* body : {
           "",
           "[]",
           R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":404})",
           R"({"kind":"Scale"})",
           R"({"kind":"Scale","spec":{"replicas":"3"}})",
           R"({"kind":"Scale","spec":{"replicas":2147483648}})",
           R"({"kind":"Scale","spec":{"replicas":1.5}})",
           R"({"kind":"Scale","spec":{"replicas":1},"status":{"replicas":-2}})",
       }) {
    auto scale = ParseKubernetesScale(body);
    EXPECT_FALSE(scale.ok()) << body;
    if (!scale.ok()) {
      EXPECT_EQ(scale.status().code(), StatusCode::kParseError) << body;
    }
  }
}

TEST(KubernetesStatusMessage, PrefersMessageThenReasonThenTheBody) {
  EXPECT_EQ(KubernetesStatusMessage(StatusBody(404, "NotFound", R"(deployments.apps \"web\" not found)")),
            R"(deployments.apps "web" not found)");
  EXPECT_EQ(KubernetesStatusMessage(R"({"kind":"Status","reason":"Timeout","code":504})"), "Timeout");
  EXPECT_EQ(KubernetesStatusMessage("upstream connect error"), "upstream connect error");
  EXPECT_EQ(KubernetesStatusMessage(std::string(500, 'x')).size(), 200u);
}

}  // namespace
}  // namespace prescale::aggregator
