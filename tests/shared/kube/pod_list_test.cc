// Tests of the PodList decoder and the owning-workload resolution, on pods
// shaped like the Kubernetes API reference's core/v1 Pod as the kubelet's
// /pods and the API server's /api/v1/pods serve them.
#include "prescale/kube/pod_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace prescale::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// A PodList around the given items, as the kubelet writes it.
std::string List(std::initializer_list<std::string_view> items) {
  std::string out = R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[)";
  bool first = true;
  for (std::string_view item : items) {
    if (!first) out += ",";
    out += item;
    first = false;
  }
  return out + "]}";
}

constexpr std::string_view kDeploymentPod = R"({
  "metadata": {
    "name": "web-7c5ddbdf54-x2x9k",
    "generateName": "web-7c5ddbdf54-",
    "namespace": "shop",
    "uid": "5f1d6a3e-8a4c-4c39-9d2e-1f0e3b7a9c11",
    "resourceVersion": "184467",
    "creationTimestamp": "2024-05-01T10:00:00Z",
    "labels": {"app": "web", "pod-template-hash": "7c5ddbdf54"},
    "annotations": {"kubernetes.io/config.seen": "2024-05-01T10:00:01.123456789Z"},
    "ownerReferences": [{
      "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c5ddbdf54",
      "uid": "0b6c5d7e-1111-4a2b-9c3d-4e5f60718293", "controller": true, "blockOwnerDeletion": true
    }]
  },
  "spec": {
    "nodeName": "node-1",
    "restartPolicy": "Always",
    "containers": [{
      "name": "web", "image": "nginx:1.25",
      "ports": [{"containerPort": 80, "protocol": "TCP"}],
      "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}
    }]
  },
  "status": {
    "phase": "Running",
    "qosClass": "Burstable",
    "podIP": "10.244.1.17",
    "startTime": "2024-05-01T10:00:01Z",
    "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [{
      "name": "web",
      "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
      "lastState": {},
      "ready": true,
      "restartCount": 0,
      "image": "docker.io/library/nginx:1.25",
      "imageID": "docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
      "containerID": "containerd://3b1f0c9e7d2a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4",
      "started": true
    }]
  }
})";

constexpr std::string_view kStatefulSetPod = R"({
  "metadata": {
    "name": "db-0", "namespace": "shop", "uid": "9a8b7c6d-0000-4111-8222-333344445555",
    "labels": {"app": "db", "controller-revision-hash": "db-6d4f8b9c7", "statefulset.kubernetes.io/pod-name": "db-0"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
                         "uid": "aaaa1111-2222-4333-8444-555566667777", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {"nodeName": "node-1", "containers": [{"name": "postgres", "image": "postgres:16",
           "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]},
  "status": {"phase": "Running", "qosClass": "Guaranteed", "containerStatuses": [{
    "name": "postgres", "image": "docker.io/library/postgres:16", "imageID": "docker.io/library/postgres@sha256:ab12",
    "containerID": "cri-o://8c2e4a6b8d0f1e3c5a7b9d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c",
    "ready": true, "restartCount": 2, "state": {"running": {"startedAt": "2024-05-01T09:00:00Z"}}
  }]}
})";

constexpr std::string_view kDaemonSetPod = R"({
  "metadata": {
    "name": "node-exporter-4kq7z", "namespace": "monitoring", "uid": "c0ffee00-1234-4567-89ab-cdef01234567",
    "labels": {"app.kubernetes.io/name": "node-exporter", "controller-revision-hash": "5c9d7b8f6", "pod-template-generation": "3"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "node-exporter",
                         "uid": "d1d2d3d4-0000-4000-8000-000000000001", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {"nodeName": "node-1", "containers": [{"name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.8.0"}]},
  "status": {"phase": "Running", "qosClass": "BestEffort", "containerStatuses": [{
    "name": "node-exporter", "image": "quay.io/prometheus/node-exporter:v1.8.0", "imageID": "docker-pullable://quay.io/prometheus/node-exporter@sha256:cd34",
    "containerID": "docker://f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed",
    "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T08:00:00Z"}}
  }]}
})";

// A Job's pod that ran an init container: statuses for both kinds.
constexpr std::string_view kJobPod = R"({
  "metadata": {
    "name": "report-28571234-abcde", "namespace": "batch", "uid": "11112222-3333-4444-8555-666677778888",
    "labels": {"batch.kubernetes.io/job-name": "report-28571234", "job-name": "report-28571234",
               "controller-uid": "e1e2e3e4-0000-4000-8000-000000000002"},
    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-28571234",
                         "uid": "e1e2e3e4-0000-4000-8000-000000000002", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {"nodeName": "node-2", "restartPolicy": "Never",
           "initContainers": [{"name": "fetch", "image": "busybox:1.36"}],
           "containers": [{"name": "report", "image": "registry.example.com/report:2.1"}]},
  "status": {"phase": "Succeeded", "qosClass": "BestEffort",
    "initContainerStatuses": [{"name": "fetch", "image": "docker.io/library/busybox:1.36", "imageID": "x",
      "containerID": "containerd://aa11", "ready": true, "restartCount": 0,
      "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
    "containerStatuses": [{"name": "report", "image": "registry.example.com/report:2.1", "imageID": "y",
      "containerID": "containerd://bb22", "ready": false, "restartCount": 0,
      "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
})";

// A bare pod (no owner), just scheduled: the kubelet has not reported container statuses yet.
constexpr std::string_view kPendingBarePod = R"({
  "metadata": {"name": "debug", "namespace": "default", "uid": "77778888-9999-4aaa-8bbb-ccccddddeeee",
               "creationTimestamp": "2024-05-01T11:00:00Z"},
  "spec": {"nodeName": "node-1",
           "initContainers": [{"name": "setup", "image": "busybox:1.36"}],
           "containers": [{"name": "shell", "image": "busybox:1.36",
                           "resources": {"requests": {"cpu": "100m"}}}]},
  "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
})";

PodInfo ParseOne(std::string_view pod) {
  std::vector<std::string> skipped;
  auto pods = ParsePodList(List({pod}), &skipped);
  EXPECT_TRUE(pods.ok()) << pods.status().ToString();
  EXPECT_THAT(skipped, IsEmpty());
  if (!pods.ok() || pods->size() != 1) {
    ADD_FAILURE() << "want exactly one pod";
    return {};
  }
  return pods->front();
}

TEST(ParsePodList, DeploymentPodThroughItsReplicaSet) {
  const PodInfo pod = ParseOne(kDeploymentPod);
  EXPECT_EQ(pod.uid, "5f1d6a3e-8a4c-4c39-9d2e-1f0e3b7a9c11");
  EXPECT_EQ(pod.namespace_name, "shop");
  EXPECT_EQ(pod.name, "web-7c5ddbdf54-x2x9k");
  EXPECT_EQ(pod.node_name, "node-1");
  EXPECT_EQ(pod.qos_class, "Burstable");
  EXPECT_EQ(pod.phase, "Running");
  EXPECT_THAT(pod.labels, ElementsAre(Pair("app", "web"), Pair("pod-template-hash", "7c5ddbdf54")));
  EXPECT_EQ(pod.workload_kind, "Deployment");
  EXPECT_EQ(pod.workload, "web");
  ASSERT_EQ(pod.containers.size(), 1u);
  EXPECT_EQ(pod.containers[0].name, "web");
  EXPECT_EQ(pod.containers[0].image, "docker.io/library/nginx:1.25") << "the status's image, not the spec's";
  EXPECT_EQ(pod.containers[0].id, "3b1f0c9e7d2a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4");
  EXPECT_EQ(pod.containers[0].runtime, "containerd");
}

TEST(ParsePodList, StatefulSetPodWithCriOId) {
  const PodInfo pod = ParseOne(kStatefulSetPod);
  EXPECT_EQ(pod.workload_kind, "StatefulSet");
  EXPECT_EQ(pod.workload, "db");
  EXPECT_EQ(pod.qos_class, "Guaranteed");
  ASSERT_EQ(pod.containers.size(), 1u);
  EXPECT_EQ(pod.containers[0].runtime, "cri-o");
  EXPECT_EQ(pod.containers[0].id, "8c2e4a6b8d0f1e3c5a7b9d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c");
}

TEST(ParsePodList, DaemonSetPodWithDockerId) {
  const PodInfo pod = ParseOne(kDaemonSetPod);
  EXPECT_EQ(pod.workload_kind, "DaemonSet");
  EXPECT_EQ(pod.workload, "node-exporter");
  EXPECT_EQ(pod.namespace_name, "monitoring");
  EXPECT_EQ(pod.qos_class, "BestEffort");
  ASSERT_EQ(pod.containers.size(), 1u);
  EXPECT_EQ(pod.containers[0].runtime, "docker");
  EXPECT_EQ(pod.containers[0].id, "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed");
}

TEST(ParsePodList, JobPodListsContainersThenInitContainers) {
  const PodInfo pod = ParseOne(kJobPod);
  EXPECT_EQ(pod.workload_kind, "Job");
  EXPECT_EQ(pod.workload, "report-28571234");
  EXPECT_EQ(pod.phase, "Succeeded");
  EXPECT_EQ(pod.node_name, "node-2");
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].name, "report");
  EXPECT_EQ(pod.containers[0].id, "bb22");
  EXPECT_EQ(pod.containers[1].name, "fetch");
  EXPECT_EQ(pod.containers[1].id, "aa11");
  EXPECT_EQ(pod.containers[1].image, "docker.io/library/busybox:1.36");
}

TEST(ParsePodList, PendingBarePodHasSpecContainersWithoutIds) {
  const PodInfo pod = ParseOne(kPendingBarePod);
  EXPECT_EQ(pod.workload_kind, "Pod");
  EXPECT_EQ(pod.workload, "debug");
  EXPECT_EQ(pod.phase, "Pending");
  EXPECT_EQ(pod.qos_class, "") << "absent: left empty, not computed from the resources";
  EXPECT_THAT(pod.labels, IsEmpty());
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].name, "shell");
  EXPECT_EQ(pod.containers[0].image, "busybox:1.36");
  EXPECT_EQ(pod.containers[0].id, "");
  EXPECT_EQ(pod.containers[0].runtime, "");
  EXPECT_EQ(pod.containers[1].name, "setup");
  EXPECT_EQ(pod.containers[1].id, "");
}

TEST(ParsePodList, WaitingContainerFallsBackToTheSpecImage) {
  // Creating: the status exists but has neither image nor containerID yet,
  // and the sidecar has no status at all.
  const PodInfo pod = ParseOne(R"({
    "metadata": {"name": "api-0", "namespace": "shop", "uid": "abcd-0001"},
    "spec": {"nodeName": "node-1", "containers": [{"name": "api", "image": "api:3"}, {"name": "proxy", "image": "envoy:1.30"}]},
    "status": {"phase": "Pending", "qosClass": "Burstable", "containerStatuses": [{
      "name": "api", "image": "", "imageID": "", "ready": false, "restartCount": 0,
      "state": {"waiting": {"reason": "ContainerCreating"}}}]}
  })");
  ASSERT_EQ(pod.containers.size(), 2u);
  EXPECT_EQ(pod.containers[0].name, "api");
  EXPECT_EQ(pod.containers[0].image, "api:3");
  EXPECT_EQ(pod.containers[0].id, "");
  EXPECT_EQ(pod.containers[1].name, "proxy");
  EXPECT_EQ(pod.containers[1].image, "envoy:1.30");
}

TEST(ParsePodList, UnknownQosClassIsLeftEmpty) {
  const PodInfo pod = ParseOne(R"({"metadata": {"name": "p", "namespace": "n", "uid": "u1"},
                                   "status": {"qosClass": "Platinum"}})");
  EXPECT_EQ(pod.qos_class, "");
}

TEST(ParsePodList, IgnoresUnknownFieldsAndNulls) {
  const PodInfo pod = ParseOne(R"({
    "metadata": {"name": "p", "namespace": "n", "uid": "u1", "labels": null, "managedFields": [{"manager": "kubelet"}],
                 "futureField": {"deep": [[[{"x": 1}]]]}},
    "spec": {"nodeName": "node-1", "containers": null, "resourceClaims": [], "hostUsers": false},
    "status": {"phase": "Running", "resize": "InProgress", "ephemeralContainerStatuses": [{"name": "debugger"}],
               "containerStatuses": null}
  })");
  EXPECT_EQ(pod.uid, "u1");
  EXPECT_EQ(pod.phase, "Running");
  EXPECT_THAT(pod.containers, IsEmpty()) << "ephemeral containers are left out";
}

TEST(ParsePodList, KeepsTheOrderOfTheItems) {
  auto pods = ParsePodList(List({kDeploymentPod, kStatefulSetPod, kDaemonSetPod, kJobPod, kPendingBarePod}));
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ASSERT_EQ(pods->size(), 5u);
  EXPECT_EQ((*pods)[0].workload_kind, "Deployment");
  EXPECT_EQ((*pods)[1].workload_kind, "StatefulSet");
  EXPECT_EQ((*pods)[2].workload_kind, "DaemonSet");
  EXPECT_EQ((*pods)[3].workload_kind, "Job");
  EXPECT_EQ((*pods)[4].workload_kind, "Pod");
}

TEST(ParsePodList, EmptyListsFromTheKubeletAndTheApiServer) {
  // The kubelet on a node without pods writes a nil slice: "items": null.
  auto kubelet = ParsePodList(R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":null})");
  ASSERT_TRUE(kubelet.ok()) << kubelet.status().ToString();
  EXPECT_THAT(*kubelet, IsEmpty());
  auto api = ParsePodList(R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42"},"items":[]})");
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  EXPECT_THAT(*api, IsEmpty());
  auto no_kind = ParsePodList(R"({"items":[]})");
  ASSERT_TRUE(no_kind.ok()) << "a missing kind is accepted with an items array";
}

TEST(ParsePodList, RejectsGarbageNamingWhatIsWrong) {
  struct Case {
    std::string_view json;
    std::string_view field;
    std::string_view message;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "", "malformed JSON at byte 0"},
           {"<html>502 Bad Gateway</html>", "", "malformed JSON"},
           {R"({"kind":"PodList","items":[]} trailing)", "", "malformed JSON"},
           {"[]", "", "must be a JSON object"},
           {R"("PodList")", "", "must be a JSON object"},
           {R"({"kind":"PodList"})", "items", "items: is missing"},
           {R"({"kind":"PodList","items":{}})", "items", "items: must be an array"},
           {R"({"kind":"PodList","items":"none"})", "items", "items: must be an array"},
           {R"({"items":null})", "items", "items: must be an array"},
           {R"({"kind":"Pod","metadata":{"name":"p"}})", "kind", R"(kind: is "Pod", not "PodList")"},
           {R"({"kind":"Table","items":[]})", "kind", R"(kind: is "Table", not "PodList")"},
           {R"({"kind":7,"items":[]})", "kind", "kind: must be a string"},
           {R"({"kind":"Status","status":"Failure","code":403})", "kind", R"(kind: is "Status")"},
           // RapidJSON would decode it to bytes that are not UTF-8 (pod labels become metric labels).
           {R"({"kind":"PodList","items":[{"metadata":{"labels":{"app":"\udc00"}}}]})", "", "lone surrogate"},
       }) {
    auto pods = ParsePodList(c.json);
    ASSERT_FALSE(pods.ok()) << c.json;
    EXPECT_EQ(pods.status().code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(pods.status().field(), c.field) << c.json;
    EXPECT_THAT(pods.status().message(), ::testing::HasSubstr(std::string(c.message))) << c.json;
  }
}

TEST(ParsePodList, SkipsBadPodsWithTheirReasonAndKeepsTheOthers) {
  std::vector<std::string> skipped;
  auto pods = ParsePodList(
      List({
          kDeploymentPod,
          R"({"metadata": {"name": "no-uid", "namespace": "n"}})",
          kStatefulSetPod,
          R"("not a pod")",
          R"({"metadata": {"uid": "u-2", "namespace": "n"}})",
          R"({"metadata": {"uid": "u-3", "name": "p", "namespace": "n", "labels": {"tier": 1}}})",
          R"({"metadata": {"uid": "u-4", "name": "p", "namespace": "n"}, "status": {"containerStatuses": [
               {"name": "c", "containerID": "containerd://../../../etc"}]}})",
          R"({"metadata": {"uid": "u-5", "name": "p", "namespace": "n", "ownerReferences": [{"kind": "Job"}]}})",
          R"({"metadata": {"uid": "5f1d6a3e-8a4c-4c39-9d2e-1f0e3b7a9c11", "name": "twin", "namespace": "n"}})",
          R"({"metadata": {"uid": "u/7", "name": "p", "namespace": "n"}})",
          R"({"metadata": [], "spec": {}})",
          R"({"metadata": {"uid": "u-8", "name": "p", "namespace": "n"}, "spec": {"nodeName": 3}})",
          R"({"metadata": {"uid": "u-9", "name": "p", "namespace": "n"}, "status": {"containerStatuses": [
               {"name": "c"}, {"name": "c"}]}})",
          kDaemonSetPod,
      }),
      &skipped);
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ASSERT_EQ(pods->size(), 3u);
  EXPECT_EQ((*pods)[0].name, "web-7c5ddbdf54-x2x9k");
  EXPECT_EQ((*pods)[1].name, "db-0");
  EXPECT_EQ((*pods)[2].name, "node-exporter-4kq7z");
  EXPECT_THAT(skipped,
              ElementsAre("items[1]: metadata.uid is missing",                                                 //
                          "items[3]: is not an object",                                                        //
                          "items[4]: metadata.name is missing",                                                //
                          "items[5]: metadata.labels.tier must be a string",                                   //
                          "items[6]: status.containerStatuses[0].containerID is not <runtime>://<id> of "      //
                          "letters, digits, '-' and '_'",                                                      //
                          "items[7]: metadata.ownerReferences[0].name is missing",                             //
                          "items[8]: metadata.uid \"5f1d6a3e-8a4c-4c39-9d2e-1f0e3b7a9c11\" repeats items[0]",  //
                          "items[9]: metadata.uid has characters other than letters, digits, '-' and '_'",     //
                          "items[10]: metadata must be an object",                                             //
                          "items[11]: spec.nodeName must be a string",                                         //
                          "items[12]: status.containerStatuses[1].name \"c\" repeats"));
}

TEST(ParsePodList, SkippedMayBeOmitted) {
  auto pods = ParsePodList(List({R"({"metadata": {}})", kJobPod}));
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  EXPECT_EQ(pods->size(), 1u);
}

TEST(ParsePodList, BoundsWhatAHostilePeerCanMakeItHold) {
  std::vector<std::string> skipped;
  const std::string long_uid(kMaxStringBytes + 1, 'a');
  std::string many_containers =
      R"({"metadata": {"uid": "u-2", "name": "p", "namespace": "n"}, "spec": {"containers": [)";
  for (size_t i = 0; i <= kMaxContainersPerPod; ++i) {
    many_containers += (i == 0 ? "" : ",") + std::string(R"({"name": "c)") + std::to_string(i) + R"("})";
  }
  many_containers += "]}}";
  const std::string long_id_pod = R"({"metadata": {"uid": ")" + long_uid + R"(", "name": "p", "namespace": "n"}})";
  auto pods = ParsePodList(List({long_id_pod, many_containers, kJobPod}), &skipped);
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  EXPECT_EQ(pods->size(), 1u);
  EXPECT_THAT(skipped, ElementsAre("items[0]: metadata.uid is longer than 4096 bytes",
                                   "items[1]: spec.containers has more than 100 entries"));
}

TEST(ParsePodList, ReadsAtMostTheFirstMaxPodsItems) {
  std::string json = R"({"kind":"PodList","items":[)";
  for (size_t i = 0; i < kMaxPods + 2; ++i) {
    if (i > 0) json += ",";
    json += R"({"metadata":{"uid":"u)" + std::to_string(i) + R"(","name":"p","namespace":"n"}})";
  }
  json += "]}";
  std::vector<std::string> skipped;
  auto pods = ParsePodList(json, &skipped);
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  EXPECT_EQ(pods->size(), kMaxPods);
  EXPECT_THAT(skipped, ElementsAre("items[10000..10001]: over the 10000-pod limit, not read"));
}

TEST(ParsePodList, SurvivesDeepNestingInAnUnknownField) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto pods = ParsePodList(R"({"kind":"PodList","items":[{"metadata":{"uid":"u","name":"p","namespace":"n"},"x":)" +
                           deep + "}]}");
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  EXPECT_EQ(pods->size(), 1u);
}

TEST(ParsePodList, BareReplicaSetAndCustomOwnersAreThemselves) {
  const PodInfo bare_rs = ParseOne(R"({
    "metadata": {"name": "legacy-q8w2c", "namespace": "n", "uid": "u-rs", "labels": {"app": "legacy"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "legacy",
                                      "uid": "r-1", "controller": true, "blockOwnerDeletion": true}]}})");
  EXPECT_EQ(bare_rs.workload_kind, "ReplicaSet");
  EXPECT_EQ(bare_rs.workload, "legacy");
  const PodInfo clone_set = ParseOne(R"({
    "metadata": {"name": "cs-abc12", "namespace": "n", "uid": "u-cs",
                 "ownerReferences": [{"apiVersion": "apps.kruise.io/v1alpha1", "kind": "CloneSet", "name": "cs",
                                      "uid": "r-2", "controller": true, "blockOwnerDeletion": true}]}})");
  EXPECT_EQ(clone_set.workload_kind, "CloneSet");
  EXPECT_EQ(clone_set.workload, "cs");
}

TEST(WorkloadOf, ReplicaSetIsADeploymentOnlyWhenNameAndHashLabelAgree) {
  const std::vector<OwnerReference> rs = {{"ReplicaSet", "web-api-7c5ddbdf54", true}};
  EXPECT_THAT(WorkloadOf(rs, {{"pod-template-hash", "7c5ddbdf54"}}, "p"), Pair("Deployment", "web-api"));
  EXPECT_THAT(WorkloadOf(rs, {{"pod-template-hash", "5f5f5f5f5f"}}, "p"), Pair("ReplicaSet", "web-api-7c5ddbdf54"));
  EXPECT_THAT(WorkloadOf(rs, {{"pod-template-hash", ""}}, "p"), Pair("ReplicaSet", "web-api-7c5ddbdf54"));
  EXPECT_THAT(WorkloadOf(rs, {{"app", "web"}}, "p"), Pair("ReplicaSet", "web-api-7c5ddbdf54"));
  // The hash must follow a '-' and leave a non-empty deployment name.
  EXPECT_THAT(WorkloadOf({{"ReplicaSet", "web7c5ddbdf54", true}}, {{"pod-template-hash", "7c5ddbdf54"}}, "p"),
              Pair("ReplicaSet", "web7c5ddbdf54"));
  EXPECT_THAT(WorkloadOf({{"ReplicaSet", "-7c5ddbdf54", true}}, {{"pod-template-hash", "7c5ddbdf54"}}, "p"),
              Pair("ReplicaSet", "-7c5ddbdf54"));
  // Only a ReplicaSet owner is looked through.
  EXPECT_THAT(WorkloadOf({{"StatefulSet", "db-7c5ddbdf54", true}}, {{"pod-template-hash", "7c5ddbdf54"}}, "p"),
              Pair("StatefulSet", "db-7c5ddbdf54"));
}

TEST(WorkloadOf, OwnKindsAndTheBarePod) {
  for (std::string_view kind : {"StatefulSet", "DaemonSet", "Job", "ReplicationController", "Rollout"}) {
    EXPECT_THAT(WorkloadOf({{std::string(kind), "w", true}}, {}, "p"), Pair(std::string(kind), "w"));
  }
  EXPECT_THAT(WorkloadOf({}, {}, "static-web-node-1"), Pair("Pod", "static-web-node-1"));
  EXPECT_THAT(WorkloadOf({{"", "w", true}}, {}, "p"), Pair("Pod", "p"));
  EXPECT_THAT(WorkloadOf({{"Job", "", true}}, {}, "p"), Pair("Pod", "p"));
}

TEST(WorkloadOf, PrefersTheControllerReferenceElseTheFirst) {
  const std::vector<OwnerReference> marked = {{"ConfigMap", "cfg", false}, {"StatefulSet", "db", true}};
  EXPECT_THAT(WorkloadOf(marked, {}, "p"), Pair("StatefulSet", "db"));
  const std::vector<OwnerReference> unmarked = {{"DaemonSet", "agent", false}, {"Job", "j", false}};
  EXPECT_THAT(WorkloadOf(unmarked, {}, "p"), Pair("DaemonSet", "agent"));
}

}  // namespace
}  // namespace prescale::kube
