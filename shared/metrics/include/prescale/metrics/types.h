// Value types of the metrics model shared by the agent and the aggregator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prescale::metrics {

enum class MetricType { kCounter, kGauge, kHistogram, kSummary, kUntyped };

std::string_view MetricTypeName(MetricType type);

// A label pair that borrows its strings; used on hot paths to avoid copies.
struct LabelRef {
  std::string_view name;
  std::string_view value;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string name;  // the sample's own name: for histograms e.g. "x_bucket"
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kUntyped;
  std::vector<Sample> samples;
};

}  // namespace prescale::metrics
