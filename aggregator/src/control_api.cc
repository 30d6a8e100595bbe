#include "prescale/aggregator/control_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>

#include "audit_json.h"
#include "json_envelope.h"
#include "prescale/aggregator/control_model.h"
#include "prescale/aggregator/raw_json.h"
#include "prescale/base/duration.h"
#include "prescale/base/log.h"

namespace prescale::aggregator {
namespace {

using http::HttpRequest;
using http::HttpResponse;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

HttpResponse ErrorWithCode(int status, std::string_view code, std::string_view message, std::string_view field) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("field");
  w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
  w.EndObject();
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::string(buf.GetString(), buf.GetSize()) + "\n";
  return r;
}

std::string_view CodeFor(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 422: return "invalid";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return "internal";
  }
}

HttpResponse Error(int status, std::string_view message, std::string_view field = "") {
  return ErrorWithCode(status, CodeFor(status), message, field);
}

int StatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError: return 400;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body) + "\n";
  return r;
}

int64_t ToMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool IsTenantBound(Role r) { return r == Role::kOperator || r == Role::kViewer; }

}  // namespace

// One request in flight: who, when, and its audit context.
struct ControlApi::Call {
  const HttpRequest& request;
  Principal principal;
  std::string request_id;
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

ControlApi::ControlApi(ControlStore* store, const Authenticator* auth, const Clock& clock, ControlApiOptions options)
    : store_(store), auth_(auth), clock_(clock), options_(options) {
  if (options_.requests_per_second > 0) {
    limiter_ = std::make_unique<RateLimiter>(options_.requests_per_second, 2 * options_.requests_per_second, clock_);
  }
}

std::vector<http::Route> ControlApi::Routes() {
  std::vector<http::Route> routes;
  auto add = [&](const char* method, const char* path, HttpResponse (ControlApi::*fn)(Call&)) {
    routes.push_back({method, path, [this, fn](const HttpRequest& r) { return Serve(r, fn); }});
  };
  add("GET", "/api/v1/tenants", &ControlApi::ListTenants);
  add("POST", "/api/v1/tenants", &ControlApi::CreateTenant);
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) add(m, "/api/v1/tenants/{tenant}", &ControlApi::TenantItem);
  add("GET", "/api/v1/tenants/{tenant}/services", &ControlApi::ListServices);
  add("POST", "/api/v1/tenants/{tenant}/services", &ControlApi::CreateService);
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) {
    add(m, "/api/v1/tenants/{tenant}/services/{service}", &ControlApi::ServiceItem);
  }
  add("GET", "/api/v1/policies", &ControlApi::ListPolicies);
  add("POST", "/api/v1/policies", &ControlApi::CreatePolicy);
  for (const char* m : {"GET", "PUT", "PATCH", "DELETE"}) add(m, "/api/v1/policies/{policy}", &ControlApi::PolicyItem);
  add("GET", "/api/v1/tokens", &ControlApi::ListTokens);
  add("POST", "/api/v1/tokens", &ControlApi::CreateToken);
  for (const char* m : {"GET", "DELETE"}) add(m, "/api/v1/tokens/{token}", &ControlApi::TokenItem);
  add("GET", "/api/v1/audit", &ControlApi::ListAudit);
  add("GET", "/api/v1/audit/verify", &ControlApi::VerifyAudit);
  return routes;
}

HttpResponse ControlApi::Serve(const HttpRequest& request, HttpResponse (ControlApi::*fn)(Call&)) {
  AuthResult auth = auth_->Authenticate(request);
  if (auth.ok() && auth.principal.role == Role::kAnonymous) {
    // Open ingest lets unknown callers through as anonymous; the control API does not.
    if (request.Header("Authorization").empty()) {
      auth.outcome = AuthResult::Outcome::kMissing;
      auth.reason = "the control API needs a bearer token (\"Authorization: Bearer <token>\")";
    } else {
      auth.outcome = AuthResult::Outcome::kUnknown;
    }
  }
  if (!auth.ok()) {
    HttpResponse r = Error(auth.outcome == AuthResult::Outcome::kMissing ? 401 : 403, auth.reason);
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (limiter_ != nullptr) {
    const auto wait = limiter_->Take(auth.principal.name, 1);
    if (wait.count() > 0) {
      HttpResponse r = Error(429, "token " + auth.principal.name + " is over " +
                                      std::to_string(static_cast<int64_t>(options_.requests_per_second)) +
                                      " requests a second; retry later");
      r.headers.emplace_back("Retry-After", std::to_string((wait.count() + 999) / 1000));
      return r;
    }
  }
  std::string request_id(request.Header("X-Request-Id"));
  if (request_id.empty() || request_id.size() > 128) request_id = RandomHex(16);
  Call call{request, std::move(auth.principal), request_id, ToMs(clock_.Now()), {}};
  auto query = ParseQueryString(request.query);
  if (!query.ok()) return Error(400, query.status().message());
  call.query = std::move(*query);
  if (call.principal.role == Role::kAgent) {
    HttpResponse r = Error(403, "agent tokens may only push samples and read directives");
    r.headers.emplace_back("X-Request-Id", call.request_id);
    return r;
  }
  HttpResponse r = (this->*fn)(call);
  r.headers.emplace_back("X-Request-Id", call.request_id);
  // Refused changes are audited too (who tried what); 401 and 429 are not (no identity / a flood).
  if (request.method != "GET" && r.status >= 400) {
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
  return r;
}

// --- objects -----------------------------------------------------------------

namespace {

std::string ObjectJson(const StoredObject& o) {
  return WithMetadata(o.spec_json, o.version, o.created_ms, o.updated_ms);
}

}  // namespace

std::optional<BuiltObject> BuildObject(ObjectKind kind, std::string_view body, const ObjectKey& path_key,
                                       FieldError* error) {
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
  std::optional<std::string> merged = MergePatch(std::string_view(buf.GetString(), buf.GetSize()), body, error);
  if (!merged) return std::nullopt;
  BuiltObject b;
  b.object.key.kind = kind;
  switch (kind) {
    case ObjectKind::kTenant: {
      auto t = ParseTenant(*merged, &b.meta, error);
      if (!t) return std::nullopt;
      b.object.key.name = t->name;
      b.object.owner = t->name;
      b.object.spec_json = RenderTenant(*t);
      break;
    }
    case ObjectKind::kService: {
      auto s = ParseService(*merged, &b.meta, error);
      if (!s) return std::nullopt;
      if (s->tenant != path_key.tenant) {
        *error = {422, "tenant", "does not match the tenant in the path (" + path_key.tenant + ")"};
        return std::nullopt;
      }
      b.object.key = {kind, s->tenant, s->name};
      b.object.owner = s->tenant;
      b.object.references.push_back({ObjectKind::kTenant, "", s->tenant});
      if (!s->policy.empty()) b.object.references.push_back({ObjectKind::kPolicy, "", s->policy});
      b.object.spec_json = RenderService(*s);
      break;
    }
    case ObjectKind::kPolicy: {
      auto p = ParsePolicy(*merged, &b.meta, error);
      if (!p) return std::nullopt;
      b.object.key.name = p->name;
      b.object.owner = p->tenant;
      if (!p->tenant.empty()) b.object.references.push_back({ObjectKind::kTenant, "", p->tenant});
      b.object.spec_json = RenderPolicy(*p);
      break;
    }
  }
  if (!path_key.name.empty() && b.object.key.name != path_key.name) {
    *error = {422, "name", "does not match the name in the path (" + path_key.name + ")"};
    return std::nullopt;
  }
  return b;
}

HttpResponse ControlApi::GetObject(Call& c, const ObjectKey& key) {
  auto got = store_->Get(key);
  const std::string what =
      std::string(ObjectKindName(key.kind)) + " " + (key.tenant.empty() ? "" : key.tenant + "/") + key.name;
  if (!got.ok())
    return Error(StatusFor(got.status()),
                 got.status().code() == StatusCode::kNotFound ? "no " + what : got.status().message());
  // A tenant-bound token sees its tenant's objects and global policies only;
  // anything else is answered as if it did not exist.
  if (c.tenant_bound() && got->owner != c.principal.tenant &&
      !(key.kind == ObjectKind::kPolicy && got->owner.empty())) {
    return Error(404, "no " + what);
  }
  return Json(200, ObjectJson(*got));
}

HttpResponse ControlApi::ListObjects(Call& c, ListQuery query) {
  if (auto limit = c.Query("limit")) {
    char* end = nullptr;
    const long n = std::strtol(limit->c_str(), &end, 10);
    if (limit->empty() || *end != '\0' || n < 1 || n > 1000) return Error(400, "must be an integer 1-1000", "limit");
    query.limit = static_cast<size_t>(n);
  }
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
      if (eq == std::string::npos || eq == 0) return Error(400, "must be KEY=VALUE", "label");
      query.filters.push_back({"labels." + value.substr(0, eq), value.substr(eq + 1)});
    } else if (std::find(fields.begin(), fields.end(), key) != fields.end()) {
      query.filters.push_back({key, value});
    } else {
      return Error(400, "is not a filter of this list", key);
    }
  }
  if (c.tenant_bound()) {
    query.owners = std::vector<std::string>{c.principal.tenant};
    if (query.kind == ObjectKind::kPolicy) query.owners->push_back("");
  }
  auto page = store_->List(query);
  if (!page.ok()) {
    const int status = StatusFor(page.status());
    const bool filter = page.status().message().find("filter") != std::string::npos;
    return Error(status, page.status().message(), status != 400 ? "" : filter ? "label" : "page_token");
  }
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) {
    if (i > 0) body += ',';
    body += ObjectJson(page->items[i]);
  }
  body += "],\"next_page_token\":\"" + page->next_page_token + "\"}";
  return Json(200, std::move(body));
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
          FieldError e;
          auto merged = MergePatch(got->spec_json, body, &e);
          if (!merged) return Error(e.status, e.message, e.field);
          body = *merged;
        }
      } else if (got.status().code() != StatusCode::kNotFound) {
        return Error(StatusFor(got.status()), got.status().message());
      } else if (patch) {
        return Error(404, "no " + std::string(ObjectKindName(kind)) + " " + path_key.name);
      }
    }
  }
  // Access before validation, so a refused caller learns nothing from the errors.
  const Principal& p = c.principal;
  if (c.tenant_bound()) {
    if (p.role == Role::kViewer) return Error(403, "viewer tokens may only read");
    if (kind == ObjectKind::kTenant) return Error(403, "only admins change tenants");
    if (kind == ObjectKind::kPolicy && stored_version) {
      if (stored_owner.empty()) return Error(403, "only admins change global policies");
      if (stored_owner != p.tenant) return Error(404, "no policy " + path_key.name);
    }
  }
  FieldError e;
  std::optional<BuiltObject> built = BuildObject(kind, body, path_key, &e);
  if (!built) return Error(e.status, e.message, e.field);
  StoredObject& o = built->object;
  if (c.tenant_bound() && o.owner != p.tenant) {
    return Error(403, "this token may only write objects of tenant " + p.tenant,
                 kind == ObjectKind::kPolicy ? "tenant" : "");
  }
  // References are checked here for a precise 422; the store checks them again in its transaction.
  for (const ObjectKey& ref : o.references) {
    auto got = store_->Get(ref);
    const bool visible = got.ok() && (ref.kind != ObjectKind::kPolicy || got->owner.empty() || got->owner == o.owner);
    if (!visible) {
      const bool is_tenant = ref.kind == ObjectKind::kTenant;
      if (is_tenant && kind == ObjectKind::kService) return Error(404, "no tenant " + ref.name);
      return Error(422,
                   "no " + std::string(ObjectKindName(ref.kind)) + " named " + ref.name +
                       (is_tenant ? "" : " (global or of tenant " + o.owner + ")"),
                   is_tenant ? "tenant" : "policy");
    }
  }
  std::optional<int64_t> expected = built->meta.version;
  if (patch && !expected) expected = stored_version;  // the patch applied to this version
  const char* action = patch ? "patch" : mode == WriteMode::kCreate ? "create" : "replace";
  AuditRecord audit = c.Audit(action, std::string(ObjectKindName(kind)), o.owner, o.key.name);
  audit.status = mode == WriteMode::kCreate ? 201 : 200;
  const bool existed = stored_version.has_value() || (mode != WriteMode::kCreate && store_->Get(o.key).ok());
  if (mode == WriteMode::kUpsert && !existed) audit.status = 201;
  auto put = store_->Put(o, mode, expected, std::move(audit));
  if (!put.ok())
    return Error(StatusFor(put.status()), put.status().message(),
                 put.status().code() == StatusCode::kConflict ? "version" : "");
  HttpResponse r = Json(put->version == 1 ? 201 : 200, ObjectJson(*put));
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
    return Error(StatusFor(got.status()),
                 got.status().code() == StatusCode::kNotFound ? "no " + what : got.status().message());
  const Principal& p = c.principal;
  if (c.tenant_bound()) {
    if (p.role == Role::kViewer) return Error(403, "viewer tokens may only read");
    if (key.kind == ObjectKind::kTenant) return Error(403, "only admins change tenants");
    if (got->owner.empty()) return Error(403, "only admins change global policies");
    if (got->owner != p.tenant) return Error(404, "no " + what);
  }
  if (key.kind == ObjectKind::kTenant) {
    // Its operators' and viewers' tokens would otherwise come back to life with a new tenant of that name.
    std::string page_token;
    do {
      auto tokens = store_->ListTokens(page_token, 1000);
      if (!tokens.ok()) return Error(StatusFor(tokens.status()), tokens.status().message());
      for (const TokenRecord& t : tokens->items) {
        if (t.tenant == key.name && t.revoked_ms == 0 && (t.expires_ms == 0 || t.expires_ms > c.now_ms)) {
          return Error(409, "tenant " + key.name + " still has active tokens (" + t.id + "); revoke them first");
        }
      }
      page_token = tokens->next_page_token;
    } while (!page_token.empty());
  }
  std::optional<int64_t> expected;
  if (auto v = c.Query("version")) {
    char* end = nullptr;
    expected = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0') return Error(400, "must be an integer", "version");
  }
  AuditRecord audit = c.Audit("delete", std::string(ObjectKindName(key.kind)), got->owner, key.name);
  audit.status = 204;
  auto deleted = store_->Delete(key, expected, std::move(audit));
  if (!deleted.ok()) return Error(StatusFor(deleted.status()), deleted.status().message());
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
  if (c.principal.role != Role::kAdmin) return Error(403, "only admins create tenants");
  return WriteObject(c, ObjectKind::kTenant, {ObjectKind::kTenant, "", ""}, WriteMode::kCreate);
}

namespace {

// A {tenant} path: a valid name (else 404) that a tenant-bound token may touch (else 403).
std::optional<HttpResponse> CheckTenantPath(const HttpRequest& r, const Principal& p, bool bound,
                                            std::initializer_list<const char*> params) {
  std::string bad;
  if (!ValidParams(r, params, &bad)) return Error(404, "no " + std::string(*(params.end() - 1)) + " " + bad);
  if (bound && r.PathParam("tenant") != p.tenant) return Error(403, "this token is bound to tenant " + p.tenant);
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
  if (auto refused = CheckTenantPath(c.request, c.principal, c.tenant_bound(), {"tenant"})) return *refused;
  return Item(c, {ObjectKind::kTenant, "", std::string(c.Param("tenant"))});
}

HttpResponse ControlApi::ListServices(Call& c) {
  if (auto refused = CheckTenantPath(c.request, c.principal, c.tenant_bound(), {"tenant"})) return *refused;
  const std::string tenant(c.Param("tenant"));
  if (auto t = store_->Get({ObjectKind::kTenant, "", tenant}); !t.ok()) {
    return Error(StatusFor(t.status()), "no tenant " + tenant);
  }
  ListQuery query = KindQuery(ObjectKind::kService);
  query.tenant = tenant;
  return ListObjects(c, std::move(query));
}

HttpResponse ControlApi::CreateService(Call& c) {
  if (auto refused = CheckTenantPath(c.request, c.principal, c.tenant_bound(), {"tenant"})) return *refused;
  return WriteObject(c, ObjectKind::kService, {ObjectKind::kService, std::string(c.Param("tenant")), ""},
                     WriteMode::kCreate);
}

HttpResponse ControlApi::ServiceItem(Call& c) {
  if (auto refused = CheckTenantPath(c.request, c.principal, c.tenant_bound(), {"tenant", "service"})) {
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
  if (!ValidParams(c.request, {"policy"}, &bad)) return Error(404, "no policy " + bad);
  return Item(c, {ObjectKind::kPolicy, "", std::string(c.Param("policy"))});
}

// --- tokens ------------------------------------------------------------------

namespace {

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

}  // namespace

Result<IssuedToken> IssueToken(ControlStore* store, const TokenRequest& request, int64_t now_ms, AuditRecord audit) {
  const std::optional<Role> role = ParseRole(request.role);
  if (!role || *role == Role::kAnonymous)
    return Status::InvalidArgument("role: must be one of admin, operator, viewer, agent");
  const bool bound = IsTenantBound(*role);
  if (bound && request.tenant.empty())
    return Status::InvalidArgument("tenant: operator and viewer tokens need a tenant");
  if (!bound && !request.tenant.empty())
    return Status::InvalidArgument("tenant: only operator and viewer tokens have a tenant");
  if (bound) {
    auto t = store->Get({ObjectKind::kTenant, "", request.tenant});
    if (!t.ok()) return Status::InvalidArgument("tenant: no tenant " + request.tenant);
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

HttpResponse ControlApi::ListTokens(Call& c) {
  if (c.principal.role != Role::kAdmin) return Error(403, "only admins manage tokens");
  size_t limit = 100;
  if (auto l = c.Query("limit")) {
    char* end = nullptr;
    const long n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000) return Error(400, "must be an integer 1-1000", "limit");
    limit = static_cast<size_t>(n);
  }
  auto page = store_->ListTokens(c.Query("page_token").value_or(""), limit);
  if (!page.ok()) return Error(StatusFor(page.status()), page.status().message(), "page_token");
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < page->items.size(); ++i) body += (i > 0 ? "," : "") + TokenJson(page->items[i], "");
  body += "],\"next_page_token\":\"" + page->next_page_token + "\"}";
  return Json(200, std::move(body));
}

HttpResponse ControlApi::CreateToken(Call& c) {
  if (c.principal.role != Role::kAdmin) return Error(403, "only admins manage tokens");
  rapidjson::Document d;
  d.Parse(c.request.body.c_str(), c.request.body.size());
  if (d.HasParseError() || !d.IsObject()) return Error(400, "the body must be a JSON object");
  TokenRequest req;
  const rapidjson::Value& body = d;  // const members: clang's C++20 rejects RapidJSON's mutable iterator compare
  for (const auto& m : body.GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    if (key != "name" && key != "role" && key != "tenant" && key != "expires_in") {
      return Error(422, "is not a known field", key);
    }
    if (!m.value.IsString()) return Error(422, "must be a string", key);
    const std::string v(m.value.GetString(), m.value.GetStringLength());
    if (key == "name") req.name = v;
    if (key == "role") req.role = v;
    if (key == "tenant") req.tenant = v;
    if (key == "expires_in") {
      auto dur = ParseDuration(v);
      if (!dur.ok() || dur->count() <= 0) return Error(422, "must be a duration such as \"30d\"", key);
      req.expires_in_ms = dur->count();
    }
  }
  if (req.role.empty()) return Error(422, "is required", "role");
  auto issued = IssueToken(store_, req, c.now_ms, c.Audit("token.create", "token", req.tenant, ""));
  if (!issued.ok()) {
    const std::string& m = issued.status().message();
    const size_t colon = m.find(':');
    if (issued.status().code() == StatusCode::kInvalidArgument && colon != std::string::npos) {
      return Error(422, m.substr(colon + 2), m.substr(0, colon));
    }
    return Error(StatusFor(issued.status()), m);
  }
  HttpResponse r = Json(201, TokenJson(issued->record, issued->secret));
  r.headers.emplace_back("Location", "/api/v1/tokens/" + issued->record.id);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ControlApi::TokenItem(Call& c) {
  if (c.principal.role != Role::kAdmin) return Error(403, "only admins manage tokens");
  const std::string id(c.Param("token"));
  if (c.request.method == "GET") {
    auto t = store_->GetToken(id);
    if (!t.ok()) return Error(StatusFor(t.status()), "no token " + id);
    return Json(200, TokenJson(*t, ""));
  }
  auto t = store_->RevokeToken(id, c.now_ms, c.Audit("token.revoke", "token", "", id));
  if (!t.ok())
    return Error(StatusFor(t.status()),
                 t.status().code() == StatusCode::kNotFound ? "no token " + id : t.status().message());
  HttpResponse r;
  r.status = 204;
  return r;
}

// --- audit -------------------------------------------------------------------

HttpResponse ControlApi::ListAudit(Call& c) {
  AuditQuery query;
  if (auto l = c.Query("limit")) {
    char* end = nullptr;
    const long n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000) return Error(400, "must be an integer 1-1000", "limit");
    query.limit = static_cast<size_t>(n);
  }
  for (const char* key : {"page_token", "after"}) {
    if (auto a = c.Query(key)) {
      char* end = nullptr;
      query.after_seq = std::strtoll(a->c_str(), &end, 10);
      if (a->empty() || *end != '\0' || query.after_seq < 0) return Error(400, "must be a record number", key);
    }
  }
  if (auto t = c.Query("tenant")) query.tenant = *t;
  if (auto k = c.Query("kind")) query.kind = *k;
  if (c.tenant_bound()) {
    if (query.tenant && *query.tenant != c.principal.tenant) {
      return Error(403, "this token is bound to tenant " + c.principal.tenant, "tenant");
    }
    query.tenant = c.principal.tenant;
  }
  auto page = store_->ListAudit(query);
  if (!page.ok()) return Error(StatusFor(page.status()), page.status().message());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("items");
  w.StartArray();
  for (const AuditRecord& a : page->items) WriteAuditRecord(w, a, false);
  w.EndArray();
  w.Key("next_page_token");
  w.String(page->next_page_token.c_str());
  w.EndObject();
  return Json(200, std::string(buf.GetString(), buf.GetSize()));
}

HttpResponse ControlApi::VerifyAudit(Call& c) {
  if (c.principal.role != Role::kAdmin) return Error(403, "only admins verify the whole audit log");
  auto v = store_->VerifyAudit();
  if (!v.ok()) return Error(StatusFor(v.status()), v.status().message());
  return Json(200, AuditVerificationJson(*v));
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
