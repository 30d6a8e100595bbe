// The strict decoders of the Kubernetes lists the aggregator reads
// (shared/kube): autoscaling/v2 HorizontalPodAutoscalerList (the kubernetes
// executor's HPA check) and apps/v1 DeploymentList / StatefulSetList (the
// workload discovery). The bodies follow the Kubernetes API reference's
// shapes, including fields prescale ignores; no real API server runs here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "prescale/kube/hpa_list.h"
#include "prescale/kube/workload_list.h"

namespace prescale::kube {
namespace {

using ::testing::HasSubstr;

constexpr const char* kHpaList = R"({
  "kind": "HorizontalPodAutoscalerList",
  "apiVersion": "autoscaling/v2",
  "metadata": {"resourceVersion": "51901"},
  "items": [
    {
      "metadata": {"name": "web-hpa", "namespace": "shop", "uid": "0b8b7e54-3c1f-4f0e-9a55-1a8e6b2f9d10",
                   "resourceVersion": "51877", "creationTimestamp": "2026-11-21T09:00:00Z",
                   "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
      "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
        "minReplicas": 2, "maxReplicas": 10,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 70}}}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                     "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}
      },
      "status": {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": null,
                 "conditions": [{"type": "ScalingActive", "status": "True",
                                 "lastTransitionTime": "2026-11-21T09:00:15Z", "reason": "ValidMetricFound"}]}
    },
    {
      "metadata": {"name": "db", "namespace": "shop"},
      "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db", "apiVersion": "apps/v1"},
               "maxReplicas": 5}
    }
  ]
})";

TEST(HpaList, DecodesTheApiServersList) {
  auto hpas = ParseHpaList(kHpaList);
  ASSERT_TRUE(hpas.ok()) << hpas.status().ToString();
  ASSERT_EQ(hpas->size(), 2u);
  EXPECT_EQ((*hpas)[0].namespace_name, "shop");
  EXPECT_EQ((*hpas)[0].name, "web-hpa");
  EXPECT_EQ((*hpas)[0].target_api_version, "apps/v1");
  EXPECT_EQ((*hpas)[0].target_kind, "Deployment");
  EXPECT_EQ((*hpas)[0].target_name, "web");
  EXPECT_TRUE(HpaScales((*hpas)[0], "Deployment", "web"));
  EXPECT_FALSE(HpaScales((*hpas)[0], "StatefulSet", "web"));
  EXPECT_FALSE(HpaScales((*hpas)[0], "Deployment", "web2"));
  EXPECT_TRUE(HpaScales((*hpas)[1], "StatefulSet", "db"));
}

TEST(HpaList, AnEmptyListHasNullOrNoItems) {
  for (const char* body : {R"({"kind":"HorizontalPodAutoscalerList","apiVersion":"autoscaling/v2",)"
                           R"("metadata":{"resourceVersion":"1"},"items":[]})",
                           R"({"kind":"HorizontalPodAutoscalerList","items":null})"}) {
    auto hpas = ParseHpaList(body);
    ASSERT_TRUE(hpas.ok()) << body << ": " << hpas.status().ToString();
    EXPECT_TRUE(hpas->empty());
  }
}

TEST(HpaList, OnlyTheAppsGroupMatches) {
  HpaInfo hpa{"shop", "h", "apps/v1beta2", "Deployment", "web"};
  EXPECT_TRUE(HpaScales(hpa, "Deployment", "web"));
  hpa.target_api_version = "example.com/v1";  // a custom resource called Deployment
  EXPECT_FALSE(HpaScales(hpa, "Deployment", "web"));
  hpa.target_api_version = "";
  EXPECT_FALSE(HpaScales(hpa, "Deployment", "web"));
}

TEST(HpaList, ABrokenItemFailsTheWholeListNamingTheField) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (const Case& c : {
           Case{"", ""},
           Case{"[]", ""},
           Case{R"({"kind":"PodList","items":[]})", "kind"},
           Case{R"({"kind":"HorizontalPodAutoscalerList"})", "items"},
           Case{R"({"items":{}})", "items"},
           Case{R"({"items":[1]})", "items[0]"},
           Case{R"({"items":[{"spec":{}}]})", "items[0].metadata"},
           Case{R"({"items":[{"metadata":{"name":"h"},"spec":{}}]})", "items[0].metadata.namespace"},
           Case{R"({"items":[{"metadata":{"name":"h","namespace":"s"}}]})", "items[0].spec"},
           Case{R"({"items":[{"metadata":{"name":"h","namespace":"s"},"spec":{}}]})", "items[0].spec.scaleTargetRef"},
           Case{R"({"items":[{"metadata":{"name":"h","namespace":"s"},"spec":{"scaleTargetRef":{"kind":7,)"
                R"("name":"w"}}}]})",
                "items[0].spec.scaleTargetRef.kind"},
           Case{R"({"items":[{"metadata":{"name":"h","namespace":"s"},"spec":{"scaleTargetRef":{"kind":"D"}}}]})",
                "items[0].spec.scaleTargetRef.name"},
       }) {
    auto hpas = ParseHpaList(c.body);
    ASSERT_FALSE(hpas.ok()) << c.body;
    EXPECT_EQ(hpas.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(hpas.status().field(), c.field) << c.body << ": " << hpas.status().ToString();
  }
}

TEST(HpaList, IsBoundedInSizeAndNames) {
  const std::string long_name(kMaxObjectNameBytes + 1, 'a');
  auto hpas = ParseHpaList(R"({"items":[{"metadata":{"name":")" + long_name + R"(","namespace":"s"}}]})");
  ASSERT_FALSE(hpas.ok());
  EXPECT_EQ(hpas.status().field(), "items[0].metadata.name");
  EXPECT_THAT(hpas.status().message(), HasSubstr("longer than 253 bytes"));
  std::string huge = R"({"items":[],"pad":")" + std::string(kMaxHpaListBytes, ' ') + "\"}";
  hpas = ParseHpaList(huge);
  ASSERT_FALSE(hpas.ok());
  EXPECT_THAT(hpas.status().message(), HasSubstr("larger than"));
  std::string many = R"({"items":[)";
  for (size_t i = 0; i <= kMaxHpas; ++i) many += i == 0 ? "{}" : ",{}";
  hpas = ParseHpaList(many + "]}");
  ASSERT_FALSE(hpas.ok());
  EXPECT_EQ(hpas.status().field(), "items");
}

constexpr const char* kDeploymentList = R"({
  "kind": "DeploymentList",
  "apiVersion": "apps/v1",
  "metadata": {"resourceVersion": "60300", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NjAzMDB9", "remainingItemCount": 12},
  "items": [
    {
      "metadata": {"name": "web", "namespace": "shop", "uid": "5f0c6a0e", "generation": 4,
                   "labels": {"app": "web"},
                   "annotations": {"deployment.kubernetes.io/revision": "4",
                                   "prescale.io/enabled": "true", "prescale.io/max-replicas": "20"}},
      "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "template": {
          "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
          "spec": {
            "initContainers": [{"name": "migrate", "image": "web:1.4", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [
              {"name": "app", "image": "web:1.4", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                                               "limits": {"cpu": "1"}}},
              {"name": "sidecar", "image": "proxy:2", "resources": {}},
              {"name": "bare", "image": "busybox"}
            ]
          }
        }
      },
      "status": {"observedGeneration": 4, "replicas": 3, "readyReplicas": 3}
    }
  ]
})";

TEST(WorkloadList, DecodesTheApiServersDeploymentList) {
  auto list = ParseWorkloadList(kDeploymentList, "Deployment");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->continue_token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NjAzMDB9");
  ASSERT_EQ(list->items.size(), 1u);
  const WorkloadInfo& w = list->items[0];
  EXPECT_EQ(w.kind, "Deployment");
  EXPECT_EQ(w.namespace_name, "shop");
  EXPECT_EQ(w.name, "web");
  // Only prescale.io/ annotations are kept.
  EXPECT_EQ(w.annotations,
            (std::map<std::string, std::string>{{"prescale.io/enabled", "true"}, {"prescale.io/max-replicas", "20"}}));
  ASSERT_EQ(w.containers.size(), 3u);  // init containers are not counted
  EXPECT_EQ(w.containers[0].name, "app");
  EXPECT_EQ(w.containers[0].cpu, "250m");
  EXPECT_EQ(w.containers[0].memory, "256Mi");
  EXPECT_EQ(w.containers[1].cpu, "");
  EXPECT_EQ(w.containers[2].memory, "");
}

TEST(WorkloadList, AStatefulSetListIsNotADeploymentList) {
  auto list = ParseWorkloadList(R"({"kind":"StatefulSetList","items":[]})", "Deployment");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().field(), "kind");
  list = ParseWorkloadList(R"({"kind":"StatefulSetList","metadata":{},"items":null})", "StatefulSet");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->items.empty());
  EXPECT_EQ(list->continue_token, "");
  EXPECT_FALSE(ParseWorkloadList(R"({"items":[]})", "DaemonSet").ok());
}

TEST(WorkloadList, ABrokenItemFailsTheWholeListNamingTheField) {
  const std::string tmpl = R"({"items":[{"metadata":{"name":"w","namespace":"s"},"spec":{"template":{"spec":)";
  struct Case {
    std::string body;
    std::string field;
  };
  for (const Case& c : {
           Case{R"({"items":[{"metadata":{"namespace":"s"}}]})", "items[0].metadata.name"},
           Case{R"({"items":[{"metadata":{"name":"w","namespace":"s"}}]})", "items[0].spec"},
           Case{R"({"items":[{"metadata":{"name":"w","namespace":"s"},"spec":{}}]})", "items[0].spec.template"},
           Case{R"({"items":[{"metadata":{"name":"w","namespace":"s","annotations":{"prescale.io/enabled":true}},)"
                R"("spec":{"template":{"spec":{}}}}]})",
                "items[0].metadata.annotations.prescale.io/enabled"},
           Case{tmpl + R"({"containers":{}}}}}]})", "items[0].spec.template.spec.containers"},
           Case{tmpl + R"({"containers":[{"image":"x"}]}}}}]})", "items[0].spec.template.spec.containers[0].name"},
           Case{tmpl + R"({"containers":[{"name":"a","resources":{"requests":{"cpu":1}}}]}}}}]})",
                "items[0].spec.template.spec.containers[0].resources.requests.cpu"},
           Case{R"({"metadata":{"continue":5},"items":[]})", "metadata.continue"},
           Case{R"({"metadata":{"continue":"a&limit=1"},"items":[]})", "metadata.continue"},
       }) {
    auto list = ParseWorkloadList(c.body, "Deployment");
    ASSERT_FALSE(list.ok()) << c.body;
    EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(list.status().field(), c.field) << c.body << ": " << list.status().ToString();
  }
}

TEST(WorkloadList, IsBounded) {
  std::string containers;
  for (size_t i = 0; i <= kMaxWorkloadContainers; ++i) {
    containers += (i == 0 ? "" : ",") + std::string(R"({"name":"c)") + std::to_string(i) + "\"}";
  }
  auto list = ParseWorkloadList(R"({"items":[{"metadata":{"name":"w","namespace":"s"},"spec":{"template":)"
                                R"({"spec":{"containers":[)" +
                                    containers + "]}}}}]}",
                                "Deployment");
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), HasSubstr("more than 100 entries"));
  list = ParseWorkloadList(R"({"items":[{"metadata":{"name":"w","namespace":"s","annotations":{"prescale.io/x":")" +
                               std::string(kMaxAnnotationValueBytes + 1, 'v') +
                               R"("}},"spec":{"template":{"spec":{}}}}]})",
                           "Deployment");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().field(), "items[0].metadata.annotations.prescale.io/x");
}

}  // namespace
}  // namespace prescale::kube
