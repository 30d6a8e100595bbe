// ControlApi: the control plane's REST API over a ControlStore: tenants,
// services, policies, tokens and the audit log (docs/openapi.yaml). Every
// request needs a bearer token; roles decide what it may do (admin:
// everything; operator: its tenant's services and policies; viewer: read its
// tenant; agent: nothing here), and a tenant-bound token never sees another
// tenant's objects, in lists or single reads. Each token is rate limited.
// Every mutating request is audited: a change together with its record in one
// transaction, a refused one on its own. Errors are always
// {"error": CODE, "message": TEXT, "field": PATH}. Handlers are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prescale/aggregator/auth.h"
#include "prescale/aggregator/control_model.h"
#include "prescale/aggregator/control_store.h"
#include "prescale/base/clock.h"
#include "prescale/base/rate_limiter.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

struct ControlApiOptions {
  // Requests a second per token (bursts of twice that); over it, 429 with Retry-After. 0: no limit.
  double requests_per_second = 50;
};

// A token to issue (by the API or `prescale-aggregator token create`).
struct TokenRequest {
  std::string name;
  std::string role;           // "admin", "operator", "viewer", "agent"
  std::string tenant;         // operators and viewers only (it must exist)
  int64_t expires_in_ms = 0;  // 0: never
};

struct IssuedToken {
  TokenRecord record;
  std::string secret;  // shown once; only its SHA-256 is stored
};

// Creates a random token and stores its hash, audited with `audit`'s actor.
// InvalidArgument messages start with the field ("role: ...").
Result<IssuedToken> IssueToken(ControlStore* store, const TokenRequest& request, int64_t now_ms, AuditRecord audit);

// An object as the store keeps it, built from a request body (or a bootstrap
// file's entry): validated, canonical, with its owner and references. Names
// in path_key (empty ones are not set) fill in what the body leaves out; a
// body naming something else is a 422.
struct BuiltObject {
  StoredObject object;
  ObjectMeta meta;
};
std::optional<BuiltObject> BuildObject(ObjectKind kind, std::string_view body, const ObjectKey& path_key,
                                       FieldError* error);

// {"ok":..,"records":..,"first_bad_seq":..,"reason":..,"head_hash":..}
std::string AuditVerificationJson(const AuditVerification& v);

class ControlApi {
 public:
  // `store` and `auth` are not owned and outlive the API.
  ControlApi(ControlStore* store, const Authenticator* auth, const Clock& clock, ControlApiOptions options);

  // /api/v1/tenants[/{tenant}[/services[/{service}]]], /api/v1/policies[/{policy}],
  // /api/v1/tokens[/{token}], /api/v1/audit, /api/v1/audit/verify.
  std::vector<http::Route> Routes();

 private:
  struct Call;
  http::HttpResponse Serve(const http::HttpRequest& request, http::HttpResponse (ControlApi::*fn)(Call&));
  http::HttpResponse ListTenants(Call& c);
  http::HttpResponse CreateTenant(Call& c);
  http::HttpResponse TenantItem(Call& c);
  http::HttpResponse ListServices(Call& c);
  http::HttpResponse CreateService(Call& c);
  http::HttpResponse ServiceItem(Call& c);
  http::HttpResponse ListPolicies(Call& c);
  http::HttpResponse CreatePolicy(Call& c);
  http::HttpResponse PolicyItem(Call& c);
  http::HttpResponse ListTokens(Call& c);
  http::HttpResponse CreateToken(Call& c);
  http::HttpResponse TokenItem(Call& c);
  http::HttpResponse ListAudit(Call& c);
  http::HttpResponse VerifyAudit(Call& c);

  // The shared path of every object write: build, check access, store, answer.
  http::HttpResponse WriteObject(Call& c, ObjectKind kind, const ObjectKey& path_key, WriteMode mode);
  http::HttpResponse DeleteObject(Call& c, const ObjectKey& key);
  http::HttpResponse Item(Call& c, const ObjectKey& key);
  http::HttpResponse GetObject(Call& c, const ObjectKey& key);
  http::HttpResponse ListObjects(Call& c, ListQuery query);

  ControlStore* store_;
  const Authenticator* auth_;
  const Clock& clock_;
  ControlApiOptions options_;
  std::unique_ptr<RateLimiter> limiter_;
};

}  // namespace prescale::aggregator
