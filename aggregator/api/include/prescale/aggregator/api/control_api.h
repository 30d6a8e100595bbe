// ControlApi: the control plane's REST API over a ControlStore: tenants,
// services, policies, tokens and the audit log (docs/openapi.yaml). Every
// request needs a bearer token; roles decide what it may do (admin:
// everything; operator: its tenant's services and policies; viewer: read its
// tenant; agent: nothing here), and a tenant-bound token never sees another
// tenant's objects, in lists or single reads. Each token is rate limited.
// Every mutating request is audited: a change together with its record in one
// transaction, a refused one on its own. Authentication, roles, limits and the
// error envelope are the Front's (front.h). Handlers are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "prescale/aggregator/api/front.h"
#include "prescale/aggregator/control/auth.h"
#include "prescale/aggregator/control/control_store.h"
#include "prescale/aggregator/control/objects.h"
#include "prescale/base/clock.h"
#include "prescale/decide/control_model.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

class ControlApi {
 public:
  // `store` is not owned and outlives the API.
  ControlApi(ControlStore* store, const Clock& clock);

  // /api/v1/tenants[/{tenant}[/services[/{service}]]], /api/v1/policies[/{policy}],
  // /api/v1/tokens[/{token}], /api/v1/audit, /api/v1/audit/verify, with who may call each.
  std::vector<RouteSpec> Routes();

 private:
  struct Call;
  Result<http::HttpResponse> Serve(aggregator::Call& front, http::HttpResponse (ControlApi::*fn)(Call&));
  void AuditRefused(const aggregator::Call& front, const http::HttpResponse& r);
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
  const Clock& clock_;
};

}  // namespace prescale::aggregator
