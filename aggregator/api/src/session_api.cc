#include "prescale/aggregator/api/session_api.h"

#include "json_envelope.h"

namespace prescale::aggregator {

std::vector<RouteSpec> SessionRoutes() {
  // tenant_bound: operators and viewers see only themselves, as on every route they may call.
  const Access kTokens{.roles = {Role::kAdmin, Role::kOperator, Role::kViewer, Role::kAgent}, .tenant_bound = true};
  return {{"GET",
           "/api/v1/whoami",
           "whoami",
           kTokens,
           [](Call& call) -> Result<http::HttpResponse> {
             if (!call.request.query.empty()) return Status::InvalidArgument("whoami takes no parameters");
             rapidjson::StringBuffer buf;
             JsonWriter w(buf);
             w.StartObject();
             WriteStringField(w, "name", call.principal.name);
             const std::string role(RoleName(call.principal.role));
             WriteStringField(w, "role", role);
             WriteStringField(w, "tenant", call.principal.tenant);
             w.EndObject();
             return JsonResponse(200, std::string(buf.GetString(), buf.GetSize()));
           },
           {}}};
}

}  // namespace prescale::aggregator
