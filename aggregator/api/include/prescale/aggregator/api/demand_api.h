// DemandApi: the demand history and forecasts of tenants' services
// (docs/aggregator.md):
//   GET /api/v1/series     demand per tenant, service and resource over time
//   GET /api/v1/forecasts  the latest forecasts of every demand series
// Tenant-bound tokens read their own tenant only. Thread-safe.
#pragma once

#include <vector>

#include "prescale/aggregator/api/front.h"
#include "prescale/aggregator/history/demand.h"
#include "prescale/aggregator/history/forecasts.h"
#include "prescale/base/clock.h"

namespace prescale::aggregator {

class DemandApi {
 public:
  // Not owned; they outlive the API.
  DemandApi(const DemandRollups* demand, const ForecastEngine* forecasts, const Clock& clock)
      : demand_(demand), forecasts_(forecasts), clock_(clock) {}

  std::vector<RouteSpec> Routes();
  Result<http::HttpResponse> Series(Call& call);
  Result<http::HttpResponse> Forecasts(Call& call);

 private:
  const DemandRollups* demand_;
  const ForecastEngine* forecasts_;
  const Clock& clock_;
};

}  // namespace prescale::aggregator
