// The strict PodList decoder and the owning-workload resolution (see pod_list.h).
#include "prescale/kube/pod_list.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>

#include "prescale/base/json_depth.h"

namespace prescale::kube {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;

enum class Want { kObject, kArray, kString, kBool };

bool Is(const Value& v, Want want) {
  switch (want) {
    case Want::kObject: return v.IsObject();
    case Want::kArray: return v.IsArray();
    case Want::kString: return v.IsString();
    case Want::kBool: return v.IsBool();
  }
  return false;
}

const char* Describe(Want want) {
  switch (want) {
    case Want::kObject: return "an object";
    case Want::kArray: return "an array";
    case Want::kString: return "a string";
    case Want::kBool: return "a boolean";
  }
  return "?";
}

// Letters, digits, '-' and '_' only: the agent builds cgroup paths from uids
// and container ids, so one must never be able to hold "/" or "..".
bool IsSafeId(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
}

std::string Index(const std::string& path, SizeType i) { return path + "[" + std::to_string(i) + "]"; }

// Decodes one item of the list into a PodInfo. The first problem ends it and
// is kept in why(), worded with the field's path inside the pod.
class PodDecoder {
 public:
  bool Decode(const Value& item, PodInfo* pod);
  const std::string& why() const { return why_; }

 private:
  bool Fail(std::string why) {
    why_ = std::move(why);
    return false;
  }
  // The member `key` of the object obj, whose full path is `path`; null when
  // absent or JSON null (Go's encoder writes null for empty slices and maps),
  // and when it is not what is wanted (then failed).
  const Value* Get(const Value& obj, const char* key, const std::string& path, Want want);
  // An array of at most kMaxContainersPerPod entries, or null (failed if too long).
  const Value* ContainerList(const Value& obj, const char* key, const std::string& path);
  // Reads a string member into *out, leaving it as is when absent.
  bool String(const Value& obj, const char* key, const std::string& path, std::string* out, bool required = false);

  bool ReadMetadata(const Value& item, PodInfo* pod);
  bool ReadLabels(const Value& meta, PodInfo* pod);
  bool ReadOwners(const Value& meta, std::vector<OwnerReference>* owners);
  bool ReadSpec(const Value& item, PodInfo* pod, std::vector<ContainerInfo>* spec_containers);
  bool ReadStatus(const Value& item, const std::vector<ContainerInfo>& spec_containers, PodInfo* pod);
  bool ReadContainerStatus(const Value& status, const std::string& path,
                           const std::vector<ContainerInfo>& spec_containers, ContainerInfo* c);

  std::string why_;
};

const Value* PodDecoder::Get(const Value& obj, const char* key, const std::string& path, Want want) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  if (!Is(it->value, want)) {
    Fail(path + " must be " + Describe(want));
    return nullptr;
  }
  return &it->value;
}

const Value* PodDecoder::ContainerList(const Value& obj, const char* key, const std::string& path) {
  const Value* list = Get(obj, key, path, Want::kArray);
  if (list != nullptr && list->Size() > kMaxContainersPerPod) {
    Fail(path + " has more than " + std::to_string(kMaxContainersPerPod) + " entries");
    return nullptr;
  }
  return list;
}

bool PodDecoder::String(const Value& obj, const char* key, const std::string& path, std::string* out, bool required) {
  const Value* v = Get(obj, key, path, Want::kString);
  if (!why_.empty()) return false;
  if (v == nullptr || v->GetStringLength() == 0) return required ? Fail(path + " is missing") : true;
  if (v->GetStringLength() > kMaxStringBytes) {
    return Fail(path + " is longer than " + std::to_string(kMaxStringBytes) + " bytes");
  }
  out->assign(v->GetString(), v->GetStringLength());
  return true;
}

bool PodDecoder::Decode(const Value& item, PodInfo* pod) {
  if (!item.IsObject()) return Fail("is not an object");
  std::vector<ContainerInfo> spec_containers;
  return ReadMetadata(item, pod) && ReadSpec(item, pod, &spec_containers) && ReadStatus(item, spec_containers, pod);
}

bool PodDecoder::ReadMetadata(const Value& item, PodInfo* pod) {
  const Value* meta = Get(item, "metadata", "metadata", Want::kObject);
  if (meta == nullptr) return why_.empty() ? Fail("metadata is missing") : false;
  if (!String(*meta, "uid", "metadata.uid", &pod->uid, true)) return false;
  if (!IsSafeId(pod->uid)) return Fail("metadata.uid has characters other than letters, digits, '-' and '_'");
  if (!String(*meta, "name", "metadata.name", &pod->name, true) ||
      !String(*meta, "namespace", "metadata.namespace", &pod->namespace_name, true) || !ReadLabels(*meta, pod)) {
    return false;
  }
  std::vector<OwnerReference> owners;
  if (!ReadOwners(*meta, &owners)) return false;
  std::tie(pod->workload_kind, pod->workload) = WorkloadOf(owners, pod->labels, pod->name);
  return true;
}

bool PodDecoder::ReadLabels(const Value& meta, PodInfo* pod) {
  const Value* labels = Get(meta, "labels", "metadata.labels", Want::kObject);
  if (labels == nullptr) return why_.empty();
  if (labels->MemberCount() > kMaxLabelsPerPod) {
    return Fail("metadata.labels has more than " + std::to_string(kMaxLabelsPerPod) + " entries");
  }
  for (const auto& m : labels->GetObject()) {
    if (m.name.GetStringLength() > kMaxStringBytes) {
      return Fail("metadata.labels has a key longer than " + std::to_string(kMaxStringBytes) + " bytes");
    }
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsString()) return Fail("metadata.labels." + key + " must be a string");
    if (m.value.GetStringLength() > kMaxStringBytes) {
      return Fail("metadata.labels." + key + " is longer than " + std::to_string(kMaxStringBytes) + " bytes");
    }
    pod->labels[std::move(key)].assign(m.value.GetString(), m.value.GetStringLength());
  }
  return true;
}

bool PodDecoder::ReadOwners(const Value& meta, std::vector<OwnerReference>* owners) {
  const std::string path = "metadata.ownerReferences";
  const Value* refs = Get(meta, "ownerReferences", path, Want::kArray);
  if (refs == nullptr) return why_.empty();
  if (refs->Size() > kMaxOwnerReferences) {
    return Fail(path + " has more than " + std::to_string(kMaxOwnerReferences) + " entries");
  }
  for (SizeType i = 0; i < refs->Size(); ++i) {
    const Value& ref = (*refs)[i];
    const std::string at = Index(path, i);
    if (!ref.IsObject()) return Fail(at + " must be an object");
    OwnerReference owner;
    if (!String(ref, "kind", at + ".kind", &owner.kind, true) ||
        !String(ref, "name", at + ".name", &owner.name, true)) {
      return false;
    }
    const Value* controller = Get(ref, "controller", at + ".controller", Want::kBool);
    if (!why_.empty()) return false;
    owner.controller = controller != nullptr && controller->GetBool();
    owners->push_back(std::move(owner));
  }
  return true;
}

// Reads spec.nodeName and the spec's containers (name and image): the
// containers of a pod whose statuses are not reported yet, and the image when a
// status has none.
bool PodDecoder::ReadSpec(const Value& item, PodInfo* pod, std::vector<ContainerInfo>* spec_containers) {
  const Value* spec = Get(item, "spec", "spec", Want::kObject);
  if (spec == nullptr) return why_.empty();
  if (!String(*spec, "nodeName", "spec.nodeName", &pod->node_name)) return false;
  for (const char* key : {"containers", "initContainers"}) {
    const std::string path = std::string("spec.") + key;
    const Value* list = ContainerList(*spec, key, path);
    if (!why_.empty()) return false;
    if (list == nullptr) continue;
    for (SizeType i = 0; i < list->Size(); ++i) {
      const std::string at = Index(path, i);
      if (!(*list)[i].IsObject()) return Fail(at + " must be an object");
      ContainerInfo c;
      if (!String((*list)[i], "name", at + ".name", &c.name, true) ||
          !String((*list)[i], "image", at + ".image", &c.image)) {
        return false;
      }
      spec_containers->push_back(std::move(c));
    }
  }
  return true;
}

bool PodDecoder::ReadContainerStatus(const Value& status, const std::string& path,
                                     const std::vector<ContainerInfo>& spec_containers, ContainerInfo* c) {
  if (!status.IsObject()) return Fail(path + " must be an object");
  std::string raw_id;
  if (!String(status, "name", path + ".name", &c->name, true) || !String(status, "image", path + ".image", &c->image) ||
      !String(status, "containerID", path + ".containerID", &raw_id)) {
    return false;
  }
  if (c->image.empty()) {
    auto spec = std::find_if(spec_containers.begin(), spec_containers.end(),
                             [&](const ContainerInfo& s) { return s.name == c->name; });
    if (spec != spec_containers.end()) c->image = spec->image;
  }
  // "<runtime>://<id>"; an id without a scheme is kept whole, runtime empty.
  const std::string_view id = raw_id;
  const size_t sep = id.find("://");
  if (sep != std::string_view::npos) {
    c->runtime = id.substr(0, sep);
    c->id = id.substr(sep + 3);
  } else {
    c->id = id;
  }
  if (!IsSafeId(c->runtime) || !IsSafeId(c->id)) {
    return Fail(path + ".containerID is not <runtime>://<id> of letters, digits, '-' and '_'");
  }
  return true;
}

bool PodDecoder::ReadStatus(const Value& item, const std::vector<ContainerInfo>& spec_containers, PodInfo* pod) {
  const Value* status = Get(item, "status", "status", Want::kObject);
  std::set<std::string> seen;
  if (status != nullptr) {
    if (!String(*status, "phase", "status.phase", &pod->phase) ||
        !String(*status, "qosClass", "status.qosClass", &pod->qos_class)) {
      return false;
    }
    if (pod->qos_class != "Guaranteed" && pod->qos_class != "Burstable" && pod->qos_class != "BestEffort") {
      pod->qos_class.clear();
    }
    for (const char* key : {"containerStatuses", "initContainerStatuses"}) {
      const std::string path = std::string("status.") + key;
      const Value* list = ContainerList(*status, key, path);
      if (!why_.empty()) return false;
      if (list == nullptr) continue;
      for (SizeType i = 0; i < list->Size(); ++i) {
        ContainerInfo c;
        if (!ReadContainerStatus((*list)[i], Index(path, i), spec_containers, &c)) return false;
        // Names are unique within a pod; a repeat would make the mapping ambiguous.
        if (!seen.insert(c.name).second) return Fail(Index(path, i) + ".name \"" + c.name + "\" repeats");
        pod->containers.push_back(std::move(c));
      }
    }
  }
  if (!why_.empty()) return false;
  for (const ContainerInfo& c : spec_containers) {
    if (seen.insert(c.name).second) pod->containers.push_back(c);
  }
  if (pod->containers.size() > kMaxContainersPerPod) {
    return Fail("has more than " + std::to_string(kMaxContainersPerPod) + " containers");
  }
  return true;
}

// The items array of the document, null for the kubelet's `"items": null`.
Result<const Value*> FindItems(const Value& doc) {
  bool is_pod_list = false;
  auto kind = doc.FindMember("kind");
  if (kind != doc.MemberEnd()) {
    if (!kind->value.IsString()) return Status::ForField(StatusCode::kInvalidArgument, "kind", "must be a string");
    const std::string_view k(kind->value.GetString(), kind->value.GetStringLength());
    if (k != "PodList") {
      return Status::ForField(StatusCode::kInvalidArgument, "kind",
                              "is \"" + std::string(k.substr(0, 64)) + "\", not \"PodList\"");
    }
    is_pod_list = true;
  }
  auto items = doc.FindMember("items");
  if (items == doc.MemberEnd()) return Status::ForField(StatusCode::kInvalidArgument, "items", "is missing");
  if (items->value.IsNull() && is_pod_list) return static_cast<const Value*>(nullptr);
  if (!items->value.IsArray()) return Status::ForField(StatusCode::kInvalidArgument, "items", "must be an array");
  return &items->value;
}

}  // namespace

Result<std::vector<PodInfo>> ParsePodList(std::string_view json, std::vector<std::string>* skipped) {
  PRESCALE_RETURN_IF_ERROR(CheckJsonEscapes(json));
  rapidjson::Document doc;
  // Iterative: a deeply nested hostile body must not overflow the stack.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument("malformed JSON at byte " + std::to_string(doc.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Status::InvalidArgument("the document must be a JSON object (a PodList)");
  PRESCALE_ASSIGN_OR_RETURN(const Value* items, FindItems(doc));
  std::vector<PodInfo> pods;
  if (items == nullptr) return pods;
  const SizeType count = std::min<SizeType>(items->Size(), kMaxPods);
  std::unordered_map<std::string, SizeType> index_of_uid;
  for (SizeType i = 0; i < count; ++i) {
    PodDecoder decoder;
    PodInfo pod;
    std::string why;
    if (!decoder.Decode((*items)[i], &pod)) {
      why = decoder.why();
    } else if (auto [it, fresh] = index_of_uid.emplace(pod.uid, i); !fresh) {
      // A uid is the key the agent and the aggregator index pods by.
      why = "metadata.uid \"" + pod.uid + "\" repeats items[" + std::to_string(it->second) + "]";
    }
    if (why.empty()) {
      pods.push_back(std::move(pod));
    } else if (skipped != nullptr) {
      skipped->push_back("items[" + std::to_string(i) + "]: " + why);
    }
  }
  if (items->Size() > count && skipped != nullptr) {
    skipped->push_back("items[" + std::to_string(count) + ".." + std::to_string(items->Size() - 1) + "]: over the " +
                       std::to_string(kMaxPods) + "-pod limit, not read");
  }
  return pods;
}

std::pair<std::string, std::string> WorkloadOf(const std::vector<OwnerReference>& owners,
                                               const std::map<std::string, std::string>& labels,
                                               const std::string& pod_name) {
  if (owners.empty()) return {"Pod", pod_name};
  auto controller = std::find_if(owners.begin(), owners.end(), [](const OwnerReference& o) { return o.controller; });
  const OwnerReference& owner = controller != owners.end() ? *controller : owners.front();
  if (owner.kind.empty() || owner.name.empty()) return {"Pod", pod_name};
  if (owner.kind == "ReplicaSet") {
    // The Deployment controller names its ReplicaSets "<deployment>-<hash>" and
    // labels their pods pod-template-hash=<hash>; both must agree, so a
    // ReplicaSet made by hand (or by another controller) stays a ReplicaSet.
    auto hash = labels.find("pod-template-hash");
    if (hash != labels.end() && !hash->second.empty()) {
      const std::string suffix = "-" + hash->second;
      if (owner.name.size() > suffix.size() && owner.name.ends_with(suffix)) {
        return {"Deployment", owner.name.substr(0, owner.name.size() - suffix.size())};
      }
    }
  }
  return {owner.kind, owner.name};
}

}  // namespace prescale::kube
