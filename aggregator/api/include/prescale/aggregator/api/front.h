// The aggregator's one HTTP front: every route of the API is declared in one
// table (RouteSpec) that says who may call it, and every answer goes through
// the same steps:
//   1. authenticate the bearer token (Authenticator); a request without an
//      Authorization header passes as the anonymous principal only on routes
//      whose Access lists Role::kAnonymous (the receivers) and only while
//      FrontOptions::allow_anonymous_push is set; every other request without
//      a known token is refused (401 missing, 403 unknown) on every route;
//   2. check the caller's role against the route's Access, and for
//      tenant-bound tokens (operators, viewers) the {tenant} of the path;
//   3. rate limit per token where the route asks for it;
//   4. run the handler, which returns a response or a Status;
//   5. map a Status to HTTP (HttpStatusOf) and the one error envelope
//      {"error": CODE, "message": TEXT, "field": PATH}, "field" present only
//      when the error names one;
//   6. count the answer in prescale_aggregator_requests_total{handler,code}
//      and add X-Request-Id.
// Public routes (/metrics, /healthz, /readyz) skip 1-3. Thread-safe: the
// table is fixed once Routes() has been called; handlers run on the server's
// worker threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/aggregator/control/auth.h"
#include "prescale/base/clock.h"
#include "prescale/base/rate_limiter.h"
#include "prescale/base/status.h"
#include "prescale/http/http_server.h"

namespace prescale::aggregator {

// The HTTP status of a Status code, and the envelope's "error" code of an HTTP status.
int HttpStatusOf(StatusCode code);
std::string_view ErrorCodeOf(int http_status);

// {"error","message","field"} with the status HttpStatusOf(s.code()); 401 adds
// WWW-Authenticate: Bearer.
http::HttpResponse ErrorResponse(const Status& s);
// The same envelope for an HTTP status (error code ErrorCodeOf(status)); no
// "field" member when `field` is empty.
http::HttpResponse ErrorResponse(int status, std::string_view message, std::string_view field = "");
// A JSON body (a newline is appended).
http::HttpResponse JsonResponse(int status, std::string body);
// 204 No Content.
http::HttpResponse NoContent();

// Who may call a route.
struct Access {
  // The roles allowed; empty: a public route that needs no token at all.
  // Role::kAnonymous in the list lets callers without an Authorization header
  // through while FrontOptions::allow_anonymous_push is set; only the
  // receivers (write, ingest) may list it: nothing anonymous reads.
  std::vector<Role> roles;
  // Operators and viewers reach only their own tenant: a {tenant} path
  // parameter must be theirs (403 otherwise); filters in queries and bodies
  // are bound by the handler with Call::BindTenant, so what such a route
  // answers a tenant-bound token holds that tenant's data only.
  bool tenant_bound = false;
  // Requests a second per token, from FrontOptions (429 with Retry-After).
  bool rate_limited = false;

  bool Allows(Role role) const;
};

// One request in flight, as a handler sees it.
struct Call {
  const http::HttpRequest& request;
  Principal principal;
  std::string request_id;

  bool tenant_bound() const { return IsBound(principal.role); }
  static bool IsBound(Role role) { return role == Role::kOperator || role == Role::kViewer; }
  // For tenant-bound callers: an empty *tenant becomes theirs, another one is
  // PermissionDenied (field "tenant"). Others: unchanged, OK.
  Status BindTenant(std::string* tenant) const;
};

using RouteHandler = std::function<Result<http::HttpResponse>(Call&)>;
// Called after every answer to a caller whose identity is known (also when the
// front refused it), e.g. to audit refused changes.
using AnswerHook = std::function<void(const Call&, const http::HttpResponse&)>;

struct RouteSpec {
  std::string method;  // "GET", "POST", ...
  std::string path;    // as http::Route
  std::string name;    // the handler label of prescale_aggregator_requests_total
  Access access;
  RouteHandler handler;
  AnswerHook after;  // optional
};

struct FrontOptions {
  // Requests a second per token on rate-limited routes (bursts of twice that); 0: no limit.
  double requests_per_second = 50;
  // Requests without an Authorization header pass as Role::kAnonymous on the
  // routes that list it (the receivers); false: every route needs a token.
  bool allow_anonymous_push = false;
};

class Front {
 public:
  // `auth` is not owned and outlives the front.
  Front(const Authenticator* auth, const Clock& clock, FrontOptions options);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  void Add(RouteSpec spec);
  void Add(std::vector<RouteSpec> specs);
  // The routes for the server, each wrapped in the steps above.
  std::vector<http::Route> Routes() const;
  // Whether requests without a token may push (FrontOptions::allow_anonymous_push).
  bool allow_anonymous_push() const { return options_.allow_anonymous_push; }
  // The table, for tests and docs.
  const std::vector<RouteSpec>& table() const { return specs_; }
  // Serves one request through `spec` (what the routes call).
  http::HttpResponse Serve(const RouteSpec& spec, const http::HttpRequest& request) const;

  // prescale_aggregator_requests_total{handler,code}.
  void AppendMetrics(std::string* out) const;
  // Forgets idle rate-limit buckets.
  void Sweep();

 private:
  Status Check(const RouteSpec& spec, const AuthResult& auth, const http::HttpRequest& request) const;
  bool AnonymousMayCall(const RouteSpec& spec, const http::HttpRequest& request) const;
  std::optional<http::HttpResponse> Throttle(const RouteSpec& spec, const Principal& p) const;
  void Count(const std::string& handler, int code) const;

  const Authenticator* auth_;
  const Clock& clock_;
  FrontOptions options_;
  std::unique_ptr<RateLimiter> limiter_;  // null: no limit
  std::vector<RouteSpec> specs_;
  mutable std::mutex mu_;  // counts_
  mutable std::map<std::pair<std::string, int>, double> counts_;
};

}  // namespace prescale::aggregator
