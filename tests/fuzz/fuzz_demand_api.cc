// The aggregator's demand API inputs: the /api/v1/series query string and the
// query_range answer read during backfill. Neither may crash, and a parsed
// query keeps its invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/aggregator/api/series_api.h"
#include "prescale/aggregator/history/backfill.h"
#include "prescale/base/timestamp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::aggregator;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto q = ParseSeriesQuery(input, 1'800'000'000'000);
  if (q.ok() && (q->from_ms >= q->to_ms || q->step.count() < 60'000 || q->step.count() % 60'000 != 0)) std::abort();
  int64_t ms = 0;
  (void)prescale::ParseTimestamp(input, &ms);
  auto matrix = ParsePromMatrix(input, DemandOptions{});
  if (matrix.ok()) {
    for (const auto& s : *matrix) {
      if (s.key.tenant.empty() || s.key.service.empty()) std::abort();
    }
  }
  return 0;
}
