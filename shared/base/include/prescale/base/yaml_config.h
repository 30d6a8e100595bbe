// Reading YAML configuration with errors users can act on: every error names
// the file, the line and the key path ("agent.yaml:12: mapping[0].match: ...").
// Unknown keys are errors, so typos do not pass silently. Not thread-safe; use
// one reader per load.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "prescale/base/status.h"

namespace prescale {

class YamlConfigReader {
 public:
  explicit YamlConfigReader(std::string file_name) : file_(std::move(file_name)) {}

  // Parses text; a syntax error names the line.
  Result<YAML::Node> Parse(std::string_view text) const;

  // An InvalidArgument status "FILE:LINE: PATH: what".
  Status Error(const YAML::Node& node, std::string_view path, std::string_view what) const;

  // Node must be a map whose keys are all in `allowed`.
  Status CheckMap(const YAML::Node& node, std::string_view path, std::initializer_list<std::string_view> allowed) const;
  Status CheckSequence(const YAML::Node& node, std::string_view path) const;

  Result<std::string> String(const YAML::Node& node, std::string_view path) const;
  Result<bool> Bool(const YAML::Node& node, std::string_view path) const;
  Result<std::chrono::milliseconds> Duration(const YAML::Node& node, std::string_view path) const;
  Result<uint64_t> ByteSize(const YAML::Node& node, std::string_view path) const;

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// The whole text of a config file; InvalidArgument "PATH: cannot read the config file".
Result<std::string> ReadConfigFile(const std::string& path);

// A bearer token kept in a file (a mounted Secret), surrounding whitespace
// trimmed; InvalidArgument naming the file when it cannot be read or is empty.
Result<std::string> ReadTokenFile(const std::string& path);

// "parent.key" or "key" when parent is empty; "parent[3]" for Index.
std::string JoinPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

}  // namespace prescale
