// How prescalectl prints: JSON (indented), YAML (that reads back as the same
// JSON, so a printed object can be edited and applied), and tables with
// aligned columns as kubectl prints them. Pure functions.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prescale/base/status.h"

namespace prescale::cli {

enum class OutputFormat { kTable, kJson, kYaml, kName };
// "table", "json", "yaml", "name"; InvalidArgument naming -o otherwise.
Result<OutputFormat> ParseOutputFormat(std::string_view text);

// Indented JSON with a final newline.
std::string PrettyJson(const rapidjson::Value& v);
// Block-style YAML with a final newline. Strings that would read back as
// something else (numbers, booleans, null, empty) are quoted.
std::string JsonToYaml(const rapidjson::Value& v);

// Columns separated by three spaces, each as wide as its widest cell; no
// trailing blanks. The header is printed as given (upper case by convention).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::string Render() const;
};

// Cell texts of JSON values: strings as they are, numbers in their shortest
// form, null and absent members as "-" (or `none`).
std::string Cell(const rapidjson::Value& object, std::string_view member, std::string_view none = "-");
// What a service's decisions do: its executor.mode, which the API writes only when
// not "act"; a service without an executor (type recommend-only) recommends.
std::string ServiceMode(const rapidjson::Value& service);
// The member at a dotted path ("quotas.cpu_cores"); nullptr when absent.
const rapidjson::Value* Member(const rapidjson::Value& object, std::string_view path);
// A number's shortest text ("0.5", "64", "1e+21").
std::string NumberText(double v);
// Bytes in binary units: "512Mi", "128Gi", "1.5Gi", "100" (below 1 KiB).
std::string BytesText(double bytes);
// Unix milliseconds as RFC 3339 UTC ("2026-11-28T10:00:00Z"); "-" for 0.
std::string TimeText(int64_t ms);

}  // namespace prescale::cli
