#include "prescale/metrics/text_parser.h"

#include <string>
#include <unordered_map>

#include "prescale/base/numbers.h"
#include "prescale/metrics/names.h"

namespace prescale::metrics {
namespace {

class Parser {
 public:
  Parser(std::string_view body, const TextParseLimits& limits) : body_(body), limits_(limits) {}

  Result<std::vector<MetricFamily>> Run() {
    if (body_.size() > limits_.max_body_bytes) {
      return Status::ResourceExhausted("body of " + std::to_string(body_.size()) + " bytes exceeds the limit of " +
                                       std::to_string(limits_.max_body_bytes));
    }
    if (!body_.empty() && body_.back() != '\n') return Status::ParseError("the body does not end with a newline");
    std::string_view rest = body_;
    std::string_view line;
    while (NextLine(&rest, &line)) {
      ++line_no_;
      if (line.size() > limits_.max_line_bytes)
        return Fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      if (!line.empty() && line.back() == '\r') return Fail("carriage return in line end");
      Status s = line.empty() ? Status::Ok() : (line.front() == '#' ? Comment(line) : SampleLine(line));
      if (!s.ok()) return s;
    }
    return std::move(families_);
  }

 private:
  Status Fail(const std::string& what) const {
    return Status::ParseError("line " + std::to_string(line_no_) + ": " + what);
  }

  // Index of the family named `name`, creating it if needed; families must be contiguous.
  Result<size_t> FamilyFor(std::string_view name, bool declaring) {
    auto it = index_.find(std::string(name));
    if (it == index_.end()) {
      families_.push_back(MetricFamily{std::string(name), "", MetricType::kUntyped, {}});
      index_.emplace(std::string(name), families_.size() - 1);
      return families_.size() - 1;
    }
    if (it->second != families_.size() - 1) {
      return Fail("lines of metric family '" + std::string(name) + "' are not contiguous");
    }
    if (declaring && !families_[it->second].samples.empty()) {
      return Fail("# HELP or # TYPE for '" + std::string(name) + "' after its samples");
    }
    return it->second;
  }

  Status Comment(std::string_view line) {
    std::string_view rest = line.substr(1);
    std::string_view keyword = NextToken(&rest);
    if (keyword != "HELP" && keyword != "TYPE") return Status::Ok();  // a plain comment
    std::string_view name = NextToken(&rest);
    if (!IsValidMetricName(name))
      return Fail("invalid metric name '" + std::string(name) + "' in # " + std::string(keyword));
    if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto index = FamilyFor(name, true);
    if (!index.ok()) return index.status();
    MetricFamily& family = families_[*index];
    if (keyword == "HELP") {
      if (seen_help_.count(family.name)) return Fail("second # HELP for '" + family.name + "'");
      seen_help_.insert({family.name, true});
      std::string help;
      for (size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size() && (rest[i + 1] == '\\' || rest[i + 1] == 'n')) {
          help += rest[i + 1] == 'n' ? '\n' : '\\';
          ++i;
        } else {
          help += rest[i];
        }
      }
      family.help = std::move(help);
      return Status::Ok();
    }
    if (seen_type_.count(family.name)) return Fail("second # TYPE for '" + family.name + "'");
    seen_type_.insert({family.name, true});
    std::string_view type = NextToken(&rest);
    if (!NextToken(&rest).empty()) return Fail("trailing text after # TYPE");
    if (type == "counter") {
      family.type = MetricType::kCounter;
    } else if (type == "gauge") {
      family.type = MetricType::kGauge;
    } else if (type == "histogram") {
      family.type = MetricType::kHistogram;
    } else if (type == "summary") {
      family.type = MetricType::kSummary;
    } else if (type == "untyped") {
      family.type = MetricType::kUntyped;
    } else {
      return Fail("unknown metric type '" + std::string(type) + "'");
    }
    return Status::Ok();
  }

  // The family a sample name belongs to: the current family when the name is
  // the family's or one of its histogram/summary suffixes, else its own name.
  std::string_view FamilyNameOf(std::string_view sample_name) const {
    if (!families_.empty()) {
      const MetricFamily& cur = families_.back();
      if (sample_name == cur.name) return cur.name;
      if (sample_name.starts_with(cur.name)) {
        std::string_view suffix = sample_name.substr(cur.name.size());
        if (cur.type == MetricType::kHistogram && (suffix == "_bucket" || suffix == "_sum" || suffix == "_count"))
          return cur.name;
        if (cur.type == MetricType::kSummary && (suffix == "_sum" || suffix == "_count")) return cur.name;
      }
    }
    return sample_name;
  }

  Status SampleLine(std::string_view line) {
    if (++sample_count_ > limits_.max_samples) {
      return Status::ResourceExhausted("more than " + std::to_string(limits_.max_samples) + " samples");
    }
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
    std::string_view name = line.substr(0, i);
    if (!IsValidMetricName(name)) return Fail("invalid metric name '" + std::string(name) + "'");
    Sample sample;
    sample.name = std::string(name);
    if (i < line.size() && line[i] == '{') {
      Status s = ParseLabels(line, &i, &sample.labels);
      if (!s.ok()) return s;
    }
    std::string_view rest = line.substr(i);
    std::string_view value = NextToken(&rest);
    std::string_view timestamp = NextToken(&rest);
    if (!NextToken(&rest).empty()) return Fail("unexpected text after the timestamp");
    if (!ParseDouble(value, &sample.value)) return Fail("invalid sample value '" + std::string(value) + "'");
    if (!timestamp.empty()) {
      int64_t ts = 0;
      if (!ParseI64(timestamp, &ts)) return Fail("invalid timestamp '" + std::string(timestamp) + "'");
      sample.timestamp_ms = ts;
    }
    auto index = FamilyFor(FamilyNameOf(name), false);
    if (!index.ok()) return index.status();
    MetricFamily& family = families_[*index];
    if (family.type == MetricType::kHistogram && sample.name.ends_with("_bucket")) {
      Status s = CheckNumericLabel(sample, "le");
      if (!s.ok()) return s;
    }
    if (family.type == MetricType::kSummary && sample.name == family.name) {
      Status s = CheckNumericLabel(sample, "quantile");
      if (!s.ok()) return s;
    }
    family.samples.push_back(std::move(sample));
    return Status::Ok();
  }

  Status CheckNumericLabel(const Sample& sample, std::string_view label) const {
    for (const auto& [k, v] : sample.labels) {
      double d = 0;
      if (k == label)
        return ParseDouble(v, &d) ? Status::Ok() : Fail("label " + std::string(label) + " is not a number");
    }
    return Fail("sample '" + sample.name + "' lacks the " + std::string(label) + " label");
  }

  Status ParseLabels(std::string_view line, size_t* pos, Labels* labels) {
    size_t i = *pos + 1;  // after '{'
    auto skip_spaces = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    };
    while (true) {
      skip_spaces();
      if (i >= line.size()) return Fail("unterminated label set");
      if (line[i] == '}') {
        ++i;
        break;
      }
      size_t start = i;
      while (i < line.size() && line[i] != '=' && line[i] != ' ' && line[i] != '\t') ++i;
      std::string_view label_name = line.substr(start, i - start);
      if (!IsValidLabelName(label_name)) return Fail("invalid label name '" + std::string(label_name) + "'");
      skip_spaces();
      if (i >= line.size() || line[i] != '=') return Fail("expected '=' after label name");
      ++i;
      skip_spaces();
      if (i >= line.size() || line[i] != '"') return Fail("expected '\"' to open the label value");
      ++i;
      std::string value;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= line.size()) break;
          char e = line[i++];
          if (e == '\\') {
            value += '\\';
          } else if (e == '"') {
            value += '"';
          } else if (e == 'n') {
            value += '\n';
          } else {
            return Fail("invalid escape '\\" + std::string(1, e) + "' in label value");
          }
        } else {
          value += c;
        }
      }
      if (!closed) return Fail("unterminated label value");
      for (const auto& existing : *labels) {
        if (existing.first == label_name) return Fail("duplicate label '" + std::string(label_name) + "'");
      }
      if (labels->size() >= limits_.max_labels_per_sample) return Fail("too many labels");
      labels->emplace_back(std::string(label_name), std::move(value));
      skip_spaces();
      if (i < line.size() && line[i] == ',') {
        ++i;
      } else if (i < line.size() && line[i] != '}') {
        return Fail("expected ',' or '}' after a label value");
      }
    }
    if (i < line.size() && line[i] != ' ' && line[i] != '\t') return Fail("expected a space before the value");
    *pos = i;
    return Status::Ok();
  }

  std::string_view body_;
  const TextParseLimits& limits_;
  size_t line_no_ = 0;
  size_t sample_count_ = 0;
  std::vector<MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
  std::unordered_map<std::string, bool> seen_help_;
  std::unordered_map<std::string, bool> seen_type_;
};

}  // namespace

Result<std::vector<MetricFamily>> ParseTextExposition(std::string_view body, const TextParseLimits& limits) {
  return Parser(body, limits).Run();
}

}  // namespace prescale::metrics
