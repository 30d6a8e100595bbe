#include "prescale/metrics/text_writer.h"

#include <charconv>
#include <cmath>

namespace prescale::metrics {

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kUntyped: return "untyped";
  }
  return "untyped";
}

void TextWriter::Family(std::string_view name, std::string_view help, MetricType type) {
  std::string& o = *out_;
  o += "# HELP ";
  o += name;
  o += ' ';
  for (char c : help) {
    if (c == '\\') {
      o += "\\\\";
    } else if (c == '\n') {
      o += "\\n";
    } else {
      o += c;
    }
  }
  o += "\n# TYPE ";
  o += name;
  o += ' ';
  o += MetricTypeName(type);
  o += '\n';
}

void TextWriter::AppendEscapedLabelValue(std::string* out, std::string_view value) {
  if (value.find_first_of("\\\"\n") == std::string_view::npos) {
    out->append(value);  // the common case: nothing to escape
    return;
  }
  for (char c : value) {
    switch (c) {
      case '\\': *out += "\\\\"; break;
      case '"': *out += "\\\""; break;
      case '\n': *out += "\\n"; break;
      default: *out += c;
    }
  }
}

void TextWriter::AppendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    *out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r{};
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out->append(buf, r.ptr);
}

void TextWriter::AppendLabels(std::string* out, std::span<const LabelRef> labels) {
  bool first = true;
  for (const LabelRef& l : labels) {
    if (!first) *out += ',';
    first = false;
    *out += l.name;
    *out += "=\"";
    AppendEscapedLabelValue(out, l.value);
    *out += '"';
  }
}

void TextWriter::SampleRendered(std::string_view name, std::string_view rendered, std::span<const LabelRef> extra,
                                double value) {
  std::string& o = *out_;
  o += name;
  o += '{';
  o += rendered;
  for (const LabelRef& l : extra) {
    if (o.back() != '{') o += ',';
    o += l.name;
    o += "=\"";
    AppendEscapedLabelValue(out_, l.value);
    o += '"';
  }
  if (o.back() == '{') {
    o.pop_back();
  } else {
    o += '}';
  }
  o += ' ';
  AppendValue(out_, value);
  o += '\n';
}

void TextWriter::Sample(std::string_view name, std::span<const LabelRef> base, std::span<const LabelRef> extra,
                        double value) {
  std::string& o = *out_;
  o += name;
  if (!base.empty() || !extra.empty()) {
    o += '{';
    bool first = true;
    for (auto labels : {base, extra}) {
      for (const LabelRef& l : labels) {
        if (!first) o += ',';
        first = false;
        o += l.name;
        o += "=\"";
        AppendEscapedLabelValue(out_, l.value);
        o += '"';
      }
    }
    o += '}';
  }
  o += ' ';
  AppendValue(out_, value);
  o += '\n';
}

}  // namespace prescale::metrics
