// The strict HorizontalPodAutoscalerList decoder (see hpa_list.h).
#include "prescale/kube/hpa_list.h"

#include "json_fields.h"

namespace prescale::kube {
namespace {

using internal::JsonType;

Result<HpaInfo> ReadHpa(const rapidjson::Value& item, const std::string& path) {
  if (!item.IsObject()) return Status::ForField(StatusCode::kInvalidArgument, path, "must be an object");
  HpaInfo hpa;
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* meta, internal::Member(item, "metadata", path, JsonType::kObject));
  if (meta == nullptr) return Status::ForField(StatusCode::kInvalidArgument, path + ".metadata", "is missing");
  const std::string meta_path = path + ".metadata";
  PRESCALE_ASSIGN_OR_RETURN(hpa.name, internal::StringField(*meta, "name", meta_path, kMaxObjectNameBytes, true));
  PRESCALE_ASSIGN_OR_RETURN(hpa.namespace_name,
                            internal::StringField(*meta, "namespace", meta_path, kMaxObjectNameBytes, true));
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* spec, internal::Member(item, "spec", path, JsonType::kObject));
  if (spec == nullptr) return Status::ForField(StatusCode::kInvalidArgument, path + ".spec", "is missing");
  const std::string spec_path = path + ".spec";
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* ref,
                            internal::Member(*spec, "scaleTargetRef", spec_path, JsonType::kObject));
  const std::string ref_path = spec_path + ".scaleTargetRef";
  if (ref == nullptr) return Status::ForField(StatusCode::kInvalidArgument, ref_path, "is missing");
  PRESCALE_ASSIGN_OR_RETURN(hpa.target_api_version,
                            internal::StringField(*ref, "apiVersion", ref_path, kMaxObjectNameBytes, false));
  PRESCALE_ASSIGN_OR_RETURN(hpa.target_kind, internal::StringField(*ref, "kind", ref_path, kMaxObjectNameBytes, true));
  PRESCALE_ASSIGN_OR_RETURN(hpa.target_name, internal::StringField(*ref, "name", ref_path, kMaxObjectNameBytes, true));
  return hpa;
}

}  // namespace

Result<std::vector<HpaInfo>> ParseHpaList(std::string_view json) {
  rapidjson::Document doc;
  PRESCALE_ASSIGN_OR_RETURN(const rapidjson::Value* items,
                            internal::ParseList(json, "HorizontalPodAutoscalerList", kMaxHpaListBytes, kMaxHpas, &doc));
  std::vector<HpaInfo> out;
  if (items == nullptr) return out;
  out.reserve(items->Size());
  for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
    PRESCALE_ASSIGN_OR_RETURN(HpaInfo hpa, ReadHpa((*items)[i], internal::At("items", i)));
    out.push_back(std::move(hpa));
  }
  return out;
}

bool HpaScales(const HpaInfo& hpa, std::string_view kind, std::string_view name) {
  return hpa.target_api_version.starts_with("apps/") && hpa.target_kind == kind && hpa.target_name == name;
}

}  // namespace prescale::kube
