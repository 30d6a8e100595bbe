#include "prescale/cli/output.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "prescale/base/numbers.h"

namespace prescale::cli {
namespace {

// True when a plain YAML scalar `s` would not read back as this string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (s == "true" || s == "false" || s == "null" || s == "~" || s == "True" || s == "False" || s == "NULL" ||
      s == "Null" || s == "yes" || s == "no" || s == "on" || s == "off" || s == "y" || s == "n") {
    return true;
  }
  int64_t i = 0;
  double d = 0;
  return ParseI64(s, &i) || ParseDouble(s, &d);
}

std::string ScalarJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

void EmitYaml(YAML::Emitter& out, const rapidjson::Value& v) {
  if (v.IsObject()) {
    if (v.MemberCount() == 0) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (const auto& m : v.GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      out << YAML::Key;
      if (NeedsQuotes(key)) out << YAML::DoubleQuoted;
      out << key << YAML::Value;
      EmitYaml(out, m.value);
    }
    out << YAML::EndMap;
  } else if (v.IsArray()) {
    if (v.Empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (const auto& item : v.GetArray()) EmitYaml(out, item);
    out << YAML::EndSeq;
  } else if (v.IsString()) {
    const std::string s(v.GetString(), v.GetStringLength());
    if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
    out << s;
  } else if (v.IsNull()) {
    out << YAML::Null;
  } else {
    out << ScalarJson(v);  // numbers and booleans as JSON writes them, which YAML reads back alike
  }
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(std::string_view text) {
  if (text.empty() || text == "table" || text == "wide") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  if (text == "name") return OutputFormat::kName;
  return Status::InvalidArgument("-o " + std::string(text) + ": must be table, json, yaml or name").WithField("-o");
}

std::string PrettyJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

std::string JsonToYaml(const rapidjson::Value& v) {
  YAML::Emitter out;
  out.SetIndent(2);
  EmitYaml(out, v);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

std::string Table::Render() const {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&width](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      l += cell;
      if (i + 1 < width.size()) l += std::string(width[i] - cell.size() + 3, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view path) {
  const rapidjson::Value* v = &object;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!v->IsObject()) return nullptr;
    auto it = v->FindMember(key.c_str());
    if (it == v->MemberEnd()) return nullptr;
    v = &it->value;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return v;
}

std::string NumberText(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  rapidjson::Value n(v);
  return ScalarJson(n);
}

std::string BytesText(double bytes) {
  static constexpr const char* kUnits[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (!(bytes >= 1024)) return NumberText(bytes);
  double v = bytes;
  int unit = -1;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  const double rounded = std::round(v * 10) / 10;
  return NumberText(rounded) + kUnits[unit];
}

std::string TimeText(int64_t ms) {
  if (ms <= 0) return "-";
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Cell(const rapidjson::Value& object, std::string_view member, std::string_view none) {
  const rapidjson::Value* v = Member(object, member);
  if (v == nullptr || v->IsNull()) return std::string(none);
  if (v->IsString()) {
    if (v->GetStringLength() == 0) return std::string(none);
    return {v->GetString(), v->GetStringLength()};
  }
  if (v->IsNumber()) return NumberText(v->GetDouble());
  return ScalarJson(*v);
}

std::string ServiceMode(const rapidjson::Value& service) {
  const std::string mode = Cell(service, "executor.mode", "act");
  if (mode == "act" && Cell(service, "executor.type") == "recommend-only") return "recommend-only";
  return mode;
}

}  // namespace prescale::cli
