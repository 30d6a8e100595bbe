// The strict DeploymentList / StatefulSetList decoder (see workload_list.h).
#include "prescale/kube/workload_list.h"

#include "json_fields.h"
#include "prescale/kube/hpa_list.h"

namespace prescale::kube {
namespace {

using internal::JsonType;

Status Bad(const std::string& field, std::string_view what) {
  return Status::ForField(StatusCode::kInvalidArgument, field, what);
}

bool IsUrlSafe(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                    c == '_' || c == '.' || c == '~' || c == '=';
    if (!ok) return false;
  }
  return true;
}

// The object at obj.key, which must be there.
Result<const rapidjson::Value*> Required(const rapidjson::Value& obj, const char* key, const std::string& path) {
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* v, internal::Member(obj, key, path, JsonType::kObject));
  if (v == nullptr) return Bad(internal::Join(path, key), "is missing");
  return v;
}

Status ReadAnnotations(const rapidjson::Value& meta, const std::string& path, WorkloadInfo* w) {
  const std::string at = internal::Join(path, "annotations");
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* map,
                            internal::Member(meta, "annotations", path, JsonType::kObject));
  if (map == nullptr) return Status::Ok();
  for (const auto& m : map->GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (!key.starts_with(kPrescaleAnnotationPrefix)) continue;
    if (!m.value.IsString()) return Bad(at + "." + std::string(key), "must be a string");
    if (m.value.GetStringLength() > kMaxAnnotationValueBytes) {
      return Bad(at + "." + std::string(key), "is longer than " + std::to_string(kMaxAnnotationValueBytes) + " bytes");
    }
    if (w->annotations.size() >= kMaxPrescaleAnnotations) {
      return Bad(at, "has more than " + std::to_string(kMaxPrescaleAnnotations) + " prescale.io/ entries");
    }
    w->annotations[std::string(key)].assign(m.value.GetString(), m.value.GetStringLength());
  }
  return Status::Ok();
}

Result<ContainerRequests> ReadContainer(const rapidjson::Value& c, const std::string& path) {
  if (!c.IsObject()) return Bad(path, "must be an object");
  ContainerRequests out;
  PRESCALE_ASSIGN_OR_RETURN(out.name, internal::StringField(c, "name", path, kMaxObjectNameBytes, true));
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* resources,
                            internal::Member(c, "resources", path, JsonType::kObject));
  if (resources == nullptr) return out;
  const std::string res_path = path + ".resources";
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* requests,
                            internal::Member(*resources, "requests", res_path, JsonType::kObject));
  if (requests == nullptr) return out;
  // Quantities are short strings ("250m", "1Gi"); 64 bytes is generous.
  const std::string req_path = res_path + ".requests";
  PRESCALE_ASSIGN_OR_RETURN(out.cpu, internal::StringField(*requests, "cpu", req_path, 64, false));
  PRESCALE_ASSIGN_OR_RETURN(out.memory, internal::StringField(*requests, "memory", req_path, 64, false));
  return out;
}

Status ReadContainers(const rapidjson::Value& item, const std::string& path, WorkloadInfo* w) {
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* spec, Required(item, "spec", path));
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* tmpl, Required(*spec, "template", path + ".spec"));
  const std::string pod_spec_path = path + ".spec.template";
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* pod_spec, Required(*tmpl, "spec", pod_spec_path));
  const std::string list_path = pod_spec_path + ".spec.containers";
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* list,
                            internal::Member(*pod_spec, "containers", pod_spec_path + ".spec", JsonType::kArray));
  if (list == nullptr) return Status::Ok();
  if (list->Size() > kMaxWorkloadContainers) {
    return Bad(list_path, "has more than " + std::to_string(kMaxWorkloadContainers) + " entries");
  }
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    PRESCALE_ASSIGN_OR_RETURN(ContainerRequests c, ReadContainer((*list)[i], internal::At(list_path, i)));
    w->containers.push_back(std::move(c));
  }
  return Status::Ok();
}

Result<WorkloadInfo> ReadWorkload(const rapidjson::Value& item, const std::string& path, std::string_view kind) {
  if (!item.IsObject()) return Bad(path, "must be an object");
  WorkloadInfo w;
  w.kind = std::string(kind);
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* meta, Required(item, "metadata", path));
  const std::string meta_path = path + ".metadata";
  PRESCALE_ASSIGN_OR_RETURN(w.name, internal::StringField(*meta, "name", meta_path, kMaxObjectNameBytes, true));
  PRESCALE_ASSIGN_OR_RETURN(w.namespace_name,
                            internal::StringField(*meta, "namespace", meta_path, kMaxObjectNameBytes, true));
  PRESCALE_RETURN_IF_ERROR(ReadAnnotations(*meta, meta_path, &w));
  PRESCALE_RETURN_IF_ERROR(ReadContainers(item, path, &w));
  return w;
}

}  // namespace

Result<WorkloadList> ParseWorkloadList(std::string_view json, std::string_view kind) {
  if (kind != "Deployment" && kind != "StatefulSet") return Bad("kind", "is neither Deployment nor StatefulSet");
  rapidjson::Document doc;
  const std::string list_kind = std::string(kind) + "List";
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* items,
                            internal::ParseList(json, list_kind, kMaxWorkloadListBytes, kMaxWorkloadsPerList, &doc));
  WorkloadList out;
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* meta, internal::Member(doc, "metadata", "", JsonType::kObject));
  if (meta != nullptr) {
    // Continue tokens are URL-safe base64 of a few hundred bytes; checked,
    // they go into the next request's query string as they are.
    PRESCALE_ASSIGN_OR_RETURN(out.continue_token, internal::StringField(*meta, "continue", "metadata", 4096, false));
    if (!IsUrlSafe(out.continue_token)) {
      return Bad("metadata.continue", "holds characters other than letters, digits, '-', '_', '.', '~' and '='");
    }
  }
  if (items == nullptr) return out;
  out.items.reserve(items->Size());
  for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
    PRESCALE_ASSIGN_OR_RETURN(WorkloadInfo w, ReadWorkload((*items)[i], internal::At("items", i), kind));
    out.items.push_back(std::move(w));
  }
  return out;
}

}  // namespace prescale::kube
