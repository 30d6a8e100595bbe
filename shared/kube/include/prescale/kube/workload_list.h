// The apps/v1 DeploymentList and StatefulSetList, decoded strictly: what
// `GET /apis/apps/v1/deployments` and `/apis/apps/v1/statefulsets` answer
// (all namespaces, paged with limit/continue). The aggregator's workload
// discovery turns annotated workloads into services. Only what discovery
// needs is read: names, the `prescale.io/` annotations and the pod
// template's containers' cpu and memory requests (raw quantities; the caller
// parses them with ParseCpuQuantity/ParseMemoryQuantity and names the field
// when one is bad). No I/O here.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::kube {

// Bounds, so a hostile or broken peer cannot blow memory. Pages are asked
// for with limit=500, far below kMaxWorkloadsPerList.
inline constexpr size_t kMaxWorkloadListBytes = 64 << 20;
inline constexpr size_t kMaxWorkloadsPerList = 10'000;
inline constexpr size_t kMaxWorkloadContainers = 100;
inline constexpr size_t kMaxPrescaleAnnotations = 64;      // of the prescale.io/ prefix
inline constexpr size_t kMaxAnnotationValueBytes = 1'024;  // of the prescale.io/ prefix
inline constexpr std::string_view kPrescaleAnnotationPrefix = "prescale.io/";

struct ContainerRequests {
  std::string name;
  std::string cpu;     // resources.requests.cpu as written ("250m"); "" when not requested
  std::string memory;  // resources.requests.memory ("128Mi"); "" when not requested
};

struct WorkloadInfo {
  std::string kind;  // "Deployment" or "StatefulSet": the list's
  std::string namespace_name;
  std::string name;
  // Only the annotations whose key starts with "prescale.io/": others (such
  // as kubectl's last-applied-configuration, often kilobytes) are not kept.
  std::map<std::string, std::string> annotations;
  std::vector<ContainerRequests> containers;  // spec.template.spec.containers
};

struct WorkloadList {
  std::vector<WorkloadInfo> items;
  // metadata.continue: "" on the last page; only letters, digits, '-', '_',
  // '.', '~' and '=' (the API server's are URL-safe base64), so it goes into
  // a query string as it is.
  std::string continue_token;
};

// Decodes a list of `kind` ("Deployment" or "StatefulSet"): a JSON object of
// at most kMaxWorkloadListBytes, kind "<kind>List" (or none), items an array
// (null: none) of at most kMaxWorkloadsPerList. A broken item fails the whole
// list: discovery deletes the services of workloads it no longer sees, so a
// workload left out would lose its service. Errors are InvalidArgument with
// field() the path ("items[4].spec.template.spec.containers[1].resources.requests.cpu").
// Unknown fields are ignored.
Result<WorkloadList> ParseWorkloadList(std::string_view json, std::string_view kind);

}  // namespace prescale::kube
