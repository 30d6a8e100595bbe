#include "prescale/cli/objects.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>

#include "prescale/base/json_depth.h"
#include "prescale/decide/control_model.h"

namespace prescale::cli {
namespace {

using aggregator::IsValidObjectName;

Status Invalid(const Status& s) {
  if (s.code() == StatusCode::kUnprocessable) return s;
  Status u(StatusCode::kUnprocessable, s.message());
  return std::move(u).WithField(s.field());
}

void Flatten(const rapidjson::Value& v, const std::string& path,
             std::vector<std::pair<std::string, std::string>>* out) {
  if (v.IsObject() && v.MemberCount() > 0) {
    for (const auto& m : v.GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      Flatten(m.value, path.empty() ? key : path + "." + key, out);
    }
    return;
  }
  if (v.IsArray() && !v.Empty()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) Flatten(v[i], path + "[" + std::to_string(i) + "]", out);
    return;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  out->emplace_back(path, std::string(buf.GetString(), buf.GetSize()));
}

}  // namespace

std::string ObjectRef::Path() const {
  switch (kind) {
    case ManifestKind::kTenant: return "/api/v1/tenants/" + name;
    case ManifestKind::kService: return "/api/v1/tenants/" + tenant + "/services/" + name;
    case ManifestKind::kPolicy: return "/api/v1/policies/" + name;
  }
  return "";
}

std::string ObjectRef::CollectionPath() const {
  switch (kind) {
    case ManifestKind::kTenant: return "/api/v1/tenants";
    case ManifestKind::kService: return "/api/v1/tenants/" + tenant + "/services";
    case ManifestKind::kPolicy: return "/api/v1/policies";
  }
  return "";
}

std::string ObjectRef::Describe() const {
  return std::string(aggregator::ManifestKindName(kind)) + " " + (tenant.empty() ? "" : tenant + "/") + name;
}

std::optional<ManifestKind> ParseKindWord(std::string_view word) {
  if (word == "tenant" || word == "tenants") return ManifestKind::kTenant;
  if (word == "service" || word == "services" || word == "svc") return ManifestKind::kService;
  if (word == "policy" || word == "policies" || word == "pol") return ManifestKind::kPolicy;
  return std::nullopt;
}

Result<ObjectRef> ParseObjectRef(std::string_view kind_word, std::string_view name, std::string_view tenant) {
  auto kind = ParseKindWord(kind_word);
  if (!kind) {
    return Status::InvalidArgument("unknown resource '" + std::string(kind_word) +
                                   "': expected tenant, service or policy");
  }
  ObjectRef ref;
  ref.kind = *kind;
  if (name.empty()) return Status::InvalidArgument(std::string(kind_word) + " needs a name");
  if (ref.kind == ManifestKind::kService) {
    const size_t slash = name.find('/');
    if (slash != std::string_view::npos) {
      ref.tenant = std::string(name.substr(0, slash));
      name = name.substr(slash + 1);
      if (!tenant.empty() && tenant != ref.tenant) {
        return Status::InvalidArgument("service " + ref.tenant + "/" + std::string(name) +
                                       " names another tenant than -t " + std::string(tenant));
      }
    } else {
      ref.tenant = std::string(tenant);
    }
    if (ref.tenant.empty()) {
      return Status::InvalidArgument("a service is named TENANT/NAME, or NAME with -t TENANT");
    }
    if (!IsValidObjectName(ref.tenant)) {
      return Status::InvalidArgument("tenant '" + ref.tenant + "' is not a valid name (a DNS label)");
    }
  } else if (name.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(kind_word) + " '" + std::string(name) +
                                   "': only services are TENANT/NAME");
  }
  if (!IsValidObjectName(name)) {
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' is not a valid name (a DNS label: lowercase letters, digits and '-')");
  }
  ref.name = std::string(name);
  return ref;
}

Result<CanonicalObject> Canonicalize(ManifestKind kind, std::string_view json) {
  CanonicalObject c;
  aggregator::ObjectMeta meta;
  c.ref.kind = kind;
  switch (kind) {
    case ManifestKind::kTenant: {
      auto t = aggregator::ParseTenant(json, &meta);
      if (!t.ok()) return Invalid(t.status());
      c.ref.name = t->name;
      c.spec_json = aggregator::RenderTenant(*t);
      break;
    }
    case ManifestKind::kService: {
      auto s = aggregator::ParseService(json, &meta);
      if (!s.ok()) return Invalid(s.status());
      c.ref.tenant = s->tenant;
      c.ref.name = s->name;
      c.spec_json = aggregator::RenderService(*s);
      break;
    }
    case ManifestKind::kPolicy: {
      auto p = aggregator::ParsePolicy(json, &meta);
      if (!p.ok()) return Invalid(p.status());
      c.ref.name = p->name;
      c.spec_json = aggregator::RenderPolicy(*p);
      break;
    }
  }
  c.version = meta.version;
  return c;
}

std::string WithVersion(std::string_view spec_json, int64_t version) {
  std::string out(spec_json);
  const size_t close = out.rfind('}');
  if (close == std::string::npos) return out;
  const bool empty = out.find_first_not_of(" \t\r\n", out.find('{') + 1) == close;
  out.insert(close, std::string(empty ? "" : ",") + "\"version\":" + std::to_string(version));
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> FlattenJson(std::string_view json) {
  PRESCALE_RETURN_IF_ERROR(CheckJsonDepth(json));
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError()) return Status::ParseError("not JSON");
  std::vector<std::pair<std::string, std::string>> out;
  Flatten(d, "", &out);
  return out;
}

Result<std::string> DiffJson(std::string_view before, std::string_view after, std::string_view indent) {
  std::vector<std::pair<std::string, std::string>> old_fields;
  if (!before.empty()) {
    PRESCALE_ASSIGN_OR_RETURN(old_fields, FlattenJson(before));
  }
  PRESCALE_ASSIGN_OR_RETURN(const auto new_fields, FlattenJson(after));
  std::map<std::string, std::string> old_map(old_fields.begin(), old_fields.end());
  std::map<std::string, std::string> new_map(new_fields.begin(), new_fields.end());
  std::string out;
  for (const auto& [path, value] : new_fields) {
    auto it = old_map.find(path);
    if (it != old_map.end() && it->second == value) continue;
    if (it != old_map.end()) out += std::string(indent) + "- " + path + ": " + it->second + "\n";
    out += std::string(indent) + "+ " + path + ": " + value + "\n";
  }
  for (const auto& [path, value] : old_fields) {
    if (!new_map.contains(path)) out += std::string(indent) + "- " + path + ": " + value + "\n";
  }
  return out;
}

}  // namespace prescale::cli
