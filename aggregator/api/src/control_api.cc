#include "prescale/aggregator/api/control_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include "json_envelope.h"
#include "prescale/aggregator/api/raw_json.h"
#include "prescale/base/duration.h"
#include "prescale/base/json_depth.h"
#include "prescale/base/log.h"
#include "prescale/decide/control_model.h"

namespace prescale::aggregator {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

int64_t ToMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The "limit" query parameter of a list, 1-1000, into *limit when given; a 400 naming it otherwise.
std::optional<HttpResponse> ParseLimit(const std::optional<std::string>& text, size_t* limit) {
  if (!text) return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || n < 1 || n > 1000) {
    return ErrorResponse(400, "must be an integer 1-1000", "limit");
  }
  *limit = static_cast<size_t>(n);
  return std::nullopt;
}

}  // namespace

// One request in flight: who, when, and its audit context.
struct ControlApi::Call {
  const HttpRequest& request;
  const Principal& principal;
  const std::string& request_id;
  int64_t now_ms = 0;

  std::vector<std::pair<std::string, std::string>> query;  // decoded

  std::string_view Param(std::string_view name) const { return request.PathParam(name); }
  // The first value of a query parameter; nullopt when absent.
  std::optional<std::string> Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  bool tenant_bound() const { return IsTenantBound(principal.role); }

  AuditRecord Audit(std::string action, std::string kind, std::string tenant, std::string name) const {
    AuditRecord a;
    a.time_ms = now_ms;
    a.request_id = request_id;
    a.actor = principal.name;
    a.actor_role = std::string(RoleName(principal.role));
    a.actor_tenant = principal.tenant;
    a.action = std::move(action);
    a.kind = std::move(kind);
    a.tenant = std::move(tenant);
    a.name = std::move(name);
    return a;
  }
};

ControlApi::ControlApi(ControlStore* store, const Clock& clock) : store_(store), clock_(clock) {}

// Who may call what. Finer rules (an operator's own tenant's objects, a
// tenant-owned policy) are the handlers'; every write is audited, refused ones too.
std::vector<RouteSpec> ControlApi::Routes() {
  const std::vector<Role> admin = {Role::kAdmin};
  const std::vector<Role> readers = {Role::kAdmin, Role::kOperator, Role::kViewer};
  std::vector<RouteSpec> routes;
  auto add = [&](const char* method, const char* path, const std::vector<Role>& roles,
                 HttpResponse (ControlApi::*fn)(Call&)) {
    RouteSpec spec;
    spec.method = method;
    spec.path = path;
    spec.name = path;  // counted by route pattern
    spec.access = Access{.roles = roles, .tenant_bound = true, .rate_limited = true};
    spec.handler = [this, fn](aggregator::Call& front) { return Serve(front, fn); };
    if (std::string_view(method) != "GET") {
      spec.after = [this](const aggregator::Call& front, const HttpResponse& r) { AuditRefused(front, r); };
    }
    routes.push_back(std::move(spec));
  };
  add("GET", "/api/v1/tenants", readers, &ControlApi::ListTenants);
  add("POST", "/api/v1/tenants", admin, &ControlApi::CreateTenant);
  add("GET", "/api/v1/tenants/{tenant}", readers, &ControlApi::TenantItem);
  for (const char* m : {"PUT", "PATCH", "DELETE"}) add(m, "/api/v1/tenants/{tenant}", admin, &ControlApi::TenantItem);
  add("GET", "/api/v1/tenants/{tenant}/services", readers, &ControlApi::ListServices);
  add("POST", "/api/v1/tenants/{tenant}/services", readers, &ControlApi::CreateService);
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) {
    add(m, "/api/v1/tenants/{tenant}/services/{service}", readers, &ControlApi::ServiceItem);
  }
  add("GET", "/api/v1/policies", readers, &ControlApi::ListPolicies);
  add("POST", "/api/v1/policies", readers, &ControlApi::CreatePolicy);
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) {
    add(m, "/api/v1/policies/{policy}", readers, &ControlApi::PolicyItem);
  }
  add("GET", "/api/v1/tokens", admin, &ControlApi::ListTokens);
  add("POST", "/api/v1/tokens", admin, &ControlApi::CreateToken);
  for (const char* m : {"GET", "DELETE"}) add(m, "/api/v1/tokens/{token}", admin, &ControlApi::TokenItem);
  add("GET", "/api/v1/audit", readers, &ControlApi::ListAudit);
  add("GET", "/api/v1/audit/verify", admin, &ControlApi::VerifyAudit);
  return routes;
}

Result<HttpResponse> ControlApi::Serve(aggregator::Call& front, HttpResponse (ControlApi::*fn)(Call&)) {
  Call call{front.request, front.principal, front.request_id, ToMs(clock_.Now()), {}};
  PRESCALE_ASSIGN_OR_RETURN(call.query, http::ParseQueryString(front.request.query));
  return (this->*fn)(call);
}

// Refused changes are audited too (who tried what); 401 and 429 are not (no identity / a flood).
void ControlApi::AuditRefused(const aggregator::Call& front, const HttpResponse& r) {
  if (r.status < 400 || r.status == 429) return;
  const HttpRequest& request = front.request;
  const Call call{request, front.principal, front.request_id, ToMs(clock_.Now()), {}};
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  std::string message =
      d.IsObject() && d.HasMember("message") && d["message"].IsString() ? d["message"].GetString() : r.body;
  std::string kind = std::string(request.path).find("/tokens") != std::string::npos ? "token" : "";
  if (kind.empty()) {
    kind = !call.Param("service").empty() || request.path.ends_with("/services") ? "service"
           : request.path.starts_with("/api/v1/policies")                        ? "policy"
                                                                                 : "tenant";
  }
  std::string name(call.Param("service").empty()
                       ? (call.Param("policy").empty()
                              ? (call.Param("token").empty() ? call.Param("tenant") : call.Param("token"))
                              : call.Param("policy"))
                       : call.Param("service"));
  std::string action = request.method == "POST"    ? "create"
                       : request.method == "PUT"   ? "replace"
                       : request.method == "PATCH" ? "patch"
                                                   : "delete";
  if (kind == "token") action = request.method == "POST" ? "token.create" : "token.revoke";
  AuditRecord a = call.Audit(std::move(action), kind, std::string(call.Param("tenant")), std::move(name));
  a.status = r.status;
  a.message = std::move(message);
  if (auto appended = store_->AppendAudit(std::move(a)); !appended.ok()) {
    Log(LogLevel::kError, "cannot audit a refused request: " + appended.status().ToString());
  }
}

// --- objects -----------------------------------------------------------------

HttpResponse ControlApi::GetObject(Call& c, const ObjectKey& key) {
  auto got = store_->Get(key);
  const std::string what =
      std::string(ObjectKindName(key.kind)) + " " + (key.tenant.empty() ? "" : key.tenant + "/") + key.name;
  if (!got.ok())
    return ErrorResponse(HttpStatusOf(got.status().code()),
                         got.status().code() == StatusCode::kNotFound ? "no " + what : got.status().message());
  // A tenant-bound token sees its tenant's objects and global policies only;
  // anything else is answered as if it did not exist.
  if (c.tenant_bound() && got->owner != c.principal.tenant &&
      !(key.kind == ObjectKind::kPolicy && got->owner.empty())) {
    return ErrorResponse(404, "no " + what);
  }
  return JsonResponse(200, ObjectJson(*got));
}

HttpResponse ControlApi::ListObjects(Call& c, ListQuery query) {
  if (auto refused = ParseLimit(c.Query("limit"), &query.limit)) return *refused;
  if (auto token = c.Query("page_token")) query.page_token = *token;
  // Filters by kind: labels for all; priority and policy for services; mode,
  // forecaster and owner (tenant) for policies. Anything else is a 400.
  std::vector<std::string> fields;
  if (query.kind == ObjectKind::kService) fields = {"priority", "policy"};
  if (query.kind == ObjectKind::kPolicy) fields = {"mode", "forecaster", "tenant"};
  for (const auto& [key, value] : c.query) {
    if (key == "limit" || key == "page_token") continue;
    if (key == "label") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return ErrorResponse(400, "must be KEY=VALUE", "label");
      query.filters.push_back({"labels." + value.substr(0, eq), value.substr(eq + 1)});
    } else if (std::find(fields.begin(), fields.end(), key) != fields.end()) {
      query.filters.push_back({key, value});
    } else {
      return ErrorResponse(400, "is not a filter of this list", key);
    }
  }
  if (c.tenant_bound()) {
    query.owners = std::vector<std::string>{c.principal.tenant};
    if (query.kind == ObjectKind::kPolicy) query.owners->push_back("");
  }
  auto page = store_->List(query);
  if (!page.ok()) {
    const int status = HttpStatusOf(page.status().code());
    const bool filter = page.status().message().find("filter") != std::string::npos;
    return ErrorResponse(status, page.status().message(), status != 400 ? "" : filter ? "label" : "page_token");
  }
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0) body += ',';
    body += ObjectJson(page->items[i]);
  }
  body += "],\"next_page_token\":\"" + page->next_page_token + "\"}";
  return JsonResponse(200, std::move(body));
}

HttpResponse ControlApi::WriteObject(Call& c, ObjectKind kind, const ObjectKey& path_key, WriteMode mode) {
  const bool patch = c.request.method == "PATCH";
  std::string body = c.request.body;
  std::optional<int64_t> stored_version;
  std::string stored_owner;
  if (patch || kind == ObjectKind::kPolicy) {
    // A patch applies to the stored object; a policy's owner is in the stored object.
    if (!path_key.name.empty()) {
      auto got = store_->Get(path_key);
      if (got.ok()) {
        stored_version = got->version;
        stored_owner = got->owner;
        if (patch) {
          Result<std::string> merged = MergePatch(got->spec_json, body);
          if (!merged.ok()) return ErrorResponse(merged.status());
          body = std::move(merged).value();
        }
      } else if (got.status().code() != StatusCode::kNotFound) {
        return ErrorResponse(got.status());
      } else if (patch) {
        return ErrorResponse(404, "no " + std::string(ObjectKindName(kind)) + " " + path_key.name);
      }
    }
  }
  // Access before validation, so a refused caller learns nothing from the errors.
  const Principal& p = c.principal;
  if (c.tenant_bound()) {
    if (p.role == Role::kViewer) return ErrorResponse(403, "viewer tokens may only read");
    if (kind == ObjectKind::kTenant) return ErrorResponse(403, "only admins change tenants");
    if (kind == ObjectKind::kPolicy && stored_version) {
      if (stored_owner.empty()) return ErrorResponse(403, "only admins change global policies");
      if (stored_owner != p.tenant) return ErrorResponse(404, "no policy " + path_key.name);
    }
  }
  Result<BuiltObject> built = BuildObject(kind, body, path_key);
  if (!built.ok()) return ErrorResponse(built.status());
  StoredObject& o = built->object;
  if (c.tenant_bound() && o.owner != p.tenant) {
    return ErrorResponse(403, "this token may only write objects of tenant " + p.tenant,
                         kind == ObjectKind::kPolicy ? "tenant" : "");
  }
  // References are checked here for a precise 422; the store checks them again in its transaction.
  for (const ObjectKey& ref : o.references) {
    auto got = store_->Get(ref);
    const bool visible = got.ok() && (ref.kind != ObjectKind::kPolicy || got->owner.empty() || got->owner == o.owner);
    if (!visible) {
      const bool is_tenant = ref.kind == ObjectKind::kTenant;
      if (is_tenant && kind == ObjectKind::kService) return ErrorResponse(404, "no tenant " + ref.name);
      return ErrorResponse(422,
                           "no " + std::string(ObjectKindName(ref.kind)) + " named " + ref.name +
                               (is_tenant ? "" : " (global or of tenant " + o.owner + ")"),
                           is_tenant ? "tenant" : "policy");
    }
  }
  std::optional<int64_t> expected = built->meta.version;
  if (patch && !expected) expected = stored_version;  // the patch applied to this version
  const char* action = patch ? "patch" : mode == WriteMode::kCreate ? "create" : "replace";
  AuditRecord audit = c.Audit(action, std::string(ObjectKindName(kind)), o.owner, o.key.name);
  audit.status = mode == WriteMode::kCreate ? 201 : 200;  // an upsert's: the store's, which knows
  auto put = store_->Put(o, mode, expected, std::move(audit));
  if (!put.ok())
    return ErrorResponse(HttpStatusOf(put.status().code()), put.status().message(),
                         put.status().code() == StatusCode::kConflict ? "version" : "");
  HttpResponse r = JsonResponse(put->version == 1 ? 201 : 200, ObjectJson(*put));
  if (r.status == 201) {
    r.headers.emplace_back("Location", kind == ObjectKind::kService
                                           ? "/api/v1/tenants/" + o.key.tenant + "/services/" + o.key.name
                                       : kind == ObjectKind::kPolicy ? "/api/v1/policies/" + o.key.name
                                                                     : "/api/v1/tenants/" + o.key.name);
  }
  return r;
}

HttpResponse ControlApi::DeleteObject(Call& c, const ObjectKey& key) {
  auto got = store_->Get(key);
  const std::string what = std::string(ObjectKindName(key.kind)) + " " + key.name;
  if (!got.ok())
    return ErrorResponse(HttpStatusOf(got.status().code()),
                         got.status().code() == StatusCode::kNotFound ? "no " + what : got.status().message());
  const Principal& p = c.principal;
  if (c.tenant_bound()) {
    if (p.role == Role::kViewer) return ErrorResponse(403, "viewer tokens may only read");
    if (key.kind == ObjectKind::kTenant) return ErrorResponse(403, "only admins change tenants");
    if (got->owner.empty()) return ErrorResponse(403, "only admins change global policies");
    if (got->owner != p.tenant) return ErrorResponse(404, "no " + what);
  }
  if (key.kind == ObjectKind::kTenant) {
    // Its operators' and viewers' tokens would otherwise come back to life with a new tenant of that name.
    std::string page_token;
    do {
      auto tokens = store_->ListTokens(page_token, 1000);
      if (!tokens.ok()) return ErrorResponse(tokens.status());
      for (const TokenRecord& t : tokens->items) {
        if (t.tenant == key.name && t.revoked_ms == 0 && (t.expires_ms == 0 || t.expires_ms > c.now_ms)) {
          return ErrorResponse(409,
                               "tenant " + key.name + " still has active tokens (" + t.id + "); revoke them first");
        }
      }
      page_token = tokens->next_page_token;
    } while (!page_token.empty());
  }
  std::optional<int64_t> expected;
  if (auto v = c.Query("version")) {
    char* end = nullptr;
    expected = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0') return ErrorResponse(400, "must be an integer", "version");
  }
  AuditRecord audit = c.Audit("delete", std::string(ObjectKindName(key.kind)), got->owner, key.name);
  audit.status = 204;
  auto deleted = store_->Delete(key, expected, std::move(audit));
  if (!deleted.ok()) return ErrorResponse(deleted.status());
  HttpResponse r;
  r.status = 204;
  return r;
}

namespace {

ListQuery KindQuery(ObjectKind kind) {
  ListQuery q;
  q.kind = kind;
  return q;
}

// A path parameter that is not a valid name cannot name anything: 404 before any work.
bool ValidParams(const HttpRequest& r, std::initializer_list<const char*> names, std::string* bad) {
  for (const char* n : names) {
    if (!IsValidObjectName(r.PathParam(n))) {
      *bad = std::string(r.PathParam(n));
      return false;
    }
  }
  return true;
}

}  // namespace

HttpResponse ControlApi::ListTenants(Call& c) { return ListObjects(c, KindQuery(ObjectKind::kTenant)); }

HttpResponse ControlApi::CreateTenant(Call& c) {
  return WriteObject(c, ObjectKind::kTenant, {ObjectKind::kTenant, "", ""}, WriteMode::kCreate);
}

namespace {

// Path parameters that are valid names (else 404); the front has checked a tenant-bound token's {tenant}.
std::optional<HttpResponse> CheckNamePath(const HttpRequest& r, std::initializer_list<const char*> params) {
  std::string bad;
  if (!ValidParams(r, params, &bad)) return ErrorResponse(404, "no " + std::string(*(params.end() - 1)) + " " + bad);
  return std::nullopt;
}

}  // namespace

// GET, DELETE, PUT (create or replace) or PATCH of one object.
HttpResponse ControlApi::Item(Call& c, const ObjectKey& key) {
  if (c.request.method == "GET") return GetObject(c, key);
  if (c.request.method == "DELETE") return DeleteObject(c, key);
  return WriteObject(c, key.kind, key, c.request.method == "PUT" ? WriteMode::kUpsert : WriteMode::kReplace);
}

HttpResponse ControlApi::TenantItem(Call& c) {
  if (auto refused = CheckNamePath(c.request, {"tenant"})) return *refused;
  return Item(c, {ObjectKind::kTenant, "", std::string(c.Param("tenant"))});
}

HttpResponse ControlApi::ListServices(Call& c) {
  if (auto refused = CheckNamePath(c.request, {"tenant"})) return *refused;
  const std::string tenant(c.Param("tenant"));
  if (auto t = store_->Get({ObjectKind::kTenant, "", tenant}); !t.ok()) {
    return ErrorResponse(HttpStatusOf(t.status().code()), "no tenant " + tenant);
  }
  ListQuery query = KindQuery(ObjectKind::kService);
  query.tenant = tenant;
  return ListObjects(c, std::move(query));
}

HttpResponse ControlApi::CreateService(Call& c) {
  if (auto refused = CheckNamePath(c.request, {"tenant"})) return *refused;
  return WriteObject(c, ObjectKind::kService, {ObjectKind::kService, std::string(c.Param("tenant")), ""},
                     WriteMode::kCreate);
}

HttpResponse ControlApi::ServiceItem(Call& c) {
  if (auto refused = CheckNamePath(c.request, {"tenant", "service"})) {
    return *refused;
  }
  return Item(c, {ObjectKind::kService, std::string(c.Param("tenant")), std::string(c.Param("service"))});
}

HttpResponse ControlApi::ListPolicies(Call& c) { return ListObjects(c, KindQuery(ObjectKind::kPolicy)); }

HttpResponse ControlApi::CreatePolicy(Call& c) {
  return WriteObject(c, ObjectKind::kPolicy, {ObjectKind::kPolicy, "", ""}, WriteMode::kCreate);
}

HttpResponse ControlApi::PolicyItem(Call& c) {
  std::string bad;
  if (!ValidParams(c.request, {"policy"}, &bad)) return ErrorResponse(404, "no policy " + bad);
  return Item(c, {ObjectKind::kPolicy, "", std::string(c.Param("policy"))});
}

// --- tokens ------------------------------------------------------------------

HttpResponse ControlApi::ListTokens(Call& c) {
  size_t limit = 100;
  if (auto refused = ParseLimit(c.Query("limit"), &limit)) return *refused;
  auto page = store_->ListTokens(c.Query("page_token").value_or(""), limit);
  if (!page.ok()) return ErrorResponse(HttpStatusOf(page.status().code()), page.status().message(), "page_token");
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) body += (i > 0 ? "," : "") + TokenJson(page->items[i], "");
  body += "],\"next_page_token\":\"" + page->next_page_token + "\"}";
  return JsonResponse(200, std::move(body));
}

HttpResponse ControlApi::CreateToken(Call& c) {
  if (Status deep = CheckJsonDepth(c.request.body); !deep.ok()) return ErrorResponse(deep);
  if (Status lone = CheckJsonEscapes(c.request.body); !lone.ok()) return ErrorResponse(lone);
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(c.request.body.c_str(),
                                                                                  c.request.body.size());
  if (d.HasParseError() || !d.IsObject()) return ErrorResponse(400, "the body must be a JSON object in UTF-8");
  TokenRequest req;
  const rapidjson::Value& body = d;  // const members: clang's C++20 rejects RapidJSON's mutable iterator compare
  for (const auto& m : body.GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    if (key != "name" && key != "role" && key != "tenant" && key != "expires_in") {
      return ErrorResponse(422, "is not a known field", key);
    }
    if (!m.value.IsString()) return ErrorResponse(422, "must be a string", key);
    const std::string v(m.value.GetString(), m.value.GetStringLength());
    if (v.find('\0') != std::string::npos) return ErrorResponse(422, "must not hold a NUL character", key);
    if (key == "name") req.name = v;
    if (key == "role") req.role = v;
    if (key == "tenant") req.tenant = v;
    if (key == "expires_in") {
      auto dur = ParseDuration(v);
      if (!dur.ok() || dur->count() <= 0) return ErrorResponse(422, "must be a duration such as \"30d\"", key);
      req.expires_in_ms = dur->count();
    }
  }
  if (req.role.empty()) return ErrorResponse(422, "is required", "role");
  auto issued = IssueToken(store_, req, c.now_ms, c.Audit("token.create", "token", req.tenant, ""));
  if (!issued.ok()) {
    // A field of the request that does not hold: 422 naming it, the message without its "field: " prefix.
    const Status& s = issued.status();
    if (s.code() == StatusCode::kInvalidArgument && !s.field().empty()) {
      return ErrorResponse(422, std::string_view(s.message()).substr(s.field().size() + 2), s.field());
    }
    return ErrorResponse(HttpStatusOf(s.code()), s.message());
  }
  HttpResponse r = JsonResponse(201, TokenJson(issued->record, issued->secret));
  r.headers.emplace_back("Location", "/api/v1/tokens/" + issued->record.id);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ControlApi::TokenItem(Call& c) {
  const std::string id(c.Param("token"));
  if (c.request.method == "GET") {
    auto t = store_->GetToken(id);
    if (!t.ok()) return ErrorResponse(HttpStatusOf(t.status().code()), "no token " + id);
    return JsonResponse(200, TokenJson(*t, ""));
  }
  auto t = store_->RevokeToken(id, c.now_ms, c.Audit("token.revoke", "token", "", id));
  if (!t.ok())
    return ErrorResponse(HttpStatusOf(t.status().code()),
                         t.status().code() == StatusCode::kNotFound ? "no token " + id : t.status().message());
  HttpResponse r;
  r.status = 204;
  return r;
}

// --- audit -------------------------------------------------------------------

HttpResponse ControlApi::ListAudit(Call& c) {
  AuditQuery query;
  if (auto refused = ParseLimit(c.Query("limit"), &query.limit)) return *refused;
  for (const char* key : {"page_token", "after"}) {
    if (auto a = c.Query(key)) {
      char* end = nullptr;
      query.after_seq = std::strtoll(a->c_str(), &end, 10);
      if (a->empty() || *end != '\0' || query.after_seq < 0) return ErrorResponse(400, "must be a record number", key);
    }
  }
  if (auto t = c.Query("tenant")) query.tenant = *t;
  if (auto k = c.Query("kind")) query.kind = *k;
  if (c.tenant_bound()) {
    if (query.tenant && *query.tenant != c.principal.tenant) {
      return ErrorResponse(403, "this token is bound to tenant " + c.principal.tenant, "tenant");
    }
    query.tenant = c.principal.tenant;
  }
  auto page = store_->ListAudit(query);
  if (!page.ok()) return ErrorResponse(page.status());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("items");
  w.StartArray();
  for (const AuditRecord& a : page->items) {
    const std::string item = AuditRecordJson(a);
    w.RawValue(item.data(), item.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.Key("next_page_token");
  w.String(page->next_page_token.c_str());
  w.EndObject();
  return JsonResponse(200, std::string(buf.GetString(), buf.GetSize()));
}

HttpResponse ControlApi::VerifyAudit(Call& /*c*/) {
  auto v = store_->VerifyAudit();
  if (!v.ok()) return ErrorResponse(v.status());
  return JsonResponse(200, AuditVerificationJson(*v));
}

}  // namespace prescale::aggregator
