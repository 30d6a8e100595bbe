// Fuzzes the trace CSV decoder prescale-sim reads workload traces with (files
// from anywhere), with and without a named column, and checks what it
// accepts: as many timestamps as values, timestamps strictly increasing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/sim/grid.h"
#include "prescale/sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::sim;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  TraceOptions named;
  named.column = "value";
  for (const TraceOptions& options : {TraceOptions{}, named}) {
    auto trace = ParseTraceCsv(text, options, "fuzz");
    if (!trace.ok()) continue;
    if (trace->timestamps_ms.size() != trace->values.size() || trace->values.empty()) std::abort();
    for (size_t i = 1; i < trace->timestamps_ms.size(); ++i) {
      if (trace->timestamps_ms[i] <= trace->timestamps_ms[i - 1]) std::abort();
    }
    // The grid over whatever was accepted: bounded, never more points than the span allows.
    const int64_t step = MedianIntervalMs(*trace);
    if (step <= 0) continue;
    auto grid = Regrid(*trace, step);
    if (grid.ok() && grid->values.empty()) std::abort();
  }
  return 0;
}
