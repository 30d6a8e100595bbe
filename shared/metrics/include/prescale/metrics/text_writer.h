// TextWriter: a fast serialiser of the Prometheus text exposition format 0.0.4
// that appends to a caller-owned string (reuse it across cycles: after the first
// cycle no allocation happens). Not thread-safe.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "prescale/metrics/types.h"

namespace prescale::metrics {

class TextWriter {
 public:
  explicit TextWriter(std::string* out) : out_(out) {}

  // "# HELP name help\n# TYPE name type\n"; help is escaped.
  void Family(std::string_view name, std::string_view help, MetricType type);
  // name{a="1",b="2"} value\n — labels from `base` then `extra`, values escaped.
  void Sample(std::string_view name, std::span<const LabelRef> base, std::span<const LabelRef> extra, double value);
  void Sample(std::string_view name, std::span<const LabelRef> base, double value) { Sample(name, base, {}, value); }
  void Sample(std::string_view name, std::initializer_list<LabelRef> labels, double value) {
    Sample(name, std::span<const LabelRef>(labels.begin(), labels.size()), {}, value);
  }

  // name{<rendered>,extra...} value\n — `rendered` comes from AppendLabels, so
  // a label set written for many samples is escaped once.
  void SampleRendered(std::string_view name, std::string_view rendered, std::span<const LabelRef> extra, double value);

  // Appends a="1",b="2" (escaped, no braces).
  static void AppendLabels(std::string* out, std::span<const LabelRef> labels);
  // Appends a value as Prometheus prints it: integers without a fraction,
  // others in the shortest round-trip form, NaN, +Inf, -Inf.
  static void AppendValue(std::string* out, double value);
  // Appends a label value with \\, \" and \n escaped.
  static void AppendEscapedLabelValue(std::string* out, std::string_view value);

 private:
  std::string* out_;
};

}  // namespace prescale::metrics
