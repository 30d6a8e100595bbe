// Reading YAML configuration with errors users can act on: every error names
// the file, the line and the key path ("agent.yaml:12: mapping[0].match: ...").
// Unknown keys are errors, so typos do not pass silently. Not thread-safe; use
// one reader per load.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prescale/base/status.h"

namespace prescale {

// A node of a document YamlConfigReader::Parse read: a map, a sequence, a
// scalar, null, or undefined (a key or an index that is not there). Copies are
// cheap and share the document. The YAML parser stays in yaml_config.cc, so
// that users of this header neither compile nor link against it; nor do they
// see its exceptions: a key or an index asked of a node that has none is
// undefined, never an error.
class ConfigNode {
 public:
  struct Entry;

  ConfigNode() = default;  // undefined

  bool IsDefined() const { return impl_ != nullptr; }
  bool IsNull() const;
  bool IsMap() const;
  bool IsSequence() const;
  bool IsScalar() const;
  // A scalar written in quotes ('5', "true"): text, whatever it looks like.
  bool IsQuoted() const;

  // A map's entries or a sequence's items; 0 for other nodes.
  size_t size() const;
  // A map's value for `key`; undefined when the key is missing or this is no map.
  ConfigNode operator[](std::string_view key) const;
  // A sequence's item; undefined when out of range or this is no sequence.
  ConfigNode operator[](size_t index) const;
  // A map's entries in document order; none when this is no map.
  std::vector<Entry> Entries() const;
  // A sequence's items; none when this is no sequence.
  std::vector<ConfigNode> Items() const;

  // A scalar's text; "" for other nodes (null included).
  const std::string& Scalar() const;
  // The 1-based line the node starts on; 0 when unknown (undefined nodes, the
  // empty map an empty document reads as).
  int Line() const;

 private:
  friend class YamlConfigReader;
  struct Impl;  // the parser's node, defined in yaml_config.cc

  explicit ConfigNode(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  std::shared_ptr<const Impl> impl_;  // null when undefined
};

struct ConfigNode::Entry {
  std::string key;      // the key's text: "" when the key is null or not a scalar
  ConfigNode key_node;  // the key itself, for its line and its kind
  ConfigNode value;
};

class YamlConfigReader {
 public:
  explicit YamlConfigReader(std::string file_name) : file_(std::move(file_name)) {}

  // Parses text; a syntax error names the line.
  Result<ConfigNode> Parse(std::string_view text) const;

  // An InvalidArgument status "FILE:LINE: PATH: what".
  Status Error(const ConfigNode& node, std::string_view path, std::string_view what) const;

  // Node must be a map whose keys are all in `allowed`.
  Status CheckMap(const ConfigNode& node, std::string_view path, std::initializer_list<std::string_view> allowed) const;
  Status CheckSequence(const ConfigNode& node, std::string_view path) const;

  Result<std::string> String(const ConfigNode& node, std::string_view path) const;
  Result<bool> Bool(const ConfigNode& node, std::string_view path) const;
  Result<std::chrono::milliseconds> Duration(const ConfigNode& node, std::string_view path) const;
  Result<uint64_t> ByteSize(const ConfigNode& node, std::string_view path) const;

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
