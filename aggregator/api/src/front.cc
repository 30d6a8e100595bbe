#include "prescale/aggregator/api/front.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "prescale/aggregator/control/control_store.h"
#include "prescale/metrics/text_writer.h"

namespace prescale::aggregator {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kUnprocessable: return 422;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kIoError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

std::string_view ErrorCodeOf(int http_status) {
  switch (http_status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "body_too_large";
    case 422: return "invalid";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return "internal";
  }
}

http::HttpResponse ErrorResponse(const Status& s) {
  return ErrorResponse(HttpStatusOf(s.code()), s.message(), s.field());
}

http::HttpResponse ErrorResponse(int status, std::string_view message, std::string_view field) {
  const std::string_view code = ErrorCodeOf(status);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("error");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  if (!field.empty()) {
    w.Key("field");
    w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
  }
  w.EndObject();
  http::HttpResponse r = JsonResponse(status, std::string(buf.GetString(), buf.GetSize()));
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

http::HttpResponse JsonResponse(int status, std::string body) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body) + "\n";
  return r;
}

http::HttpResponse NoContent() {
  http::HttpResponse r;
  r.status = 204;
  return r;
}

bool Access::Allows(Role role) const { return std::find(roles.begin(), roles.end(), role) != roles.end(); }

Status Call::BindTenant(std::string* tenant) const {
  if (!tenant_bound()) return Status::Ok();
  if (!tenant->empty() && *tenant != principal.tenant) {
    return Status::PermissionDenied("this token is bound to tenant " + principal.tenant).WithField("tenant");
  }
  *tenant = principal.tenant;
  return Status::Ok();
}

Front::Front(const Authenticator* auth, const Clock& clock, FrontOptions options)
    : auth_(auth), clock_(clock), options_(options) {
  if (options_.requests_per_second > 0) {
    limiter_ = std::make_unique<RateLimiter>(options_.requests_per_second, 2 * options_.requests_per_second, clock_);
  }
}

Front::~Front() = default;

void Front::Add(RouteSpec spec) {
  // Anonymous callers may push, never read: a GET that lists them is a bug in the table.
  PRESCALE_CHECK(spec.method != "GET" || !spec.access.Allows(Role::kAnonymous));
  specs_.push_back(std::move(spec));
}

void Front::Add(std::vector<RouteSpec> specs) {
  for (RouteSpec& s : specs) Add(std::move(s));
}

std::vector<http::Route> Front::Routes() const {
  std::vector<http::Route> routes;
  routes.reserve(specs_.size());
  for (size_t i = 0; i < specs_.size(); ++i) {
    routes.push_back(
        {specs_[i].method, specs_[i].path, [this, i](const http::HttpRequest& r) { return Serve(specs_[i], r); }});
  }
  return routes;
}

namespace {

std::string RoleList(const Access& access) {
  std::string out;
  for (Role r : access.roles) {
    if (r == Role::kAnonymous) continue;
    if (!out.empty()) out += ", ";
    out += RoleName(r);
  }
  return out;
}

}  // namespace

// Step 2: may this principal call this route.
Status Front::Check(const RouteSpec& spec, const AuthResult& auth, const http::HttpRequest& request) const {
  const Principal& p = auth.principal;
  if (!spec.access.Allows(p.role)) {
    return Status::PermissionDenied(std::string(RoleName(p.role)) + " tokens may not " + spec.method + " " + spec.path +
                                    " (allowed: " + RoleList(spec.access) + ")");
  }
  if (spec.access.tenant_bound && Call::IsBound(p.role)) {
    const std::string_view tenant = request.PathParam("tenant");
    if (!tenant.empty() && tenant != p.tenant) {
      return Status::PermissionDenied("this token is bound to tenant " + p.tenant).WithField("tenant");
    }
  }
  return Status::Ok();
}

// Only a request with no credentials at all: a token that is presented but
// unknown, revoked or expired is refused, never downgraded to anonymous.
bool Front::AnonymousMayCall(const RouteSpec& spec, const http::HttpRequest& request) const {
  return options_.allow_anonymous_push && spec.access.Allows(Role::kAnonymous) &&
         request.Header("Authorization").empty();
}

// Step 3: over its rate, a 429 with Retry-After; nullopt otherwise.
std::optional<http::HttpResponse> Front::Throttle(const RouteSpec& spec, const Principal& p) const {
  if (limiter_ == nullptr || !spec.access.rate_limited) return std::nullopt;
  const auto wait = limiter_->Take(p.name, 1);
  if (wait.count() <= 0) return std::nullopt;
  http::HttpResponse r = ErrorResponse(Status::ResourceExhausted(
      "token " + p.name + " is over " + std::to_string(static_cast<int64_t>(options_.requests_per_second)) +
      " requests a second; retry later"));
  r.headers.emplace_back("Retry-After", std::to_string((wait.count() + 999) / 1000));
  return r;
}

http::HttpResponse Front::Serve(const RouteSpec& spec, const http::HttpRequest& request) const {
  http::HttpResponse r;
  if (spec.access.roles.empty()) {
    Call call{request, Principal{}, {}};
    auto answer = spec.handler(call);
    r = answer.ok() ? std::move(answer).value() : ErrorResponse(answer.status());
    Count(spec.name, r.status);
    return r;
  }
  AuthResult auth = auth_->Authenticate(request);
  if (!auth.ok() && AnonymousMayCall(spec, request)) {
    auth.outcome = AuthResult::Outcome::kOk;
    auth.principal = {"anonymous", Role::kAnonymous, ""};
  }
  if (!auth.ok()) {  // no identity: nothing to audit
    r = ErrorResponse(auth.ToStatus());
    Count(spec.name, r.status);
    return r;
  }
  std::string request_id(request.Header("X-Request-Id"));
  if (request_id.empty() || request_id.size() > 128) request_id = RandomHex(16);
  const Status allowed = Check(spec, auth, request);
  Call call{request, std::move(auth.principal), std::move(request_id)};
  if (!allowed.ok()) {
    r = ErrorResponse(allowed);
    if (spec.after && call.principal.role != Role::kAnonymous) spec.after(call, r);
  } else if (auto throttled = Throttle(spec, call.principal)) {
    r = std::move(*throttled);  // a flood is not audited
  } else {
    auto answer = spec.handler(call);
    r = answer.ok() ? std::move(answer).value() : ErrorResponse(answer.status());
    if (spec.after) spec.after(call, r);
  }
  r.headers.emplace_back("X-Request-Id", call.request_id);
  Count(spec.name, r.status);
  return r;
}

void Front::Count(const std::string& handler, int code) const {
  std::lock_guard lock(mu_);
  counts_[{handler, code}] += 1;
}

void Front::AppendMetrics(std::string* out) const {
  std::lock_guard lock(mu_);
  metrics::TextWriter w(out);
  w.Family("prescale_aggregator_requests_total", "HTTP requests to the ingest and API handlers by status code",
           metrics::MetricType::kCounter);
  for (const auto& [key, count] : counts_) {
    w.Sample("prescale_aggregator_requests_total", {{"code", std::to_string(key.second)}, {"handler", key.first}},
             count);
  }
}

void Front::Sweep() {
  if (limiter_ != nullptr) limiter_->Sweep();
}

}  // namespace prescale::aggregator
