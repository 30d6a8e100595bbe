// Fuzzes the strict Prometheus text parser (services' /metrics bodies), and
// checks that whatever it accepts survives a write/parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prescale/metrics/text_parser.h"
#include "prescale/metrics/text_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace prescale::metrics;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  TextParseLimits limits;
  limits.max_body_bytes = 1 << 20;
  auto families = ParseTextExposition(body, limits);
  if (!families.ok()) return 0;
  std::string out;
  TextWriter w(&out);
  size_t samples = 0;
  for (const MetricFamily& f : *families) {
    w.Family(f.name, f.help, f.type);
    for (const Sample& s : f.samples) {
      std::vector<LabelRef> labels;
      for (const auto& [k, v] : s.labels) labels.push_back({k, v});
      w.Sample(s.name, labels, s.value);
      ++samples;
    }
  }
  auto again = ParseTextExposition(out, limits);
  if (!again.ok()) std::abort();  // the writer produced text the parser rejects
  size_t again_samples = 0;
  for (const MetricFamily& f : *again) again_samples += f.samples.size();
  if (again_samples != samples) std::abort();
  return 0;
}
