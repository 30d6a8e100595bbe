#include "prescale/aggregator/control/objects.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "audit_json.h"

namespace prescale::aggregator {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteStringField(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

std::string ObjectJson(const StoredObject& o) {
  return WithMetadata(o.spec_json, o.version, o.created_ms, o.updated_ms);
}

std::string TokenJson(const TokenRecord& t, const std::string& secret) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  WriteStringField(w, "id", t.id);
  WriteStringField(w, "name", t.name);
  WriteStringField(w, "role", t.role);
  WriteStringField(w, "tenant", t.tenant);
  w.Key("created_ms");
  w.Int64(t.created_ms);
  w.Key("expires_ms");
  w.Int64(t.expires_ms);
  w.Key("revoked_ms");
  w.Int64(t.revoked_ms);
  if (!secret.empty()) WriteStringField(w, "token", secret);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string AuditRecordJson(const AuditRecord& record) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteAuditRecord(w, record, false);
  return {buf.GetString(), buf.GetSize()};
}

Result<BuiltObject> BuildObject(ObjectKind kind, std::string_view body, const ObjectKey& path_key) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  if (kind == ObjectKind::kService) {
    w.Key("tenant");
    w.String(path_key.tenant.c_str(), static_cast<rapidjson::SizeType>(path_key.tenant.size()));
  }
  if (!path_key.name.empty()) {
    w.Key("name");
    w.String(path_key.name.c_str(), static_cast<rapidjson::SizeType>(path_key.name.size()));
  }
  w.EndObject();
  PRESCALE_ASSIGN_OR_RETURN(const std::string merged,
                            MergePatch(std::string_view(buf.GetString(), buf.GetSize()), body));
  BuiltObject b;
  b.object.key.kind = kind;
  switch (kind) {
    case ObjectKind::kTenant: {
      PRESCALE_ASSIGN_OR_RETURN(const Tenant t, ParseTenant(merged, &b.meta));
      b.object.key.name = t.name;
      b.object.owner = t.name;
      b.object.spec_json = RenderTenant(t);
      break;
    }
    case ObjectKind::kService: {
      PRESCALE_ASSIGN_OR_RETURN(const Service s, ParseService(merged, &b.meta));
      if (s.tenant != path_key.tenant) {
        return Status::ForField(StatusCode::kUnprocessable, "tenant",
                                "does not match the tenant in the path (" + path_key.tenant + ")");
      }
      b.object.key = {kind, s.tenant, s.name};
      b.object.owner = s.tenant;
      b.object.references.push_back({ObjectKind::kTenant, "", s.tenant});
      if (!s.policy.empty()) b.object.references.push_back({ObjectKind::kPolicy, "", s.policy});
      b.object.spec_json = RenderService(s);
      break;
    }
    case ObjectKind::kPolicy: {
      PRESCALE_ASSIGN_OR_RETURN(const Policy p, ParsePolicy(merged, &b.meta));
      b.object.key.name = p.name;
      b.object.owner = p.tenant;
      if (!p.tenant.empty()) b.object.references.push_back({ObjectKind::kTenant, "", p.tenant});
      b.object.spec_json = RenderPolicy(p);
      break;
    }
  }
  if (!path_key.name.empty() && b.object.key.name != path_key.name) {
    return Status::ForField(StatusCode::kUnprocessable, "name",
                            "does not match the name in the path (" + path_key.name + ")");
  }
  return b;
}

Result<IssuedToken> IssueToken(ControlStore* store, const TokenRequest& request, int64_t now_ms, AuditRecord audit) {
  const std::optional<Role> role = ParseRole(request.role);
  auto invalid = [](std::string field, std::string_view message) {
    return Status::ForField(StatusCode::kInvalidArgument, std::move(field), message);
  };
  if (!role || *role == Role::kAnonymous)
    return invalid("role", "must be one of admin, operator, viewer, agent, monitor");
  const bool bound = IsTenantBound(*role);
  if (bound && request.tenant.empty()) return invalid("tenant", "operator and viewer tokens need a tenant");
  if (!bound && !request.tenant.empty()) return invalid("tenant", "only operator and viewer tokens have a tenant");
  if (bound) {
    auto t = store->Get({ObjectKind::kTenant, "", request.tenant});
    if (!t.ok()) return invalid("tenant", "no tenant " + request.tenant);
  }
  IssuedToken issued;
  issued.secret = "prescale_" + RandomHex(24);
  TokenRecord& t = issued.record;
  t.id = "tok_" + RandomHex(8);
  if (issued.secret.size() != 57 || t.id.size() != 20) return Status::Internal("no random bytes for a token");
  t.name = request.name;
  t.role = request.role;
  t.tenant = request.tenant;
  t.sha256_hex = Sha256Hex(issued.secret);
  t.created_ms = now_ms;
  t.expires_ms = request.expires_in_ms > 0 ? now_ms + request.expires_in_ms : 0;
  audit.action = "token.create";
  audit.kind = "token";
  audit.tenant = t.tenant;
  audit.name = t.id;
  audit.after_json = TokenJson(t, "");
  PRESCALE_RETURN_IF_ERROR(store->CreateToken(t, std::move(audit)));
  return issued;
}

std::string AuditVerificationJson(const AuditVerification& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("ok");
  w.Bool(v.ok);
  w.Key("records");
  w.Int64(v.records);
  w.Key("first_bad_seq");
  w.Int64(v.first_bad_seq);
  w.Key("reason");
  w.String(v.reason.c_str());
  w.Key("head_hash");
  w.String(v.head_hash.c_str());
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace prescale::aggregator
