#include "prescale/aggregator/api/demand_api.h"

#include "prescale/aggregator/api/series_api.h"

namespace prescale::aggregator {
namespace {

// Any token reads demand (never an anonymous caller); operators and viewers only their tenant's.
const Access kReaders{.roles = {Role::kAdmin, Role::kOperator, Role::kViewer, Role::kAgent}, .tenant_bound = true};

http::HttpResponse JsonBody(std::string body) {
  http::HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace

std::vector<RouteSpec> DemandApi::Routes() {
  return {
      {"GET", "/api/v1/series", "series", kReaders, [this](Call& c) { return Series(c); }, {}},
      {"GET", "/api/v1/forecasts", "forecasts", kReaders, [this](Call& c) { return Forecasts(c); }, {}},
  };
}

Result<http::HttpResponse> DemandApi::Series(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto query, ParseSeriesQuery(call.request.query, ToUnixMillis(clock_.Now())));
  PRESCALE_RETURN_IF_ERROR(call.BindTenant(&query.filter.tenant));
  return JsonBody(RenderSeriesJson(demand_->Query(query.filter, query.from_ms, query.to_ms, query.step), *demand_));
}

Result<http::HttpResponse> DemandApi::Forecasts(Call& call) {
  PRESCALE_ASSIGN_OR_RETURN(auto filter, ParseForecastsQuery(call.request.query));
  PRESCALE_RETURN_IF_ERROR(call.BindTenant(&filter.tenant));
  return JsonBody(RenderForecastsJson(forecasts_->Latest(filter), *demand_));
}

}  // namespace prescale::aggregator
