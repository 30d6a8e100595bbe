// The Kubernetes PodList (core/v1), decoded strictly: what the kubelet's
// `GET /pods` (ports 10250/10255) and the API server's
// `GET /api/v1/pods?fieldSelector=spec.nodeName=NODE` answer. The agent uses
// it to name the pods and containers behind the cgroups it reads; the
// aggregator to find each pod's owning workload. No I/O here.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::kube {

// Bounds on what one PodList may make us hold, so a hostile or broken peer
// cannot blow memory; real nodes are far below them (the kubelet's default
// max-pods is 110).
inline constexpr size_t kMaxPods = 10'000;           // items beyond are not read (a note in *skipped)
inline constexpr size_t kMaxContainersPerPod = 100;  // a pod with more is skipped
inline constexpr size_t kMaxLabelsPerPod = 1'024;    // a pod with more is skipped
inline constexpr size_t kMaxOwnerReferences = 100;   // a pod with more is skipped
inline constexpr size_t kMaxStringBytes = 4'096;     // a pod with a longer string we read is skipped

struct ContainerInfo {
  std::string name;
  std::string image;  // from the status (what the runtime runs), else the spec's
  // The runtime's container id without the scheme ("containerd://<hex>" ->
  // "<hex>"); only letters, digits, '-' and '_' (it ends up in cgroup paths).
  // Empty while the container is not created yet.
  std::string id;
  std::string runtime;  // the scheme: "containerd", "cri-o", "docker"; empty with no id or no scheme
};

struct PodInfo {
  std::string uid;  // never empty; letters, digits, '-' and '_' only
  std::string namespace_name;
  std::string name;
  std::string node_name;  // spec.nodeName; empty while unscheduled
  // status.qosClass: "Guaranteed", "Burstable" or "BestEffort"; empty when
  // absent or any other value. Not computed from the resources: the kubelet
  // sets it on every pod it runs, and a guess could disagree with the cgroup
  // the kubelet really chose.
  std::string qos_class;
  std::string phase;  // status.phase as given ("Pending", "Running", ...); may be empty
  std::map<std::string, std::string> labels;
  // The owning workload, as WorkloadOf resolves it: ("Deployment", "web"),
  // ("StatefulSet", "db"), ("Pod", <the pod's name>) for a bare pod, ...
  std::string workload_kind;
  std::string workload;
  // status.containerStatuses then status.initContainerStatuses, then the spec's
  // containers and initContainers that have no status yet (a Pending pod), with
  // an empty id. Ephemeral (debug) containers are left out.
  std::vector<ContainerInfo> containers;
};

// Decodes a PodList. The document must be a JSON object with kind "PodList"
// (or no kind and an "items" array) and "items" an array (null, the kubelet's
// answer on a node without pods, when kind is "PodList"); anything else is
// InvalidArgument naming the field ("kind", "items"). A pod that does not hold
// (not an object, no metadata.uid/name/namespace, a wrong type in a field read
// here, over a bound above, a uid repeated) is left out and, when skipped is
// given, a reason appended to it ("items[3]: metadata.uid is missing"); it never
// fails the list. Unknown fields are ignored: Kubernetes adds fields.
Result<std::vector<PodInfo>> ParsePodList(std::string_view json, std::vector<std::string>* skipped = nullptr);

// One entry of metadata.ownerReferences (apiVersion and uid are not needed).
struct OwnerReference {
  std::string kind;
  std::string name;
  bool controller = false;
};

// The workload (kind, name) that owns a pod, from its controller reference (the
// one with controller: true, else the first): a ReplicaSet named
// "<deployment>-<hash>" whose pod has the label pod-template-hash=<hash> is the
// Deployment "<deployment>"; any other owner (ReplicaSet, StatefulSet,
// DaemonSet, Job, ReplicationController, a custom resource) is itself. A pod
// without owners (or whose chosen owner lacks kind or name) is ("Pod", pod_name).
std::pair<std::string, std::string> WorkloadOf(const std::vector<OwnerReference>& owners,
                                               const std::map<std::string, std::string>& labels,
                                               const std::string& pod_name);

}  // namespace prescale::kube
